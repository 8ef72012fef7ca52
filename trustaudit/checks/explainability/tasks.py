"""SHAP attributions of a regressor and of each class of a multiclass classifier (``explainability.task_shap``).

The binary checks (:mod:`.checks`) explain one output, P(favourable) or its log-odds. A regressor has one output
(the predicted value, in the target's unit); a multiclass classifier has one per class, explained one class at a
time. Explainers (``explainer: auto`` picks the first that applies):

* **tree**: ``shap.TreeExplainer`` (interventional, background from the training data else the evaluation data)
  on the final estimator of a scikit-learn pipeline over its transformed matrix: explains the raw output (the
  value for a regressor, the per-class margin for a boosted classifier);
* **linear**: ``shap.LinearExplainer`` (independent masker) on a linear model's coefficients, one class at a time
  for a multinomial model (its per-class logit, ``decision_function``);
* **permutation**: the model-agnostic antithetic permutation estimator of :mod:`.permutation` on the original
  columns (categoricals as ordinal codes), explaining the predicted value or each class's probability.

Attributions in the transformed space are summed per original column. Reported per output: mean |SHAP| and share
of each feature (BCa over the explained rows), the share carried by each protected attribute's own columns,
additivity (model output minus base value plus the sum of the attributions) and the stability of the ranking
across two halves of the rows.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from trustaudit import stats
from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec, SubjectField
from trustaudit.context import AuditContext
from trustaudit.errors import SkipCheck
from trustaudit.results import Artifact, Metric, Table

__all__ = ["TaskShapCheck"]

_TREE = ("DecisionTree", "ExtraTree", "RandomForest", "ExtraTrees", "GradientBoosting", "HistGradientBoosting",
         "XGB", "LGBM")
_LINEAR = ("LinearRegression", "Ridge", "Lasso", "ElasticNet", "LogisticRegression", "SGDRegressor", "HuberRegressor")


class TaskShapParams(CheckParams):
    explainer: Literal["auto", "tree", "linear", "permutation"] = Field("auto", description="auto | tree | linear "
                                                                         "| permutation")
    rows: int = Field(400, ge=10, description="Evaluation rows explained by the tree and linear explainers")
    background: int = Field(100, ge=1, description="Background rows (one shared, seeded draw)")
    permutation_rows: int = Field(100, ge=10, description="Rows explained by the model-agnostic explainer")
    permutations: int = Field(4, ge=1, le=100, description="Forward/backward orderings per row (model-agnostic)")
    bootstrap: int = Field(300, ge=0, le=100_000, description="Bootstrap resamples of the explained rows (BCa)")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of the intervals")
    proxy_threshold: float = Field(0.4, gt=0, le=1, description="Cramér's V with a protected attribute's groups at "
                                   "or above which a feature counts as its proxy")
    association_bins: int = Field(10, ge=2, le=100, description="Quantile bins of numeric features for Cramér's V")
    min_group_size: int = Field(30, ge=1, description="Explained rows a group needs for its output gap to be judged")


def _kind(est: Any) -> str | None:
    name = type(est).__name__
    if any(name.startswith(t) for t in _TREE):
        return "tree"
    if any(name.startswith(t) for t in _LINEAR):
        return "linear"
    return None


def _outputs(ctx: AuditContext) -> list[str]:
    return ["value"] if ctx.task == "regression" else list(ctx.classes)


def _shap() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import shap
    except ImportError:  # pragma: no cover - a core dependency
        raise SkipCheck("the shap package is not installed: pip install shap") from None
    return shap


def _background(ctx: AuditContext, n: int) -> pd.DataFrame:
    """A seeded background sample of the model's input columns: training data when it has them, else evaluation."""
    cols = list(ctx.feature_columns)
    train = ctx.training_data
    frame = train[cols] if train is not None and all(c in train.columns for c in cols) else ctx.X
    rng = ctx.rng("explainability.task_shap.background")
    idx = np.sort(rng.choice(len(frame), size=min(n, len(frame)), replace=False))
    return frame.iloc[idx]


