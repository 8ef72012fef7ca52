"""``lineage.reproducibility``: the model loads and predicts identically twice, and (for a scikit-learn
estimator with fixed random_state and declared training data) a refitted clone reproduces its predictions."""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
from pydantic import Field

from trustaudit.checks.base import Check, CheckOutput, CheckParams
from trustaudit.checks.lineage._common import CATEGORY, lineage_spec, rate_metric
from trustaudit.checks.lineage.data import training_label
from trustaudit.context import AuditContext
from trustaudit.results import Metric, Table


class ReproducibilityParams(CheckParams):
    sample_size: int = Field(1000, ge=10, description="Evaluation rows predicted by the reloaded models")
    refit: bool = Field(True, description="Refit a clone of a scikit-learn estimator on the training data")
    refit_sample_size: int = Field(2000, ge=10, description="Evaluation rows compared after the refit")
    refit_time_budget_s: float = Field(
        60.0, gt=0, description="Skip the refit when a pilot fit projects a longer fit (seconds)"
    )
    pilot_rows: int = Field(1000, ge=100, description="Rows of the timed pilot fit used for the projection")
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


def _reload(ctx: AuditContext) -> Any:
    from trustaudit.bundle import models as M
    from trustaudit.bundle.loader import _load_model

    manifest = ctx.bundle.manifest
    assert ctx.bundle.root is not None and manifest.model is not None
    # a pickle/joblib model is only loaded when the user opted in, so reloading it needs no new consent
    unsafe = ctx.model is not None and ctx.model.format in ("joblib", "pickle")
    adapter, _ = _load_model(manifest, ctx.bundle.root, allow_unsafe_pickle=unsafe)
    M.finish_onnx(adapter, ctx.X)
    return adapter


class ReproducibilityCheck(Check):
    id = "lineage.reproducibility"
    category = CATEGORY
    title = "Model reloads and refits reproducibly"
    version = "1.0"
    description = (
        "Loads the model file twice and compares predictions on a sample; refits a clone of a scikit-learn "
        "estimator with fixed random_state on the declared training data and reports the agreement rate."
    )
    Params = ReproducibilityParams
    requires = frozenset({"model"})

    def run(self, ctx: AuditContext, params: ReproducibilityParams) -> CheckOutput:
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
            out = self._refit(ctx, params, warn)
            if isinstance(out, str):
                reason = out
            else:
                agree_k, n, max_diff, fit_s = out
                metrics.append(rate_metric("refit_label_agreement", agree_k, n, conf,
                                           note="refitted clone vs the audited model's predictions"))
                metrics.append(Metric(name="refit_max_abs_diff", value=max_diff, n=n, unit="probability"))
                rows.append(["refit", "clone fitted on the training data", n, agree_k / n, max_diff])
                evidence["refit"] = {"rows_compared": n, "fit_seconds": round(fit_s, 3)}
                self._version_note(ctx, warn)
        if reason is not None:
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
    def _refit(ctx: AuditContext, params: ReproducibilityParams, warn: list[str]) -> tuple[int, int, float, float] | str:
        from sklearn.base import clone
        from threadpoolctl import threadpool_limits

        est = ctx.model.sklearn_estimator
        train = ctx.training_data
        assert est is not None and train is not None
        X = train[list(ctx.feature_columns)]
        y = train[training_label(ctx)]
        n = len(X)
        caught: list[warnings.WarningMessage] = []
        with warnings.catch_warnings(record=True) as rec, threadpool_limits(limits=params.threads):
            warnings.simplefilter("always")
            if n > 2 * params.pilot_rows:
                rng = ctx.rng("lineage.reproducibility:pilot")
                pick = np.sort(rng.choice(n, size=params.pilot_rows, replace=False))
                t0 = time.perf_counter()
                try:
                    clone(est).fit(X.iloc[pick], y.iloc[pick])
                except Exception as exc:  # a pilot on a subsample may fail (e.g. a class missing): fit anyway
                    warn.append(f"pilot fit failed ({type(exc).__name__}); the time budget was not projected")
                else:
                    projected = (time.perf_counter() - t0) * n / params.pilot_rows
                    if projected > params.refit_time_budget_s:
                        return (f"a pilot fit on {params.pilot_rows} rows projects {projected:.0f} s for {n} rows, "
                                f"over the {params.refit_time_budget_s:g} s budget (refit_time_budget_s)")
            t0 = time.perf_counter()
            refit = clone(est).fit(X, y)
            fit_s = time.perf_counter() - t0
            idx = ctx.sample(params.refit_sample_size, "lineage.reproducibility:refit")
            proba = refit.predict_proba(ctx.X.iloc[idx])
            caught = list(rec)
        for w in caught[:3]:
            warn.append(f"refit: {w.category.__name__}: {str(w.message).splitlines()[0]}")
        classes = [str(c) for c in refit.classes_]
        orig = [str(c) for c in ctx.model.classes]
        if classes != orig:
            return f"the refitted model has classes {classes}, the audited one {orig}"
        fav = ctx.favorable_index
        pred = (proba.argmax(axis=1) == fav).astype(np.int8)
        agree = int((pred == ctx.y_pred[idx]).sum())
        scores = ctx.scores
        max_diff = float(np.max(np.abs(proba[:, fav] - scores[idx]))) if scores is not None and len(idx) else 0.0
        return agree, len(idx), max_diff, fit_s

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
