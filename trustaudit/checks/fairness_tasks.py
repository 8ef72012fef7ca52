"""Group fairness of regressors and multiclass classifiers, per protected attribute, group and intersection.

The binary checks (:mod:`trustaudit.checks.fairness`) stay on aif360, whose metrics are defined for one
favourable label. For the other tasks the per-group numbers come from fairlearn's ``MetricFrame``, which
disaggregates any ``metric(y_true, y_pred)`` by a sensitive feature: each comparison (an unprivileged group against
the privileged reference group, as :mod:`trustaudit.groups` builds them for every check family) is one MetricFrame
over the rows of its two groups. Differences and ratios are taken unprivileged minus (over) privileged, signed,
from ``MetricFrame.by_group`` (fairlearn's own ``difference()`` is the unsigned spread across groups).

Intervals, from the same rows, without a seed:

* regression: a mean (prediction, outcome, absolute error, signed error) has Student's t interval; RMSE is the
  square root of the t interval of the mean squared error; a difference of two groups' values is the MOVER
  difference of their intervals (the groups are independent), a ratio of two positive values is MOVER on the log
  scale; the share of a group at or above the threshold is a proportion: Wilson, Newcombe for the difference and
  MOVER (log, Wilson) for the ratio, as in the binary checks;
* multiclass: for each class one-vs-rest, selection rate (predicted as the class), TPR (predicted as the class
  among rows of the class) and FPR (predicted as the class among rows of the other classes), and the accuracy of
  each group, are proportions: Wilson, Newcombe and MOVER-log-Wilson.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import Field

from trustaudit import stats
from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec, SubjectField
from trustaudit.context import AuditContext
from trustaudit.groups import Comparison, cached_comparisons
from trustaudit.results import Interval, Metric, Table

__all__ = ["MulticlassFairnessCheck", "RegressionFairnessCheck", "metric_frame"]

GROUP: tuple[SubjectField, ...] = ("attribute", "group")
PAIR: tuple[SubjectField, ...] = ("attribute", "group", "reference")
GROUP_CLASS: tuple[SubjectField, ...] = ("attribute", "group", "class_label")
PAIR_CLASS: tuple[SubjectField, ...] = ("attribute", "group", "reference", "class_label")


class TaskFairnessParams(CheckParams):
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of the intervals")
    min_group_size: int = Field(30, ge=1, description="Groups smaller than this are reported but not judged")
    intersections: bool = Field(True, description="Also compare intersections of pairs of protected attributes")
    per_value: bool = Field(True, description="Also compare each unprivileged value with the privileged group")
    max_values: int = Field(12, ge=2, description="Per-value comparisons only for attributes with this many values")


class RegressionFairnessParams(TaskFairnessParams):
    threshold: float | None = Field(
        None, description="Prediction at or above which a row counts as 'granted' (share_above); default: the "
        "median of the outcome over all rows")


def metric_frame(metrics: dict[str, Callable[..., Any]], y_true: np.ndarray, y_pred: np.ndarray,
                 comp: Comparison) -> tuple[dict[str, float], dict[str, float], int, int]:
    """fairlearn ``MetricFrame`` of one comparison: (values of the unprivileged group, of the privileged group,
    n unprivileged, n privileged); a group with no rows gives NaN values.

    The metrics are given to MetricFrame as one function returning all their values (MetricFrame extracts and
    stacks the group's rows once per metric function and group, which dominated the time with one function per
    metric and class)."""
    from fairlearn.metrics import MetricFrame

    names = list(metrics)

    def every_metric(y: np.ndarray, f: np.ndarray) -> np.ndarray:
        return np.array([metrics[k](y, f) for k in names], dtype=np.float64)

    rows = comp.codes >= 0
    side = np.where(comp.codes[rows] == 1, "privileged", "unprivileged")
    n_u, n_p = int((side == "unprivileged").sum()), int((side == "privileged").sum())
    nan = dict.fromkeys(names, math.nan)
    if not rows.any():
        return nan, nan, 0, 0
    mf = MetricFrame(metrics={"all": every_metric}, y_true=y_true[rows], y_pred=y_pred[rows],
                     sensitive_features=side)
    by = mf.by_group["all"]
    values = {g: dict(zip(names, (float(v) for v in by.loc[g]))) if g in by.index else nan
              for g in ("unprivileged", "privileged")}
    return values["unprivileged"], values["privileged"], n_u, n_p


def _num(x: float) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def _t_bounds(values: np.ndarray, level: float) -> stats.Bounds | None:
    """Student's t interval of the mean of ``values`` (None with fewer than two rows)."""
    from scipy.stats import t

    n = len(values)
    if n < 2:
        return None
    mean = float(values.mean())
    half = float(t.ppf(0.5 + level / 2, n - 1)) * float(values.std(ddof=1)) / math.sqrt(n)
    return mean - half, mean + half


