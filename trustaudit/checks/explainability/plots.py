"""SVG plots of SHAP attributions (matplotlib, no pyplot, byte-for-byte reproducible).

Figures are built with ``matplotlib.figure.Figure`` (no global pyplot state, no GUI backend). Reproducible bytes:
a fixed ``svg.hashsalt`` (element ids), no ``Date`` metadata, and the beeswarm's points (the only bulky part)
rasterised into one embedded PNG, whose bytes depend only on the pixels. Text stays text (``svg.fonttype: none``,
DejaVu Sans): smaller files, searchable and selectable in the rendered report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

COLORS = {"protected": "#b2182b", "proxy": "#ef8a62", "other": "#4575b4"}
LABELS = {
    "protected": "protected attribute",
    "proxy": "proxy of a protected attribute",
    "other": "other feature",
}
RC: Any = {"svg.hashsalt": "trustaudit", "svg.fonttype": "none", "font.size": 9.0, "axes.titlesize": 10.0}


def _save(fig: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="svg", metadata={"Date": None}, dpi=150)


def _figure(labels: list[str], width: float, rows: int, bottom: float = 0.55) -> Any:
    """A figure whose left margin fits the feature names (fixed margins: one draw instead of the two that
    ``bbox_inches="tight"`` costs)."""
    from matplotlib.figure import Figure

    height = 0.3 * rows + 0.55 + bottom
    fig = Figure(figsize=(width, height))
    left = 0.25 + 0.068 * max((len(s) for s in labels), default=4)  # inches, for 9 pt DejaVu Sans
    fig.subplots_adjust(
        left=left / width, right=1 - 0.25 / width, top=1 - 0.4 / height, bottom=bottom / height
    )
    return fig


def importance_svg(
    path: Path,
    features: list[str],
    importance: np.ndarray,
    low: np.ndarray | None,
    high: np.ndarray | None,
    kinds: dict[str, str],
    xlabel: str,
    title: str,
    max_features: int = 15,
) -> None:
    """Horizontal bars of mean |SHAP| per feature (largest on top) with confidence-interval whiskers."""
    import matplotlib
    from matplotlib.patches import Patch

    order = np.argsort(-importance, kind="stable")[:max_features][::-1]
    with matplotlib.rc_context(RC):
        fig = _figure([features[i] for i in order], 6.4, len(order))
        ax = fig.add_subplot()
        y = np.arange(len(order))
        colors = [COLORS[kinds.get(features[i], "other")] for i in order]
        xerr = None
        if low is not None and high is not None:
            xerr = np.vstack([importance[order] - low[order], high[order] - importance[order]]).clip(min=0)
        ax.barh(y, importance[order], color=colors, xerr=xerr, ecolor="#333333", capsize=2, height=0.7)
        ax.set_yticks(y, [features[i] for i in order])
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        ax.spines[["top", "right"]].set_visible(False)
        used = [
            k
            for k in ("protected", "proxy", "other")
            if k in {kinds.get(features[i], "other") for i in order}
        ]
        if len(used) > 1:
            ax.legend(
                handles=[Patch(color=COLORS[k], label=LABELS[k]) for k in used],
                loc="lower right",
                frameon=False,
            )
        _save(fig, path)


def _swarm_offsets(x: np.ndarray, nbins: int = 60, width: float = 0.38) -> np.ndarray:
    """Vertical offsets that pile points with similar x into a symmetric swarm (deterministic)."""
    if len(x) == 0:
        return np.zeros(0)
    lo, hi = float(x.min()), float(x.max())
    span = hi - lo if hi > lo else 1.0
    b = np.minimum(((x - lo) / span * nbins).astype(int), nbins - 1)
    order = np.lexsort((x, b))
    rank = np.zeros(len(x), dtype=np.int64)
    sorted_b = b[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_b)) + 1]
    counts = np.diff(np.r_[starts, len(x)])
    rank[order] = np.arange(len(x)) - np.repeat(starts, counts)
    offset = np.where(rank % 2 == 0, rank // 2, -(rank // 2 + 1)).astype(np.float64)
    peak = max(float(np.abs(offset).max()), 1.0)
    return offset / peak * width


def _colour_scale(v: np.ndarray) -> np.ndarray:
    """Feature values mapped to [0, 1] between their 5th and 95th percentiles (1st/99th, then min/max, when
    those coincide, as shap's beeswarm does); missing values in the middle."""
    finite = v[np.isfinite(v)]
    lo, hi = np.percentile(finite, [5, 95])
    if lo == hi:
        lo, hi = np.percentile(finite, [1, 99])
    if lo == hi:
        lo, hi = finite.min(), finite.max()
    if lo == hi:
        return np.full(len(v), 0.5)
    out = np.clip((v - lo) / (hi - lo), 0.0, 1.0)
    return np.where(np.isfinite(out), out, 0.5)


def beeswarm_svg(
    path: Path,
    features: list[str],
    values: np.ndarray,
    colour_values: dict[str, np.ndarray],
    order: np.ndarray,
    xlabel: str,
    title: str,
) -> None:
    """SHAP value of every explained row per feature (rows of ``order``, most important on top); points are
    coloured by the feature's value (low to high quantile) for numeric columns, grey for categorical ones."""
    import matplotlib

    with matplotlib.rc_context(RC):
        fig = _figure([features[j] for j in order], 6.8, len(order), bottom=0.75)
        ax = fig.add_subplot()
        cmap = matplotlib.colormaps["coolwarm"]
        grey = np.array(matplotlib.colors.to_rgba("#8c8c8c"))
        xs, ys, cs = [], [], []
        for pos, j in enumerate(order[::-1]):
            x = values[:, j]
            xs.append(x)
            ys.append(pos + _swarm_offsets(x))
            cv = colour_values.get(features[j])
            if cv is not None and np.isfinite(cv).any():
                cs.append(cmap(_colour_scale(cv)))
            else:
                cs.append(np.tile(grey, (len(x), 1)))
        # one artist: the points become a single embedded PNG
        ax.scatter(
            np.concatenate(xs), np.concatenate(ys), s=5, c=np.vstack(cs), linewidths=0, rasterized=True
        )
        ax.axvline(0.0, color="#555555", linewidth=0.6)
        ax.set_yticks(np.arange(len(order)), [features[j] for j in order[::-1]])
        # the colour key as a second line of the axis label (a colorbar is another axes: a third of the drawing)
        ax.set_xlabel(f"{xlabel}\ncolour: feature value, blue low to red high; grey: categorical feature")
        ax.set_title(title)
        ax.spines[["top", "right"]].set_visible(False)
        _save(fig, path)
