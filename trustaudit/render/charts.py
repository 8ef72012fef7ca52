"""Deterministic SVG charts written by hand: no JavaScript, no matplotlib, no randomness, no ids.

The same input gives byte-identical SVG. Every text is XML-escaped. Charts are embedded in reports as
``<img src="data:image/svg+xml;base64,...">`` (see :func:`data_uri`): a browser runs no script inside an image
and fetches nothing from it, and WeasyPrint renders it without CSS warnings.

* :func:`dot_whisker` – one row per subject: a dot at the estimate and a whisker for its confidence interval,
  optional reference lines (rubric thresholds). Used for fairness differences and ratios.
* :func:`facet_dot_whisker` – the same for several metrics side by side with shared row labels (group rates).
* :func:`bar_chart` – horizontal bars from zero with interval whiskers (feature importance).
* :func:`line_chart` – one or more series over an x axis with interval whiskers (robustness curves).

Axis tick labels are chart furniture, not measurements; the values themselves are printed in the tables next
to each chart.
"""

from __future__ import annotations

import base64
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
STATUS_COLOURS = {
    "pass": "#2e7d32",
    "warn": "#d97706",
    "fail": "#c62828",
    "error": "#6a1b9a",
    "skipped": "#757575",
}
DEFAULT_COLOUR = "#1f5fa8"
SERIES_COLOURS = ("#1f5fa8", "#c2410c", "#15803d", "#7e22ce", "#0e7490", "#a16207", "#be185d", "#4b5563")
GRID = "#e3e6ea"
AXIS = "#9aa1a9"
TEXT = "#222"
MUTED = "#666"

CHAR_W = 6.3  # approximate advance of an 11px DejaVu Sans character
ROW_H = 18
LINE_H = 12  # each further line of a wrapped row label
MAX_LABEL_LINES = 4


@dataclass(frozen=True)
class Point:
    """One estimate with an optional interval; ``status`` colours it (pass/warn/fail) when given."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    status: str | None = None


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float | str, float | None, float | None, float | None]]  # (x, y, low, high)


@dataclass(frozen=True)
class RefLine:
    value: float
    label: str = ""


# ------------------------------------------------------------------------------------------------ helpers


def _n(x: float) -> str:
    """Coordinates with one decimal, no '-0.0'."""
    s = f"{x:.1f}"
    return "0.0" if s == "-0.0" else s


def _finite(x: float | None) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def _text(x: float, y: float, s: str, *, size: int = 11, anchor: str = "start", fill: str = TEXT,
          weight: str | None = None) -> str:
    w = f' font-weight="{weight}"' if weight else ""
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{w}>'
            f"{escape(s)}</text>")


def _clip(s: str, max_chars: int) -> str:
    return s if len(s) <= max_chars else s[: max(1, max_chars - 1)] + "…"


def _wrap(s: str, max_chars: int, max_lines: int = MAX_LABEL_LINES) -> list[str]:
    """A row label on up to ``max_lines`` lines of ``max_chars``: an intersection ("a & b & c") breaks after
    each "&", longer parts at spaces. Only a label longer than every line together is cut (with "…")."""
    if len(s) <= max_chars:
        return [s]
    parts = s.split(" & ")
    pieces = [p + " &" for p in parts[:-1]] + [parts[-1]]
    lines: list[str] = []
    for piece in pieces:
        if lines and len(lines[-1]) + 1 + len(piece) <= max_chars:
            lines[-1] += " " + piece
        else:
            lines += textwrap.wrap(piece, width=max_chars, break_long_words=True, break_on_hyphens=False) or [""]
    if len(lines) > max_lines:  # too many lines when broken at each "&": fill the lines word by word instead
        lines = textwrap.wrap(s, width=max_chars, break_long_words=True, break_on_hyphens=False)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _clip(lines[-1] + " …", max_chars) if len(lines[-1]) + 2 <= max_chars else \
            lines[-1][: max_chars - 1] + "…"
    return lines


def _row_height(labels: Sequence[Sequence[str]]) -> float:
    return ROW_H + (max((len(lines) for lines in labels), default=1) - 1) * LINE_H


def _label_width(labels: Sequence[Sequence[str]], max_chars: int) -> float:
    longest = max((len(line) for lines in labels for line in lines), default=4)
    return min(max_chars, longest) * CHAR_W + 14


def _label(x: float, y: float, lines: Sequence[str], **kw: object) -> list[str]:
    """A (wrapped) row label right-aligned at ``x``, its lines centred on the row's middle ``y``: one <text> each."""
    first = y + 4 - (len(lines) - 1) * LINE_H / 2
    return [_text(x, first + k * LINE_H, line, anchor="end", **kw) for k, line in enumerate(lines)]  # type: ignore[arg-type]


