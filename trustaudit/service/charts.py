"""Small SVG trend charts (no JavaScript, no plotting library): a metric across versions with its interval."""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) from below lo to above hi."""
    span = hi - lo
    raw = span / max(target - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    k = 0
    while True:
        v = start + k * step
        ticks.append(round(v, 10))
        if v >= hi - step * 1e-9:
            return ticks
        k += 1


def trend_svg(title: str, versions: list[str], series: list[dict[str, Any]], *, width: int = 560,
              height: int = 240, bounds: dict[str, list[float]] | None = None) -> str:
    """``series``: [{"label": str, "points": [{"version", "value", "ci_low", "ci_high"}]}]; ``bounds``: per
    version, the rubric bounds its audit was judged with (a dashed segment over that version)."""
    ml, mr, mt, mb = 56, 16, 28, 44
    pw, ph = width - ml - mr, height - mt - mb
    vals: list[float] = []
    for s in series:
        for p in s["points"]:
            for k in ("value", "ci_low", "ci_high"):
                v = p.get(k)
                if v is not None and math.isfinite(v):
                    vals.append(float(v))
    for bs in (bounds or {}).values():
        vals.extend(bs)
    if not vals:
        vals = [0.0, 1.0]
    lo, hi = min(vals), max(vals)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    ticks = nice_ticks(lo, hi)
    lo, hi = ticks[0], ticks[-1]
    n = max(len(versions), 1)

    def x(i: int) -> float:
        return ml + (pw * (i + 0.5) / n)

    def y(v: float) -> float:
        return mt + ph * (1 - (v - lo) / (hi - lo))

    idx = {v: i for i, v in enumerate(versions)}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title, {chr(34): "&quot;"})}">',
           f"<title>{escape(title)}</title>",
           f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>',
           f'<text x="{ml}" y="18" font-size="13" font-weight="bold" fill="#222">{escape(title)}</text>']
    for v in ticks:
        yy = y(v)
        out.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{ml - 6}" y="{yy + 4:.1f}" font-size="11" text-anchor="end" fill="#555">'
                   f"{_fmt(v)}</text>")
    half = pw / n / 2
    for ver, bs in (bounds or {}).items():
        if ver not in idx:
            continue
        for b in bs:
            out.append(f'<line x1="{x(idx[ver]) - half:.1f}" x2="{x(idx[ver]) + half:.1f}" y1="{y(b):.1f}" '
                       f'y2="{y(b):.1f}" stroke="#888" stroke-dasharray="5,4"><title>rubric bound {_fmt(b)} '
                       f'({escape(ver)})</title></line>')
    for i, ver in enumerate(versions):
        label = ver if len(ver) <= 12 else ver[:11] + "…"
        out.append(f'<text x="{x(i):.1f}" y="{mt + ph + 16}" font-size="11" text-anchor="middle" fill="#333">'
                   f"{escape(label)}</text>")
    out.append(f'<text x="{ml + pw / 2:.1f}" y="{height - 6}" font-size="11" text-anchor="middle" '
               f'fill="#555">version</text>')
    for si, s in enumerate(series):
        colour = PALETTE[si % len(PALETTE)]
        pts = sorted((idx[p["version"]], p) for p in s["points"] if p["version"] in idx and p.get("value") is not None)
        off = (si - (len(series) - 1) / 2) * 4  # spread overlapping interval bars
        for i, p in pts:
            if p.get("ci_low") is not None and p.get("ci_high") is not None:
                xx = x(i) + off
                out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{y(p["ci_low"]):.1f}" y2="{y(p["ci_high"]):.1f}" '
                           f'stroke="{colour}" stroke-opacity="0.45" stroke-width="3"/>')
        if len(pts) > 1:
            d = " ".join(f"{'M' if k == 0 else 'L'}{x(i) + off:.1f},{y(p['value']):.1f}" for k, (i, p) in enumerate(pts))
            out.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, p in pts:
            ci = (f" [{_fmt(p['ci_low'])}, {_fmt(p['ci_high'])}]"
                  if p.get("ci_low") is not None and p.get("ci_high") is not None else "")
            tip = f"{s['label']} @ {p['version']}: {_fmt(p['value'])}{ci}"
            out.append(f'<circle cx="{x(i) + off:.1f}" cy="{y(p["value"]):.1f}" r="4" fill="{colour}">'
                       f"<title>{escape(tip)}</title></circle>")
    out.append("</svg>")
    return "".join(out)


def legend(series: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(PALETTE[i % len(PALETTE)], s["label"]) for i, s in enumerate(series)]
