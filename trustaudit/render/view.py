"""The view model: everything a report shows, computed once from an :class:`AuditReport`.

HTML, PDF and Markdown all render this view, so the three formats say the same thing in the same order. It is
built from ``report.json`` alone (plus artefact files beside it); no check is re-run. Every printed number goes
through :func:`trustaudit.render.fmt.fmt_num` so that it can be found in report.json (see docs/reports.md).

Rendering is generic over check families: any :class:`CheckResult` shows its status, summary, conditions,
metrics (pivoted into tables with confidence intervals and sample sizes), tables, evidence, artefacts and
warnings. Some categories get extra charts (:data:`ENRICHERS`): fairness (group rates with interval whiskers),
robustness (curves drawn from tables), explainability (importance bars), openness (class badge). Any check with
rubric conditions gets a chart of the judged metric against the rubric's bound.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trustaudit.render import artifacts as art
from trustaudit.render import charts
from trustaudit.render.compliance import FRAMEWORKS, load_map
from trustaudit.render.fmt import fmt_ci, fmt_duration, fmt_num, fmt_value, short_digest
from trustaudit.results import AuditReport, CheckResult, ConditionResult, ConditionSpec, Metric, Status, Table

STATUS_ORDER = ("fail", "error", "warn", "pass", "skipped")
STATUS_RANK = {s: i for i, s in enumerate(STATUS_ORDER)}
CORE_CATEGORIES = (
    ("lineage", "Lineage and provenance",
     "Can the audited model and data be traced to what was trained and released?"),
    ("openness", "Openness and licensing",
     "How open the release is under the Model Openness Framework (MOF), component by component."),
    ("fairness", "Fairness",
     "Group metrics of labels and predictions, with bootstrap confidence intervals and group sizes."),
    ("robustness", "Robustness",
     "Behaviour under adversarial and random perturbations, with sample sizes and intervals."),
    ("explainability", "Explainability",
     "Which features drive the model's predictions, and how much it relies on protected attributes."),
)
STATUS_WORDS = {
    "pass": "PASS",
    "warn": "PASS WITH WARNINGS",
    "fail": "FAIL",
    "error": "ERROR",
    "skipped": "NOT ASSESSED",
}


# ------------------------------------------------------------------------------------------------ view types


@dataclass
class Cell:
    text: str
    sub: str = ""  # a second, smaller line (the confidence interval)
    cls: str = ""  # CSS classes: 'num', 'mono', 'status-fail', 'unjudged', ...
    items: list[str] | None = None  # when set, shown as unbreakable items separated by '; ' (text joins them)

    def __str__(self) -> str:
        return f"{self.text} {self.sub}".strip()


@dataclass
class TableView:
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    note: str = ""
    cls: str = ""


@dataclass
class ChartView:
    title: str
    svg: str
    alt: str
    caption: str = ""

    @property
    def uri(self) -> str:
        return charts.data_uri(self.svg)


@dataclass
class KeyValue:
    key: str
    value: str
    cls: str = ""


@dataclass
class CheckView:
    anchor: str
    check_id: str
    title: str
    category: str
    version: str
    status: str
    summary: str
    error: str | None
    skipped_reason: str | None
    duration: str
    highlights: list[KeyValue] = field(default_factory=list)
    badge_uri: str | None = None
    charts: list[ChartView] = field(default_factory=list)
    conditions: TableView | None = None
    metric_tables: list[TableView] = field(default_factory=list)
    tables: list[TableView] = field(default_factory=list)
    artifacts: list[art.ArtifactView] = field(default_factory=list)
    evidence: list[KeyValue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class SectionView:
    anchor: str
    title: str
    intro: str = ""
    kind: str = "checks"  # 'verdict' | 'identity' | 'checks' | 'not-run' | 'methodology' | 'appendix'
    checks: list[CheckView] = field(default_factory=list)
    blocks: list[TableView] = field(default_factory=list)
    charts: list[ChartView] = field(default_factory=list)
    facts: list[KeyValue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    empty_note: str = ""


@dataclass
class ReportView:
    mode: str
    title: str
    model_name: str
    model_version: str
    header: str
    digest_label: str
    report_id: str
    created: str
    verdict: str
    verdict_words: str
    rubric_label: str
    tool_label: str
    counts: list[KeyValue]
    sections: list[SectionView]
    disclaimer: str


# ------------------------------------------------------------------------------------------------ helpers


def slug(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    out, i = base, 2
    while out in used:
        out, i = f"{base}-{i}", i + 1
    used.add(out)
    return out


def status_cls(status: str | Status | None) -> str:
    s = status.value if isinstance(status, Status) else (status or "")
    return f"status status-{s}" if s else ""


def value_status_cls(status: str | None) -> str:
    """Colour for a measured value judged by a condition (no upper-casing, unlike a status cell)."""
    return f"value-{status}" if status else ""


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    return _is_num(v) and math.isfinite(v)


def num_cell(v: Any, ci: Any = None, *, extra: str = "") -> Cell:
    sub = fmt_ci(ci.low, ci.high) if ci is not None else ""
    return Cell(fmt_num(v) if _is_num(v) or v is None else fmt_value(v), sub, f"num {extra}".strip())


def value_cell(v: Any) -> Cell:
    if v is None or _is_num(v):
        return Cell(fmt_num(v), cls="num")
    text = fmt_value(v)
    return Cell(text, cls="break" if any(len(w) > 28 for w in text.split()) else "")


def drop_empty_columns(t: TableView, keep: int = 1) -> TableView:
    """Remove columns (after the first ``keep``) that are empty in every row."""
    idx = [j for j in range(len(t.columns))
           if j < keep or any(j < len(r) and (r[j].text or r[j].sub) for r in t.rows)]
    if len(idx) == len(t.columns):
        return t
    return TableView(t.title, [t.columns[j] for j in idx], [[r[j] for j in idx if j < len(r)] for r in t.rows],
                     t.note, t.cls)


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


def _cond_status_map(result: CheckResult) -> dict[tuple[str, str | None], str]:
    """(metric, subject) -> worst judged status among the conditions on it."""
    out: dict[tuple[str, str | None], str] = {}
    for c in result.conditions:
        if c.status == Status.SKIPPED:
            continue
        key = (c.metric, c.subject)
        prev = out.get(key)
        if prev is None or STATUS_RANK[c.status.value] < STATUS_RANK[prev]:
            out[key] = c.status.value
    return out


# ------------------------------------------------------------------------------------------------ generic parts


def conditions_table(result: CheckResult) -> TableView | None:
    """Every condition that is not met, or not evaluated, in full; conditions met on several subjects are
    folded into one row per condition (their values are in the measurement tables, coloured by status)."""
    if not result.conditions:
        return None
    conds = sorted(enumerate(result.conditions), key=lambda ic: (STATUS_RANK[ic[1].status.value], ic[0]))
    passes: dict[str, list[ConditionResult]] = {}
    for _, c in conds:
        if c.status == Status.PASS:
            passes.setdefault(c.condition, []).append(c)
    rows = []
    folded: set[str] = set()
    for _, c in conds:
        if c.status == Status.PASS and len(passes[c.condition]) > 1:
            if c.condition in folded:
                continue
            folded.add(c.condition)
            others = len(passes[c.condition]) < sum(1 for x in result.conditions if x.condition == c.condition)
            rows.append([Cell(c.condition, cls="mono"),
                         Cell("every other subject" if others else "every subject", cls="muted"),
                         Cell("see the measurements", cls="muted"), Cell(c.judge), Cell(c.severity),
                         Cell(c.status.value, cls=status_cls(c.status))])
            continue
        observed = num_cell(c.observed, c.ci)
        if c.status == Status.SKIPPED:
            observed = Cell(c.message)
        rows.append([Cell(c.condition, cls="mono"), Cell(c.subject or "all rows"), observed,
                     Cell(c.judge), Cell(c.severity), Cell(c.status.value, cls=status_cls(c.status))])
    return TableView("Rubric conditions", ["condition", "subject", "observed [CI]", "judged on", "severity",
                                           "status"], rows, cls="conditions")


def _subject_header(metrics: list[Metric]) -> str:
    if all(m.reference for m in metrics):
        return "comparison"
    if all(m.attribute and m.group and not m.reference for m in metrics):
        return "group"
    return "subject"


def metric_tables(result: CheckResult, max_cols: int) -> list[TableView]:
    """Pivot a check's metrics: one row per subject, one column per metric, cells 'value' over '[CI]'.

    Subjects measured by the same set of metrics share a table. A column whose values all equal the row's n
    (e.g. group_size) is folded into the n column. Unjudged metrics (too few rows) are marked with a dagger.
    """
    if not result.metrics:
        return []
    status_of = _cond_status_map(result)
    by_subject: dict[str | None, list[Metric]] = {}
    for m in result.metrics:
        by_subject.setdefault(m.subject, []).append(m)
    # Subjects of the same kind (groups, comparisons, other subjects, the whole sample) share a table whose
    # columns are the union of their metrics, in order of first appearance.
    kinds: dict[tuple[bool, bool, bool], list[str | None]] = {}
    for subj, ms in by_subject.items():
        key = (subj is None, any(m.reference for m in ms), any(m.group for m in ms))
        kinds.setdefault(key, []).append(subj)
    clusters: dict[tuple[str, ...], list[str | None]] = {}
    for subjects in kinds.values():
        names = tuple(dict.fromkeys(m.name for s in subjects for m in by_subject[s]))
        clusters[names] = clusters.get(names, []) + subjects
    tables: list[TableView] = []
    for names, subjects in clusters.items():
        rows_metrics = [{m.name: m for m in by_subject[s]} for s in subjects]
        notes = sorted({m.note for rm in rows_metrics for m in rm.values() if m.note and not m.judged})
        if len(subjects) == 1 and (subjects[0] is None or len(names) > max_cols):
            # one subject: a long table (metric, value [CI], n, unit, note)
            rm = rows_metrics[0]
            rows = []
            for name in names:
                m = rm[name]
                st = status_of.get((m.name, m.subject), "")
                rows.append([Cell(name, cls="mono"), num_cell(m.value, m.ci, extra=value_status_cls(st)),
                             Cell(fmt_num(m.n) if m.n is not None else "", cls="num"), Cell(m.unit or ""),
                             Cell(("† " if not m.judged else "") + (m.note or ""))])
            title = "Measurements" + (f" ({subjects[0]})" if subjects[0] else "")
            tables.append(drop_empty_columns(
                TableView(title, ["metric", "value [CI]", "n", "unit", "note"], rows, cls="metrics"), keep=2))
            continue
        ns = [{m.n for m in rm.values()} for rm in rows_metrics]
        shared_n = all(len(s) == 1 and None not in s for s in ns)
        shown = [
            name for name in names
            if not (shared_n and all(
                name in rm and _is_num(rm[name].value) and rm[name].value == next(iter(n))
                for rm, n in zip(rows_metrics, ns)
            ))
        ]
        header = _subject_header([m for rm in rows_metrics for m in rm.values()])
        chunks = [shown[i:i + max_cols] for i in range(0, len(shown), max_cols)] or [[]]
        for k, chunk in enumerate(chunks):
            rows = []
            for subj, rm, n in zip(subjects, rows_metrics, ns):
                row = [Cell(subj or "all rows")]
                if shared_n:
                    row.append(Cell(fmt_num(next(iter(n))), cls="num"))
                for name in chunk:
                    mm = rm.get(name)
                    if mm is None:
                        row.append(Cell("", cls="num"))
                        continue
                    st = status_of.get((mm.name, mm.subject), "")
                    cls = value_status_cls(st) + ("" if mm.judged else " unjudged")
                    cell = num_cell(mm.value, mm.ci, extra=cls)
                    if not shared_n and mm.n is not None:
                        cell.sub = (cell.sub + " " if cell.sub else "") + f"n={fmt_num(mm.n)}"
                    if not mm.judged:
                        cell.text += " †"
                    row.append(cell)
                rows.append(row)
            cols = [header] + (["n"] if shared_n else []) + list(chunk)
            title = "Measurements" + (" (continued)" if k else "")
            note = ("† not judged: " + "; ".join(notes)) if notes else ""
            tables.append(TableView(title, cols, rows, note=note, cls="metrics pivot"))
    return tables


def own_table(t: Table) -> TableView:
    rows = [[value_cell(v) for v in row] for row in t.rows]
    return TableView(t.title, list(t.columns), rows, cls="own")


def evidence_items(evidence: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(str(k), fmt_value(v), "num" if _is_num(v) else "") for k, v in evidence.items()]


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
            return all(_is_num(r[j]) or r[j] is None for r in rows) and any(_finite(r[j]) for r in rows)

        x_idx = next((j for j in range(ncol) if numeric(j) and all(_finite(r[j]) for r in rows)
                      and not _XNAMES.match(cols[j])), None)
        if x_idx is None:
            continue
        cat_idx = [j for j in range(x_idx) if all(isinstance(r[j], str) for r in rows)]
        candidates = [j for j in range(x_idx + 1, ncol) if numeric(j) and not _XNAMES.match(cols[j])
                      and all(-1e-9 <= r[j] <= 1 + 1e-9 for r in rows if _finite(r[j]))]
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


def _has_own_images(result: CheckResult) -> bool:
    return any(a.media_type.startswith("image/") for a in result.artifacts)


# ------------------------------------------------------------------------------------------------ enrichers


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
    if not _has_own_images(result):
        cv.charts = curve_charts(result) + cv.charts


_IMPORTANCE = re.compile(r"(importance|shap|attribution)", re.IGNORECASE)


def _enrich_explainability(cv: CheckView, result: CheckResult, mode: str) -> None:
    if _has_own_images(result):  # the check's own importance plots are shown instead
        return
    by_name: dict[str, list[Metric]] = {}
    for m in result.metrics:
        if _IMPORTANCE.search(m.name) and m.subject and _finite(m.value):
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


# ------------------------------------------------------------------------------------------------ the view


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


def _model_file(report: AuditReport) -> tuple[str, str | None]:
    for role in ("model", "data"):
        f = next((f for f in report.bundle.files if f.role == role), None)
        if f is not None:
            return role, f.sha256
    return "model", None


def _verdict_section(report: AuditReport, anchor: str, checks_anchor: dict[str, str]) -> SectionView:
    rub = report.rubric
    s = SectionView(anchor, "Verdict", kind="verdict")
    s.facts = [
        KeyValue("Verdict", STATUS_WORDS.get(report.verdict.value, report.verdict.value.upper()),
                 status_cls(report.verdict)),
        KeyValue("Rubric (policy)", f"{rub.name} {rub.version}"),
        KeyValue("Rubric source", rub.source),
        KeyValue("Rubric sha256", rub.sha256, "mono"),
    ]
    s.blocks.append(TableView("Checks by status", [st for st in ("pass", "warn", "fail", "error", "skipped")],
                              [[Cell(fmt_num(report.counts.get(st, 0)), cls="num " + status_cls(st))
                                for st in ("pass", "warn", "fail", "error", "skipped")]], cls="counts"))
    order = sorted(enumerate(report.checks), key=lambda ic: (STATUS_RANK[ic[1].status.value], ic[0]))
    s.blocks.append(TableView(
        "Checks", ["check", "category", "status", "summary or reason"],
        [[Cell(c.check_id, cls="mono"), Cell(c.category), Cell(c.status.value, cls=status_cls(c.status)),
          Cell(c.summary or c.error or c.skipped_reason or "")] for _, c in order],
        cls="overview",
    ))
    failures = []
    for c in report.checks:
        for cond in c.conditions:
            if cond.status in (Status.FAIL, Status.WARN):
                failures.append((c, cond))
    worst = "fail" if any(cond.status == Status.FAIL for _, cond in failures) else "warn"
    listed = [(c, cond) for c, cond in failures if cond.status.value == worst]
    if failures:
        title = "Failed conditions" if worst == "fail" else "Conditions with warnings"
        if worst == "fail" and len(listed) < len(failures):
            s.notes.append("Conditions that only warn are listed in each check's 'Rubric conditions' table.")
        failures = listed
        s.blocks.append(TableView(
            title, ["check", "condition", "subject", "observed [CI]", "status"],
            [[Cell(c.check_id, cls="mono"), Cell(cond.condition, cls="mono"), Cell(cond.subject or "all rows"),
              num_cell(cond.observed, cond.ci), Cell(cond.status.value, cls=status_cls(cond.status))]
             for c, cond in failures],
            note="fail: the rubric's bound is violated (by the whole confidence interval when judged on the "
                 "interval); warn: a warn-severity condition is violated, or only the point estimate violates "
                 "a fail-severity bound.",
            cls="failures",
        ))
    else:
        s.notes.append("Every judged rubric condition is met.")
    errored = [c for c in report.checks if c.status in (Status.ERROR, Status.SKIPPED)]
    if errored:
        s.notes.append("Some checks did not run to completion; they are listed under 'Skipped and errored "
                       "checks' and limit what this report can say.")
    return s


def _identity_section(report: AuditReport, anchor: str) -> SectionView:
    b, t, rub = report.bundle, report.tool, report.rubric
    s = SectionView(anchor, "System identity", kind="identity",
                    intro="What was audited, with which tool and settings. Digests identify the exact files.")
    s.blocks.append(TableView("Model and data", ["field", "value"], [
        [Cell("name"), Cell(b.name)],
        [Cell("version"), Cell(b.version)],
        [Cell("task"), Cell(b.task)],
        [Cell("description"), Cell(b.description or "")],
        [Cell("source"), Cell(b.source or "", cls="mono")],
        [Cell("model format"), Cell(b.model_format or "none (predictions only)")],
        [Cell("model type"), Cell(b.model_type or "n/a", cls="mono")],
        [Cell("evaluation rows"), Cell(fmt_num(b.n_rows), cls="num")],
        [Cell("label"), Cell(b.label)],
        [Cell("favourable label"), Cell(b.favorable_label)],
    ], cls="kv"))
    if b.protected:
        s.blocks.append(TableView("Protected attributes", ["attribute", "privileged group"],
                                  [[Cell(k), Cell(v)] for k, v in b.protected.items()]))
    if b.files:
        s.blocks.append(TableView("Files and digests", ["path", "role", "sha256", "bytes"],
                                  [[Cell(f.path, cls="mono"), Cell(f.role), Cell(f.sha256, cls="mono digest"),
                                    Cell(fmt_num(f.bytes), cls="num")] for f in b.files]))
    s.blocks.append(TableView("Audit run", ["field", "value"], [
        [Cell("report id"), Cell(report.report_id, cls="mono")],
        [Cell("created"), Cell(_date(report))],
        [Cell("report schema"), Cell(report.schema_version)],
        [Cell("seed"), Cell(fmt_num(report.seed), cls="num")],
        [Cell("rubric"), Cell(f"{rub.name} {rub.version} ({rub.source})")],
        [Cell("rubric sha256"), Cell(rub.sha256, cls="mono digest")],
        [Cell("tool"), Cell(f"{t.name} {t.version}")],
        [Cell("python / platform"), Cell(f"{t.python} / {t.platform}")],
        [Cell("audit duration"), Cell(fmt_duration(report.duration_s))],
        [Cell("prediction time"), Cell(fmt_duration(report.prediction_s))],
    ], cls="kv"))
    s.blocks.append(TableView("Check versions", ["check", "version", "status", "duration"], [
        [Cell(c.check_id, cls="mono"), Cell(c.version), Cell(c.status.value, cls=status_cls(c.status)),
         Cell(fmt_duration(c.duration_s), cls="num")] for c in report.checks]))
    if report.packages:
        s.blocks.append(TableView("Package versions", ["package", "version"],
                                  [[Cell(k, cls="mono"), Cell(v)] for k, v in report.packages.items()]))
    s.notes = list(report.warnings)
    return s


def _date(report: AuditReport) -> str:
    return report.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _not_run_section(report: AuditReport, anchor: str) -> SectionView:
    s = SectionView(anchor, "Skipped and errored checks", kind="not-run",
                    intro="Checks that could not run on this bundle, and rubric conditions whose metric was not "
                          "measured. They are limitations of this audit, not passes.")
    bad = [c for c in report.checks if c.status in (Status.SKIPPED, Status.ERROR)]
    if bad:
        s.blocks.append(TableView("Checks", ["check", "category", "status", "reason"], [
            [Cell(c.check_id, cls="mono"), Cell(c.category), Cell(c.status.value, cls=status_cls(c.status)),
             Cell(c.error or c.skipped_reason or "")] for c in bad]))
    conds = [(c, cond) for c in report.checks for cond in c.conditions if cond.status == Status.SKIPPED]
    if conds:
        s.blocks.append(TableView("Conditions not evaluated", ["check", "condition", "reason"], [
            [Cell(c.check_id, cls="mono"), Cell(cond.condition, cls="mono"), Cell(cond.message)]
            for c, cond in conds]))
    warned = [(c, w) for c in report.checks for w in c.warnings]
    if warned:
        s.blocks.append(TableView("Warnings raised by checks", ["check", "warning"],
                                  [[Cell(c.check_id, cls="mono"), Cell(w)] for c, w in warned]))
    if not (bad or conds or warned):
        s.empty_note = "Every check ran and every rubric condition was evaluated."
    return s


def _methodology_section(report: AuditReport, anchor: str) -> SectionView:
    s = SectionView(anchor, "Methodology", kind="methodology",
                    intro="Parameters of each check as run (after the rubric's overrides), the interval methods "
                          "behind the confidence intervals, and how conditions are judged.")
    s.facts = [KeyValue("seed", fmt_num(report.seed), "num"),
               KeyValue("evaluation rows", fmt_num(report.bundle.n_rows), "num")]
    rows = []
    for c in report.checks:
        for k, v in c.params.items():
            rows.append([Cell(c.check_id, cls="mono"), Cell(k, cls="mono"), Cell(fmt_value(v))])
    if rows:
        s.blocks.append(TableView("Check parameters", ["check", "parameter", "value"], rows))
    ci_rows = []
    for c in report.checks:
        methods = sorted({m.ci.method for m in c.metrics if m.ci is not None})
        levels = sorted({m.ci.level for m in c.metrics if m.ci is not None})
        ns = [m.n for m in c.metrics if m.n is not None]
        if methods or ns:
            ci_rows.append([Cell(c.check_id, cls="mono"), Cell("; ".join(methods) or "none"),
                            Cell(", ".join(fmt_num(x) for x in levels) or "n/a", cls="num"),
                            Cell(fmt_num(min(ns)) if ns else "n/a", cls="num"),
                            Cell(fmt_num(max(ns)) if ns else "n/a", cls="num")])
    if ci_rows:
        s.blocks.append(TableView("Uncertainty and sample sizes",
                                  ["check", "interval method", "level", "smallest n", "largest n"], ci_rows,
                                  note="n: rows behind a metric (smallest and largest over the check's metrics)."))
    s.notes = [
        "Statuses: pass (every condition met), warn (a warn-severity condition is violated, or only the point "
        "estimate violates a fail-severity bound), fail (a fail-severity bound is violated by the whole "
        "confidence interval, or by the estimate when judged on the value), error (the check raised), skipped "
        "(the check cannot run on this bundle). The verdict is the worst status over checks that ran.",
        "Metrics marked † are reported but not judged: their sample is too small (see each check's "
        "min_group_size).",
        "Numbers are rounded for display, the same way everywhere: whole numbers print as integers; other "
        "values print with three decimals, from one thousand upwards as integers, and below one thousandth in "
        "scientific notation with two significant digits. report.json holds full precision; every number "
        "printed here can be found there after this rounding.",
    ]
    return s


def _appendix_section(report: AuditReport, anchor: str, check_anchors: dict[str, str]) -> SectionView:
    cmap = load_map()
    s = SectionView(anchor, "Appendix: compliance mapping", kind="appendix", intro=cmap.disclaimer)
    cols = ["report content", "status"] + [cmap.frameworks[fw]["column"] for fw in FRAMEWORKS]
    rows: list[list[Cell]] = []
    used: dict[str, set[str]] = {fw: set() for fw in FRAMEWORKS}

    def add(label: str, status: str, refs: dict[str, list[str]]) -> None:
        for fw in FRAMEWORKS:
            used[fw].update(refs.get(fw, []))
        rows.append([Cell(label), Cell(status, cls=status_cls(status) if status else "")]
                    + [Cell("; ".join(refs.get(fw, [])), items=list(refs.get(fw, []))) for fw in FRAMEWORKS])

    add("Verdict and gate result", report.verdict.value, cmap.for_section("verdict").refs)
    add("System identity", "", cmap.for_section("identity").refs)
    for c in report.checks:
        add(f"{c.check_id}: {c.title}", c.status.value, cmap.for_check(c.check_id, c.category).refs)
    if any(c.status in (Status.SKIPPED, Status.ERROR) for c in report.checks):
        add("Skipped and errored checks", "", cmap.for_section("not-run").refs)
    add("Methodology", "", cmap.for_section("methodology").refs)
    s.blocks.append(TableView("Report content and the clauses it gives evidence for", cols, rows, cls="compliance"))
    for fw in FRAMEWORKS:
        codes = [code for code in cmap.references.get(fw, {}) if code in used[fw]]
        s.blocks.append(TableView(cmap.frameworks[fw]["title"], ["reference", "what it asks for"],
                                  [[Cell(code, cls="nowrap"), Cell(cmap.describe(fw, code))] for code in codes],
                                  cls="legend"))
    return s


def build_view(report: AuditReport, *, report_dir: Path | None = None, mode: str = "html") -> ReportView:
    """Everything the templates show, in reading order."""
    used: set[str] = {"top", "contents"}
    b = report.bundle
    role, digest = _model_file(report)
    digest_label = f"{role} sha256:{short_digest(digest)}" if digest else "no file digests"
    sections: list[SectionView] = []
    a_verdict, a_identity = slug("verdict", used), slug("system-identity", used)
    check_anchors = {c.check_id: slug("check-" + c.check_id, used) for c in report.checks}
    sections.append(_verdict_section(report, a_verdict, check_anchors))
    sections.append(_identity_section(report, a_identity))
    by_cat: dict[str, list[CheckResult]] = {}
    for c in report.checks:
        by_cat.setdefault(c.category, []).append(c)
    cat_titles = {k: (t, i) for k, t, i in CORE_CATEGORIES}
    order = [k for k, _, _ in CORE_CATEGORIES] + [k for k in by_cat if k not in cat_titles]
    for cat in order:
        title, intro = cat_titles.get(cat, (cat[:1].upper() + cat[1:] if cat else "Other checks", ""))
        sec = SectionView(slug("section-" + cat, used), title, intro=intro, kind="checks")
        results = by_cat.get(cat, [])
        sec.checks = [check_view(c, check_anchors[c.check_id], report_dir, mode) for c in results]
        if not results:
            sec.empty_note = f"No {title.lower()} check ran in this audit: this report gives no evidence on it."
        sections.append(sec)
    sections.append(_not_run_section(report, slug("not-run", used)))
    sections.append(_methodology_section(report, slug("methodology", used)))
    sections.append(_appendix_section(report, slug("appendix", used), check_anchors))
    counts = [KeyValue(st, fmt_num(report.counts.get(st, 0)), status_cls(st))
              for st in ("pass", "warn", "fail", "error", "skipped")]
    return ReportView(
        mode=mode,
        title=f"Trustworthiness audit: {b.name} {b.version}",
        model_name=b.name,
        model_version=b.version,
        header=f"{b.name} {b.version} · {digest_label}",
        digest_label=digest_label,
        report_id=report.report_id,
        created=_date(report),
        verdict=report.verdict.value,
        verdict_words=STATUS_WORDS.get(report.verdict.value, report.verdict.value.upper()),
        rubric_label=f"{report.rubric.name} {report.rubric.version}",
        tool_label=f"{report.tool.name} {report.tool.version}",
        counts=counts,
        sections=sections,
        disclaimer=load_map().disclaimer,
    )


def iter_tables(view: ReportView) -> Iterable[TableView]:
    """Every table of the view (for tests and the Markdown renderer)."""
    for s in view.sections:
        yield from s.blocks
        for c in s.checks:
            if c.conditions:
                yield c.conditions
            yield from c.metric_tables
            yield from c.tables
