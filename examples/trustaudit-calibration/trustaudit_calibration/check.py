"""``calibration.ece``: is P(favourable) a probability? Expected calibration error and Brier score.

A model's score for the favourable label is *calibrated* when, among the rows it scores about 0.7, about 70 % have
the favourable label. This check measures, on the bundle's evaluation data:

* ``ece``, the expected calibration error: the scores are cut into ``n_bins`` equal-width bins over [0, 1]
  (scikit-learn's :func:`~sklearn.calibration.calibration_curve`, ``strategy="uniform"``), and
  ``ECE = sum_b (n_b / n) * |observed rate_b - mean score_b|``, the row-weighted gap of the reliability diagram;
* ``brier_score``, the mean squared difference between the score and the 0/1 label
  (:func:`sklearn.metrics.brier_score_loss`);

over all rows, and for each protected attribute on its privileged and its unprivileged group (structured fields
``attribute`` and ``group``), plus ``ece_difference``, unprivileged minus privileged ECE (``attribute``, ``group``,
``reference``): a model can be well calibrated on average and badly for one group.

Intervals: both statistics are functions of the rows with no closed-form interval, so each gets a seeded bootstrap
BCa interval (:func:`trustaudit.stats.bca_interval`, which falls back to the percentile interval widened to the
estimate when BCa is undefined). The resamples are drawn here, vectorised, from ``ctx.rng`` with one purpose string
per subject, so the intervals do not depend on check order; the BCa acceleration uses the exact leave-one-row-out
values, which for both statistics have a closed form in the per-bin sums (O(n), not O(n^2)). ``ece_difference``
combines the two independent groups' intervals by MOVER (:func:`trustaudit.stats.mover_difference`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import Field

from trustaudit import stats
from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec
from trustaudit.context import AuditContext
from trustaudit.errors import SkipCheck
from trustaudit.results import Interval, Metric, Table

CHECK_ID = "calibration.ece"

#: Most bootstrap indices drawn at once (resamples x rows): bounds the memory of one batch to about 16 MB.
_BATCH_CELLS = 2_000_000


class CalibrationParams(CheckParams):
    """Parameters of ``calibration.ece`` (frozen, unknown keys refused, every one with a default)."""

    n_bins: int = Field(10, ge=2, le=100, description="Equal-width score bins over [0, 1] for the ECE")
    bootstrap: int = Field(500, ge=0, le=20000,
                           description="Bootstrap resamples for the BCa intervals (0: no intervals)")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of the intervals")
    min_group_size: int = Field(50, ge=1, description="Groups with fewer rows are reported but not judged")
    per_group: bool = Field(True, description="Also measure each protected group and the gap between them")


def bin_ids(scores: np.ndarray, n_bins: int) -> np.ndarray:
    """The uniform bin of each score, exactly as :func:`sklearn.calibration.calibration_curve` assigns it."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], scores)


