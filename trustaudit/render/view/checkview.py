"""The view of one check result: status, summary, conditions, metric tables, own tables, evidence,
artefacts, charts and warnings, plus its family's extra charts.
"""

from __future__ import annotations

from pathlib import Path

import trustaudit.render.artifacts as art
from trustaudit.render.fmt import fmt_duration
from trustaudit.render.view.cells import evidence_items
from trustaudit.render.view.enrich import ENRICHERS
from trustaudit.render.view.model import CheckView
from trustaudit.render.view.plots import condition_charts
from trustaudit.render.view.tables import conditions_table, metric_tables, own_table
from trustaudit.results import CheckResult, Status


def check_view(result: CheckResult, anchor: str, report_dir: Path | None, mode: str) -> CheckView:
    max_cols = 8 if mode == "html" else 4
    cv = CheckView(
        anchor=anchor,
        check_id=result.check_id,
        title=result.title,
        category=result.category,
        version=result.version,
        status=result.status.value,
        summary=result.summary,
        error=result.error,
        skipped_reason=result.skipped_reason,
        duration=fmt_duration(result.duration_s),
        warnings=list(result.warnings),
    )
    if result.status in (Status.SKIPPED, Status.ERROR) and not result.metrics:
        return cv
    cv.conditions = conditions_table(result)
    cv.metric_tables = metric_tables(result, max_cols)
    cv.tables = [own_table(t) for t in result.tables]
    cv.evidence = evidence_items(result.evidence)
    cv.artifacts = [art.load(report_dir, a.path, a.media_type, a.title) for a in result.artifacts]
    cv.charts = condition_charts(result)
    enrich = ENRICHERS.get(result.category) or ENRICHERS.get(result.check_id.split(".", 1)[0])
    if enrich is not None:
        enrich(cv, result, mode)
    return cv