def _interval(bounds: stats.Bounds | None, value: float | None, level: float, method: str) -> Interval | None:
    if bounds is None or value is None or not all(map(math.isfinite, bounds)):
        return None
    return stats.interval((min(bounds[0], value), max(bounds[1], value)), level, method)


def _mover_diff(a: float | None, ca: Interval | None, b: float | None, cb: Interval | None, level: float,
                method: str) -> Interval | None:
    if a is None or b is None or ca is None or cb is None:
        return None
    return _interval(stats.mover_difference(a, (ca.low, ca.high), b, (cb.low, cb.high)), a - b, level, method)


def _mover_ratio(a: float | None, ca: Interval | None, b: float | None, cb: Interval | None,
                 level: float) -> Interval | None:
    """MOVER on the log scale for a ratio of two positive values (None when an interval reaches 0)."""
    if a is None or b is None or ca is None or cb is None or min(a, b, ca.low, cb.low) <= 0:
        return None
    lo, hi = stats.mover_difference(math.log(a), (math.log(ca.low), math.log(ca.high)),
                                    math.log(b), (math.log(cb.low), math.log(cb.high)))
    return _interval((math.exp(lo), math.exp(hi)), a / b, level, "mover-log")


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0 or a < 0:
        return None
    return a / b


def _pair_metric(name: str, value: float | None, ci: Interval | None, c: Comparison, n_u: int, n_p: int,
                 p: TaskFairnessParams, undefined: str, class_label: str | None = None) -> Metric:
    judged, note = True, None
    if min(n_u, n_p) < p.min_group_size:
        judged, note = False, f"a group is smaller than {p.min_group_size}"
    elif value is None:
        judged, note = False, f"undefined: {undefined}"
    subject = c.subject if class_label is None else f"{c.subject} [class {class_label}]"
    return Metric(name=name, value=value, ci=ci, n=n_u + n_p, subject=subject, attribute=c.attribute,
                  group=c.group, reference=c.reference, class_label=class_label, judged=judged, note=note)


def _group_metric(name: str, value: float | None, ci: Interval | None, n: int, attribute: str, group: str,
                  p: TaskFairnessParams, class_label: str | None = None, unit: str | None = None) -> Metric:
    judged, note = True, None
    if n < p.min_group_size:
        judged, note = False, f"group smaller than {p.min_group_size}"
    elif value is None:
        judged, note = False, "undefined: no rows in its denominator"
    subject = f"{attribute}={group}" + (f" [class {class_label}]" if class_label is not None else "")
    return Metric(name=name, value=value, ci=ci, n=n, subject=subject, attribute=attribute, group=group,
                  class_label=class_label, judged=judged, note=note, unit=unit)


class _TaskFairnessBase(Check):
    category = "fairness"
    version = "1.0"
    requires = frozenset({"protected", "predictions"})


# -- regression ---------------------------------------------------------------------------------------------

REG_GROUP = ("mean_prediction", "mean_outcome", "mae", "rmse", "mean_signed_error", "share_above")
REG_DIFF = ("mean_prediction", "mean_outcome", "mae", "rmse", "mean_signed_error")
REG_RATIO = ("mean_prediction", "mean_outcome", "mae", "rmse")