def _svg(width: float, height: float, body: list[str], title: str) -> str:
    w, h = math.ceil(width), math.ceil(height)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'font-family={quoteattr(FONT)} role="img" aria-label={quoteattr(title)}>'
        f"<title>{escape(title)}</title>"
        f'<rect width="{w}" height="{h}" fill="#fff"/>' + "".join(body) + "</svg>"
    )


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] with a 1-2-2.5-5 step."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.1 or 0.5
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(1, target)
    mag = 10 ** math.floor(math.log10(raw))
    step = mag
    for m in (1, 2, 2.5, 5, 10):
        step = m * mag
        if step >= raw:
            break
    start = math.floor(lo / step + 1e-9) * step
    end = math.ceil(hi / step - 1e-9) * step
    n = round((end - start) / step)
    return [round(start + i * step, 12) for i in range(n + 1)]


def tick_label(v: float, ticks: Sequence[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = 0
    while decimals < 6 and abs(round(step * 10**decimals) - step * 10**decimals) > 1e-6:
        decimals += 1
    s = f"{v:.{decimals}f}"
    return "0" if s.strip("-0.") == "" else s


def _domain(values: Sequence[float | None], fixed: tuple[float, float] | None) -> list[float]:
    if fixed is not None:
        return nice_ticks(fixed[0], fixed[1])
    finite = [float(v) for v in values if v is not None and _finite(v)]
    if not finite:
        return [0.0, 0.5, 1.0]
    lo, hi = min(finite), max(finite)
    if lo > 0 and lo < 0.25 * hi:  # close to zero: start at zero
        lo = 0.0
    pad = (hi - lo) * 0.04
    return nice_ticks(lo - pad if lo != 0 else lo, hi + pad)


class _Scale:
    def __init__(self, ticks: list[float], x0: float, x1: float) -> None:
        self.lo, self.hi = ticks[0], ticks[-1]
        self.x0, self.x1 = x0, x1

    def __call__(self, v: float) -> float:
        span = self.hi - self.lo or 1.0
        v = min(max(v, self.lo), self.hi)  # clamp (intervals wider than the axis are cut at the edge)
        return self.x0 + (v - self.lo) / span * (self.x1 - self.x0)


def _x_axis(scale: _Scale, ticks: list[float], y_top: float, y_bottom: float, label: str) -> list[str]:
    out = []
    for t in ticks:
        x = scale(t)
        out.append(f'<line x1="{_n(x)}" y1="{_n(y_top)}" x2="{_n(x)}" y2="{_n(y_bottom)}" stroke="{GRID}"/>')
        out.append(_text(x, y_bottom + 13, tick_label(t, ticks), size=10, anchor="middle", fill=MUTED))
    out.append(f'<line x1="{_n(scale.x0)}" y1="{_n(y_bottom)}" x2="{_n(scale.x1)}" y2="{_n(y_bottom)}" '
               f'stroke="{AXIS}"/>')
    if label:
        out.append(_text((scale.x0 + scale.x1) / 2, y_bottom + 27, label, size=10, anchor="middle", fill=MUTED))
    return out


def _whisker(scale: _Scale, p: Point, y: float, colour: str) -> list[str]:
    out = []
    if _finite(p.low) and _finite(p.high):
        xl, xh = scale(p.low), scale(p.high)  # type: ignore[arg-type]
        out.append(f'<line x1="{_n(xl)}" y1="{_n(y)}" x2="{_n(xh)}" y2="{_n(y)}" stroke="{colour}" '
                   f'stroke-width="1.6"/>')
        for xe in (xl, xh):
            out.append(f'<line x1="{_n(xe)}" y1="{_n(y - 4)}" x2="{_n(xe)}" y2="{_n(y + 4)}" '
                       f'stroke="{colour}" stroke-width="1.6"/>')
    return out


def _ref_lines(scale: _Scale, refs: Sequence[RefLine], y_top: float, y_bottom: float) -> list[str]:
    out = []
    for r in refs:
        if not _finite(r.value) or not (scale.lo <= r.value <= scale.hi):
            continue
        x = scale(r.value)
        out.append(f'<line x1="{_n(x)}" y1="{_n(y_top - 4)}" x2="{_n(x)}" y2="{_n(y_bottom)}" '
                   f'stroke="#c62828" stroke-dasharray="4 3" stroke-width="1.2"/>')
        if r.label:
            half = len(r.label) * 2.9
            anchor = "end" if x + half > scale.x1 + 10 else ("start" if x - half < scale.x0 - 10 else "middle")
            out.append(_text(x, y_top - 7, r.label, size=9, anchor=anchor, fill="#c62828"))
    return out


# ------------------------------------------------------------------------------------------------ charts


def dot_whisker(points: Sequence[Point], *, title: str, x_label: str = "", domain: tuple[float, float] | None = None,
                refs: Sequence[RefLine] = (), width: int = 720, max_label_chars: int = 36) -> str:
    """One row per point: the estimate as a dot and its confidence interval as a whisker."""
    labels = [_wrap(p.label, max_label_chars) for p in points]
    label_w = _label_width(labels, max_label_chars)
    row_h = _row_height(labels)
    top = 22 if any(r.label for r in refs) else 10
    plot_h = max(1, len(points)) * row_h
    height = top + plot_h + 36
    values = [v for p in points for v in (p.value, p.low, p.high) if _finite(v)]
    values += [r.value for r in refs]
    ticks = _domain(values, domain)
    scale = _Scale(ticks, label_w + 8, width - 14)
    body: list[str] = []
    for i in range(len(points)):
        if i % 2 == 1:
            body.append(f'<rect x="0" y="{_n(top + i * row_h)}" width="{width}" height="{row_h}" fill="#f6f7f9"/>')
    body += _x_axis(scale, ticks, top, top + plot_h, x_label)
    body += _ref_lines(scale, refs, top, top + plot_h)
    for i, (p, lab) in enumerate(zip(points, labels)):
        y = top + i * row_h + row_h / 2
        body += _label(label_w, y, lab)
        colour = STATUS_COLOURS.get(p.status or "", DEFAULT_COLOUR)
        if not _finite(p.value):
            body.append(_text(scale.x0 + 4, y + 4, "n/a", size=10, fill=MUTED))
            continue
        body += _whisker(scale, p, y, colour)
        body.append(f'<circle cx="{_n(scale(p.value))}" cy="{_n(y)}" r="3.8" fill="{colour}"/>')  # type: ignore[arg-type]
    return _svg(width, height, body, title)


def facet_dot_whisker(labels: Sequence[str], panels: Sequence[tuple[str, Sequence[Point | None]]], *, title: str,
                      domain: tuple[float, float] | None = (0.0, 1.0), width: int = 680,
                      max_label_chars: int = 30) -> str:
    """Several metrics side by side (one panel each) for the same rows (e.g. groups)."""
    labs = [_wrap(s, max_label_chars) for s in labels]
    label_w = _label_width(labs, max_label_chars)
    row_h = _row_height(labs)
    top = 24
    plot_h = max(1, len(labels)) * row_h
    height = top + plot_h + 24
    k = max(1, len(panels))
    gap = 22
    panel_w = (width - label_w - 8 - gap * (k - 1) - 10) / k
    body: list[str] = []
    for i in range(len(labels)):
        if i % 2 == 1:
            body.append(f'<rect x="0" y="{_n(top + i * row_h)}" width="{width}" height="{row_h}" fill="#f6f7f9"/>')
    for i, lab in enumerate(labs):
        body += _label(label_w, top + i * row_h + row_h / 2, lab)
    for j, (ptitle, pts) in enumerate(panels):
        x0 = label_w + 8 + j * (panel_w + gap)
        vals = [v for p in pts if p is not None for v in (p.value, p.low, p.high) if _finite(v)]
        ticks = _domain(vals, domain)
        if len(ticks) > 3 and panel_w < 160:
            ticks = [ticks[0], ticks[len(ticks) // 2], ticks[-1]] if len(ticks) % 2 == 1 else [ticks[0], ticks[-1]]
        scale = _Scale(ticks, x0 + 4, x0 + panel_w - 4)
        body.append(_text((scale.x0 + scale.x1) / 2, top - 8, _clip(ptitle, int(panel_w / 6.5)), size=10,
                          anchor="middle", weight="bold"))
        body += _x_axis(scale, ticks, top, top + plot_h, "")
        for i, p in enumerate(pts):
            if p is None:
                continue
            y = top + i * row_h + row_h / 2
            colour = STATUS_COLOURS.get(p.status or "", DEFAULT_COLOUR)
            if not _finite(p.value):
                body.append(_text(scale.x0 + 2, y + 4, "n/a", size=9, fill=MUTED))
                continue
            body += _whisker(scale, p, y, colour)
            body.append(f'<circle cx="{_n(scale(p.value))}" cy="{_n(y)}" r="3.4" fill="{colour}"/>')  # type: ignore[arg-type]
    return _svg(width, height, body, title)


def bar_chart(points: Sequence[Point], *, title: str, x_label: str = "", width: int = 680,
              max_label_chars: int = 36) -> str:
    """Horizontal bars from zero with interval whiskers, in the given order."""
    labels = [_wrap(p.label, max_label_chars) for p in points]
    label_w = _label_width(labels, max_label_chars)
    row_h = _row_height(labels)
    top = 10
    plot_h = max(1, len(points)) * row_h
    height = top + plot_h + 36
    values = [v for p in points for v in (p.value, p.low, p.high) if _finite(v)] + [0.0]
    ticks = _domain(values, None)
    scale = _Scale(ticks, label_w + 8, width - 14)
    body = _x_axis(scale, ticks, top, top + plot_h, x_label)
    zero = scale(0.0)
    for i, (p, lab) in enumerate(zip(points, labels)):
        y = top + i * row_h + row_h / 2
        body += _label(label_w, y, lab)
        colour = STATUS_COLOURS.get(p.status or "", DEFAULT_COLOUR)
        if not _finite(p.value):
            body.append(_text(scale.x0 + 4, y + 4, "n/a", size=10, fill=MUTED))
            continue
        xv = scale(p.value)  # type: ignore[arg-type]
        x, w = min(zero, xv), abs(xv - zero)
        body.append(f'<rect x="{_n(x)}" y="{_n(y - 6)}" width="{_n(w)}" height="12" fill="{colour}" '
                    f'fill-opacity="0.75"/>')
        body += _whisker(scale, p, y, "#222")
    return _svg(width, height, body, title)


def line_chart(series: Sequence[Series], *, title: str, x_label: str = "", y_label: str = "",
               y_domain: tuple[float, float] | None = None, width: int = 680, height: int = 300) -> str:
    """Series over a shared x axis (numeric, or categories in order of first appearance)."""
    xs_all = [pt[0] for s in series for pt in s.points]
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in xs_all)
    left, right, top = 56, 16, 30
    bottom = 44
    plot_w, plot_h = width - left - right, height - top - bottom
    if numeric and xs_all:
        xnum = [float(x) for x in xs_all]
        xticks = nice_ticks(min(xnum), max(xnum))
        xscale = _Scale(xticks, left, left + plot_w)

        def xpos(x: float | str) -> float:
            return xscale(float(x))
    else:
        cats: list[str] = []
        for x in xs_all:
            if str(x) not in cats:
                cats.append(str(x))
        step = plot_w / max(1, len(cats))

        def xpos(x: float | str) -> float:
            return left + step * (cats.index(str(x)) + 0.5)
    yvals = [v for s in series for pt in s.points for v in pt[1:] if _finite(v)]
    yticks = _domain(yvals, y_domain)
    ylo, yhi = yticks[0], yticks[-1]

    def ypos(v: float) -> float:
        v = min(max(v, ylo), yhi)
        return top + plot_h - (v - ylo) / ((yhi - ylo) or 1.0) * plot_h

    body: list[str] = []
    for t in yticks:
        y = ypos(t)
        body.append(f'<line x1="{left}" y1="{_n(y)}" x2="{left + plot_w}" y2="{_n(y)}" stroke="{GRID}"/>')
        body.append(_text(left - 6, y + 4, tick_label(t, yticks), size=10, anchor="end", fill=MUTED))
    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="{AXIS}"/>')
    body.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="{AXIS}"/>')
    if numeric and xs_all:
        for t in xticks:
            body.append(_text(xpos(t), top + plot_h + 14, tick_label(t, xticks), size=10, anchor="middle",
                              fill=MUTED))
    else:
        for c in cats:
            body.append(_text(xpos(c), top + plot_h + 14, _clip(c, 14), size=10, anchor="middle", fill=MUTED))
    if x_label:
        body.append(_text(left + plot_w / 2, height - 8, x_label, size=10, anchor="middle", fill=MUTED))
    if y_label:
        body.append(f'<text x="12" y="{_n(top + plot_h / 2)}" font-size="10" text-anchor="middle" fill="{MUTED}" '
                    f'transform="rotate(-90 12 {_n(top + plot_h / 2)})">{escape(y_label)}</text>')
    # legend
    lx: float = left
    for k, s in enumerate(series):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        name = _clip(s.name, 28)
        body.append(f'<rect x="{_n(lx)}" y="10" width="10" height="10" fill="{colour}"/>')
        body.append(_text(lx + 14, 19, name, size=10))
        lx += 14 + len(name) * 6.0 + 14
    for k, s in enumerate(series):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        pts = [(xpos(x), y, lo, hi) for x, y, lo, hi in s.points]
        path = [f"{_n(px)},{_n(ypos(yv))}" for px, yv, _, _ in pts if yv is not None and _finite(yv)]
        if len(path) > 1:
            body.append(f'<polyline points="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for px, yv, lo, hi in pts:
            if lo is not None and hi is not None and _finite(lo) and _finite(hi):
                y1, y2 = ypos(lo), ypos(hi)
                body.append(f'<line x1="{_n(px)}" y1="{_n(y1)}" x2="{_n(px)}" y2="{_n(y2)}" stroke="{colour}" '
                            f'stroke-width="1.4"/>')
                for ye in (y1, y2):
                    body.append(f'<line x1="{_n(px - 4)}" y1="{_n(ye)}" x2="{_n(px + 4)}" y2="{_n(ye)}" '
                                f'stroke="{colour}" stroke-width="1.4"/>')
            if yv is not None and _finite(yv):
                body.append(f'<circle cx="{_n(px)}" cy="{_n(ypos(yv))}" r="3.4" fill="{colour}"/>')
    return _svg(width, height, body, title)


def data_uri(svg: str) -> str:
    """The SVG as a base64 data URI for an ``<img src>``."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
