"""The one number formatter every rendering uses, so any printed number can be traced back to report.json.

The rounding rule (documented in docs/reports.md and re-implemented independently by the traceability test):

* ``None`` and non-finite floats print as ``n/a`` (``inf`` / ``-inf`` for infinities);
* booleans print as ``yes`` / ``no``;
* integers, and floats that are whole numbers, print as integers (``16281``, ``0``, ``1``);
* other floats with ``|x| >= 1000`` are rounded to an integer (``1234.6`` -> ``1235``);
* other floats with ``0.001 <= |x| < 1000`` are rounded to 3 decimals (``0.2998`` -> ``0.300``);
* other floats with ``|x| < 0.001`` print in scientific notation with 2 significant digits
  (``1.234e-14`` -> ``1.2e-14``), so a tiny error never reads as zero;
* except beside a number it is read with: a bound of an interval whose other bound has ``0.001 <= |x| < 1000``, or
  a value whose interval bound does, prints with three decimals like its partner (``[6.9e-18, 0.099]`` ->
  ``[0.000, 0.099]``; ``-3.1e-05`` beside ``-0.189`` -> ``-0.000``, keeping its sign), so floating-point
  residue next to an ordinary number does not show.

Negative numbers use the ASCII hyphen-minus so the text stays searchable.
"""

from __future__ import annotations

import math
from typing import Any


def fmt_num(x: Any) -> str:
    """Format one number by the documented rule (see the module docstring)."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if not isinstance(x, float):
        try:
            x = float(x)
        except (TypeError, ValueError):
            return str(x)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x.is_integer():
        return str(int(x))
    ax = abs(x)
    if ax >= 1000:
        return f"{x:.0f}"
    if ax >= 0.001:
        return f"{x:.3f}"
    return f"{x:.1e}"


def _float(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x)


def fmt_beside(x: Any, *partners: Any) -> str:
    """:func:`fmt_num`, except that a float below 0.001 in magnitude prints with three decimals when a partner
    (the other bound of its interval, or its interval's bounds) prints with three decimals."""
    v = _float(x)
    if v is None or not math.isfinite(v) or v.is_integer() or abs(v) >= 0.001:
        return fmt_num(x)
    for partner in partners:
        p = _float(partner)
        if p is not None and math.isfinite(p) and not p.is_integer() and 0.001 <= abs(p) < 1000:
            return f"{v:.3f}"  # -0.000 keeps the sign: the value is below zero
    return fmt_num(x)


def fmt_ci(low: Any, high: Any) -> str:
    """A confidence interval as ``[low, high]`` (a residue-size bound beside an ordinary one: three decimals)."""
    return f"[{fmt_beside(low, high)}, {fmt_beside(high, low)}]"


def fmt_value(v: Any, *, max_items: int = 12, max_chars: int = 400) -> str:
    """Any JSON value as text: numbers through :func:`fmt_num`, lists joined, dicts as ``k: v``.

    Long values are cut with an ellipsis (no derived count is printed, so every number stays traceable).
    """
    if v is None or isinstance(v, (bool, int, float)):
        return fmt_num(v)
    if isinstance(v, str):
        text = v
    elif isinstance(v, (list, tuple, dict)) and not v:
        text = "none"
    elif isinstance(v, (list, tuple)):
        parts = [fmt_value(x, max_items=max_items, max_chars=max_chars) for x in v[:max_items]]
        text = ", ".join(parts) + (", …" if len(v) > max_items else "")
    elif isinstance(v, dict):
        items = list(v.items())
        parts = [f"{k}: {fmt_value(x, max_items=max_items, max_chars=max_chars)}" for k, x in items[:max_items]]
        text = "; ".join(parts) + ("; …" if len(items) > max_items else "")
    else:
        text = str(v)
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    return text


def fmt_duration(seconds: Any) -> str:
    """Seconds, through the same number rule, with a unit."""
    return f"{fmt_num(seconds)} s"


def short_digest(sha256: str | None, n: int = 12) -> str:
    return sha256[:n] if sha256 else "n/a"