def regression_metrics(threshold: float) -> dict[str, Callable[..., float]]:
    """The per-group regression metrics given to ``MetricFrame`` (y_true: outcome, y_pred: prediction)."""
    from sklearn.metrics import mean_absolute_error, root_mean_squared_error

    return {
        "mean_prediction": lambda y, f: float(np.mean(f)),
        "mean_outcome": lambda y, f: float(np.mean(y)),
        "mae": mean_absolute_error,
        "rmse": root_mean_squared_error,
        "mean_signed_error": lambda y, f: float(np.mean(np.asarray(f) - np.asarray(y))),
        "share_above": lambda y, f: float(np.mean(np.asarray(f) >= threshold)),
    }


class RegressionFairnessCheck(_TaskFairnessBase):
    """Group fairness of a regressor's predictions: levels, errors and 'granted above a threshold' by group."""

    id = "fairness.regression"
    title = "Group fairness of a regressor"
    description = ("Mean prediction and mean outcome, MAE, RMSE and mean signed error (prediction - outcome) per "
                   "group with t intervals, and the share of each group predicted at or above a threshold "
                   "(Wilson); differences (MOVER / Newcombe) and ratios (MOVER on the log scale) of the "
                   "unprivileged group against the privileged one; per-group values from fairlearn MetricFrame.")
    tasks = frozenset({"regression"})
    Params = RegressionFairnessParams
    metrics = (
        MetricSpec("group_size", "Rows in a group", unit="rows", subject=GROUP),
        MetricSpec("mean_prediction", "Mean predicted value of a group (t interval)", subject=GROUP),
        MetricSpec("mean_outcome", "Mean true value of a group (t interval)", subject=GROUP),
        MetricSpec("mae", "Mean absolute error of a group (t interval)", direction="lower_is_better",
                   subject=GROUP),
        MetricSpec("rmse", "Root mean squared error of a group (square root of the t interval of the MSE)",
                   direction="lower_is_better", subject=GROUP),
        MetricSpec("mean_signed_error", "Mean of prediction - outcome in a group: > 0 over-predicts (t interval)",
                   direction="closer_to_zero", subject=GROUP),
        MetricSpec("share_above", "Share of a group predicted at or above the threshold (Wilson)", unit="fraction",
                   subject=GROUP),
        *(MetricSpec(f"{k}_difference", f"{k} of the unprivileged group minus the privileged group's (MOVER)",
                     direction="closer_to_zero", subject=PAIR) for k in REG_DIFF),
        MetricSpec("share_above_difference",
                   "Share at or above the threshold, unprivileged minus privileged (Newcombe)",
                   direction="closer_to_zero", unit="fraction", subject=PAIR),
        *(MetricSpec(f"{k}_ratio", f"{k} of the unprivileged group over the privileged group's (MOVER, log "
                     "scale; undefined unless both are positive)", direction="closer_to_one", subject=PAIR)
          for k in REG_RATIO),
        MetricSpec("share_above_ratio",
                   "Share at or above the threshold, unprivileged over privileged (MOVER, log, Wilson)",
                   direction="closer_to_one", subject=PAIR),
        MetricSpec("overall_mae", "Mean absolute error over all rows", direction="lower_is_better"),
        MetricSpec("overall_rmse", "Root mean squared error over all rows", direction="lower_is_better"),
        MetricSpec("r2", "Coefficient of determination over all rows", direction="higher_is_better"),
    )

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

        p: RegressionFairnessParams = params
        level = p.confidence
        y = np.asarray(ctx.target, dtype=float)
        f = np.asarray(ctx.prediction, dtype=float)
        threshold = float(p.threshold) if p.threshold is not None else float(np.median(y))
        comps = cached_comparisons(ctx, p.intersections, p.per_value, p.max_values)
        fns = regression_metrics(threshold)
        metrics: list[Metric] = []
        group_rows: list[list[Any]] = []
        diff_rows: list[list[Any]] = []
        seen: set[str] = set()
        for c in comps:
            vu, vp, n_u, n_p = metric_frame(fns, y, f, c)
            point = {False: {k: _num(v) for k, v in vu.items()}, True: {k: _num(v) for k, v in vp.items()}}
            ci: dict[bool, dict[str, Interval | None]] = {}
            kn: dict[bool, tuple[int, int]] = {}
            for priv in (False, True):
                rows = c.codes == (1 if priv else 0)
                ys, fs = y[rows], f[rows]
                pt = point[priv]
                mse_b = _t_bounds((fs - ys) ** 2, level)
                kn[priv] = (int((fs >= threshold).sum()), len(fs))
                ci[priv] = {
                    "mean_prediction": _interval(_t_bounds(fs, level), pt["mean_prediction"], level, "student-t"),
                    "mean_outcome": _interval(_t_bounds(ys, level), pt["mean_outcome"], level, "student-t"),
                    "mae": _interval(_t_bounds(np.abs(fs - ys), level), pt["mae"], level, "student-t"),
                    "rmse": _interval((math.sqrt(max(mse_b[0], 0.0)), math.sqrt(max(mse_b[1], 0.0)))
                                      if mse_b else None, pt["rmse"], level, "sqrt of student-t of the MSE"),
                    "mean_signed_error": _interval(_t_bounds(fs - ys, level), pt["mean_signed_error"], level,
                                                   "student-t"),
                    "share_above": _interval(stats.wilson(*kn[priv], level) if kn[priv][1] else None,
                                             pt["share_above"], level, "wilson"),
                }
            for priv, group, n in ((True, c.reference, n_p), (False, c.group, n_u)):
                gkey = f"{c.attribute}={group}"
                if gkey in seen:
                    continue
                seen.add(gkey)
                metrics.append(_group_metric("group_size", float(n), None, n, c.attribute, group, p, unit="rows"))
                for k in REG_GROUP:
                    metrics.append(_group_metric(k, point[priv][k], ci[priv][k], n, c.attribute, group, p))
                group_rows.append([gkey, n] + [point[priv][k] for k in REG_GROUP])
            u, pr, cu, cp = point[False], point[True], ci[False], ci[True]
            row: list[Any] = [c.subject, n_u, n_p]
            for k in REG_DIFF:
                a_k, b_k = u[k], pr[k]
                d = a_k - b_k if a_k is not None and b_k is not None else None
                metrics.append(_pair_metric(f"{k}_difference", d, _mover_diff(u[k], cu[k], pr[k], cp[k], level,
                                                                            "mover-student-t"),
                                            c, n_u, n_p, p, "a group has no rows"))
                row.append(d)
            ds = u["share_above"] - pr["share_above"] if u["share_above"] is not None and pr["share_above"] \
                is not None else None
            metrics.append(_pair_metric(
                "share_above_difference", ds,
                _interval(stats.newcombe(*kn[False], *kn[True], level) if min(n_u, n_p) else None, ds, level,
                          "newcombe-wilson"), c, n_u, n_p, p, "a group has no rows"))
            row.append(ds)
            for k in REG_RATIO:
                r = _ratio(u[k], pr[k])
                metrics.append(_pair_metric(f"{k}_ratio", r, _mover_ratio(u[k], cu[k], pr[k], cp[k], level), c,
                                            n_u, n_p, p, "a value is not positive"))
                row.append(r)
            rs = _ratio(u["share_above"], pr["share_above"])
            metrics.append(_pair_metric(
                "share_above_ratio", rs,
                _interval(stats.ratio_interval(*kn[False], *kn[True], level) if min(n_u, n_p) else None, rs, level,
                          "mover-log-wilson"), c, n_u, n_p, p, "the privileged group has no row above"))
            row.append(rs)
            diff_rows.append(row)
        mae, rmse, r2 = (float(mean_absolute_error(y, f)), float(root_mean_squared_error(y, f)),
                         float(r2_score(y, f)))
        n = len(y)
        metrics += [Metric(name="overall_mae", value=mae, n=n, subject="all rows"),
                    Metric(name="overall_rmse", value=rmse, n=n, subject="all rows"),
                    Metric(name="r2", value=r2, n=n, subject="all rows")]
        diff_cols = [f"{k} diff." for k in REG_DIFF] + ["share_above diff."] + [f"{k} ratio" for k in REG_RATIO] \
            + ["share_above ratio"]
        tables = [
            Table(title=f"Regression metrics by group (share_above: prediction >= {threshold:g})",
                  columns=["group", "n", *REG_GROUP], rows=group_rows),
            Table(title="Differences and ratios (unprivileged vs privileged)",
                  columns=["comparison", "n unprivileged", "n privileged", *diff_cols], rows=diff_rows),
        ]
        worst = max((m for m in metrics if m.name == "mean_prediction_difference" and m.value is not None
                     and m.judged), key=lambda m: abs(m.value or 0.0), default=None)
        summary = f"{len(comps)} comparisons on {n} rows; MAE {mae:.4g}, R² {r2:.3f}"
        if worst is not None and worst.value is not None:
            summary += f"; largest mean-prediction gap {worst.value:+.4g} ({worst.subject})"
        return CheckOutput(
            metrics=metrics, tables=tables, summary=summary,
            evidence={"n": n, "comparisons": [c.subject for c in comps], "threshold": threshold,
                      "threshold_source": "params" if p.threshold is not None else "median of the outcome",
                      "confidence": level, "min_group_size": p.min_group_size, "group_metrics": "fairlearn MetricFrame",
                      "intervals": {"means and MAE": "student-t", "RMSE": "sqrt of student-t of the MSE",
                                    "differences": "mover", "ratios": "mover on the log scale",
                                    "share_above": "wilson / newcombe / mover-log-wilson"}},
        )


