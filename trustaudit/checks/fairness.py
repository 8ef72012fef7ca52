"""Fairness checks on aif360: dataset-level (labels) and model-level (predictions) group metrics.

Point estimates come from aif360's metric classes (``BinaryLabelDatasetMetric``, ``ClassificationMetric``).
Every metric here is a function of the counts in a handful of cells (group x true label x predicted label), and
the intervals are computed from those counts with :mod:`trustaudit.stats`:

* a group rate (selection rate, TPR, FPR, FNR, precision, error rate, base rate) is a proportion k/n: Wilson;
* a difference of two group rates (SPD, EOD, error-rate difference): Newcombe's hybrid score interval;
* disparate impact (a ratio of selection rates): MOVER on the log scale with the two Wilson intervals;
* average odds difference, (dFPR + dTPR) / 2 of two independent differences (negatives vs positives): MOVER;
* the Theil indices: a seeded bootstrap with the BCa interval. Resampling rows with replacement is exactly a
  multinomial draw over the cell counts, so the counts are drawn directly (cost independent of the number of
  rows) and the BCa jackknife has one leave-one-out value per non-empty cell. The between-group index is a convex
  function of the difference in mean benefit between the two groups with its minimum 0 at no difference; its
  interval is the image of the BCa interval of that difference (0 when the difference's interval contains 0), so
  it contains the estimate and can reach 0, which a percentile interval of a value at its boundary cannot.

The closed-form intervals do not depend on the seed, so a status judged on them is the same on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field

from trustaudit import stats
from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec, import_aif360
from trustaudit.context import AuditContext

# Groups and comparisons live in trustaudit.groups (shared by every check family); re-exported here.
from trustaudit.groups import (
    Comparison,
    build_comparisons,
    cached_comparisons,
    group_labels,
    text_codes,
)
from trustaudit.results import Interval, Metric, Table

__all__ = ["Comparison", "DatasetFairnessCheck", "ModelFairnessCheck", "build_comparisons", "cached_comparisons",
           "group_labels", "text_codes"]


@dataclass(frozen=True)
class CellTable:
    """The evaluation rows collapsed to their distinct (comparison codes, label, prediction) combinations.

    Every metric in this module is a function of how many rows fall in each cell, so aif360 computes exactly the
    same numbers on one weighted row per combination (``instance_weights`` = count; the weighted sums are sums
    of integers, exact in float64) as on every row. This keeps aif360's cost independent of the number of rows:
    on a million rows, building a full-row ``ClassificationMetric`` per comparison compared every instance name
    in Python (about 2 s each) and its dataset validation built Python sets of every column.
    """

    codes: np.ndarray  # (m, k) int8: one column per comparison
    y_true: np.ndarray  # (m,)
    y_pred: np.ndarray | None  # (m,) or None
    weights: np.ndarray  # (m,) float64: rows in the cell

    @classmethod
    def build(cls, comps: list[Comparison], y_true: np.ndarray, y_pred: np.ndarray | None) -> CellTable:
        import pandas as pd

        cols = [c.codes for c in comps] + [y_true] + ([y_pred] if y_pred is not None else [])
        n = len(y_true)
        key = np.zeros(n, dtype=np.int64)
        radix = 1
        for col in cols:  # mixed-radix key over the columns, compacted with factorize before it can overflow
            if radix > (1 << 52) // 3:
                key = np.asarray(pd.factorize(key)[0], dtype=np.int64)
                radix = int(key.max()) + 1
            key = key * 3 + (np.asarray(col, dtype=np.int64) + 1)
            radix *= 3
        group, _ = pd.factorize(key)
        group = np.asarray(group)
        m = int(group.max()) + 1 if n else 0
        rows = np.empty((m, len(cols)), dtype=np.int8)
        rows[group] = np.column_stack(cols).astype(np.int8)  # every row of a cell holds the same values
        weights = np.bincount(group, minlength=m).astype(np.float64)
        k = len(comps)
        return cls(rows[:, :k], rows[:, k], rows[:, k + 1] if y_pred is not None else None, weights)

    def cells(self, i: int, y_pred: np.ndarray | None = None) -> np.ndarray:
        """:func:`_cells` of comparison ``i`` (predictions ``y_pred`` over the cells, default the table's)."""
        pred = self.y_pred if y_pred is None else y_pred
        assert pred is not None
        return _cells(self.codes[:, i], self.y_true, pred, self.weights)


def _theil(b: np.ndarray) -> float:
    """Generalised entropy index with alpha = 1, written as aif360's ``ClassificationMetric`` computes it."""
    return float(np.mean(np.log((b / np.mean(b)) ** b) / np.mean(b)))


def _benefit(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return 1 + y_pred.astype(np.float64) - y_true.astype(np.float64)


def between_group_theil(codes: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """aif360's ``between_group_theil_index`` on every row: each benefit replaced by its group's mean benefit."""
    b = np.zeros(len(codes), dtype=np.float64)
    for value in (0, 1):  # aif360's order: unprivileged, then privileged
        group = codes == value
        if not np.any(group):
            continue
        b[group] = np.mean(_benefit(y_true[group], y_pred[group]))
    return _theil(b)


# -- intervals from cell counts ------------------------------------------------------------------------

#: The proportion behind each group metric, from the four confusion counts of a group: (successes, trials).
GROUP_COUNTS = {
    "selection_rate": lambda tp, fp, fn, tn: (tp + fp, tp + fp + fn + tn),
    "tpr": lambda tp, fp, fn, tn: (tp, tp + fn),
    "fpr": lambda tp, fp, fn, tn: (fp, fp + tn),
    "fnr": lambda tp, fp, fn, tn: (fn, tp + fn),
    "precision": lambda tp, fp, fn, tn: (tp, tp + fp),
    "error_rate": lambda tp, fp, fn, tn: (fp + fn, tp + fp + fn + tn),
    "base_rate": lambda tp, fp, fn, tn: (tp + fn, tp + fp + fn + tn),
}


def group_counts(cells: np.ndarray, privileged: bool) -> dict[str, tuple[int, int]]:
    """(k, n) of every group metric of one side of a comparison, from its 9 cell counts (see :func:`_cells`)."""
    off = 5 if privileged else 1
    tp, fp, fn, tn = (int(cells[off + j]) for j in range(4))
    return {name: f(tp, fp, fn, tn) for name, f in GROUP_COUNTS.items()}


def _fit(bounds: stats.Bounds | None, value: float | None, level: float, method: str) -> Interval | None:
    """An interval for ``value`` (None when the value is undefined). The bounds are computed from the same
    counts as aif360's value; min/max only absorbs a last-digit difference of the two divisions."""
    if value is None or bounds is None:
        return None
    return stats.interval((min(bounds[0], value), max(bounds[1], value)), level, method)


def rate_interval(kn: tuple[int, int], value: float | None, level: float) -> Interval | None:
    return _fit(stats.wilson(*kn, level), value, level, "wilson")


def difference_interval(a: tuple[int, int], b: tuple[int, int], value: float | None,
                        level: float) -> Interval | None:
    return _fit(stats.newcombe(*a, *b, level), value, level, "newcombe-wilson")


def ratio_interval(a: tuple[int, int], b: tuple[int, int], value: float | None, level: float) -> Interval | None:
    return _fit(stats.ratio_interval(*a, *b, level), value, level, "mover-log-wilson")


def average_odds_interval(u: dict[str, tuple[int, int]], p: dict[str, tuple[int, int]], value: float | None,
                          level: float) -> Interval | None:
    """(dFPR + dTPR) / 2: MOVER sum of the two Newcombe intervals (FPR on negatives, TPR on positives: independent)."""
    d_fpr, d_tpr = stats.newcombe(*u["fpr"], *p["fpr"], level), stats.newcombe(*u["tpr"], *p["tpr"], level)
    if d_fpr is None or d_tpr is None or value is None:
        return None
    f = u["fpr"][0] / u["fpr"][1] - p["fpr"][0] / p["fpr"][1]
    t = u["tpr"][0] / u["tpr"][1] - p["tpr"][0] / p["tpr"][1]
    lo, hi = stats.mover_sum(f, d_fpr, t, d_tpr)
    return _fit((lo / 2, hi / 2), value, level, "mover-newcombe")


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def theil_from_cells(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
    """Theil index (generalised entropy, alpha=1) with benefit b = y_pred - y_true + 1, from cell counts."""
    n = tp + fp + fn + tn
    mu = _div(tp + tn + 2 * fp, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        one = np.where(mu > 0, (1 / mu) * np.log(1 / mu), np.nan)
        two = np.where(mu > 0, (2 / mu) * np.log(2 / mu), np.nan)
    return _div((tp + tn) * one + fp * two, n)


def _theil_of_confusion(c: np.ndarray) -> np.ndarray:
    return theil_from_cells(c[:, 0], c[:, 1], c[:, 2], c[:, 3])


def _mean_benefit_gap(c: np.ndarray) -> np.ndarray:
    """Mean benefit (y_pred - y_true + 1) of the unprivileged minus the privileged group, from (m, 9) cell counts."""
    u = _div(c[:, 1] + c[:, 4] + 2 * c[:, 2], c[:, 1:5].sum(axis=1))
    p = _div(c[:, 5] + c[:, 8] + 2 * c[:, 6], c[:, 5:9].sum(axis=1))
    return u - p


def _xlogx(r: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r > 0, r * np.log(np.where(r > 0, r, 1.0)), 0.0)


def bgti_of_gap(gap: np.ndarray, n_u: int, n_p: int, mu: float) -> np.ndarray:
    """Between-group Theil index of two groups (sizes n_u, n_p, overall mean benefit mu) whose mean benefits
    differ by ``gap``: sum_g (n_g/n) (mu_g/mu) ln(mu_g/mu) with mu_u = mu + gap n_p/n, mu_p = mu - gap n_u/n
    (mean benefits clipped to their range [0, 2]). Convex in the gap, 0 at gap 0."""
    n = n_u + n_p
    gap = np.asarray(gap, dtype=np.float64)
    mu_u = np.clip(mu + gap * n_p / n, 0.0, 2.0)
    mu_p = np.clip(mu - gap * n_u / n, 0.0, 2.0)
    return (n_u * _xlogx(mu_u / mu) + n_p * _xlogx(mu_p / mu)) / n


def bgti_interval(cells9: np.ndarray, value: float | None, n_boot: int, rng: np.random.Generator,
                  level: float) -> Interval | None:
    """Interval of the between-group Theil index: the BCa interval of the mean-benefit gap, mapped through
    :func:`bgti_of_gap` at the observed group sizes and overall mean benefit."""
    if value is None or n_boot <= 0:
        return None
    gap_ci = stats.bca_counts(_mean_benefit_gap, cells9, n_boot, rng, level)
    if gap_ci is None:
        return None
    n_u, n_p = int(cells9[1:5].sum()), int(cells9[5:9].sum())
    mu = float(cells9[1] + cells9[4] + 2 * cells9[2] + cells9[5] + cells9[8] + 2 * cells9[6]) / (n_u + n_p)
    ends = bgti_of_gap(np.array([gap_ci.low, gap_ci.high]), n_u, n_p, mu)
    low = 0.0 if gap_ci.low <= 0.0 <= gap_ci.high else float(ends.min())
    return _fit((low, float(ends.max())), value, level,
                f"{gap_ci.method} of the mean-benefit gap, mapped through the index")


def _cells(codes: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Counts of the 9 cells: excluded + (unpriv, priv) x (tp, fp, fn, tn); ``weights``: rows per input row."""
    cell = np.full(len(codes), 0, dtype=np.int64)
    conf = np.where(y_true == 1, np.where(y_pred == 1, 0, 2), np.where(y_pred == 1, 1, 3))
    in_group = codes >= 0
    cell[in_group] = 1 + codes[in_group].astype(np.int64) * 4 + conf[in_group]
    if weights is None:
        return np.bincount(cell, minlength=9)
    return np.rint(np.bincount(cell, weights=weights, minlength=9)).astype(np.int64)


def _judgement(judged: bool, value: float | None, p: Any) -> tuple[bool, str | None]:
    """Whether a comparison metric is judged by the rubric, and why not: a group below ``min_group_size``, or
    an undefined value (an empty denominator, e.g. no positives in a group for a TPR difference)."""
    if not judged:
        return False, f"a group is smaller than {p.min_group_size}"
    if value is None:
        return False, "undefined: a group has no rows in the metric's denominator"
    return True, None


def _f(x: Any) -> float | None:
    v = float(x)
    return v if np.isfinite(v) else None


# -- aif360 -----------------------------------------------------------------------------------------


def _import_aif360() -> Any:
    return import_aif360("aif360.datasets", "aif360.metrics")


def _aif_datasets(table: CellTable) -> tuple[Any, Any]:
    """aif360 datasets (labels; predictions) with one row per cell of ``table``, weighted by its count."""
    import pandas as pd

    aif360 = _import_aif360()
    cols = {f"g{i}": table.codes[:, i].astype(np.float64) for i in range(table.codes.shape[1])}
    frame = pd.DataFrame({**cols, "label": table.y_true.astype(np.float64), "__weight": table.weights})
    names = list(cols)
    kw = {"favorable_label": 1.0, "unfavorable_label": 0.0, "label_names": ["label"],
          "protected_attribute_names": names, "instance_weights_name": "__weight"}
    ds_true = aif360.datasets.BinaryLabelDataset(df=frame, **kw)
    if table.y_pred is None:
        return ds_true, None
    ds_pred = ds_true.copy(deepcopy=False)
    ds_pred.labels = table.y_pred.astype(np.float64).reshape(-1, 1)
    return ds_true, ds_pred


# -- the checks ---------------------------------------------------------------------------------------


class FairnessParams(CheckParams):
    bootstrap: int = Field(1000, ge=0, le=100_000, description="Bootstrap resamples for the Theil-index intervals "
                           "(0: none); rates, differences and ratios have closed-form score intervals")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of the intervals")
    min_group_size: int = Field(30, ge=1, description="Groups smaller than this are reported but not judged")
    intersections: bool = Field(True, description="Also compare intersections of pairs of protected attributes")
    per_value: bool = Field(True, description="Also compare each unprivileged value with the privileged group")
    max_values: int = Field(12, ge=2, description="Per-value comparisons only for attributes with this many values")


INTERVALS = {
    "group rates": "wilson",
    "differences (SPD, EOD, error rate)": "newcombe-wilson",
    "disparate impact": "mover-log-wilson",
    "average odds difference": "mover-newcombe",
    "Theil indices": "bootstrap-bca on cell counts (between-group: mapped from the mean-benefit gap)",
}


class _FairnessBase(Check):
    category = "fairness"
    version = "1.1"  # 1.1: closed-form score intervals, BCa for the Theil indices, undefined metrics not judged
    requires = frozenset({"protected"})
    Params = FairnessParams


def _group_metric(name: str, value: float | None, ci: Interval | None, n: int, subject: str, attribute: str,
                  group: str, ok: bool, note: str | None) -> Metric:
    if value is None and ok:
        ok, note = False, "undefined: no rows in its denominator"
    return Metric(name=name, value=value, ci=ci, n=n, subject=subject, attribute=attribute, group=group,
                  judged=ok, note=note)


class DatasetFairnessCheck(_FairnessBase):
    """Bias already present in the labels: base rate per group, SPD and DI of the labels."""

    id = "fairness.dataset"
    title = "Label bias in the evaluation data"
    description = ("Base rate of the favourable label per group (Wilson intervals); statistical parity difference "
                   "(Newcombe) and disparate impact (MOVER) of the labels (aif360 BinaryLabelDatasetMetric).")

    metrics = (
        MetricSpec("base_rate",
                   "Share of rows with the favourable label in a group (Wilson interval)",
                   subject=("attribute", "group")),
        MetricSpec("label_disparate_impact",
                   "Base rate of the unprivileged group over the privileged group's (MOVER on the log scale)",
                   direction="closer_to_one", subject=("attribute", "group", "reference")),
        MetricSpec("label_statistical_parity_difference",
                   "Base rate of the unprivileged group minus the privileged group's (Newcombe)",
                   direction="closer_to_zero", subject=("attribute", "group", "reference")),
    )

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        p: FairnessParams = params
        level = p.confidence
        comps = cached_comparisons(ctx, p.intersections, p.per_value, p.max_values)
        y = ctx.y_true
        aif360 = _import_aif360()
        cells = CellTable.build(comps, y, None)
        ds, _ = _aif_datasets(cells)
        metrics: list[Metric] = []
        rows: list[list[Any]] = []
        seen_groups: set[str] = set()
        for i, c in enumerate(comps):
            m = aif360.metrics.BinaryLabelDatasetMetric(
                ds, unprivileged_groups=[{f"g{i}": 0.0}], privileged_groups=[{f"g{i}": 1.0}]
            )
            n_u, n_p = int(m.num_instances(privileged=False)), int(m.num_instances(privileged=True))
            judged = min(n_u, n_p) >= p.min_group_size
            counts = cells.cells(i, cells.y_true)  # predictions = labels: tp/tn cells only
            ku, kp = group_counts(counts, False)["base_rate"], group_counts(counts, True)["base_rate"]
            with np.errstate(divide="ignore", invalid="ignore"):  # an empty group: undefined, handled below
                point = {
                    "base_rate_u": _f(m.base_rate(privileged=False)) if n_u else None,
                    "base_rate_p": _f(m.base_rate(privileged=True)) if n_p else None,
                    "label_statistical_parity_difference": _f(m.statistical_parity_difference())
                    if n_u and n_p else None,
                    "label_disparate_impact": _f(m.disparate_impact()) if n_u and n_p else None,
                }
            ci = {
                "base_rate_u": rate_interval(ku, point["base_rate_u"], level),
                "base_rate_p": rate_interval(kp, point["base_rate_p"], level),
                "label_statistical_parity_difference": difference_interval(
                    ku, kp, point["label_statistical_parity_difference"], level),
                "label_disparate_impact": ratio_interval(ku, kp, point["label_disparate_impact"], level),
            }
            for key, group, n in (("base_rate_p", c.reference, n_p), ("base_rate_u", c.group, n_u)):
                gkey = f"{c.attribute}={group}"
                if gkey in seen_groups:
                    continue
                seen_groups.add(gkey)
                ok = n >= p.min_group_size
                metrics.append(_group_metric("base_rate", point[key], ci[key], n, gkey, c.attribute, group, ok,
                                             None if ok else f"group smaller than {p.min_group_size}"))
            for name in ("label_statistical_parity_difference", "label_disparate_impact"):
                ok, note = _judgement(judged, point[name], p)
                metrics.append(
                    Metric(
                        name=name, value=point[name], ci=ci[name], n=n_u + n_p, subject=c.subject,
                        attribute=c.attribute, group=c.group, reference=c.reference, judged=ok, note=note,
                    )
                )
            rows.append([c.subject, n_u, n_p, point["base_rate_u"], point["base_rate_p"],
                         point["label_statistical_parity_difference"], point["label_disparate_impact"]])
        table = Table(
            title="Favourable-label base rates by group (labels, not predictions)",
            columns=["comparison", "n unprivileged", "n privileged", "base rate unpriv.", "base rate priv.",
                     "SPD", "DI"],
            rows=rows,
        )
        overall = float(y.mean())
        return CheckOutput(
            metrics=metrics,
            tables=[table],
            summary=f"{len(comps)} comparisons; overall favourable base rate {overall:.3f} on {len(y)} rows",
            evidence={"overall_base_rate": overall, "n": len(y), "comparisons": len(comps),
                      "intervals": {"base rates": "wilson", "label SPD": "newcombe-wilson",
                                    "label DI": "mover-log-wilson"}},
        )


GROUP_METRICS = ("selection_rate", "tpr", "fpr", "fnr", "precision", "error_rate")
#: The group rates each difference is made of: undefined when one of them has an empty denominator in a group.
DIFF_NEEDS = {"statistical_parity_difference": ("selection_rate",), "disparate_impact": ("selection_rate",),
              "equal_opportunity_difference": ("tpr",), "average_odds_difference": ("tpr", "fpr"),
              "error_rate_difference": ("error_rate",)}
DIFF_METRICS = (
    "statistical_parity_difference",
    "disparate_impact",
    "equal_opportunity_difference",
    "average_odds_difference",
    "error_rate_difference",
)


class ModelFairnessCheck(_FairnessBase):
    """Group fairness of the model's predictions, per protected attribute and intersections."""

    id = "fairness.model"
    title = "Group fairness of predictions"
    description = ("Selection rate, TPR, FPR, FNR, precision and error rate per group (Wilson intervals); "
                   "statistical parity, equal opportunity and error rate differences (Newcombe), disparate impact "
                   "(MOVER, log scale), average odds difference (MOVER); Theil indices (bootstrap BCa); point "
                   "estimates from aif360 ClassificationMetric.")
    requires = frozenset({"protected", "predictions"})

    metrics = (
        MetricSpec("group_size", "Rows in a group", unit="rows", subject=("attribute", "group")),
        MetricSpec("selection_rate",
                   "Share of a group predicted favourable (Wilson)",
                   subject=("attribute", "group")),
        MetricSpec("tpr",
                   "True positive rate of a group (Wilson)",
                   direction="higher_is_better", subject=("attribute", "group")),
        MetricSpec("fpr",
                   "False positive rate of a group (Wilson)",
                   direction="lower_is_better", subject=("attribute", "group")),
        MetricSpec("fnr",
                   "False negative rate of a group (Wilson)",
                   direction="lower_is_better", subject=("attribute", "group")),
        MetricSpec("precision",
                   "Precision of a group's favourable predictions (Wilson)",
                   direction="higher_is_better", subject=("attribute", "group")),
        MetricSpec("error_rate",
                   "Share of a group's rows predicted wrongly (Wilson)",
                   direction="lower_is_better", subject=("attribute", "group")),
        MetricSpec("disparate_impact",
                   "Selection rate of the unprivileged group over the privileged group's (four-fifths rule)",
                   direction="closer_to_one", subject=("attribute", "group", "reference")),
        MetricSpec("statistical_parity_difference",
                   "Selection rate of the unprivileged group minus the privileged group's",
                   direction="closer_to_zero", subject=("attribute", "group", "reference")),
        MetricSpec("equal_opportunity_difference",
                   "TPR of the unprivileged group minus the privileged group's",
                   direction="closer_to_zero", subject=("attribute", "group", "reference")),
        MetricSpec("average_odds_difference",
                   "Mean of the FPR and TPR differences between the groups",
                   direction="closer_to_zero", subject=("attribute", "group", "reference")),
        MetricSpec("error_rate_difference",
                   "Error rate of the unprivileged group minus the privileged group's",
                   direction="closer_to_zero", subject=("attribute", "group", "reference")),
        MetricSpec("between_group_theil_index",
                   "Theil index of the benefit between the two groups (generalised entropy, alpha 1)",
                   direction="lower_is_better", subject=("attribute", "group", "reference")),
        MetricSpec("theil_index",
                   "Theil index of the benefit over all rows (individual unfairness)",
                   direction="lower_is_better"),
        MetricSpec("accuracy", "Share of all rows predicted correctly", direction="higher_is_better"),
    )

    @staticmethod
    def _points(cm: Any) -> tuple[dict[bool, dict[str, float | None]], dict[str, float | None]]:
        point_g = {
            priv: {
                "selection_rate": _f(cm.selection_rate(privileged=priv)),
                "tpr": _f(cm.true_positive_rate(privileged=priv)),
                "fpr": _f(cm.false_positive_rate(privileged=priv)),
                "fnr": _f(cm.false_negative_rate(privileged=priv)),
                "precision": _f(cm.positive_predictive_value(privileged=priv)),
                "error_rate": _f(cm.error_rate(privileged=priv)),
            }
            for priv in (False, True)
        }
        point_d = {
            "statistical_parity_difference": _f(cm.statistical_parity_difference()),
            "disparate_impact": _f(cm.disparate_impact()),
            "equal_opportunity_difference": _f(cm.equal_opportunity_difference()),
            "average_odds_difference": _f(cm.average_odds_difference()),
            "error_rate_difference": _f(cm.error_rate_difference()),
        }
        return point_g, point_d

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        p: FairnessParams = params
        level = p.confidence
        comps = cached_comparisons(ctx, p.intersections, p.per_value, p.max_values)
        y, yhat = ctx.y_true, ctx.y_pred
        aif360 = _import_aif360()
        cells = CellTable.build(comps, y, yhat)
        ds_true, ds_pred = _aif_datasets(cells)
        rng = ctx.rng(self.id)
        metrics: list[Metric] = []
        group_rows: list[list[Any]] = []
        diff_rows: list[list[Any]] = []
        seen_groups: set[str] = set()
        for i, c in enumerate(comps):
            cm = aif360.metrics.ClassificationMetric(
                ds_true, ds_pred, unprivileged_groups=[{f"g{i}": 0.0}], privileged_groups=[{f"g{i}": 1.0}]
            )
            n_u, n_p = int(cm.num_instances(privileged=False)), int(cm.num_instances(privileged=True))
            judged = min(n_u, n_p) >= p.min_group_size
            with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 in a group: handled below
                point_g, point_d = self._points(cm)
            counts = cells.cells(i)
            kn = {priv: group_counts(counts, priv) for priv in (False, True)}
            for priv in (False, True):  # 0/0 is undefined (aif360 reports a precision of 0.0 for it)
                point_g[priv] = {k: None if kn[priv][k][1] == 0 else v for k, v in point_g[priv].items()}
            for name, keys in DIFF_NEEDS.items():
                if any(kn[priv][k][1] == 0 for priv in (False, True) for k in keys):
                    point_d[name] = None
            ci_g = {priv: {k: rate_interval(kn[priv][k], point_g[priv][k], level) for k in GROUP_METRICS}
                    for priv in (False, True)}
            u, pr = kn[False], kn[True]
            ci_d = {
                "statistical_parity_difference": difference_interval(
                    u["selection_rate"], pr["selection_rate"], point_d["statistical_parity_difference"], level),
                "disparate_impact": ratio_interval(u["selection_rate"], pr["selection_rate"],
                                                   point_d["disparate_impact"], level),
                "equal_opportunity_difference": difference_interval(
                    u["tpr"], pr["tpr"], point_d["equal_opportunity_difference"], level),
                "average_odds_difference": average_odds_interval(u, pr, point_d["average_odds_difference"], level),
                "error_rate_difference": difference_interval(
                    u["error_rate"], pr["error_rate"], point_d["error_rate_difference"], level),
            }
            if c.kind == "binary" and (c.codes >= 0).all():
                bgti = _f(between_group_theil(c.codes, y, yhat))
                point_d["between_group_theil_index"] = bgti
                ci_d["between_group_theil_index"] = bgti_interval(counts, bgti, p.bootstrap, rng, level)
            for priv, group, n in ((True, c.reference, n_p), (False, c.group, n_u)):
                gkey = f"{c.attribute}={group}"
                if gkey in seen_groups:
                    continue
                seen_groups.add(gkey)
                ok = n >= p.min_group_size
                note = None if ok else f"group smaller than {p.min_group_size}"
                metrics.append(Metric(name="group_size", value=float(n), n=n, subject=gkey, attribute=c.attribute,
                                      group=group, judged=ok, note=note))
                for k in GROUP_METRICS:
                    metrics.append(_group_metric(k, point_g[priv][k], ci_g[priv][k], n, gkey, c.attribute, group,
                                                 ok, note))
                group_rows.append([gkey, n] + [point_g[priv][k] for k in GROUP_METRICS])
            for k, v in point_d.items():
                ok, note = _judgement(judged, v, p)
                metrics.append(
                    Metric(name=k, value=v, ci=ci_d.get(k), n=n_u + n_p, subject=c.subject,
                           attribute=c.attribute, group=c.group, reference=c.reference, judged=ok, note=note)
                )
            diff_rows.append([c.subject, n_u, n_p] + [point_d[k] for k in DIFF_METRICS])
        # Overall Theil index (individual-level inequality of benefits), with its own bootstrap.
        theil = _f(_theil(_benefit(y, yhat))) if comps else None
        theil_ci = None
        acc = float((y == yhat).mean())
        if p.bootstrap and theil is not None:
            conf = np.bincount(np.where(y == 1, np.where(yhat == 1, 0, 2), np.where(yhat == 1, 1, 3)), minlength=4)
            ci = stats.bca_counts(_theil_of_confusion, conf, p.bootstrap, rng, level)
            theil_ci = _fit((ci.low, ci.high), theil, level, ci.method) if ci is not None else None
        metrics.append(Metric(name="theil_index", value=theil, ci=theil_ci, n=len(y), subject="all rows"))
        metrics.append(Metric(name="accuracy", value=acc, n=len(y), subject="all rows"))
        tables = [
            Table(title="Rates by group", columns=["group", "n", *GROUP_METRICS], rows=group_rows),
            Table(title="Differences and ratios (unprivileged vs privileged)",
                  columns=["comparison", "n unprivileged", "n privileged", *DIFF_METRICS], rows=diff_rows),
        ]
        worst = min((m for m in metrics if m.name == "disparate_impact" and m.value is not None and m.judged),
                    key=lambda m: m.value if m.value is not None else 1.0, default=None)
        summary = f"{len(comps)} comparisons on {len(y)} rows; accuracy {acc:.3f}"
        if worst is not None and worst.value is not None:
            summary += f"; lowest disparate impact {worst.value:.3f} ({worst.subject})"
        return CheckOutput(
            metrics=metrics,
            tables=tables,
            summary=summary,
            evidence={"n": len(y), "comparisons": [c.subject for c in comps],
                      "selection_rate_overall": float(yhat.mean()), "bootstrap": p.bootstrap,
                      "confidence": p.confidence, "min_group_size": p.min_group_size, "intervals": INTERVALS},
        )
