"""Cells and formatting helpers shared by the view's tables, charts and sections."""

from __future__ import annotations

import math
import re
from typing import Any

from trustaudit.render.fmt import fmt_beside, fmt_ci, fmt_num, fmt_value
from trustaudit.render.view.model import Cell, KeyValue, TableView
from trustaudit.results import Status


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


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def finite(v: Any) -> bool:
    return is_num(v) and math.isfinite(v)


def num_cell(v: Any, ci: Any = None, *, extra: str = "") -> Cell:
    sub = fmt_ci(ci.low, ci.high) if ci is not None else ""
    bounds = (ci.low, ci.high) if ci is not None else ()
    return Cell(fmt_beside(v, *bounds) if is_num(v) or v is None else fmt_value(v), sub, f"num {extra}".strip())


def value_cell(v: Any) -> Cell:
    if v is None or is_num(v):
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


def evidence_items(evidence: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(str(k), fmt_value(v), "num" if is_num(v) else "") for k, v in evidence.items()]