# -- multiclass ---------------------------------------------------------------------------------------------

MC_RATES = ("selection_rate", "tpr", "fpr")


def multiclass_metrics(classes: list[str]) -> dict[str, Callable[..., float]]:
    """Per class one-vs-rest selection rate, TPR and FPR, and accuracy, for ``MetricFrame`` (labels as text)."""

    def rate(cls: str, kind: str) -> Callable[..., float]:
        def fn(y: np.ndarray, f: np.ndarray) -> float:
            y, f = np.asarray(y), np.asarray(f)
            base = np.ones(len(y), dtype=bool) if kind == "selection_rate" else (y == cls) if kind == "tpr" \
                else (y != cls)
            return float(np.mean(f[base] == cls)) if base.any() else math.nan
        return fn

    out: dict[str, Callable[..., float]] = {f"{k}|{c}": rate(c, k) for c in classes for k in MC_RATES}
    out["accuracy"] = lambda y, f: float(np.mean(np.asarray(y) == np.asarray(f)))
    return out


def _class_counts(y: np.ndarray, f: np.ndarray, cls: str) -> dict[str, tuple[int, int]]:
    pos, hit = y == cls, f == cls
    return {"selection_rate": (int(hit.sum()), len(y)), "tpr": (int((hit & pos).sum()), int(pos.sum())),
            "fpr": (int((hit & ~pos).sum()), int((~pos).sum()))}


