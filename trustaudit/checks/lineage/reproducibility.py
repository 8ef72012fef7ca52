"""``lineage.reproducibility``: the model loads and predicts identically twice, and (for a scikit-learn
estimator with fixed random_state and declared training data) a refitted clone reproduces its predictions.

What is computed never depends on the clock: the rows compared are seeded samples of fixed size, and whether to
refit is decided by a count, the refit's *work* = training rows x input columns x iterations (the largest
``n_estimators`` / ``max_iter`` among the estimator's parameters, 1 when it has none), against ``refit_max_work``.
``refit_time_budget_s`` is only a safety stop: a fit cannot be interrupted, so a refit that ran past it is
reported with every refit metric not judged and a warning, never as a normal result.

Other tasks: a multiclass model is compared on its arg-max class (label agreement) and on every class's
probability (largest |difference|); a regressor on its predicted values: the largest and the mean |difference|
in the target's unit, and the largest over the standard deviation of the target on the evaluation data
(``*_value_max_diff_sd``, scale-free for rubric bounds).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
from pydantic import Field

from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec
from trustaudit.checks.lineage._common import CATEGORY, lineage_spec, rate_metric
from trustaudit.checks.lineage.data import training_label
from trustaudit.context import AuditContext
from trustaudit.results import Metric, Table


class ReproducibilityParams(CheckParams):
    sample_size: int = Field(1000, ge=10, description="Evaluation rows predicted by the reloaded models")
    refit: bool = Field(True, description="Refit a clone of a scikit-learn estimator on the training data")
    refit_sample_size: int = Field(2000, ge=10, description="Evaluation rows compared after the refit")
    refit_max_work: float = Field(
        2e9, gt=0, description="Refit only when training rows x input columns x iterations (largest n_estimators "
        "/ max_iter of the estimator, 1 if none) is at most this: a count, the same decision on every machine"
    )
    refit_time_budget_s: float = Field(
        600.0, gt=0, description="Safety stop (seconds): a refit that ran longer is reported, every refit metric "
        "not judged, with a warning; it decides nothing else"
    )
    threads: int = Field(
        1, ge=1, description="Threads for the refit (OpenMP estimators such as HistGradientBoosting slow down "
        "badly when their threads compete for busy cores; results do not depend on it)"
    )
    confidence: float = Field(0.95, gt=0, lt=1)


def random_state_problems(est: Any) -> list[str]:
    """Parameters named *random_state* that are not fixed integers (None or a RandomState object)."""
    params = est.get_params(deep=True)
    bad = []
    for key, val in sorted(params.items()):
        is_seed = key == "random_state" or key.endswith("__random_state")
        if is_seed and (val is None or not isinstance(val, (int, np.integer))):
            bad.append(f"{key}={val!r}")
    return bad


WORK_PARAMS = ("n_estimators", "max_iter")


def refit_work(est: Any, rows: int, columns: int) -> tuple[int, int]:
    """(work, iterations) of refitting ``est``: rows x columns x iterations, iterations being the largest integer
    ``n_estimators`` / ``max_iter`` among its (deep) parameters, 1 when it has none."""
    iters = [int(v) for k, v in est.get_params(deep=True).items()
             if k.rsplit("__", 1)[-1] in WORK_PARAMS and isinstance(v, (int, np.integer)) and not isinstance(v, bool)]
    it = max([1, *iters])
    return rows * columns * it, it


def _reload(ctx: AuditContext) -> Any:
    """Load the model file again under the policy of the first load (the auditor's trusted types and pickle
    consent, recorded on the bundle: no new consent, no wider trust)."""
    return ctx.bundle.reload_model()


class ReproducibilityCheck(Check):
    id = "lineage.reproducibility"
    category = CATEGORY
    title = "Model reloads and refits reproducibly"
    version = "1.1"
    description = (
        "Loads the model file twice and compares predictions on a seeded sample; refits a clone of a scikit-learn "
        "estimator with fixed random_state on the declared training data (when its work, rows x columns x "
        "iterations, is within refit_max_work) and reports the agreement rate."
    )
    Params = ReproducibilityParams
    requires = frozenset({"model"})
    tasks = frozenset({"binary-classification", "multiclass-classification", "regression"})

    metrics = (
        MetricSpec("reload_label_agreement",
                   "Share of sampled rows with the same predicted label after reloading the model file",
                   direction="higher_is_better"),
        MetricSpec("reload_max_abs_diff",
                   "Largest change of a probability after reloading the model file",
                   direction="lower_is_better", unit="probability"),
        MetricSpec("refit_label_agreement",
                   "Share of sampled rows with the same predicted label after refitting on the training data",
                   direction="higher_is_better"),
        MetricSpec("refit_max_abs_diff",
                   "Largest change of a probability after refitting (no value without scores)",
                   direction="lower_is_better", unit="probability"),
        # regressors: predicted values
        MetricSpec("reload_value_max_diff", "Regressor: largest |change of a predicted value| after reloading the "
                   "model file (target units)", direction="lower_is_better"),
        MetricSpec("reload_value_mean_diff", "Regressor: mean |change of a predicted value| after reloading the "
                   "model file (target units)", direction="lower_is_better"),
        MetricSpec("reload_value_max_diff_sd", "Regressor: reload_value_max_diff over the standard deviation of the "
                   "target (evaluation data)", direction="lower_is_better"),
        MetricSpec("refit_value_max_diff", "Regressor: largest |change of a predicted value| after refitting "
                   "(target units)", direction="lower_is_better"),
        MetricSpec("refit_value_mean_diff", "Regressor: mean |change of a predicted value| after refitting "
                   "(target units)", direction="lower_is_better"),
        MetricSpec("refit_value_max_diff_sd", "Regressor: refit_value_max_diff over the standard deviation of the "
                   "target (evaluation data)", direction="lower_is_better"),
    )

    def run(self, ctx: AuditContext, params: ReproducibilityParams) -> CheckOutput:
        if ctx.task != "binary-classification":
            return self._run_task(ctx, params)
        conf = params.confidence
        idx = ctx.sample(params.sample_size, "lineage.reproducibility")
        Xs = ctx.X.iloc[idx]
        fav = ctx.favorable_index
        audited = ctx.scores
        metrics: list[Metric] = []
        rows: list[list[object]] = []
        notes: list[str] = []
        warn: list[str] = []
        evidence: dict[str, Any] = {}

        # 1. load twice (or, in memory, predict twice with the same object) and compare with the audit
        if ctx.bundle.root is not None and ctx.bundle.manifest.model is not None:
            first, second = _reload(ctx), _reload(ctx)
            how = "two fresh loads of the model file"
        else:
            first = second = ctx.model
            how = "the in-memory model, predicted twice"
        P1, P2 = first.predict_proba(Xs), second.predict_proba(Xs)
        p1, p2 = P1[:, fav], P2[:, fav]
        ref = audited[idx] if audited is not None else p1
        diff = float(max(np.max(np.abs(p1 - p2)), np.max(np.abs(p1 - ref)))) if len(idx) else 0.0
        lab1, lab2 = P1.argmax(axis=1) == fav, P2.argmax(axis=1) == fav
        same = (lab1 == lab2) & (lab1 == ctx.y_pred[idx].astype(bool))
        metrics.append(rate_metric("reload_label_agreement", int(same.sum()), len(idx), conf,
                                   note=f"{how}, against the audited predictions"))
        metrics.append(Metric(name="reload_max_abs_diff", value=diff, n=len(idx), unit="probability"))
        rows.append(["reload", how, len(idx), float(same.mean()) if len(idx) else None, diff])
        evidence["reload"] = {"rows": len(idx), "how": how}

        # 2. refit a clone on the training data
        reason = self._refit_not_applicable(ctx, params)
        if reason is None:
            fitted = self._refit(ctx, params, warn)
            if isinstance(fitted, str):
                reason = fitted
            else:
                agree_k, n, max_diff, fit_s, work = self._binary_refit(ctx, fitted)
                fields: dict[str, Any] = {}
                if fit_s > params.refit_time_budget_s:
                    stop = (f"not judged: stopped early after {fit_s:.1f} s (the refit ran past the "
                            f"refit_time_budget_s = {params.refit_time_budget_s:g} s safety stop; the fit cannot be "
                            f"interrupted, so it completed, but a run this slow is not trusted as evidence)")
                    fields = {"judged": False, "note": stop}
                    warn.append(f"refit ran {fit_s:.1f} s, past the {params.refit_time_budget_s:g} s safety stop "
                                "(refit_time_budget_s): refit metrics are reported, not judged")
                metrics.append(rate_metric("refit_label_agreement", agree_k, n, conf,
                                           **(fields or {"note": "refitted clone vs the audited model's predictions"})))
                metrics.append(Metric(name="refit_max_abs_diff", value=max_diff, n=n, unit="probability", **fields))
                rows.append(["refit", "clone fitted on the training data", n, agree_k / n, max_diff])
                evidence["refit"] = {"rows_compared": n, **work, "fit_elapsed_s": round(fit_s, 3),
                                     "stopped_early": bool(fields)}
                self._version_note(ctx, warn)
        if reason is not None:
            for name in ("refit_label_agreement", "refit_max_abs_diff"):  # reported, not judged: no refit
                metrics.append(Metric(name=name, value=None, judged=False, note=f"refit skipped: {reason}"))
            notes.append(f"refit skipped: {reason}")
            rows.append(["refit", f"skipped: {reason}", None, None, None])
            evidence["refit"] = {"skipped": reason}

        summary = (f"reload: {same.mean():.1%} identical labels, max |Δp| {diff:.2g} on {len(idx)} rows"
                   if len(idx) else "no rows")
        refit_m = next((m for m in metrics if m.name == "refit_label_agreement"), None)
        if refit_m is not None and refit_m.value is not None:
            summary += f"; refit: {refit_m.value:.1%} of {refit_m.n} labels reproduced"
        else:
            summary += "; " + notes[-1] if notes else ""
        return CheckOutput(
            metrics=metrics,
            summary=summary,
            tables=[Table(title="Reproducibility", columns=["test", "how", "rows", "label agreement", "max |Δp|"],
                          rows=rows)],
            evidence=evidence,
            warnings=warn,
        )

    # -- refit ------------------------------------------------------------------------------------------
    @staticmethod
    def _refit_not_applicable(ctx: AuditContext, params: ReproducibilityParams) -> str | None:
        if not params.refit:
            return "disabled (refit: false)"
        est = ctx.model.sklearn_estimator if ctx.model is not None else None
        if est is None:
            return f"the model ({ctx.model.format if ctx.model else 'none'}) is not a scikit-learn estimator"
        train = ctx.training_data
        if train is None:
            return "the bundle declares no training data"
        bad = random_state_problems(est)
        if bad:
            return f"random_state is not fixed ({', '.join(bad[:3])}), so a refit is not expected to reproduce"
        label = training_label(ctx)
        if label not in train.columns:
            return f"the training data has no label column '{label}'"
        absent = [c for c in ctx.feature_columns if c not in train.columns]
        if absent:
            return f"the training data lacks model input column(s) {', '.join(absent[:5])}"
        return None

    @staticmethod
    def _refit(ctx: AuditContext, params: ReproducibilityParams,
               warn: list[str]) -> tuple[Any, np.ndarray, np.ndarray, float, dict[str, int]] | str:
        """(refitted clone, sampled rows, its outputs on them (values of a regressor, else probabilities), fit
        seconds, work budget), or why it was not refitted."""
        from sklearn.base import clone
        from threadpoolctl import threadpool_limits

        est = ctx.model.sklearn_estimator
        train = ctx.training_data
        assert est is not None and train is not None
        X = train[list(ctx.feature_columns)]
        y = train[training_label(ctx)]
        work, iters = refit_work(est, len(X), X.shape[1])
        budget = {"train_rows": len(X), "columns": X.shape[1], "iterations": iters, "work": work,
                  "refit_max_work": int(params.refit_max_work)}
        if work > params.refit_max_work:
            return (f"refit work {len(X)} rows x {X.shape[1]} columns x {iters} iterations = {work:.3g} is over "
                    f"refit_max_work = {params.refit_max_work:.3g}")
        caught: list[warnings.WarningMessage] = []
        with warnings.catch_warnings(record=True) as rec, threadpool_limits(limits=params.threads):
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            refit = clone(est).fit(X, y)
            fit_s = time.perf_counter() - t0
            idx = ctx.sample(params.refit_sample_size, "lineage.reproducibility:refit")
            Xr = ctx.X.iloc[idx]
            proba = refit.predict(Xr) if ctx.task == "regression" else refit.predict_proba(Xr)
            caught = list(rec)
        for w in caught[:3]:
            warn.append(f"refit: {w.category.__name__}: {str(w.message).splitlines()[0]}")
        if ctx.task != "regression":
            classes = [str(c) for c in refit.classes_]
            orig = [str(c) for c in ctx.model.classes]
            if classes != orig:
                return f"the refitted model has classes {classes}, the audited one {orig}"
        return refit, idx, np.asarray(proba, dtype=float), fit_s, budget

    @staticmethod
    def _binary_refit(ctx: AuditContext, fitted: tuple[Any, np.ndarray, np.ndarray, float, dict[str, int]]
                      ) -> tuple[int, int, float | None, float, dict[str, int]]:
        """(labels agreeing with the audit, rows, largest change of the favourable probability, fit s, budget)."""
        _, idx, proba, fit_s, budget = fitted
        fav = ctx.favorable_index
        pred = (proba.argmax(axis=1) == fav).astype(np.int8)
        agree = int((pred == ctx.y_pred[idx]).sum())
        scores = ctx.scores
        max_diff = float(np.max(np.abs(proba[:, fav] - scores[idx]))) if scores is not None and len(idx) else None
        return agree, len(idx), max_diff, fit_s, budget

    # -- multiclass and regression ------------------------------------------------------------------------
    def _run_task(self, ctx: AuditContext, params: ReproducibilityParams) -> CheckOutput:
        """Multiclass (class agreement, every class's probability) and regression (predicted values)."""
        conf = params.confidence
        regression = ctx.task == "regression"
        idx = ctx.sample(params.sample_size, "lineage.reproducibility")
        Xs = ctx.X.iloc[idx]
        metrics: list[Metric] = []
        rows: list[list[object]] = []
        notes: list[str] = []
        warn: list[str] = []
        evidence: dict[str, Any] = {"task": ctx.task}
        sd = float(np.std(np.asarray(ctx.target, dtype=float), ddof=1)) if regression and ctx.n_rows > 1 else None
        if regression:
            evidence["target_sd"] = sd
        names = np.asarray(ctx.classes, dtype=object) if not regression else None

        def output(model: Any, X: Any) -> np.ndarray:
            return np.asarray(model.predict_values(X) if regression else model.predict_proba(X), dtype=float)

        def audited(at: np.ndarray) -> np.ndarray:
            if regression:
                return np.asarray(ctx.prediction, dtype=float)[at]
            proba = ctx.class_proba
            assert proba is not None
            return np.asarray(proba[at], dtype=float)

        def compare(stage: str, outs: list[np.ndarray], at: np.ndarray, how: str, fields: dict[str, Any]) -> str:
            ref = audited(at)
            n = len(at)
            if regression:
                d = np.max(np.abs(np.vstack([o - ref for o in outs])), axis=0) if n else np.zeros(0)
                mx = float(d.max()) if n else 0.0
                mean = float(d.mean()) if n else 0.0
                rel = mx / sd if sd else None
                metrics.append(Metric(name=f"{stage}_value_max_diff", value=mx, n=n, subject=how, **fields))
                metrics.append(Metric(name=f"{stage}_value_mean_diff", value=mean, n=n, subject=how, **fields))
                f2 = dict(fields)
                if rel is None:
                    f2 = {"judged": False, "note": "the target is constant: no scale"}
                metrics.append(Metric(name=f"{stage}_value_max_diff_sd", value=rel, n=n, subject=how, **f2))
                rows.append([stage, how, n, mx, mean])
                return f"{stage}: max |Δ prediction| {mx:.3g} ({(rel or 0.0):.2g} sd of the target) on {n} rows"
            assert names is not None
            labels = [names[o.argmax(axis=1)] for o in outs]
            same = np.ones(n, dtype=bool)
            for lab in labels:
                same &= lab == ctx.prediction[at]
            mx = float(max(np.max(np.abs(o - ref)) for o in outs)) if n else 0.0
            if stage == "reload" and len(outs) == 2 and n:
                mx = max(mx, float(np.max(np.abs(outs[0] - outs[1]))))
            k = int(same.sum())
            metrics.append(rate_metric(f"{stage}_label_agreement", k, n, conf, **(fields or {
                "note": f"{how}: arg-max class against the audited predictions"})))
            metrics.append(Metric(name=f"{stage}_max_abs_diff", value=mx, n=n, unit="probability", **fields))
            rows.append([stage, how, n, k / n if n else None, mx])
            return f"{stage}: {k / n if n else 0.0:.1%} identical classes, max |Δp| {mx:.2g} on {n} rows"

        # 1. load twice and compare both with the audit
        if ctx.bundle.root is not None and ctx.bundle.manifest.model is not None:
            first, second = _reload(ctx), _reload(ctx)
            how = "two fresh loads of the model file"
        else:
            first = second = ctx.model
            how = "the in-memory model, predicted twice"
        parts = [compare("reload", [output(first, Xs), output(second, Xs)], idx, how, {})]
        evidence["reload"] = {"rows": len(idx), "how": how}

        # 2. refit a clone on the training data
        reason = self._refit_not_applicable(ctx, params)
        refit_names = (["refit_value_max_diff", "refit_value_mean_diff", "refit_value_max_diff_sd"] if regression
                       else ["refit_label_agreement", "refit_max_abs_diff"])
        if reason is None:
            out = self._refit(ctx, params, warn)
            if isinstance(out, str):
                reason = out
            else:
                _, at, o, fit_s, work = out
                fields: dict[str, Any] = {}
                if fit_s > params.refit_time_budget_s:
                    fields = {"judged": False, "note": f"not judged: stopped early after {fit_s:.1f} s (the "
                              f"refit ran past the refit_time_budget_s = {params.refit_time_budget_s:g} s "
                              "safety stop)"}
                    warn.append(f"refit ran {fit_s:.1f} s, past the {params.refit_time_budget_s:g} s safety "
                                "stop (refit_time_budget_s): refit metrics are reported, not judged")
                parts.append(compare("refit", [o], at, "clone fitted on the training data", fields))
                evidence["refit"] = {"rows_compared": len(at), **work, "fit_elapsed_s": round(fit_s, 3),
                                     "stopped_early": bool(fields)}
                self._version_note(ctx, warn)
        if reason is not None:
            for name in refit_names:
                metrics.append(Metric(name=name, value=None, judged=False, note=f"refit skipped: {reason}"))
            notes.append(f"refit skipped: {reason}")
            rows.append(["refit", f"skipped: {reason}", None, None, None])
            evidence["refit"] = {"skipped": reason}
            parts.append(notes[-1])
        columns = (["test", "how", "rows", "max |Δ prediction|", "mean |Δ prediction|"] if regression
                   else ["test", "how", "rows", "class agreement", "max |Δp| (any class)"])
        return CheckOutput(metrics=metrics, summary="; ".join(parts),
                           tables=[Table(title="Reproducibility", columns=columns, rows=rows)],
                           evidence=evidence, warnings=warn)

    @staticmethod
    def _version_note(ctx: AuditContext, warn: list[str]) -> None:
        try:
            spec = lineage_spec(ctx)
        except Exception:
            return
        declared = spec.training.framework_version if spec.training else None
        if declared is None:
            return
        import sklearn

        if declared != sklearn.__version__:
            warn.append(f"refit ran under scikit-learn {sklearn.__version__}; the model was trained with {declared}: "
                        "differences may come from the version")