def _fast(ctx: AuditContext, p: TaskShapParams, rows: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray],
                                                                            list[str], str] | None:
    """Tree or linear SHAP in the transformed space: ({output: (rows, M) values}, {output: additivity error},
    source column of each transformed column, explainer), or None when neither explainer applies."""
    from trustaudit.features import feature_space

    fs = feature_space(ctx)
    if fs is None:
        return None
    est = fs.estimator
    kind = _kind(est) if p.explainer == "auto" else p.explainer
    if kind not in ("tree", "linear") or _kind(est) != kind:
        return None
    shap = _shap()
    Z = fs.rows(rows)
    bg = fs.transform(_background(ctx, p.background))
    outputs = _outputs(ctx)
    regression = ctx.task == "regression"
    raw = np.asarray(est.predict(Z) if regression else est.decision_function(Z), dtype=float)
    raw = raw.reshape(len(Z), -1)
    values: dict[str, np.ndarray] = {}
    errors: dict[str, np.ndarray] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "tree":
            explainer = shap.TreeExplainer(est, data=bg, feature_perturbation="interventional")
            sv = np.asarray(explainer.shap_values(Z, check_additivity=False), dtype=float)
            base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
            if sv.ndim == 2:
                sv = sv[:, :, None]
            for j, out in enumerate(outputs):
                values[out] = sv[:, :, j]
                errors[out] = np.abs(raw[:, j] - (base[j] + values[out].sum(axis=1)))
        else:
            coef = np.atleast_2d(np.asarray(est.coef_, dtype=float))
            intercept = np.atleast_1d(np.asarray(est.intercept_, dtype=float))
            masker = shap.maskers.Independent(bg, max_samples=len(bg))
            for j, out in enumerate(outputs):
                explainer = shap.LinearExplainer((coef[j], intercept[j]), masker)
                values[out] = np.asarray(explainer.shap_values(Z), dtype=float)
                base_j = float(np.atleast_1d(explainer.expected_value)[0])
                errors[out] = np.abs(raw[:, j] - (base_j + values[out].sum(axis=1)))
    return values, errors, list(fs.source), kind


def _permutation(ctx: AuditContext, p: TaskShapParams, rows: np.ndarray) -> tuple[dict[str, np.ndarray],
                                                                                 dict[str, np.ndarray], list[str]]:
    from trustaudit.checks.explainability.permutation import OrdinalCodec, permutation_shap

    cols = list(ctx.feature_columns)
    codec = OrdinalCodec(pd.concat([ctx.X, _background(ctx, p.background)], ignore_index=True))
    X = codec.encode(ctx.X.iloc[rows])
    bg = codec.encode(_background(ctx, p.background))
    values: dict[str, np.ndarray] = {}
    errors: dict[str, np.ndarray] = {}
    for j, out in enumerate(_outputs(ctx)):
        def f(Z: np.ndarray, j: int = j) -> np.ndarray:
            o = ctx.predict_output(codec.decode(Z))
            return o if o.ndim == 1 else o[:, j]

        res = permutation_shap(f, X, bg, permutations=p.permutations, rng=ctx.rng(f"explainability.task_shap:{out}"))
        back = np.empty(len(res.order), dtype=np.int64)
        back[res.order] = np.arange(len(res.order))
        values[out] = res.values[back]
        errors[out] = np.abs(res.fx[back] - (res.base[back] + values[out].sum(axis=1)))
    return values, errors, cols


