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


def _task_panels(group_ms: list[Metric]) -> tuple[list[tuple[str, str, str | None]], tuple[float, float] | None,
                                                   str] | None:
    """Panels (title, metric, class) of the per-group chart of a multiclass or regression fairness check."""
    classes = list(dict.fromkeys(m.class_label for m in group_ms if m.class_label and m.name == "selection_rate"))
    if classes:  # multiclass: the selection rate of each class, one panel per class
        return ([(f"selection rate: {c}", "selection_rate", c) for c in classes], (0.0, 1.0),
                "Share of each group predicted as each class, with confidence intervals (whiskers)")
    names = [n for n in ("mean_prediction", "mean_outcome", "mae", "share_above") if any(m.name == n for m in group_ms)]
    if "mean_prediction" in names:  # regression: levels and errors in the target's unit, and the share granted
        return ([(n.replace("_", " "), n, None) for n in names], None,
                "Mean prediction, mean outcome and MAE (target units) and the share predicted at or above the "
                "threshold, by group, with confidence intervals (whiskers)")
    return None


def _enrich_fairness(cv: CheckView, result: CheckResult, mode: str) -> None:
    group_ms = [m for m in result.metrics if m.attribute and m.group and not m.reference]
    refs = {m.reference for m in result.metrics if m.reference}
    if not group_ms:
        return
    task_panels = _task_panels(group_ms)
    if task_panels is not None:
        panel_spec, domain, caption = task_panels
        attrs = list(dict.fromkeys(m.attribute for m in group_ms if m.attribute))
        attrs = [a for _, a in sorted(enumerate(attrs), key=lambda ia: ("*" in ia[1], ia[0]))]  # singles first
        new_charts: list[ChartView] = []
        for attr in attrs:
            ms = [m for m in group_ms if m.attribute == attr]
            groups = list(dict.fromkeys(m.group for m in ms if m.group))
            panels = []
            for ptitle, name, cls in panel_spec:
                points: list[charts.Point | None] = []
                for g in groups:
                    gm = next((x for x in ms if x.group == g and x.name == name and x.class_label == cls), None)
                    points.append(None if gm is None else charts.Point(
                        g, gm.value, gm.ci.low if gm.ci else None, gm.ci.high if gm.ci else None))
                panels.append((ptitle, points))
            title = f"{attr}: {', '.join(t for t, _, _ in panel_spec)} by group"
            svg = charts.facet_dot_whisker([f"{g} (ref.)" if g in refs else g for g in groups], panels, title=title,
                                           domain=domain)
            new_charts.append(ChartView(title, svg, alt=title, caption=f"{caption}; (ref.) marks the privileged "
                                                                        "reference group."))
        cv.charts = new_charts + cv.charts
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
        caption = "Largest first (up to twenty features); whiskers: confidence intervals."
        zero = [m for m in ms if m.value == 0 and (m.ci is None or m.ci.low == m.ci.high == 0)]
        if zero:  # a bar of length zero is invisible: say which rows have none, and why when the check said so
            why = "; ".join(f"{m.subject} ({m.note})" if m.note else str(m.subject) for m in zero)
            caption += (" Every value is 0, so the chart has no bars: " if len(zero) == len(ms)
                        else " No bar (value 0): ") + why + "."
        new.append(ChartView(title, charts.bar_chart(pts, title=title, x_label=name), alt=title, caption=caption))
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