class MulticlassFairnessCheck(_TaskFairnessBase):
    """Group fairness of a multiclass classifier, one class against the rest, with a confusion matrix per group."""

    id = "fairness.multiclass"
    title = "Group fairness of a multiclass classifier"
    description = ("For every class one-vs-rest: selection rate, TPR and FPR per group (Wilson), their differences "
                   "(Newcombe) and ratios (MOVER, log scale) of the unprivileged group against the privileged one; "
                   "accuracy per group; a confusion matrix per group. Per-group values from fairlearn "
                   "MetricFrame.")
    tasks = frozenset({"multiclass-classification"})
    Params = TaskFairnessParams
    metrics = (
        MetricSpec("group_size", "Rows in a group", unit="rows", subject=GROUP),
        MetricSpec("selection_rate", "Share of a group predicted as the class (Wilson)", unit="fraction",
                   subject=GROUP_CLASS),
        MetricSpec("tpr", "Share of a group's rows of the class predicted as the class (Wilson)",
                   direction="higher_is_better", unit="fraction", subject=GROUP_CLASS),
        MetricSpec("fpr", "Share of a group's rows of other classes predicted as the class (Wilson)",
                   direction="lower_is_better", unit="fraction", subject=GROUP_CLASS),
        MetricSpec("accuracy", "Share of a group's rows (or of all rows) predicted correctly (Wilson)",
                   direction="higher_is_better", unit="fraction", subject=GROUP),
        *(MetricSpec(f"{k}_difference", f"{k} of the class, unprivileged group minus privileged group (Newcombe)",
                     direction="closer_to_zero", unit="fraction", subject=PAIR_CLASS) for k in MC_RATES),
        *(MetricSpec(f"{k}_ratio", f"{k} of the class, unprivileged group over privileged group (MOVER, log, "
                     "Wilson); selection_rate_ratio is the class's disparate impact", direction="closer_to_one",
                     subject=PAIR_CLASS) for k in MC_RATES),
        MetricSpec("accuracy_difference", "Accuracy of the unprivileged group minus the privileged group's "
                   "(Newcombe)", direction="closer_to_zero", unit="fraction", subject=PAIR),
    )

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        from sklearn.metrics import confusion_matrix

        p: TaskFairnessParams = params
        level = p.confidence
        y = np.asarray(ctx.target, dtype=object)
        f = np.asarray(ctx.prediction, dtype=object)
        classes = list(ctx.classes)
        comps = cached_comparisons(ctx, p.intersections, p.per_value, p.max_values)
        fns = multiclass_metrics(classes)
        metrics: list[Metric] = []
        rate_rows: list[list[Any]] = []
        diff_rows: list[list[Any]] = []
        tables: list[Table] = []
        matrices: dict[str, dict[str, Any]] = {}
        seen: set[str] = set()
        for c in comps:
            vu, vp, n_u, n_p = metric_frame(fns, y, f, c)
            point = {False: {k: _num(v) for k, v in vu.items()}, True: {k: _num(v) for k, v in vp.items()}}
            kn: dict[bool, dict[str, dict[str, tuple[int, int]]]] = {}
            acc_kn: dict[bool, tuple[int, int]] = {}
            for priv in (False, True):
                rows = c.codes == (1 if priv else 0)
                ys, fs = y[rows], f[rows]
                kn[priv] = {cls: _class_counts(ys, fs, cls) for cls in classes}
                acc_kn[priv] = (int((ys == fs).sum()), len(ys))
            for priv, group, n in ((True, c.reference, n_p), (False, c.group, n_u)):
                gkey = f"{c.attribute}={group}"
                if gkey in seen:
                    continue
                seen.add(gkey)
                rows = c.codes == (1 if priv else 0)
                metrics.append(_group_metric("group_size", float(n), None, n, c.attribute, group, p, unit="rows"))
                acc = point[priv]["accuracy"]
                metrics.append(_group_metric("accuracy", acc, _interval(
                    stats.wilson(*acc_kn[priv], level) if n else None, acc, level, "wilson"), n, c.attribute, group,
                    p))
                for cls in classes:
                    vals = []
                    for k in MC_RATES:
                        v = point[priv][f"{k}|{cls}"]
                        k_, n_ = kn[priv][cls][k]
                        metrics.append(_group_metric(k, v, _interval(stats.wilson(k_, n_, level) if n_ else None, v,
                                                                     level, "wilson"), n, c.attribute, group, p,
                                                     class_label=cls))
                        vals.append(v)
                    rate_rows.append([gkey, cls, n, *vals])
                cm = confusion_matrix(y[rows], f[rows], labels=classes) if n else np.zeros((len(classes),) * 2, int)
                matrices[gkey] = {"labels": classes, "matrix": cm.astype(int).tolist(), "n": n}
                tables.append(Table(title=f"Confusion matrix, {gkey} (rows: true class, columns: predicted)",
                                    columns=["true \\ predicted", *classes],
                                    rows=[[cls, *map(int, cm[i])] for i, cls in enumerate(classes)]))
            for cls in classes:
                row: list[Any] = [c.subject, cls, n_u, n_p]
                for k in MC_RATES:
                    a, b = point[False][f"{k}|{cls}"], point[True][f"{k}|{cls}"]
                    ka, kb = kn[False][cls][k], kn[True][cls][k]
                    d = a - b if a is not None and b is not None else None
                    r = _ratio(a, b)
                    ok = ka[1] > 0 and kb[1] > 0
                    metrics.append(_pair_metric(
                        f"{k}_difference", d,
                        _interval(stats.newcombe(*ka, *kb, level) if ok else None, d, level, "newcombe-wilson"),
                        c, n_u, n_p, p, "a group has no rows in the denominator", class_label=cls))
                    metrics.append(_pair_metric(
                        f"{k}_ratio", r,
                        _interval(stats.ratio_interval(*ka, *kb, level) if ok else None, r, level,
                                  "mover-log-wilson"),
                        c, n_u, n_p, p, "the privileged group's rate is 0 or has no denominator", class_label=cls))
                    row += [d, r]
                diff_rows.append(row)
            a, b = point[False]["accuracy"], point[True]["accuracy"]
            d = a - b if a is not None and b is not None else None
            metrics.append(_pair_metric(
                "accuracy_difference", d,
                _interval(stats.newcombe(*acc_kn[False], *acc_kn[True], level) if min(n_u, n_p) else None, d,
                          level, "newcombe-wilson"), c, n_u, n_p, p, "a group has no rows"))
        n = len(y)
        acc_all = float(np.mean(y == f))
        metrics.append(Metric(name="accuracy", value=acc_all, n=n, subject="all rows",
                              ci=_interval(stats.wilson(int((y == f).sum()), n, level), acc_all, level, "wilson")))
        overall_cm = confusion_matrix(y, f, labels=classes)
        tables = [
            Table(title="One-vs-rest rates by group and class", columns=["group", "class", "n", *MC_RATES],
                  rows=rate_rows),
            Table(title="Differences and ratios per class (unprivileged vs privileged)",
                  columns=["comparison", "class", "n unprivileged", "n privileged",
                           *(f"{k} {w}" for k in MC_RATES for w in ("diff.", "ratio"))], rows=diff_rows),
            Table(title="Confusion matrix, all rows (rows: true class, columns: predicted)",
                  columns=["true \\ predicted", *classes],
                  rows=[[cls, *map(int, overall_cm[i])] for i, cls in enumerate(classes)]),
            *tables,
        ]
        worst = min((m for m in metrics if m.name == "selection_rate_ratio" and m.value is not None and m.judged),
                    key=lambda m: m.value if m.value is not None else 1.0, default=None)
        summary = f"{len(comps)} comparisons x {len(classes)} classes on {n} rows; accuracy {acc_all:.3f}"
        if worst is not None and worst.value is not None:
            summary += f"; lowest selection-rate ratio {worst.value:.3f} ({worst.subject})"
        return CheckOutput(
            metrics=metrics, tables=tables, summary=summary,
            evidence={"n": n, "classes": classes, "comparisons": [c.subject for c in comps],
                      "confusion_matrices": {"all rows": {"labels": classes, "matrix": overall_cm.astype(int).tolist(),
                                                          "n": n}, **matrices},
                      "confidence": level, "min_group_size": p.min_group_size, "group_metrics": "fairlearn MetricFrame",
                      "intervals": {"rates": "wilson", "differences": "newcombe-wilson",
                                    "ratios": "mover-log-wilson"}},
        )
