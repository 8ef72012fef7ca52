"""Helpers shared by the robustness checks: per-group rates, the safety stop, plots, formatting."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trustaudit.checks.robustness.stats import difference_metric, rate_metric
from trustaudit.results import Artifact, Metric

if TYPE_CHECKING:
    from trustaudit.context import AuditContext


MULTICLASS = "multiclass-classification"


def predicted_labels(ctx: AuditContext, space: Any, Z: np.ndarray, base: np.ndarray, *,
                     full_model: bool) -> np.ndarray:
    """The label a model predicts for rows ``Z`` of an attack space (``base``: their evaluation rows): 1/0 for the
    favourable label (binary-classification, as ``space.predict_fav``), or the index of the arg-max class in the
    model's class order (multiclass-classification). ``full_model``: the real model on the decoded DataFrame,
    else the space's fast path. A change of this label is what counts as a flip: untargeted for multiclass."""
    if ctx.task == MULTICLASS:
        if not len(Z):
            return np.zeros(0, dtype=np.int64)
        proba = space.full_model_proba(Z, base) if full_model else space.predict_proba(Z, base)
        return np.asarray(proba.argmax(axis=1), dtype=np.int64)
    return np.asarray(space.predict_fav_model(Z, base) if full_model else space.predict_fav(Z, base))


def audit_labels(ctx: AuditContext, idx: np.ndarray) -> np.ndarray:
    """The audit's own predicted labels of evaluation rows ``idx``, coded as :func:`predicted_labels` codes them."""
    if ctx.task == MULTICLASS:
        proba = ctx.class_proba
        assert proba is not None  # a model is required, and a multiclass model gives probabilities
        return np.asarray(proba[idx].argmax(axis=1), dtype=np.int64)
    return np.asarray(ctx.y_pred[idx])


def binary_groups(ctx: AuditContext) -> list[Any]:
    """One privileged-vs-unprivileged comparison per protected attribute (same labels as the fairness checks)."""
    if not ctx.bundle.manifest.protected:
        return []
    key = "robustness.binary_groups"
    if key not in ctx.cache:
        from trustaudit.groups import build_comparisons

        ctx.cache[key] = [c for c in build_comparisons(ctx, False, False, 12) if c.kind == "binary"]
    return list(ctx.cache[key])


def group_metrics(
    ctx: AuditContext,
    idx: np.ndarray,
    hit: np.ndarray,
    eligible: np.ndarray,
    *,
    rate_name: str,
    gap_name: str,
    level: float,
    min_group_size: int,
    gap_half_width: float | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[list[Metric], list[list[Any]]]:
    """Rate of ``hit`` among ``eligible`` rows of the sample, per protected group, and the gap
    (unprivileged minus privileged) with Newcombe's interval. Returns the metrics and table rows.

    A gap is judged only when both groups have ``min_group_size`` rows and, with ``gap_half_width``, its
    interval is no wider than +-``gap_half_width``: a wider one has too few rows in a group to tell a gap from
    the sample's noise (its point estimate, which decides a warn condition, changes with the seed)."""
    metrics: list[Metric] = []
    rows: list[list[Any]] = []
    extra = extra or {}
    for comp in binary_groups(ctx):
        codes = comp.codes[idx]
        counts = {}
        for code, label in ((1, comp.reference), (0, comp.group)):
            sel = eligible & (codes == code)
            n = int(sel.sum())
            k = int((hit & sel).sum())
            counts[code] = (k, n)
            ok = n >= min_group_size
            metrics.append(rate_metric(
                rate_name, k, n, level, subject=f"{comp.attribute}={label}", attribute=comp.attribute,
                group=label, judged=ok, note=None if ok else f"group smaller than {min_group_size}", **extra))
            rows.append([comp.attribute, label, n, k / n if n else None])
        (ku, nu), (kp, np_) = counts[0], counts[1]
        ok = min(nu, np_) >= min_group_size
        gap = difference_metric(
            gap_name, ku, nu, kp, np_, level, subject=comp.subject, attribute=comp.attribute, group=comp.group,
            reference=comp.reference, judged=ok, note=None if ok else f"a group is smaller than {min_group_size}",
            **extra)
        if ok and gap_half_width is not None and gap.ci is not None:
            half = (gap.ci.high - gap.ci.low) / 2.0
            if half > gap_half_width:
                gap.judged = False
                gap.note = (f"interval half-width {half:.3f} > gap_half_width {gap_half_width:g}: too few rows in "
                            f"a group ({min(nu, np_)}) to judge the gap")
        metrics.append(gap)
    return metrics, rows


def stop_note(metrics: list[Metric], warnings: list[str], elapsed: float, budget: float) -> None:
    """A run stopped by the safety stop: every metric reported but not judged, and a warning saying why."""
    why = f"stopped early after {elapsed:.1f} s (time_budget_s={budget:g})"
    for m in metrics:
        m.judged = False
        m.note = f"not judged: {why}" + (f"; {m.note}" if m.note else "")
    warnings.append(f"{why}: the safety stop cut the run short, so its figures depend on the machine's speed; "
                    "none of them is judged (raise time_budget_s, or lower the sample or query counts)")


def fmt(x: float | None, digits: int = 4) -> float | None:
    """Round for tables (None stays None; non-finite becomes None)."""
    if x is None or not np.isfinite(x):
        return None
    return round(float(x), digits)


def write_curve_svg(
    ctx: AuditContext,
    filename: str,
    title: str,
    xlabel: str,
    ylabel: str,
    series: list[tuple[str, list[float], list[float | None], list[tuple[float, float] | None]]],
    hline: tuple[str, float] | None = None,
) -> Artifact | None:
    """Write a small line chart (with confidence bands) as a deterministic SVG into ``ctx.out_dir``."""
    if ctx.out_dir is None:
        return None
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: no backend or global figure state

    with matplotlib.rc_context({"svg.hashsalt": "trustaudit", "svg.fonttype": "none", "font.size": 9}):
        fig = Figure(figsize=(5.0, 3.2))
        ax = fig.subplots()
        for label, xs, ys, cis in series:
            pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
            if not pts:
                continue
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
            band = [(x, c) for x, c in zip(xs, cis) if c is not None]
            if band:
                ax.fill_between([b[0] for b in band], [b[1][0] for b in band], [b[1][1] for b in band], alpha=0.2)
        if hline is not None:
            ax.axhline(hline[1], linestyle="--", color="grey", label=hline[0])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        fig.savefig(Path(ctx.out_dir) / filename, format="svg", metadata={"Date": None})
    return Artifact(path=filename, media_type="image/svg+xml", title=title)
