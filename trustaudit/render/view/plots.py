"""A check's charts: judged metrics against the rubric's bound, and curves drawn from tables shaped like curves."""

from __future__ import annotations

import itertools
import re
from typing import Any

import trustaudit.render.charts as charts
from trustaudit.render.view.cells import finite, is_num
from trustaudit.render.view.model import ChartView
from trustaudit.results import CheckResult, ConditionResult, ConditionSpec, Status


def condition_bounds(spec: ConditionSpec | None) -> list[charts.RefLine]:
    """Reference lines for a chart from a judged condition's structure (``ConditionResult.spec``).

    Baseline-relative conditions bound a change, not the plotted value, so they draw no line; schema 1.0 reports
    carry no structure (their charts have no bound lines rather than a bound guessed from the text)."""
    if spec is None or spec.relative_to is not None:
        return []
    if spec.op == "between" and spec.low is not None and spec.high is not None:
        return [charts.RefLine(spec.low, f">= {spec.low:g}"), charts.RefLine(spec.high, f"<= {spec.high:g}")]
    if spec.value is None:
        return []
    v = spec.value
    if spec.abs and v != 0:
        return [charts.RefLine(-v, f"-{v:g}"), charts.RefLine(v, f"{v:g}")]
    return [charts.RefLine(v, f"{spec.op} {v:g}")]


def condition_charts(result: CheckResult) -> list[ChartView]:
    """For each rubric condition judged on two or more subjects: estimates with intervals against the bound."""
    out: list[ChartView] = []
    by_text: dict[str, list[ConditionResult]] = {}
    for c in result.conditions:
        if c.status != Status.SKIPPED:
            by_text.setdefault(c.condition, []).append(c)
    for text, conds in by_text.items():
        if len(conds) < 2:
            continue
        points = [charts.Point(c.subject or "all rows", c.observed, c.ci.low if c.ci else None,
                               c.ci.high if c.ci else None, c.status.value) for c in conds]
        refs = condition_bounds(conds[0].spec)
        title = f"{conds[0].metric} against the rubric bound"
        svg = charts.dot_whisker(points, title=title, x_label=conds[0].metric, refs=refs, max_label_chars=52)
        out.append(ChartView(title, svg, alt=f"{title}: {text}",
                             caption=f"Condition {text}. Dot: estimate; whisker: confidence interval; dashed "
                                     "line: the bound; colour: the condition's status."))
    return out


_XNAMES = re.compile(r"^(n|count|rows|size|rank|n_.*|.*_n|n .*|rows .*|.* rows)$", re.IGNORECASE)
_LOW_NAMES = ("ci low", "ci_low", "low", "lower", "ci lower")
_HIGH_NAMES = ("ci high", "ci_high", "high", "upper", "ci upper")


def _interval_columns(cols: list[str], j: int) -> tuple[int | None, int | None]:
    """Columns holding the interval of column ``j``: '<name> low'/'<name> high' (or _low/_high, ci low/ci high)
    anywhere, or 'ci low'/'ci high' right after it."""
    lower = {str(c).lower(): k for k, c in enumerate(cols)}
    n = str(cols[j]).lower()
    for lo_name, hi_name in ((f"{n} low", f"{n} high"), (f"{n}_low", f"{n}_high"),
                             (f"{n} ci low", f"{n} ci high"), (f"{n}_ci_low", f"{n}_ci_high")):
        if lo_name in lower and hi_name in lower:
            return lower[lo_name], lower[hi_name]
    if j + 2 < len(cols) and str(cols[j + 1]).lower() in _LOW_NAMES and str(cols[j + 2]).lower() in _HIGH_NAMES:
        return j + 1, j + 2
    return None, None


def curve_charts(result: CheckResult, max_charts: int = 4) -> list[ChartView]:
    """Line charts from tables shaped like curves: a numeric, increasing x column and rate columns in [0, 1].

    Columns holding intervals ('ci low'/'ci high' after a column, or '<column> low'/'<column> high') become
    whiskers. String columns before x split the rows into series (e.g. one curve per attack)."""
    out: list[ChartView] = []
    for t in result.tables:
        if len(out) >= max_charts:
            break
        cols = [str(c) for c in t.columns]
        ncol = len(cols)
        rows = [r for r in t.rows if len(r) == ncol]
        if len(rows) < 3:
            continue

        def numeric(j: int, rows: list[list[Any]] = rows) -> bool:
            return all(is_num(r[j]) or r[j] is None for r in rows) and any(finite(r[j]) for r in rows)

        x_idx = next((j for j in range(ncol) if numeric(j) and all(finite(r[j]) for r in rows)
                      and not _XNAMES.match(cols[j])), None)
        if x_idx is None:
            continue
        cat_idx = [j for j in range(x_idx) if all(isinstance(r[j], str) for r in rows)]
        candidates = [j for j in range(x_idx + 1, ncol) if numeric(j) and not _XNAMES.match(cols[j])
                      and all(-1e-9 <= r[j] <= 1 + 1e-9 for r in rows if finite(r[j]))]
        intervals = {j: _interval_columns(cols, j) for j in candidates}
        bound_cols = {k for lo, hi in intervals.values() if lo is not None for k in (lo, hi)}
        y_idx = [j for j in candidates if j not in bound_cols]
        if not y_idx:
            continue
        keys = [" / ".join(str(r[j]) for j in cat_idx) for r in rows] if cat_idx else [""] * len(rows)
        series_keys = list(dict.fromkeys(keys))
        monotone = all(
            len(set(xs)) >= 3 and all(b >= a for a, b in itertools.pairwise(xs))
            for xs in ([r[x_idx] for r, k in zip(rows, keys) if k == key] for key in series_keys)
        )
        if not monotone or len(series_keys) > 8:
            continue
        per_chart = [[j] for j in y_idx] if cat_idx else [y_idx[:6]]
        for ys in per_chart[: max_charts - len(out)]:
            series = []
            for key in series_keys:
                for j in ys:
                    lo, hi = intervals[j]
                    pts = [(r[x_idx], r[j], r[lo] if lo is not None else None, r[hi] if hi is not None else None)
                           for r, k in zip(rows, keys) if k == key]
                    series.append(charts.Series(key if cat_idx else cols[j], pts))
            title = f"{t.title}: {', '.join(cols[j] for j in ys)} by {cols[x_idx]}"
            svg = charts.line_chart(series, title=title, x_label=cols[x_idx],
                                    y_label=cols[ys[0]] if len(ys) == 1 else "", y_domain=(0.0, 1.0))
            out.append(ChartView(title, svg, alt=title, caption="Drawn from the table of the same name below; "
                                                                "whiskers: confidence intervals where the table "
                                                                "gives them."))
    return out


def has_own_images(result: CheckResult) -> bool:
    return any(a.media_type.startswith("image/") for a in result.artifacts)
