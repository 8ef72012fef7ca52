"""Views of an :class:`~trustaudit.results.AuditReport` for notebooks and scripts: pandas frames of its metrics
and conditions, and the compact HTML Jupyter shows for a bare ``report`` in a cell (``_repr_html_``).

Everything taken from the report is escaped (group names and summaries come from the audited data); plots are
embedded as ``<img>`` data URIs, which browsers never run scripts from.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# ``report`` is an AuditReport, ``check`` a CheckResult: they are typed Any because models.py imports this module
# for its display methods, and two modules never import each other, not even for the type checker
# (tests/test_layers.py).

#: Columns of :func:`metrics_frame`, in order.
METRIC_COLUMNS = (
    "check", "metric", "attribute", "group", "reference", "subject", "budget", "value", "ci_low", "ci_high",
    "ci_level", "ci_method", "n", "unit", "judged", "condition", "condition_status", "check_status",
)
#: Columns of :func:`conditions_frame`, in order.
CONDITION_COLUMNS = (
    "check", "condition", "metric", "subject", "severity", "judge", "status", "observed", "ci_low", "ci_high",
    "baseline_value", "change", "change_low", "change_high", "message",
)

_COLORS = {"pass": "#1a7f37", "warn": "#9a6700", "fail": "#cf222e", "error": "#8250df", "skipped": "#6e7781"}
_MAX_CONDITION_ROWS = 15
_MAX_PLOTS = 8
_MAX_PLOT_BYTES = 2_000_000


def _conditions_by_metric(check: Any) -> dict[tuple[str, str | None], list[Any]]:
    out: dict[tuple[str, str | None], list[Any]] = {}
    for cond in check.conditions:
        out.setdefault((cond.metric, cond.subject), []).append(cond)
    return out


def metrics_frame(report: Any) -> pd.DataFrame:
    """One row per metric of every check: what was measured (``check``, ``metric``, ``attribute``, ``group``,
    ``reference``, ``subject``, ``budget``), the number (``value``, ``ci_low``/``ci_high`` at ``ci_level`` by
    ``ci_method``, ``n`` rows behind it, ``unit``), whether it can be judged (``judged``) and how the rubric judged
    it: ``condition`` (the conditions applied to it, ``; ``-joined), ``condition_status`` (the worst of their
    statuses; None when no condition applies) and the check's status."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for c in report.checks:
        by_metric = _conditions_by_metric(c)
        for m in c.metrics:
            conds = by_metric.get((m.name, m.subject), [])
            rows.append({
                "check": c.check_id, "metric": m.name, "attribute": m.attribute, "group": m.group,
                "reference": m.reference, "subject": m.subject, "budget": m.budget,
                "value": m.value, "ci_low": m.ci.low if m.ci else None, "ci_high": m.ci.high if m.ci else None,
                "ci_level": m.ci.level if m.ci else None, "ci_method": m.ci.method if m.ci else None,
                "n": m.n, "unit": m.unit, "judged": m.judged,
                "condition": "; ".join(x.condition for x in conds) or None,
                "condition_status": max((x.status for x in conds), key=lambda s: s.rank).value if conds else None,
                "check_status": c.status.value,
            })
    frame = pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
    for col in ("value", "ci_low", "ci_high", "ci_level", "budget"):
        frame[col] = frame[col].astype("float64")
    frame["n"] = frame["n"].astype("Int64")
    return frame


