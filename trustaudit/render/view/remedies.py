"""The "Remedies" section: measured mitigation options from the ``mitigation.fairness`` check's evidence.

One trade-off chart per protected attribute (the fairness metric of the first condition not met against accuracy,
one point per strategy with both intervals, the condition's bound as a dashed line) and one table of every
strategy. Built from report.json alone (the check's ``evidence.attributes``, documented in docs/mitigation.md).
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

import trustaudit.render.charts as charts
from trustaudit.checks.mitigation.pointer import mitigation_result
from trustaudit.render.fmt import fmt_ci, fmt_num
from trustaudit.render.view.model import Cell, ChartView, KeyValue, SectionView, TableView
from trustaudit.results import AuditReport

__all__ = ["remedies_markdown", "remedies_section", "tradeoff_chart"]

def _v(m: dict[str, Any] | None) -> tuple[float | None, float | None, float | None]:
    if not m:
        return None, None, None
    return m.get("value"), m.get("low"), m.get("high")


def _fmt(m: dict[str, Any] | None, signed: bool = False) -> Cell:
    v, lo, hi = _v(m)
    if v is None:
        return Cell("–", cls="num")
    text = f"{v:+.3f}" if signed else fmt_num(v)
    return Cell(text, fmt_ci(lo, hi) if lo is not None and hi is not None else "", "num")


def _target_metric(attr: dict[str, Any]) -> str:
    conds = attr["original"]["conditions"]
    unmet = [c for c in conds if c["status"] in ("fail", "warn")]
    unmet.sort(key=lambda c: 0 if c["status"] == "fail" else 1)
    return str(unmet[0]["metric"]) if unmet else "disparate_impact"


def _bound(conditions: list[dict[str, Any]], metric: str) -> list[float]:
    out = []
    for c in conditions:
        if c.get("metric") == metric:
            out.append(float(c["value"]))
            if c.get("abs"):
                out.append(-float(c["value"]))
    return out


def tradeoff_chart(attr: dict[str, Any], metric: str, bounds: list[float], width: int = 640) -> str:
    """SVG scatter: ``metric`` (x) against accuracy (y), one numbered point per strategy with its two intervals."""
    rows = [attr["original"], *attr["remedies"]]
    pts = []
    for r in rows:
        x, xl, xh = _v(r["metrics"].get(metric))
        y, yl, yh = _v(r["accuracy"])
        if x is None or y is None:
            continue
        pts.append((r["label"], x, xl, xh, y, yl, yh, r.get("passes"), r["strategy"] == "none"))
    title = f"Remedies for {attr['attribute']}: {metric} vs accuracy"
    xs = [v for p in pts for v in (p[1], p[2], p[3]) if v is not None] + bounds
    ys = [v for p in pts for v in (p[4], p[5], p[6]) if v is not None]
    xt = charts.nice_ticks(min(xs), max(xs)) if xs else [0.0, 1.0]
    yt = charts.nice_ticks(min(ys), max(ys)) if ys else [0.0, 1.0]
    left, top, right = 56.0, 34.0, width - 16.0
    bottom = top + 240.0
    height = bottom + 40 + 16 * len(pts)

    def sx(v: float) -> float:
        return left + (min(max(v, xt[0]), xt[-1]) - xt[0]) / ((xt[-1] - xt[0]) or 1.0) * (right - left)

    def sy(v: float) -> float:
        return bottom - (min(max(v, yt[0]), yt[-1]) - yt[0]) / ((yt[-1] - yt[0]) or 1.0) * (bottom - top)

    n = charts._n
    body = []
    for t in xt:
        body.append(f'<line x1="{n(sx(t))}" y1="{n(top)}" x2="{n(sx(t))}" y2="{n(bottom)}" stroke="{charts.GRID}"/>')
        body.append(charts._text(sx(t), bottom + 13, charts.tick_label(t, xt), size=10, anchor="middle",
                                 fill=charts.MUTED))
    for t in yt:
        body.append(f'<line x1="{n(left)}" y1="{n(sy(t))}" x2="{n(right)}" y2="{n(sy(t))}" stroke="{charts.GRID}"/>')
        body.append(charts._text(left - 4, sy(t) + 3, charts.tick_label(t, yt), size=10, anchor="end",
                                 fill=charts.MUTED))
    body.append(charts._text((left + right) / 2, bottom + 27, metric, size=10, anchor="middle", fill=charts.MUTED))
    body.append(charts._text(4, top - 16, "accuracy", size=10, fill=charts.MUTED))
    for b in bounds:
        if xt[0] <= b <= xt[-1]:
            body.append(f'<line x1="{n(sx(b))}" y1="{n(top)}" x2="{n(sx(b))}" y2="{n(bottom)}" stroke="#c62828" '
                        'stroke-dasharray="4 3" stroke-width="1.2"/>')
            body.append(charts._text(sx(b), top - 2, f"bound {b:g}", size=9, anchor="middle", fill="#c62828"))
    for i, (label, x, xl, xh, y, yl, yh, passes, original) in enumerate(pts):
        colour = charts.AXIS if original else charts.SERIES_COLOURS[i % len(charts.SERIES_COLOURS)]
        cx, cy = sx(x), sy(y)
        if xl is not None and xh is not None:
            body.append(f'<line x1="{n(sx(xl))}" y1="{n(cy)}" x2="{n(sx(xh))}" y2="{n(cy)}" stroke="{colour}" '
                        'stroke-width="1.4"/>')
        if yl is not None and yh is not None:
            body.append(f'<line x1="{n(cx)}" y1="{n(sy(yl))}" x2="{n(cx)}" y2="{n(sy(yh))}" stroke="{colour}" '
                        'stroke-width="1.4"/>')
        shape = (f'<rect x="{n(cx - 4)}" y="{n(cy - 4)}" width="8" height="8" fill="{colour}"/>' if original else
                 f'<circle cx="{n(cx)}" cy="{n(cy)}" r="4.5" fill="{colour}"/>')
        body.append(shape)
        body.append(charts._text(cx + 6, cy - 5, str(i), size=10, fill=colour, weight="bold"))
        ly = bottom + 46 + 16 * i
        body.append(charts._text(left, ly, f"{i}  {label}" + (" (meets every condition)" if passes else ""),
                                 size=10, fill=colour))
    return charts._svg(width, height, body, title)


def _table(attr: dict[str, Any], metric: str) -> TableView:
    cols = ["strategy", "kind", "fitted on", "needs at prediction", metric, "accuracy", "accuracy change",
            "conditions met"]
    rows = []
    for r in [attr["original"], *attr["remedies"]]:
        needs = "; ".join(r.get("needs_at_prediction") or []) or "–"
        met = f"{r['conditions_met']}/{len(r['conditions'])}"
        status = "status status-pass" if r.get("passes") else ("status status-fail" if r.get("fails") else
                                                                 "status status-warn")
        rows.append([Cell(str(r["label"])), Cell(str(r.get("kind") or "–")), Cell(str(r.get("fit_on") or "–")),
                     Cell(needs), _fmt(r["metrics"].get(metric)), _fmt(r["accuracy"]),
                     _fmt(r.get("accuracy_change"), signed=True), Cell(met, cls=status)])
    return TableView(title=f"Remedies for {attr['attribute']}: {attr['group']} vs {attr['reference']}",
                     columns=cols, rows=rows,
                     note="Every remedy is fitted on rows it is not measured on; intervals at the check's "
                          "confidence level. Every fairness metric of every strategy is in the check's tables.")


def remedies_section(report: AuditReport, anchor: str) -> SectionView | None:
    """The Remedies section, or None when the report has no ``mitigation.fairness`` result with evidence."""
    res = mitigation_result(report)
    if res is None:
        return None
    ev = res.evidence
    sec = SectionView(anchor, "Remedies", kind="remedies",
                      intro="Measured mitigation options for each fairness condition the model does not meet: "
                            "each strategy fitted on rows it is never measured on, then measured on the "
                            f"evaluation rows ({ev.get('evaluation_rows')} rows; post-processing fitted by "
                            f"{'the training data' if ev.get('fit_on') == 'training' else 'cross-fit'}).")
    conditions = ev.get("conditions") or []
    for attr in ev["attributes"]:
        if not attr.get("remedies"):
            sec.facts.append(KeyValue(attr["attribute"], "every condition met: no remedy needed"
                                      if not attr.get("unmet") else "no remedy could be evaluated"))
            continue
        metric = _target_metric(attr)
        for cond, best in (attr.get("best_for") or {}).items():
            sec.facts.append(KeyValue(f"{attr['attribute']}: {cond}",
                                      f"best measured remedy: {best}" if best else "no remedy meets it"))
        svg = tradeoff_chart(attr, metric, _bound(conditions, metric))
        sec.charts.append(ChartView(f"Trade-off for {attr['attribute']}", svg,
                                    alt=f"{metric} against accuracy for each remedy of {attr['attribute']}",
                                    caption="Square: the original model. Whiskers: intervals of both metrics."))
        sec.blocks.append(_table(attr, metric))
    sec.notes.append("A remedy that fixes one metric can break another: 'conditions met' counts every condition "
                     "of the check (docs/mitigation.md). Apply one with trustaudit.mitigate and re-audit it.")
    return sec


def remedies_markdown(report: AuditReport) -> list[str]:
    """Markdown lines of the Remedies section (empty when there is none)."""
    res = mitigation_result(report)
    if res is None:
        return []

    def md(s: Any) -> str:
        return escape(str(s)).replace("|", "\\|")

    out = ["**Remedies** (`mitigation.fairness`, measured on the evaluation rows):", ""]
    for attr in res.evidence["attributes"]:
        if not attr.get("remedies"):
            continue
        metric = _target_metric(attr)
        out.append(f"| {md(attr['attribute'])}: strategy | {md(metric)} [CI] | accuracy change [CI] | "
                   "conditions met |")
        out.append("|---|---:|---:|---:|")
        for r in attr["remedies"]:
            c, a = _fmt(r["metrics"].get(metric)), _fmt(r.get("accuracy_change"), signed=True)
            out.append(f"| {md(r['label'])} | {md(str(c))} | {md(str(a))} | "
                       f"{r['conditions_met']}/{len(r['conditions'])} |")
        out.append("")
    return out