def expected_calibration_error(y_true: np.ndarray, scores: np.ndarray, n_bins: int = 10) -> float:
    """ECE of ``scores`` (P(label 1)) against 0/1 labels, on ``n_bins`` uniform bins (scikit-learn's binning)."""
    from sklearn.calibration import calibration_curve

    y_true = np.asarray(y_true, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    prob_true, prob_pred = calibration_curve(y_true, scores, n_bins=n_bins, strategy="uniform", pos_label=1)
    counts = np.bincount(bin_ids(scores, n_bins), minlength=n_bins)
    weights = counts[counts > 0] / len(scores)  # calibration_curve returns the non-empty bins only, in order
    return float(np.sum(weights * np.abs(prob_true - prob_pred)))


def _bootstrap(y: np.ndarray, s: np.ndarray, bins: np.ndarray, n_bins: int, theta_ece: float, theta_brier: float,
               n_boot: int, rng: np.random.Generator, level: float) -> tuple[Interval | None, Interval | None]:
    """BCa intervals of (ECE, Brier) of the rows (y, s) from ``n_boot`` row resamples."""
    n = len(y)
    if n_boot <= 0 or n < 2:
        return None, None
    d = y - s  # label minus score: ECE = sum over bins of |sum of d in the bin| / n
    e2 = d * d  # Brier = mean of e2
    per_bin = np.bincount(bins, weights=d, minlength=n_bins)
    total = float(np.abs(per_bin).sum())
    # leave-one-row-out values, exact and O(n): removing row i changes only its own bin's sum
    jack_ece = (total - np.abs(per_bin[bins]) + np.abs(per_bin[bins] - d)) / (n - 1)
    jack_brier = (float(e2.sum()) - e2) / (n - 1)

    boot_ece = np.empty(n_boot)
    boot_brier = np.empty(n_boot)
    batch = max(1, min(n_boot, _BATCH_CELLS // n))
    for start in range(0, n_boot, batch):
        m = min(batch, n_boot - start)
        idx = rng.integers(0, n, size=(m, n))
        cells = (bins[idx] + n_bins * np.arange(m)[:, None]).ravel()
        sums = np.bincount(cells, weights=d[idx].ravel(), minlength=m * n_bins).reshape(m, n_bins)
        boot_ece[start:start + m] = np.abs(sums).sum(axis=1) / n
        boot_brier[start:start + m] = e2[idx].mean(axis=1)
    return (stats.bca_interval(theta_ece, boot_ece, jack_ece, level=level),
            stats.bca_interval(theta_brier, boot_brier, jack_brier, level=level))


def _measure(y: np.ndarray, s: np.ndarray, p: CalibrationParams, rng: np.random.Generator,
             ) -> dict[str, Any]:
    """ECE and Brier (with intervals) of one set of rows, and its reliability diagram."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    bins = bin_ids(s, p.n_bins)
    prob_true, prob_pred = calibration_curve(y, s, n_bins=p.n_bins, strategy="uniform", pos_label=1)
    counts = np.bincount(bins, minlength=p.n_bins)
    nonzero = counts > 0
    ece = float(np.sum(counts[nonzero] / len(s) * np.abs(prob_true - prob_pred)))
    brier = float(brier_score_loss(y, s, pos_label=1))
    ece_ci, brier_ci = _bootstrap(y, s, bins, p.n_bins, ece, brier, p.bootstrap, rng, p.confidence)
    return {"n": len(y), "ece": ece, "ece_ci": ece_ci, "brier": brier, "brier_ci": brier_ci,
            "counts": counts, "nonzero": nonzero, "prob_true": prob_true, "prob_pred": prob_pred}


class CalibrationCheck(Check):
    """Expected calibration error and Brier score of the favourable-label score, overall and per group."""

    id = CHECK_ID
    category = "calibration"
    title = "Calibration of the scores (ECE, Brier)"
    version = "1.0"
    description = ("Expected calibration error on uniform bins (sklearn calibration_curve) and Brier score "
                   "(sklearn brier_score_loss) of P(favourable), overall and per protected group, with seeded "
                   "bootstrap BCa intervals; the ECE gap between each attribute's groups (MOVER).")
    Params = CalibrationParams
    # 'scores': the engine skips the check (with the reason) on a bundle with neither a model nor a score column.
    requires = frozenset({"scores"})
    metrics = (
        MetricSpec("ece", "Expected calibration error: row-weighted |observed rate - mean score| over the bins; "
                   "all rows, or one group", direction="lower_is_better", unit="probability",
                   subject=("attribute", "group")),
        MetricSpec("brier_score", "Mean squared difference between the score and the 0/1 label; all rows, or one "
                   "group", direction="lower_is_better", subject=("attribute", "group")),
        MetricSpec("ece_difference", "ECE of the unprivileged group minus ECE of the privileged (reference) group",
                   direction="closer_to_zero", unit="probability", subject=("attribute", "group", "reference")),
    )

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        p: CalibrationParams = params
        if ctx.scores is None:  # also covered by requires; kept for callers that bypass the engine
            raise SkipCheck("the bundle gives no scores (no model and no score column)")
        raw = np.asarray(ctx.scores, dtype=np.float64)
        if not np.all(np.isfinite(raw)):
            raise SkipCheck(f"{int(np.sum(~np.isfinite(raw)))} score(s) are not finite numbers")
        s = np.clip(raw, 0.0, 1.0)  # ONNX float32 probabilities can exceed 1 by an ulp
        clipped = int(np.count_nonzero(s != raw))
        y = np.asarray(ctx.y_true, dtype=np.float64)
        level = p.confidence

        overall = _measure(y, s, p, ctx.rng(f"{CHECK_ID}:all rows"))
        metrics = [
            Metric(name="ece", value=overall["ece"], ci=overall["ece_ci"], n=overall["n"], subject="all rows",
                   unit="probability"),
            Metric(name="brier_score", value=overall["brier"], ci=overall["brier_ci"], n=overall["n"],
                   subject="all rows"),
        ]
        group_rows: list[list[Any]] = []
        warnings: list[str] = []
        worst: tuple[float, str] | None = None
        if p.per_group:
            from trustaudit.groups import group_labels

            for name, attr in ctx.protected.items():
                priv_label, unpriv_label = group_labels(attr)
                masks = {priv_label: attr.valid & attr.privileged, unpriv_label: attr.valid & ~attr.privileged}
                found: dict[str, dict[str, Any]] = {}
                for label, mask in masks.items():
                    n = int(mask.sum())
                    subject = f"{name}={label}"
                    fields: dict[str, Any] = {"subject": subject, "attribute": name, "group": label}
                    if n < p.min_group_size:
                        fields.update(judged=False, note=f"{n} rows < min_group_size {p.min_group_size}")
                    if n == 0:
                        metrics += [Metric(name="ece", value=None, n=0, **{**fields, "note": stats.EMPTY_NOTE}),
                                    Metric(name="brier_score", value=None, n=0,
                                           **{**fields, "note": stats.EMPTY_NOTE})]
                        continue
                    r = _measure(y[mask], s[mask], p, ctx.rng(f"{CHECK_ID}:{name}:{label}"))
                    found[label] = {**r, "judged": n >= p.min_group_size}
                    metrics += [
                        Metric(name="ece", value=r["ece"], ci=r["ece_ci"], n=n, unit="probability", **fields),
                        Metric(name="brier_score", value=r["brier"], ci=r["brier_ci"], n=n, **fields),
                    ]
                    group_rows.append([name, label, n, round(r["ece"], 6), round(r["brier"], 6)])
                    if n >= p.min_group_size and (worst is None or r["ece"] > worst[0]):
                        worst = (r["ece"], subject)
                metrics.append(self._difference(name, unpriv_label, priv_label, found, level))
        if clipped:
            warnings.append(f"{clipped} score(s) slightly outside [0, 1] were clipped")

        ece_ci = overall["ece_ci"]
        summary = f"ECE {overall['ece']:.4f}"
        if ece_ci is not None:
            summary += f" ({level:.0%} CI [{ece_ci.low:.4f}, {ece_ci.high:.4f}])"
        summary += f", Brier {overall['brier']:.4f} on {overall['n']} rows"
        if worst is not None:
            summary += f"; worst group ECE {worst[0]:.4f} ({worst[1]})"
        edges = np.linspace(0.0, 1.0, p.n_bins + 1)
        reliability: list[list[Any]] = []
        j = 0
        for b in range(p.n_bins):
            if overall["nonzero"][b]:
                obs, mean = float(overall["prob_true"][j]), float(overall["prob_pred"][j])
                reliability.append([f"{edges[b]:.2f}-{edges[b + 1]:.2f}", int(overall["counts"][b]),
                                    round(mean, 6), round(obs, 6), round(abs(obs - mean), 6)])
                j += 1
            else:
                reliability.append([f"{edges[b]:.2f}-{edges[b + 1]:.2f}", 0, None, None, None])
        tables = [Table(title="Reliability diagram (all rows)",
                        columns=["score bin", "rows", "mean score", "observed rate", "|gap|"], rows=reliability)]
        if group_rows:
            tables.append(Table(title="Calibration by group", columns=["attribute", "group", "rows", "ECE", "Brier"],
                                rows=group_rows))
        return CheckOutput(
            metrics=metrics, summary=summary, tables=tables, warnings=warnings,
            # counts and settings only: no wall-clock figures (the engine records duration_s)
            evidence={"n_bins": p.n_bins, "strategy": "uniform", "bin_edges": [round(float(e), 6) for e in edges],
                      "bootstrap": p.bootstrap, "rows": overall["n"], "clipped_scores": clipped},
        )

    @staticmethod
    def _difference(name: str, group: str, reference: str, found: dict[str, dict[str, Any]],
                    level: float) -> Metric:
        """ECE(group) - ECE(reference), with the MOVER interval of two independent bootstrap intervals."""
        fields: dict[str, Any] = {"subject": f"{name}: {group} vs {reference}", "attribute": name, "group": group,
                                  "reference": reference, "unit": "probability"}
        a, b = found.get(group), found.get(reference)
        if a is None or b is None:
            return Metric(name="ece_difference", value=None, n=sum(r["n"] for r in found.values()),
                          judged=False, note=stats.EMPTY_NOTE, **fields)
        value = a["ece"] - b["ece"]
        ci = None
        if a["ece_ci"] is not None and b["ece_ci"] is not None:
            lo, hi = stats.mover_difference(a["ece"], (a["ece_ci"].low, a["ece_ci"].high),
                                            b["ece"], (b["ece_ci"].low, b["ece_ci"].high))
            if math.isfinite(lo) and math.isfinite(hi):
                ci = Interval(low=min(lo, value), high=max(hi, value), level=level, method="mover (bootstrap-bca)")
        judged = a["judged"] and b["judged"]
        return Metric(name="ece_difference", value=value, ci=ci, n=a["n"] + b["n"], judged=judged,
                      note=None if judged else "a group is smaller than min_group_size", **fields)