class TaskShapCheck(Check):
    """SHAP of a regressor or of each class of a multiclass classifier: importance, protected reliance, fidelity."""

    id = "explainability.task_shap"
    category = "explainability"
    title = "SHAP attributions (regression / per class)"
    version = "1.0"
    description = ("Mean |SHAP| and importance share per feature (BCa over rows) of a regressor's prediction or of "
                   "each class of a multiclass classifier (tree, linear or model-agnostic permutation explainer), the "
                   "share carried by each protected attribute, additivity and ranking stability.")
    requires = frozenset({"model"})
    tasks = frozenset({"regression", "multiclass-classification"})
    Params = TaskShapParams
    _F: tuple[SubjectField, ...] = ("attribute", "class_label")
    metrics = (
        MetricSpec("mean_abs_shap", "Mean |SHAP| of a feature for an output (regression: class_label 'value'; BCa)",
                   unit="output units", subject=_F),
        MetricSpec("importance_share", "A feature's share of the output's total mean |SHAP| (BCa)", subject=_F),
        MetricSpec("protected_attribution_share", "Share of the output's total mean |SHAP| on a protected "
                   "attribute's own columns (BCa)", direction="lower_is_better", subject=_F),
        MetricSpec("proxy_attribution_share", "Share of the output's total mean |SHAP| on features associated with "
                   "a protected attribute (Cramér's V >= proxy_threshold; BCa)", direction="lower_is_better",
                   subject=_F),
        MetricSpec("group_output_gap", "Mean summed SHAP values (output minus the row's base value) of the "
                   "unprivileged group minus the privileged group's, among the explained rows (MOVER of t intervals)",
                   direction="closer_to_zero", unit="output units",
                   subject=("attribute", "group", "reference", "class_label")),
        MetricSpec("additivity_error_max", "Largest |output - (base value + sum of SHAP values)| over the explained "
                   "rows", direction="lower_is_better", unit="output units", subject=("class_label",)),
        MetricSpec("stability_spearman", "Spearman correlation of the feature rankings of two halves of the rows",
                   direction="higher_is_better", subject=("class_label",)),
    )

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        from scipy.stats import spearmanr

        p: TaskShapParams = params
        level = p.confidence
        rows = ctx.sample(p.rows, "explainability.task_shap")
        fast = None if p.explainer == "permutation" else _fast(ctx, p, rows)
        if fast is not None:
            values, errors, source, kind = fast
            unit = "value" if ctx.task == "regression" else "logit / margin of the class"
        else:
            if p.explainer in ("tree", "linear"):
                raise SkipCheck(f"the {p.explainer} explainer does not apply to this model; use explainer: auto")
            rows = ctx.sample(p.permutation_rows, "explainability.task_shap.permutation")
            values, errors, source = _permutation(ctx, p, rows)
            kind = "permutation"
            unit = "value" if ctx.task == "regression" else "probability of the class"
        features = list(dict.fromkeys(source))
        group = np.zeros((len(source), len(features)))
        for i, s in enumerate(source):
            group[i, features.index(s)] = 1.0
        protected = [a for a in ctx.protected if a in features]
        from trustaudit.checks.explainability.checks import associations, proxies_of
        from trustaudit.groups import build_comparisons

        proxies = proxies_of(associations(ctx, features, p.association_bins), p.proxy_threshold) \
            if ctx.protected else {}
        comps = [c for c in build_comparisons(ctx, False, False, 12) if c.kind == "binary"] if ctx.protected else []
        metrics: list[Metric] = []
        rows_out: list[list[Any]] = []
        rng = ctx.rng(self.id)
        plotted: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # output -> (mean |SHAP|, low, high)
        for out, v in values.items():
            per_col = np.abs(v @ group)  # (rows, features): |sum of a column's transformed attributions|
            n = len(per_col)
            mean_abs = per_col.mean(axis=0)
            total = float(mean_abs.sum())
            lows, highs = np.full(len(features), np.nan), np.full(len(features), np.nan)
            plotted[out] = (mean_abs, lows, highs)

            for j, feat in enumerate(features):
                col = per_col[:, j]
                ci = stats.bootstrap_bca((col,), np.mean, p.bootstrap, rng, level) if p.bootstrap else None
                if ci is not None:
                    lows[j], highs[j] = ci.low, ci.high
                metrics.append(Metric(name="mean_abs_shap", value=float(mean_abs[j]), ci=ci, n=n, attribute=feat,
                                      class_label=out, subject=f"{feat} [{out}]"))
                sh = float(mean_abs[j] / total) if total > 0 else None
                sci = None
                if p.bootstrap and sh is not None:
                    sci = stats.bootstrap_bca((col, per_col.sum(axis=1)), _ratio_of_means, p.bootstrap, rng, level,
                                              paired=True)
                name = "protected_attribution_share" if feat in protected else "importance_share"
                metrics.append(Metric(name="importance_share", value=sh, ci=sci, n=n, attribute=feat, class_label=out,
                                      subject=f"{feat} [{out}]"))
                if name == "protected_attribution_share":
                    metrics.append(Metric(name=name, value=sh, ci=sci, n=n, attribute=feat, class_label=out,
                                          subject=f"{feat} [{out}]"))
            for attr, prox in proxies.items():
                cols = [features.index(f) for f in prox if f in features]
                proxy_col = per_col[:, cols].sum(axis=1) if cols else np.zeros(n)
                val = float(proxy_col.mean() / total) if total > 0 else None
                pci = stats.bootstrap_bca((proxy_col, per_col.sum(axis=1)), _ratio_of_means, p.bootstrap, rng,
                                          level, paired=True) if p.bootstrap and val and cols else None
                metrics.append(Metric(name="proxy_attribution_share", value=val, ci=pci, n=n, attribute=attr,
                                      class_label=out, subject=f"{attr} proxies ({', '.join(prox) or 'none'}) [{out}]"))
            summed = v.sum(axis=1)  # output minus the row's base value
            for c in comps:
                codes = c.codes[rows]
                u, pr = summed[codes == 0], summed[codes == 1]
                gap = float(u.mean() - pr.mean()) if len(u) and len(pr) else None
                gci = None
                tu, tp = _t(u, level), _t(pr, level)
                if gap is not None and tu is not None and tp is not None:
                    lo, hi = stats.mover_difference(float(u.mean()), tu, float(pr.mean()), tp)
                    gci = stats.interval((min(lo, gap), max(hi, gap)), level, "mover-student-t")
                ok = min(len(u), len(pr)) >= p.min_group_size and gap is not None
                metrics.append(Metric(name="group_output_gap", value=gap, ci=gci, n=len(u) + len(pr),
                                      attribute=c.attribute, group=c.group, reference=c.reference, class_label=out,
                                      subject=f"{c.subject} [{out}]", judged=ok,
                                      note=None if ok else f"fewer than {p.min_group_size} explained rows in a group"))
            half = n // 2
            rho = spearmanr(per_col[:half].mean(axis=0), per_col[half:].mean(axis=0)).statistic if n >= 20 and \
                len(features) > 1 else float("nan")
            metrics.append(Metric(name="additivity_error_max", value=float(errors[out].max()), n=n, class_label=out,
                                  subject=out))
            metrics.append(Metric(name="stability_spearman", value=float(rho) if np.isfinite(rho) else None, n=n,
                                  class_label=out, subject=out, judged=bool(np.isfinite(rho)),
                                  note=None if np.isfinite(rho) else "too few rows or features"))
            order = np.argsort(-mean_abs)
            rows_out += [[out, features[j], float(mean_abs[j]), float(mean_abs[j] / total) if total else None]
                         for j in order[:10]]
        top = {out: features[int(np.argmax(np.abs(v @ group).mean(axis=0)))] for out, v in values.items()}
        artifacts = _importance_plots(ctx, features, protected, proxies, plotted, n, level, unit)
        return CheckOutput(
            metrics=metrics,
            artifacts=artifacts,
            tables=[Table(title=f"Top features by mean |SHAP| per output ({kind} explainer; {unit})",
                          columns=["output", "feature", "mean |SHAP|", "share"], rows=rows_out)],
            summary=f"{kind} explainer, {len(values)} output(s); top feature " +
                    ", ".join(f"{o}: {f}" for o, f in top.items()),
            evidence={"explainer": kind, "explained_output": unit, "outputs": list(values), "rows": len(
                next(iter(values.values()))), "background": p.background, "protected_in_features": protected},
        )