def conditions_frame(report: Any) -> pd.DataFrame:
    """One row per judged rubric condition and metric (a condition that matched no metric has an empty
    ``subject`` and status ``error``); baseline-relative conditions fill ``baseline_value`` and ``change*``."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for c in report.checks:
        for x in c.conditions:
            rows.append({
                "check": c.check_id, "condition": x.condition, "metric": x.metric, "subject": x.subject,
                "severity": x.severity, "judge": x.judge, "status": x.status.value, "observed": x.observed,
                "ci_low": x.ci.low if x.ci else None, "ci_high": x.ci.high if x.ci else None,
                "baseline_value": x.baseline_value, "change": x.change, "change_low": x.change_low,
                "change_high": x.change_high, "message": x.message,
            })
    frame = pd.DataFrame(rows, columns=list(CONDITION_COLUMNS))
    for col in ("observed", "ci_low", "ci_high", "baseline_value", "change", "change_low", "change_high"):
        frame[col] = frame[col].astype("float64")
    return frame


def _num(v: float | None) -> str:
    if v is None:
        return "n/a"
    if v != v:  # NaN
        return "nan"
    return f"{v:.3g}" if abs(v) < 1e-3 and v != 0 else f"{v:.3f}" if abs(v) < 1000 else f"{v:.0f}"


def _badge(status: str) -> str:
    color = _COLORS.get(status, "#6e7781")
    return (f'<span style="color:#fff;background:{color};border-radius:3px;padding:0 5px;'
            f'font-weight:600">{escape(status)}</span>')


def _plots(report: Any) -> list[tuple[str, str, str]]:
    """(check id, title, data URI) of the SVG/PNG artefacts found in the report's artefact folder."""
    base = report.artifact_dir
    if base is None:
        return []
    root = Path(base).resolve()
    out: list[tuple[str, str, str]] = []
    for c in report.checks:
        for a in c.artifacts:
            if a.media_type not in ("image/svg+xml", "image/png") or len(out) >= _MAX_PLOTS:
                continue
            p = (root / a.path).resolve()
            if root not in p.parents or not p.is_file() or p.stat().st_size > _MAX_PLOT_BYTES:
                continue
            data = base64.b64encode(p.read_bytes()).decode("ascii")
            out.append((c.check_id, a.title, f"data:{a.media_type};base64,{data}"))
    return out


def report_html(report: Any) -> str:
    """A compact, self-contained HTML summary (no scripts, no external resources)."""
    b = report.bundle
    counts = ", ".join(f"{escape(k)} {v}" for k, v in report.counts.items() if v)
    td = 'style="text-align:left;padding:2px 8px;vertical-align:top"'
    parts = [
        '<div class="trustaudit-report" style="font-family:sans-serif;font-size:13px">',
        f'<div style="font-size:15px"><b>{escape(b.name)} {escape(b.version)}</b>: verdict '
        f'{_badge(report.verdict.value)}</div>',
        f'<div style="color:#57606a">checks: {counts} · rubric {escape(report.rubric.name)} '
        f'{escape(report.rubric.version)} · seed {report.seed} · {b.n_rows} rows · '
        f'{report.duration_s:.1f}s</div>',
        '<table style="border-collapse:collapse;margin-top:6px"><thead><tr>'
        + "".join(f"<th {td}>{h}</th>" for h in ("check", "status", "time", "summary")) + "</tr></thead><tbody>",
    ]
    for c in report.checks:
        detail = c.summary or c.error or c.skipped_reason or ""
        parts.append(f"<tr><td {td}><code>{escape(c.check_id)}</code></td><td {td}>{_badge(c.status.value)}</td>"
                     f'<td {td}>{c.duration_s:.1f}s</td><td {td}>{escape(detail)}</td></tr>')
    parts.append("</tbody></table>")
    bad = report.failures()
    if bad:
        parts.append(f'<div style="margin-top:8px"><b>Conditions not met</b> ({len(bad)})</div>'
                     '<table style="border-collapse:collapse"><thead><tr>'
                     + "".join(f"<th {td}>{h}</th>" for h in ("check", "condition", "subject", "status",
                                                               "observed [95% CI]"))
                     + "</tr></thead><tbody>")
        ranked = sorted(bad, key=lambda cc: -cc[1].status.rank)
        for c, cond in ranked[:_MAX_CONDITION_ROWS]:
            ci = f" [{_num(cond.ci.low)}, {_num(cond.ci.high)}]" if cond.ci else ""
            parts.append(f"<tr><td {td}><code>{escape(c.check_id)}</code></td><td {td}>{escape(cond.condition)}"
                         f"</td><td {td}>{escape(cond.subject or '')}</td><td {td}>{_badge(cond.status.value)}</td>"
                         f"<td {td}>{_num(cond.observed)}{ci}</td></tr>")
        parts.append("</tbody></table>")
        if len(bad) > _MAX_CONDITION_ROWS:
            parts.append(f'<div style="color:#57606a">and {len(bad) - _MAX_CONDITION_ROWS} more: '
                         "<code>report.conditions_frame()</code></div>")
    plots = _plots(report)
    if plots:
        parts.append(f"<details><summary>plots ({len(plots)})</summary>")
        for cid, title, uri in plots:
            parts.append(f'<figure style="display:inline-block;margin:4px"><img src="{escape(uri)}" '
                         f'style="max-width:420px" alt="{escape(title)}"><figcaption>{escape(cid)}: '
                         f"{escape(title)}</figcaption></figure>")
        parts.append("</details>")
    parts.append('<div style="color:#57606a">tables: <code>report.metrics_frame()</code>, '
                 "<code>report.conditions_frame()</code></div></div>")
    return "".join(parts)
