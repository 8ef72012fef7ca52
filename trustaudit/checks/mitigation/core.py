"""Group metrics of a set of predictions, conditions on them, and the mitigation strategies themselves.

The fairness metrics are those of ``fairness.model`` (aif360's definitions: unprivileged vs privileged group of a
protected attribute), computed from the four confusion counts of each group with the same intervals
(:mod:`trustaudit.stats`): Wilson for rates, Newcombe for differences, MOVER on the log scale for disparate impact,
a MOVER sum for the average odds difference. They are recomputed here from counts rather than imported from
``checks.fairness`` because check families never import one another; ``tests/mitigation`` cross-checks them
against aif360's ``ClassificationMetric`` and a pandas computation.

The strategies call the libraries that implement them: fairlearn's ``ThresholdOptimizer`` (post-processing),
aif360's ``Reweighing`` (pre-processing: sample weights for a refit of the bundle's own estimator) and fairlearn's
``ExponentiatedGradient`` (in-processing reduction). Each returns the predictions it makes on the measured rows,
which were never used to fit it.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trustaudit import stats
from trustaudit.checks.base import import_aif360
from trustaudit.checks.mitigation.estimators import (
    ScorePassthrough,
    apply_rules,
    decide,
)
from trustaudit.results import Interval

FAIRNESS_METRICS = (
    "disparate_impact",
    "statistical_parity_difference",
    "equal_opportunity_difference",
    "average_odds_difference",
    "error_rate_difference",
)

#: The fairlearn constraint that targets each metric (ThresholdOptimizer's names; the reductions' classes below).
CONSTRAINT_FOR = {
    "disparate_impact": "demographic_parity",
    "statistical_parity_difference": "demographic_parity",
    "equal_opportunity_difference": "true_positive_rate_parity",
    "average_odds_difference": "equalized_odds",
    "error_rate_difference": "equalized_odds",
}


@dataclass
class Measured:
    """A value with its interval (None when undefined)."""

    value: float | None
    ci: Interval | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {"value": self.value, "low": self.ci.low if self.ci else None, "high": self.ci.high if self.ci else None}


def _counts(y: np.ndarray, yhat: np.ndarray, mask: np.ndarray) -> tuple[int, int, int, int]:
    yy, pp = y[mask], yhat[mask]
    tp = int(np.sum((yy == 1) & (pp == 1)))
    fp = int(np.sum((yy == 0) & (pp == 1)))
    fn = int(np.sum((yy == 1) & (pp == 0)))
    tn = int(np.sum((yy == 0) & (pp == 0)))
    return tp, fp, fn, tn


def _iv(bounds: stats.Bounds | None, value: float | None, level: float, method: str) -> Interval | None:
    if bounds is None or value is None:
        return None
    return stats.interval((min(bounds[0], value), max(bounds[1], value)), level, method)


def group_metrics(y: np.ndarray, yhat: np.ndarray, privileged: np.ndarray, valid: np.ndarray,
                  level: float) -> tuple[dict[str, Measured], int, int]:
    """The five fairness metrics of predictions ``yhat`` (unprivileged vs privileged), with their intervals;
    and the two group sizes."""
    tp_u, fp_u, fn_u, tn_u = _counts(y, yhat, valid & ~privileged)
    tp_p, fp_p, fn_p, tn_p = _counts(y, yhat, valid & privileged)
    n_u, n_p = tp_u + fp_u + fn_u + tn_u, tp_p + fp_p + fn_p + tn_p
    sel = ((tp_u + fp_u, n_u), (tp_p + fp_p, n_p))
    tpr = ((tp_u, tp_u + fn_u), (tp_p, tp_p + fn_p))
    fpr = ((fp_u, fp_u + tn_u), (fp_p, fp_p + tn_p))
    err = ((fp_u + fn_u, n_u), (fp_p + fn_p, n_p))

    def rate(kn: tuple[int, int]) -> float | None:
        return kn[0] / kn[1] if kn[1] > 0 else None

    def diff(pair: tuple[tuple[int, int], tuple[int, int]]) -> Measured:
        a, b = rate(pair[0]), rate(pair[1])
        if a is None or b is None:
            return Measured(None)
        v = a - b
        return Measured(v, _iv(stats.newcombe(*pair[0], *pair[1], level), v, level, "newcombe-wilson"))

    out: dict[str, Measured] = {}
    su, sp = rate(sel[0]), rate(sel[1])
    if su is None or sp is None or sp == 0:
        out["disparate_impact"] = Measured(None)
    else:
        di = su / sp
        out["disparate_impact"] = Measured(di, _iv(stats.ratio_interval(*sel[0], *sel[1], level), di, level,
                                                   "mover-log-wilson"))
    out["statistical_parity_difference"] = diff(sel)
    out["equal_opportunity_difference"] = diff(tpr)
    d_fpr, d_tpr = diff(fpr), diff(tpr)
    if d_fpr.value is None or d_tpr.value is None or d_fpr.ci is None or d_tpr.ci is None:
        out["average_odds_difference"] = Measured(None)
    else:
        aod = (d_fpr.value + d_tpr.value) / 2
        lo, hi = stats.mover_sum(d_fpr.value, (d_fpr.ci.low, d_fpr.ci.high), d_tpr.value,
                                 (d_tpr.ci.low, d_tpr.ci.high))
        out["average_odds_difference"] = Measured(aod, _iv((lo / 2, hi / 2), aod, level, "mover-newcombe"))
    out["error_rate_difference"] = diff(err)
    return out, n_u, n_p


def accuracy(y: np.ndarray, yhat: np.ndarray, level: float) -> Measured:
    k, n = int(np.sum(y == yhat)), len(y)
    if n == 0:
        return Measured(None)
    return Measured(k / n, _iv(stats.wilson(k, n, level), k / n, level, "wilson"))


def _paired_change(c: np.ndarray) -> np.ndarray:
    """Accuracy change from (m, 4) counts of rows (original wrong/right x remedy wrong/right)."""
    n = c.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray((c[:, 1] - c[:, 2]) / n, dtype=np.float64)


def accuracy_change(y: np.ndarray, before: np.ndarray, after: np.ndarray, n_boot: int, rng: np.random.Generator,
                    level: float) -> Measured:
    """Accuracy of ``after`` minus that of ``before`` on the same rows (paired), with a BCa bootstrap interval
    over the four (before right?, after right?) cells (:func:`trustaudit.stats.bca_counts`)."""
    if len(y) == 0:
        return Measured(None)
    rb, ra = before == y, after == y
    cells = np.array([np.sum(~rb & ~ra), np.sum(~rb & ra), np.sum(rb & ~ra), np.sum(rb & ra)], dtype=np.int64)
    value = float(_paired_change(cells[None, :])[0])
    ci = stats.bca_counts(_paired_change, cells, n_boot, rng, level) if n_boot > 0 else None
    if ci is not None:
        ci = stats.interval((min(ci.low, value), max(ci.high, value)), level, ci.method)
    return Measured(value, ci)


# -- conditions ---------------------------------------------------------------------------------------------


def _ok(op: str, bound: float, x: float) -> bool:
    return {">=": x >= bound, ">": x > bound, "<=": x <= bound, "<": x < bound}.get(op, False)


def judge(cond: Any, m: Measured) -> str:
    """The status of one condition on one measured value, by the rule of trustaudit's rubric judge
    (``judge: interval``): pass when the whole interval meets the bound, the condition's severity when the
    whole interval violates it, warn when it reaches both sides; without an interval the value decides;
    an undefined value warns."""
    if m.value is None:
        return "warn"
    f = abs if cond.abs else (lambda v: v)
    if m.ci is None or cond.judge == "value":
        return "pass" if _ok(cond.op, cond.value, f(m.value)) else cond.severity
    lo, hi = m.ci.low, m.ci.high
    if cond.abs:
        lo, hi = (0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi))), max(abs(lo), abs(hi))
    both, either = _ok(cond.op, cond.value, lo) and _ok(cond.op, cond.value, hi), \
        _ok(cond.op, cond.value, lo) or _ok(cond.op, cond.value, hi)
    if both:
        return "pass"
    return "warn" if either else cond.severity


# -- strategies ---------------------------------------------------------------------------------------------


@dataclass
class FitData:
    """Rows to fit a remedy on: model scores (P(favourable)), labels, groups ('privileged'/'unprivileged'/''),
    and, for refits, the model's input columns and the raw labels."""

    scores: np.ndarray | None
    y: np.ndarray
    groups: np.ndarray
    X: pd.DataFrame | None = None
    y_raw: pd.Series | None = None
    where: str = ""


