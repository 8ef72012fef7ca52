"""A check's tables: its rubric conditions, its metrics pivoted with intervals and sample sizes, and its own tables."""

from __future__ import annotations

from trustaudit.render.fmt import fmt_num
from trustaudit.render.view.cells import (
    drop_empty_columns,
    is_num,
    num_cell,
    status_cls,
    value_cell,
    value_status_cls,
)
from trustaudit.render.view.model import STATUS_RANK, Cell, TableView
from trustaudit.results import CheckResult, ConditionResult, Metric, Status, Table


def cond_status_map(result: CheckResult) -> dict[tuple[str, str | None], str]:
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
    status_of = cond_status_map(result)
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
                name in rm and is_num(rm[name].value) and rm[name].value == next(iter(n))
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
