"""Extra charts by check family (:data:`ENRICHERS`): fairness (group rates with interval whiskers),
robustness (curves drawn from tables), explainability (importance bars), openness (class badge).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import trustaudit.render.charts as charts
from trustaudit.render.view.cells import finite
from trustaudit.render.view.model import ChartView, CheckView, KeyValue
from trustaudit.render.view.plots import curve_charts, has_own_images
from trustaudit.results import CheckResult, Metric


def _enrich_fairness(cv: CheckView, result: CheckResult, mode: str) -> None:
    group_ms = [m for m in result.metrics if m.attribute and m.group and not m.reference]
    refs = {m.reference for m in result.metrics if m.reference}
    if not group_ms:
        return
    rate_names = [n for n in ("selection_rate", "tpr", "fpr", "error_rate", "base_rate")
                  if any(m.name == n for m in group_ms)]
    if not rate_names:
        return
    attrs = list(dict.fromkeys(m.attribute for m in group_ms if m.attribute))
    attrs = [a for _, a in sorted(enumerate(attrs), key=lambda ia: ("*" in ia[1], ia[0]))]  # singles first
    new: list[ChartView] = []
    if len(rate_names) == 1:  # one rate (e.g. the labels' base rate): one chart over every group
        name = rate_names[0]
        all_pts: list[charts.Point] = []
        for attr in attrs:
            for gm in (x for x in group_ms if x.attribute == attr and x.name == name):
                label = f"{gm.subject} (ref.)" if gm.group in refs else str(gm.subject)
                all_pts.append(charts.Point(label, gm.value, gm.ci.low if gm.ci else None,
                                            gm.ci.high if gm.ci else None))
        title = f"{name} by group"
        svg = charts.dot_whisker(all_pts, title=title, x_label=name, domain=(0.0, 1.0))
        cv.charts = [ChartView(title, svg, alt=title, caption="Whiskers: confidence intervals; (ref.) marks the "
                                                              "privileged reference group.")] + cv.charts
        if cv.metric_tables:
            cv.tables = []
        return
    for attr in attrs:
        ms = [m for m in group_ms if m.attribute == attr]
        groups = list(dict.fromkeys(m.group for m in ms if m.group))
        labels = [f"{g} (ref.)" if g in refs else g for g in groups]
        panels = []
        for name in rate_names:
            pts: list[charts.Point | None] = []
            for g in groups:
                gm2 = next((x for x in ms if x.group == g and x.name == name), None)
                pts.append(None if gm2 is None else charts.Point(
                    g, gm2.value, gm2.ci.low if gm2.ci else None, gm2.ci.high if gm2.ci else None))
            panels.append((name, pts))
        title = f"{attr}: {', '.join(rate_names)} by group"
        svg = charts.facet_dot_whisker(labels, panels, title=title)
        new.append(ChartView(title, svg, alt=title,
                             caption=f"Rates by group of {attr} with confidence intervals (whiskers); "
                                     "(ref.) marks the privileged reference group."))
    cv.charts = new + cv.charts
    # The check's own tables repeat the metrics without intervals: the metric tables show them with intervals.
    if cv.metric_tables:
        cv.tables = []


def _enrich_robustness(cv: CheckView, result: CheckResult, mode: str) -> None:
    # a check that ships its own plots (artefacts) is shown with those; otherwise curves from its tables
    if not has_own_images(result):
        cv.charts = curve_charts(result) + cv.charts


_IMPORTANCE = re.compile(r"(importance|shap|attribution)", re.IGNORECASE)


def _enrich_explainability(cv: CheckView, result: CheckResult, mode: str) -> None:
    if has_own_images(result):  # the check's own importance plots are shown instead
        return
    by_name: dict[str, list[Metric]] = {}
    for m in result.metrics:
        if _IMPORTANCE.search(m.name) and m.subject and finite(m.value):
            by_name.setdefault(m.name, []).append(m)
    new = []
    for name, ms in by_name.items():
        if len(ms) < 2:
            continue
        ms = sorted(ms, key=lambda m: -abs(m.value or 0.0))[:20]
        pts = [charts.Point(m.subject or "", m.value, m.ci.low if m.ci else None, m.ci.high if m.ci else None)
               for m in ms]
        title = f"{name} by feature"
        new.append(ChartView(title, charts.bar_chart(pts, title=title, x_label=name), alt=title,
                             caption="Largest first (up to twenty features); whiskers: confidence intervals."))
    cv.charts = new + curve_charts(result) + cv.charts


_CLASS_KEYS = ("mof_class", "class", "openness_class")


def _enrich_openness(cv: CheckView, result: CheckResult, mode: str) -> None:
    ev = result.evidence
    cls = next((ev[k] for k in _CLASS_KEYS if isinstance(ev.get(k), str)), None)
    if cls is None:
        return
    label = ev.get("class_label")
    cv.highlights.insert(0, KeyValue("MOF class", str(label or cls)))
    try:
        from trustaudit.openness.badge import badge_svg

        progress = ev.get("total_progress")
        if not isinstance(progress, (int, float)):
            progress = next((m.value for m in result.metrics if m.name == "total_progress"), None)
        svg = badge_svg(cls, progress=float(progress) if isinstance(progress, (int, float)) else None)
        cv.badge_uri = charts.data_uri(svg)
    except (ImportError, ValueError):
        pass


ENRICHERS: dict[str, Callable[[CheckView, CheckResult, str], None]] = {
    "fairness": _enrich_fairness,
    "robustness": _enrich_robustness,
    "explainability": _enrich_explainability,
    "openness": _enrich_openness,
}