@dataclass
class Outcome:
    """What a strategy predicts on the measured rows, and how it was fitted."""

    y_pred: np.ndarray
    fitted: Any = None
    details: dict[str, Any] = field(default_factory=dict)


def fit_threshold_optimizer(constraint: str, fit: FitData, seed: int) -> Any:
    """fairlearn ``ThresholdOptimizer`` (objective accuracy) on scores alone, through a passthrough estimator."""
    from fairlearn.postprocessing import ThresholdOptimizer

    keep = fit.groups != ""
    assert fit.scores is not None
    to = ThresholdOptimizer(estimator=ScorePassthrough().fit(), constraints=constraint, prefit=True,
                            predict_method="predict_proba", objective="accuracy_score", grid_size=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to.fit(fit.scores[keep].reshape(-1, 1), fit.y[keep], sensitive_features=fit.groups[keep])
    return to


def threshold_outcome(rules: dict[str, Any], scores: np.ndarray, groups: np.ndarray,
                      favorable_index: int) -> np.ndarray:
    return decide(apply_rules(rules, scores, groups), favorable_index)


def stratified_folds(strata: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Fold number per row, balanced within each stratum (seeded)."""
    folds = np.empty(len(strata), dtype=np.int64)
    for v in np.unique(strata):
        rows = np.flatnonzero(strata == v)
        rows = rows[rng.permutation(len(rows))]
        folds[rows] = np.arange(len(rows)) % k
    return folds


def sample_weight_kwargs(estimator: Any, weights: np.ndarray) -> dict[str, Any]:
    """``fit`` keyword for sample weights: ``<last step>__sample_weight`` for a Pipeline."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        return {f"{estimator.steps[-1][0]}__sample_weight": weights}
    return {"sample_weight": weights}


def sample_weight_name(estimator: Any) -> str:
    return next(iter(sample_weight_kwargs(estimator, np.ones(1))))


def _import_aif360_algorithms() -> Any:
    return import_aif360("aif360.algorithms.postprocessing", "aif360.algorithms.preprocessing", "aif360.datasets")


def reweighing_weights(y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """aif360 ``Reweighing`` instance weights (Kamiran & Calders): w(g, l) = P(g) P(l) / P(g, l); rows outside
    both groups keep weight 1."""
    aif360 = _import_aif360_algorithms()
    keep = groups != ""
    frame = pd.DataFrame({"g": (groups[keep] == "privileged").astype(np.float64),
                          "label": y[keep].astype(np.float64)})
    ds = aif360.datasets.BinaryLabelDataset(df=frame, label_names=["label"], protected_attribute_names=["g"],
                                            favorable_label=1.0, unfavorable_label=0.0)
    rw = aif360.algorithms.preprocessing.Reweighing(unprivileged_groups=[{"g": 0.0}], privileged_groups=[{"g": 1.0}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = rw.fit_transform(ds)
    w = np.ones(len(y), dtype=np.float64)
    w[keep] = np.asarray(out.instance_weights, dtype=np.float64)
    return w


def refit_reweighed(estimator: Any, fit: FitData) -> Any:
    """A clone of the bundle's estimator refitted on the fit rows with aif360's reweighing weights."""
    from sklearn.base import clone

    assert fit.X is not None and fit.y_raw is not None
    w = reweighing_weights(fit.y, fit.groups)
    est = clone(estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(fit.X, fit.y_raw, **sample_weight_kwargs(est, w))
    return est


def fit_exponentiated_gradient(estimator: Any, constraint: str, fit: FitData, max_iter: int,
                               difference_bound: float) -> Any:
    """fairlearn ``ExponentiatedGradient`` over clones of the bundle's estimator (labels 1 = favourable)."""
    from fairlearn.reductions import (
        DemographicParity,
        EqualizedOdds,
        ExponentiatedGradient,
        TruePositiveRateParity,
    )
    from sklearn.base import clone

    assert fit.X is not None
    moment = {"demographic_parity": DemographicParity, "true_positive_rate_parity": TruePositiveRateParity,
              "equalized_odds": EqualizedOdds}[constraint](difference_bound=difference_bound)
    keep = fit.groups != ""
    eg = ExponentiatedGradient(clone(estimator), moment, max_iter=max_iter,
                               sample_weight_name=sample_weight_name(estimator))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eg.fit(fit.X[keep], fit.y[keep], sensitive_features=fit.groups[keep])
    return eg


def eg_pmf(eg: Any, X: pd.DataFrame) -> np.ndarray:
    """P(favourable decision) of the fitted randomized classifier (fairlearn's ``_pmf_predict``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(eg._pmf_predict(X))[:, 1]


def finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


#: aif360 RejectOptionClassification's fairness metric for each constraint.
ROC_METRIC = {"demographic_parity": "Statistical parity difference",
              "true_positive_rate_parity": "Equal opportunity difference",
              "equalized_odds": "Average odds difference"}


def fit_reject_option(constraint: str, fit: FitData, n_thresholds: int, n_margins: int,
                      bound: float) -> dict[str, Any]:
    """aif360 ``RejectOptionClassification`` (Kamiran et al. 2012) on scores: searches a grid of
    ``n_thresholds`` classification thresholds x ``n_margins`` margins (a count) for the most balanced-accurate pair
    whose fairness metric lies within +-``bound``. Returned as per-group threshold rules: with threshold t and
    margin m, an unprivileged row is favourable when its score exceeds t - m, a privileged row when it exceeds
    t + m (aif360's ``predict``, written as thresholds)."""
    aif360 = _import_aif360_algorithms()
    keep = fit.groups != ""
    assert fit.scores is not None
    g = (fit.groups[keep] == "privileged").astype(np.float64)
    frame = pd.DataFrame({"g": g, "label": fit.y[keep].astype(np.float64)})
    ds_true = aif360.datasets.BinaryLabelDataset(df=frame, label_names=["label"], protected_attribute_names=["g"],
                                                 favorable_label=1.0, unfavorable_label=0.0)
    ds_pred = ds_true.copy(deepcopy=True)
    ds_pred.scores = fit.scores[keep].astype(np.float64).reshape(-1, 1)
    roc = aif360.algorithms.postprocessing.RejectOptionClassification(
        unprivileged_groups=[{"g": 0.0}], privileged_groups=[{"g": 1.0}], num_class_thresh=n_thresholds,
        num_ROC_margin=n_margins, metric_name=ROC_METRIC[constraint], metric_ub=bound, metric_lb=-bound)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        roc.fit(ds_true, ds_pred)
    root.handlers[:] = handlers
    root.setLevel(level)
    t, m = float(roc.classification_threshold), float(roc.ROC_margin)
    return {"unprivileged": [1.0, ">", t - m, 0.0, ">", t - m, 0.0, 0.0],
            "privileged": [1.0, ">", t + m, 0.0, ">", t + m, 0.0, 0.0]}


def crossfit_rules(fit_rules: Any, scores: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: np.ndarray,
                   favorable_index: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Out-of-fold predictions of a threshold-rule remedy: ``fit_rules(FitData)`` fitted on every other fold,
    applied to each fold's rows."""
    out = np.zeros(len(y), dtype=np.int8)
    rules_by_fold = []
    for k in np.unique(folds):
        train = folds != k
        rules = fit_rules(FitData(scores[train], y[train], groups[train]))
        rules_by_fold.append(rules)
        test = folds == k
        out[test] = threshold_outcome(rules, scores[test], groups[test], favorable_index)
    return out, rules_by_fold
