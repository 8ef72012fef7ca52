"""The view model: everything a report shows, computed once from an :class:`AuditReport`.

HTML, PDF and Markdown all render this view, so the three formats say the same thing in the same order. It is
built from ``report.json`` alone (plus artefact files beside it); no check is re-run. Every printed number goes
through :func:`trustaudit.render.fmt.fmt_num` so that it can be found in report.json (see docs/reports.md).

Rendering is generic over check families: any :class:`CheckResult` shows its status, summary, conditions,
metrics (pivoted into tables with confidence intervals and sample sizes), tables, evidence, artefacts and
warnings. Some categories get extra charts (:data:`ENRICHERS`): fairness (group rates with interval whiskers),
robustness (curves drawn from tables), explainability (importance bars), openness (class badge). Any check with
rubric conditions gets a chart of the judged metric against the rubric's bound.

The modules, bottom up: ``model`` (the view's types), ``cells`` (cells and formatting), ``tables`` (conditions
and metric tables), ``plots`` (condition and curve charts), ``enrich`` (charts by family), ``checkview`` (one
check), ``sections`` (verdict, identity, not run, methodology, appendix) and ``report`` (:func:`build_view`).
"""

from __future__ import annotations

from trustaudit.render.view.cells import (
    drop_empty_columns,
    evidence_items,
    num_cell,
    slug,
    status_cls,
    value_cell,
    value_status_cls,
)
from trustaudit.render.view.checkview import check_view
from trustaudit.render.view.enrich import ENRICHERS
from trustaudit.render.view.model import (
    STATUS_ORDER,
    STATUS_RANK,
    STATUS_WORDS,
    Cell,
    ChartView,
    CheckView,
    KeyValue,
    ReportView,
    SectionView,
    TableView,
)
from trustaudit.render.view.plots import condition_bounds, condition_charts, curve_charts
from trustaudit.render.view.report import CORE_CATEGORIES, build_view, iter_tables
from trustaudit.render.view.tables import conditions_table, metric_tables, own_table

__all__ = [
    "CORE_CATEGORIES",
    "ENRICHERS",
    "STATUS_ORDER",
    "STATUS_RANK",
    "STATUS_WORDS",
    "Cell",
    "ChartView",
    "CheckView",
    "KeyValue",
    "ReportView",
    "SectionView",
    "TableView",
    "build_view",
    "check_view",
    "condition_bounds",
    "condition_charts",
    "conditions_table",
    "curve_charts",
    "drop_empty_columns",
    "evidence_items",
    "iter_tables",
    "metric_tables",
    "num_cell",
    "own_table",
    "slug",
    "status_cls",
    "value_cell",
    "value_status_cls",
]