def _importance_plots(ctx: AuditContext, features: list[str], protected: list[str], proxies: dict[str, list[str]],
                      plotted: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], n: int, level: float,
                      unit: str) -> list[Artifact]:
    """One importance chart per explained output (the regressor's value, or each class), as the binary SHAP
    check draws: mean |SHAP| with its BCa interval, protected attributes and their proxies coloured."""
    if ctx.out_dir is None:
        return []
    import re

    from trustaudit.checks.explainability.plots import importance_svg

    kinds = {f: "proxy" for fs in proxies.values() for f in fs}
    kinds.update({a: "protected" for a in protected})
    out: list[Artifact] = []
    for i, (label, (imp, low, high)) in enumerate(plotted.items()):
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", str(label)).strip("-") or f"output-{i}"
        rel = f"explainability/task_shap_importance_{i}_{slug}.svg"
        has_ci = bool(np.isfinite(low).all() and np.isfinite(high).all())
        importance_svg(ctx.out_dir / rel, features, imp, low if has_ci else None, high if has_ci else None, kinds,
                       f"mean |SHAP| ({unit})", f"Importance for {label} ({n} rows, {level:.0%} CI)")
        out.append(Artifact(path=rel, media_type="image/svg+xml",
                            title=f"SHAP global importance for {label} (mean |SHAP| with bootstrap interval)"))
    return out


def _t(x: np.ndarray, level: float) -> tuple[float, float] | None:
    from scipy.stats import t

    if len(x) < 2:
        return None
    half = float(t.ppf(0.5 + level / 2, len(x) - 1)) * float(x.std(ddof=1)) / np.sqrt(len(x))
    return float(x.mean()) - half, float(x.mean()) + half


def _ratio_of_means(a: np.ndarray, b: np.ndarray, axis: int = -1) -> Any:
    return np.mean(a, axis=axis) / np.maximum(np.mean(b, axis=axis), 1e-300)
