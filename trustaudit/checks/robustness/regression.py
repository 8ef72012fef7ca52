"""Robustness of a regressor: how far its prediction moves under bounded, valid perturbations of a row.

For each sampled evaluation row and each budget ``eps`` (in standard deviations of each numeric feature, the
space of :mod:`.constraints`), ``draws`` seeded perturbations uniform in [-eps, eps] on every mutable numeric dim
are projected back to valid rows (:meth:`TabularSpace.project`: protected and immutable columns fixed, integers
kept integer, values inside their observed range, one-hot groups intact), decoded to the model's own input
columns and scored by the real model. A row's sensitivity is the largest |change of prediction| among its draws
(a random search for the worst valid change; a lower bound of the true worst case). Reported per budget:

* ``prediction_change_mean``: mean sensitivity over the rows, in the target's unit (Student's t interval);
* ``prediction_change_sd``: the same divided by the standard deviation of the predictions on the evaluation data
  (scale-free, for rubric bounds);
* per protected group the mean sensitivity, and the gap unprivileged minus privileged (MOVER of the two t
  intervals): a model that is less stable for one group treats that group's near-identical rows less alike.

Everything is a count (rows, draws) and the seed: no clock decides what is computed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import Field

from trustaudit import stats
from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec
from trustaudit.checks.robustness._common import binary_groups
from trustaudit.context import AuditContext
from trustaudit.errors import SkipCheck
from trustaudit.results import Interval, Metric, Table

__all__ = ["RegressionRobustnessCheck"]


class RegressionRobustnessParams(CheckParams):
    budgets: list[float] = Field([0.1, 0.25, 0.5], min_length=1, description="Perturbation budgets, in standard "
                                 "deviations of each numeric feature")
    rows: int = Field(400, ge=10, description="Evaluation rows perturbed (seeded, stratified by group)")
    draws: int = Field(16, ge=1, le=1000, description="Random valid perturbations per row and budget")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of the intervals")
    min_group_size: int = Field(30, ge=1, description="Groups smaller than this are reported but not judged")


def _t_interval(x: np.ndarray, level: float) -> Interval | None:
    from scipy.stats import t

    if len(x) < 2:
        return None
    m = float(x.mean())
    half = float(t.ppf(0.5 + level / 2, len(x) - 1)) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return stats.interval((m - half, m + half), level, "student-t")


class RegressionRobustnessCheck(Check):
    """Change of a regressor's prediction under bounded valid perturbations, overall and per protected group."""

    id = "robustness.regression"
    category = "robustness"
    title = "Prediction stability of a regressor"
    version = "1.0"
    description = ("Largest |change of prediction| among seeded random valid perturbations of each row within a budget "
                   "(protected fixed, one-hot kept, integers kept, observed ranges), mean over rows with t intervals, "
                   "per protected group and the gap between groups (MOVER).")
    requires = frozenset({"model"})
    tasks = frozenset({"regression"})
    Params = RegressionRobustnessParams
    metrics = (
        MetricSpec("prediction_change_mean", "Mean over rows of the largest |change of prediction| found within "
                   "the budget (target units; t interval)", direction="lower_is_better", subject=("budget",)),
        MetricSpec("prediction_change_sd", "prediction_change_mean over the standard deviation of the predictions",
                   direction="lower_is_better", subject=("budget",)),
        MetricSpec("group_prediction_change", "prediction_change_mean of a protected group", direction="lower_is_better",
                   subject=("attribute", "group", "budget")),
        MetricSpec("prediction_change_gap", "Group prediction change, unprivileged minus privileged (MOVER)",
                   direction="closer_to_zero", subject=("attribute", "group", "reference", "budget")),
    )

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        from trustaudit.checks.robustness.spaces import build_space

        p: RegressionRobustnessParams = params
        level = p.confidence
        space = build_space(ctx, "fixed")
        dims = np.flatnonzero(space.numeric_mutable)
        if not len(dims):
            raise SkipCheck("no numeric feature may change (all are protected, immutable or not invertible)")
        idx = ctx.sample(p.rows, self.id)
        Z0 = space.encode(idx)
        f0 = np.asarray(ctx.prediction, dtype=float)[idx]
        sd_pred = float(np.std(ctx.prediction, ddof=1))
        comps = binary_groups(ctx)
        metrics: list[Metric] = []
        table: list[list[Any]] = []
        rng = ctx.rng(self.id)
        for eps in p.budgets:
            # every draw of the budget in one model call (rows repeated draw after draw)
            Z0s = np.tile(Z0, (p.draws, 1))
            noise = np.zeros_like(Z0s)
            noise[:, dims] = rng.uniform(-eps, eps, size=(len(Z0s), len(dims)))
            Z = space.project(Z0s + noise, Z0s, budget=eps)
            f = np.asarray(ctx.predict_output(space.decode(Z, np.tile(idx, p.draws))), dtype=float)
            worst = np.abs(f - np.tile(f0, p.draws)).reshape(p.draws, len(idx)).max(axis=0)
            ci = _t_interval(worst, level)
            mean = float(worst.mean())
            metrics.append(Metric(name="prediction_change_mean", value=mean, ci=ci, n=len(idx), budget=eps,
                                  subject=f"budget {eps:g}"))
            rel_ci = stats.interval((ci.low / sd_pred, ci.high / sd_pred), level, "student-t, scaled") \
                if ci is not None and sd_pred > 0 else None
            metrics.append(Metric(name="prediction_change_sd", value=mean / sd_pred if sd_pred > 0 else None,
                                  ci=rel_ci, n=len(idx), budget=eps, subject=f"budget {eps:g}",
                                  judged=sd_pred > 0, note=None if sd_pred > 0 else "constant predictions"))
            table.append(["all rows", eps, len(idx), mean, mean / sd_pred if sd_pred > 0 else None])
            for c in comps:
                codes = c.codes[idx]
                vals: dict[int, tuple[float | None, Interval | None, int]] = {}
                for code, label in ((1, c.reference), (0, c.group)):
                    w = worst[codes == code]
                    v = float(w.mean()) if len(w) else None
                    vals[code] = (v, _t_interval(w, level), len(w))
                    ok = len(w) >= p.min_group_size
                    metrics.append(Metric(name="group_prediction_change", value=v, ci=vals[code][1], n=len(w),
                                          attribute=c.attribute, group=label, budget=eps,
                                          subject=f"{c.attribute}={label} (budget {eps:g})", judged=ok and v is not None,
                                          note=None if ok else f"group smaller than {p.min_group_size}"))
                    table.append([f"{c.attribute}={label}", eps, len(w), v, None])
                (vu, cu, nu), (vp, cp, np_) = vals[0], vals[1]
                gap = vu - vp if vu is not None and vp is not None else None
                gci = None
                if gap is not None and cu is not None and cp is not None:
                    lo, hi = stats.mover_difference(vu, (cu.low, cu.high), vp, (cp.low, cp.high))  # type: ignore[arg-type]
                    gci = stats.interval((min(lo, gap), max(hi, gap)), level, "mover-student-t")
                ok = min(nu, np_) >= p.min_group_size and gap is not None
                metrics.append(Metric(name="prediction_change_gap", value=gap, ci=gci, n=nu + np_, attribute=c.attribute,
                                      group=c.group, reference=c.reference, budget=eps,
                                      subject=f"{c.subject} (budget {eps:g})", judged=ok,
                                      note=None if ok else f"a group is smaller than {p.min_group_size}"))
        top = max((m for m in metrics if m.name == "prediction_change_mean"), key=lambda m: m.budget or 0.0)
        return CheckOutput(
            metrics=metrics,
            tables=[Table(title="Largest |change of prediction| within the budget (mean over rows)",
                          columns=["rows", "budget (sd)", "n", "mean change", "in sd of predictions"], rows=table)],
            summary=f"{len(idx)} rows x {p.draws} valid perturbations per budget; at budget {top.budget:g} the "
                    f"prediction moves by {top.value:.4g} on average (largest found per row)",
            evidence={"rows": len(idx), "draws": p.draws, "budgets": list(p.budgets), "space": space.mode,
                      "perturbed_columns": sorted({space.source[d] for d in dims}), "fixed_columns": space.fixed,
                      "sd_predictions": sd_pred, "search": "seeded uniform draws, projected to valid rows"},
        )
