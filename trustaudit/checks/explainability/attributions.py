"""SHAP attributions per original column, computed once per audit and shared by the explainability checks.

Explainer choice (``explainer: auto``):

* **tree**: ``shap.TreeExplainer`` (interventional) on the final estimator of a scikit-learn pipeline
  (decision trees, random forests, extra trees, gradient boosting, HistGradientBoosting, XGBoost/LightGBM
  scikit-learn wrappers) over the transformed matrix, or on an XGBoost/LightGBM booster loaded by the bundle
  loader over the (numeric) input columns. Explains the model's raw output (``tree_output``): log-odds for
  boosting, probability for forests.
* **linear**: ``shap.LinearExplainer`` (independent masker) for logistic regression; explains the log-odds.
* **permutation**: the model-agnostic antithetic permutation estimator (:mod:`.permutation`) on the original
  columns through ``ctx.predict_favorable_proba`` for everything else (ONNX, other scikit-learn models, or when
  the fast explainers refuse a model); explains P(favourable) (or its log-odds, ``permutation_output``).

The background is two independent seeded stratified samples of the evaluation data (``ctx.sample``), each half the
requested size. SHAP values with interventional masking are linear in the background distribution, so explaining
against each half and averaging is exactly the explanation against the pooled background at the same cost, and
comparing the two halves measures how much the ranking depends on the background (``stability_spearman``).
Attributions in the transformed space are summed per original column (``FeatureSpace.groups()``).
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from trustaudit.checks.base import CheckParams
from trustaudit.errors import SkipCheck

if TYPE_CHECKING:
    from trustaudit.context import AuditContext

ExplainerKind = Literal["auto", "tree", "linear", "permutation"]

# Model types by top-level package and class name (a subclass counts as its base class).
_TREE_TYPES = frozenset(
    {
        "sklearn.DecisionTreeClassifier",
        "sklearn.ExtraTreeClassifier",
        "sklearn.RandomForestClassifier",
        "sklearn.ExtraTreesClassifier",
        "sklearn.GradientBoostingClassifier",
        "sklearn.HistGradientBoostingClassifier",
        "xgboost.XGBClassifier",
        "xgboost.Booster",
        "lightgbm.LGBMClassifier",
        "lightgbm.Booster",
    }
)
_LINEAR_TYPES = frozenset(
    {
        "sklearn.LogisticRegression",
        "sklearn.LogisticRegressionCV",
        "sklearn.SGDClassifier",
    }
)
_BOOSTERS = frozenset({"xgboost.Booster", "lightgbm.Booster"})


class ShapParams(CheckParams):
    """Parameters of the SHAP computation (shared by every explainability check)."""

    explainer: ExplainerKind = Field("auto", description="auto | tree | linear | permutation")
    rows: int = Field(1000, ge=10, description="Rows explained by the tree and linear explainers")
    background: int = Field(100, ge=4, description="Background rows (two independent halves) for tree/linear")
    permutation_rows: int = Field(200, ge=10, description="Rows explained by the model-agnostic explainer")
    permutation_background: int = Field(
        50, ge=4, description="Background rows (two halves) for the model-agnostic explainer"
    )
    permutations: int = Field(
        4, ge=1, le=100, description="Forward/backward orderings per row (model-agnostic explainer)"
    )
    permutation_output: Literal["probability", "log-odds"] = Field(
        "probability", description="Output explained by the model-agnostic explainer"
    )
    time_limit_s: float = Field(
        120.0,
        gt=0,
        description="Wall-time cap of the model-agnostic explainer; when "
        "reached, fewer rows are explained (reported, and then time-dependent)",
    )
    bootstrap: int = Field(1000, ge=0, le=100_000, description="Bootstrap resamples of the explained rows")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of the intervals")

    def shap_key(self) -> tuple[Any, ...]:
        return (
            self.explainer,
            self.rows,
            self.background,
            self.permutation_rows,
            self.permutation_background,
            self.permutations,
            self.permutation_output,
            self.time_limit_s,
        )


@dataclass
class Attributions:
    """SHAP values per original column for a sample of evaluation rows."""

    method: Literal["tree", "linear", "permutation"]
    explainer: str  # human-readable: "shap.TreeExplainer (interventional)"
    output: Literal["log-odds", "probability", "raw"]
    output_label: str  # "log-odds of P(income = >50K)"
    features: list[str]  # original columns, in the model's input order
    rows: np.ndarray  # indices into ctx.data of the explained rows
    halves: list[np.ndarray]  # per background half: (n, F) values per original column
    base_halves: list[float]
    model_output: np.ndarray  # (n,) the model's own output at the rows, for the additivity check
    background_rows: list[np.ndarray]
    n_inputs: int  # columns the explainer saw (transformed width for tree/linear)
    seconds: float
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def _weights(self) -> np.ndarray:
        w = np.array([len(b) for b in self.background_rows], dtype=np.float64)
        return w / w.sum()

    @cached_property
    def values(self) -> np.ndarray:
        """(n, F) SHAP values against the pooled background (row-weighted mean over the halves)."""
        return np.tensordot(self._weights, np.stack(self.halves), axes=1)

    @property
    def base(self) -> float:
        return float(np.dot(self._weights, self.base_halves))

    @property
    def n(self) -> int:
        return len(self.rows)


def import_shap() -> Any:
    """Import shap quietly (its import emits matplotlib/numba deprecation warnings)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import shap
    except ImportError:
        raise SkipCheck("the shap package is not installed: pip install shap") from None
    return shap


def _type_name(obj: Any, known: frozenset[str] = frozenset()) -> str:
    """``package.Class`` of an object (``sklearn.HistGradientBoostingClassifier``), or of the first base class
    in ``known``."""
    names = [f"{c.__module__.split('.')[0]}.{c.__name__}" for c in type(obj).__mro__]
    return next((n for n in names if n in known), names[0])


def _is_tree(est: Any) -> bool:
    return _type_name(est, _TREE_TYPES) in _TREE_TYPES


def _is_linear(est: Any) -> bool:
    name = _type_name(est, _LINEAR_TYPES)
    if name not in _LINEAR_TYPES:
        return False
    coef = getattr(est, "coef_", None)
    if coef is None or np.asarray(coef).ndim != 2 or np.asarray(coef).shape[0] != 1:
        return False  # multinomial: not a single log-odds
    return not (name.endswith("SGDClassifier") and getattr(est, "loss", "") != "log_loss")


def _favourable_name(ctx: AuditContext) -> str:
    spec = ctx.bundle.spec
    return f"P({spec.label} = {spec.favorable_label})"


def _orient(values: np.ndarray, base: Any, fav: int, n_classes: int) -> tuple[np.ndarray, float]:
    """Pick the favourable class's output from a (n, M[, k]) SHAP array and its expected value."""
    base_arr = np.atleast_1d(np.asarray(base, dtype=np.float64))
    if values.ndim == 3:
        k = fav if values.shape[2] == n_classes else values.shape[2] - 1
        return values[:, :, k], float(base_arr[k])
    if fav == 0 and n_classes == 2:  # single output is the score of class 1
        return -values, -float(base_arr[0])
    return values, float(base_arr[0])


def _group_matrix(sources: list[str], features: list[str]) -> np.ndarray:
    g = np.zeros((len(sources), len(features)))
    pos = {f: i for i, f in enumerate(features)}
    for j, s in enumerate(sources):
        g[j, pos[s]] = 1.0
    return g


def _features_in_order(ctx: AuditContext, sources: list[str]) -> list[str]:
    seen = list(dict.fromkeys(sources))
    ordered = [c for c in ctx.feature_columns if c in seen]
    return ordered + [s for s in seen if s not in ordered]


# -- tree and linear ------------------------------------------------------------------------------------------


def _native_raw_output(est: Any, Z: np.ndarray, output: str, fav: int, n_classes: int) -> np.ndarray | None:
    """The model's own raw output at Z (for the additivity check), independent of shap's tree traversal."""
    name = _type_name(est, _TREE_TYPES)
    try:
        if output == "probability":
            return np.asarray(est.predict_proba(Z))[:, fav]
        if name == "xgboost.Booster":
            import xgboost as xgb

            raw = np.asarray(est.predict(xgb.DMatrix(Z, feature_names=est.feature_names), output_margin=True))
        elif name == "lightgbm.Booster":
            raw = np.asarray(est.predict(Z, raw_score=True))
        elif name == "xgboost.XGBClassifier":
            raw = np.asarray(est.predict(Z, output_margin=True))
        elif name == "lightgbm.LGBMClassifier":
            raw = np.asarray(est.predict(Z, raw_score=True))
        elif hasattr(est, "decision_function"):
            raw = np.asarray(est.decision_function(Z))
        else:
            return None
    except Exception:
        return None
    if raw.ndim == 2:
        return raw[:, fav]
    return -raw if fav == 0 and n_classes == 2 else raw


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), with p kept within [1e-15, 1 - 1e-15] (log-odds +-34.5): a probability that rounded
    to 0 or 1 has lost its log-odds."""
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-15, 1 - 1e-15)
    return np.log(q) - np.log1p(-q)


def _from_scores(ctx: AuditContext, rows: np.ndarray, output: str) -> np.ndarray:
    """The explained output from the audited predictions (P(favourable) computed once per audit)."""
    scores = ctx.scores
    assert scores is not None
    p = np.asarray(scores[rows], dtype=np.float64)
    return logit(p) if output == "log-odds" else p


def _fast_space(ctx: AuditContext) -> tuple[Any, Any, list[str]] | None:
    """(estimator, every evaluation row in the estimator's input space, source column of each input column) for
    tree/linear explainers. The rows are an array-like that transforms only the rows indexed (``Z[rows]``): the
    explainers see about a thousand rows, however many the evaluation data has."""
    from trustaudit.features import LazyRows, feature_space

    fs = feature_space(ctx)
    if fs is not None:
        return fs.estimator, fs.view(), list(fs.source)
    native = ctx.model.native
    if _type_name(native, _BOOSTERS) in _BOOSTERS:
        cols = list(ctx.model.feature_names or ctx.feature_columns)
        X = ctx.X[cols]
        if all(pd.api.types.is_numeric_dtype(X[c]) for c in cols):
            def take(idx: np.ndarray) -> np.ndarray:
                return X.iloc[idx].to_numpy(dtype=np.float64, na_value=np.nan)

            return native, LazyRows(len(X), len(cols), take), cols
    return None


#: Fewest explained rows per worker for which splitting the tree explainer across an executor pays (its task
#: overhead and the pickled explainer cost ~0.1-0.3 s; one row of interventional TreeSHAP ~2 ms on Adult HGB).
SPLIT_MIN_ROWS = 256


def shap_values_chunk(rows: np.ndarray, *, explainer: Any, tree: bool) -> np.ndarray:
    """SHAP values of a chunk of rows (module level, so executor workers can import it)."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore", (DeprecationWarning, FutureWarning))
        sv = explainer.shap_values(rows, check_additivity=False) if tree else explainer.shap_values(rows)
    return np.asarray(sv, dtype=np.float64)


def _split_rows(explainer: Any, X: np.ndarray, *, tree: bool) -> np.ndarray:
    """The explainer's SHAP values of rows X, split across the current executor's workers when there are
    several (:func:`trustaudit.executors.use_executor`, ``audit(executor=...)``) and enough rows: each row's
    values depend on that row and the background only, so the result is the same however the rows are split."""
    from trustaudit.executors import current_executor, map_rows

    ex = current_executor()
    if not tree or ex.workers < 2 or len(X) < 2 * SPLIT_MIN_ROWS:
        return shap_values_chunk(X, explainer=explainer, tree=tree)
    chunk = max(SPLIT_MIN_ROWS, -(-len(X) // ex.workers))
    out: np.ndarray = map_rows(shap_values_chunk, X, executor=ex, chunk_rows=chunk,
                               shared={"explainer": explainer, "tree": tree})
    return out


def _tree_or_linear(
    ctx: AuditContext, p: ShapParams, kind: str, est: Any, Z: Any, sources: list[str]
) -> Attributions:
    shap = import_shap()
    t0 = time.perf_counter()
    rows = ctx.sample(p.rows, "explainability.rows")
    halves_idx = [ctx.sample(max(1, p.background // 2), f"explainability.background.{h}") for h in "ab"]
    fav = ctx.favorable_index
    n_classes = len(ctx.model.classes) or 2
    X = Z[rows]
    halves, bases = [], []
    output: Literal["log-odds", "probability", "raw"]
    # shap's C extension draws a progress bar on sys.stderr after 10 s; it would garble the CLI's output
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore", (DeprecationWarning, FutureWarning))
        for bidx in halves_idx:
            # an explicit masker: given a bare array, shap silently keeps a random 100 of its rows
            masker = shap.maskers.Independent(Z[bidx], max_samples=len(bidx))
            if kind == "tree":
                expl = shap.TreeExplainer(est, data=masker, feature_perturbation="interventional")
                sv = _split_rows(expl, X, tree=True)
            else:
                expl = shap.LinearExplainer(est, masker)
                sv = _split_rows(expl, X, tree=False)
            v, b = _orient(np.asarray(sv, dtype=np.float64), expl.expected_value, fav, n_classes)
            halves.append(v)
            bases.append(b)
    if kind == "tree":
        tree_output = getattr(expl.model, "tree_output", None)
        output = (
            "log-odds"
            if tree_output == "log_odds"
            else "probability"
            if tree_output == "probability"
            else "raw"
        )
        label = f"{output} of {_favourable_name(ctx)}" if output != "raw" else f"raw score ({tree_output})"
        name = "shap.TreeExplainer (interventional)"
    else:
        output = "log-odds"
        label = f"log-odds of {_favourable_name(ctx)}"
        name = "shap.LinearExplainer (independent masker)"
    seconds = time.perf_counter() - t0
    ref = _native_raw_output(est, X, output, fav, n_classes)
    ref_source = "model's raw output"
    if ref is None and output != "raw":
        ref, ref_source = _from_scores(ctx, rows, output), "audited predictions"
    features = _features_in_order(ctx, sources)
    G = _group_matrix(sources, features)
    return Attributions(
        method=kind,  # type: ignore[arg-type]
        explainer=name,
        output=output,
        output_label=label,
        features=features,
        rows=rows,
        halves=[h @ G for h in halves],
        base_halves=bases,
        model_output=ref if ref is not None else np.full(len(rows), np.nan),
        background_rows=halves_idx,
        n_inputs=Z.shape[1],
        seconds=seconds,
        details={"estimator": _type_name(est), "reference_output": ref_source},
    )


# -- model-agnostic ---------------------------------------------------------------------------------------------


def _agnostic(ctx: AuditContext, p: ShapParams) -> Attributions:
    from trustaudit.checks.explainability.permutation import OrdinalCodec, permutation_shap

    t0 = time.perf_counter()
    X = ctx.X
    codec = OrdinalCodec(X)
    rows = ctx.sample(p.permutation_rows, "explainability.permutation.rows")
    halves_idx = [
        ctx.sample(max(1, p.permutation_background // 2), f"explainability.permutation.background.{h}")
        for h in "ab"
    ]
    log_odds = p.permutation_output == "log-odds"
    calls = [0]

    def f(Zb: np.ndarray) -> np.ndarray:
        calls[0] += 1
        prob = ctx.predict_favorable_proba(codec.decode(Zb))
        return logit(prob) if log_odds else prob

    res = permutation_shap(
        f,
        codec.encode(X.iloc[rows]),
        [codec.encode(X.iloc[b]) for b in halves_idx],
        permutations=p.permutations,
        rng=ctx.rng("explainability.permutations"),
        time_limit_s=p.time_limit_s,
    )
    explained = rows[res.order]
    keep = np.argsort(explained, kind="stable")  # back to row order
    msgs = []
    if res.stopped_early:
        msgs.append(
            f"time limit of {p.time_limit_s:g} s reached: {len(explained)} of {len(rows)} rows explained "
            "(the values now depend on machine speed)"
        )
    output: Literal["log-odds", "probability"] = "log-odds" if log_odds else "probability"
    return Attributions(
        method="permutation",
        explainer=f"permutation (antithetic, {p.permutations} orderings per row; algorithm of "
        "shap.PermutationExplainer)",
        output=output,
        output_label=f"{output} of {_favourable_name(ctx)}",
        features=list(codec.columns),
        rows=explained[keep],
        halves=[v[keep] for v in res.values],
        base_halves=res.base,
        model_output=_from_scores(ctx, explained[keep], output),
        background_rows=halves_idx,
        n_inputs=len(codec.columns),
        seconds=time.perf_counter() - t0,
        warnings=msgs,
        details={
            "model_rows_evaluated": res.model_rows,
            "model_calls": calls[0],
            "categorical_encoding": "ordinal codes (sorted values; missing = -1), decoded to the original values "
            "before every model call"
            if codec.categorical
            else None,
            "categorical_columns": codec.categorical,
            "reference_output": "audited predictions",
        },
    )


# -- entry point ----------------------------------------------------------------------------------------------


def compute_attributions(ctx: AuditContext, p: ShapParams) -> Attributions:
    """SHAP attributions for this audit (cached on the context per explainer parameters)."""
    key = f"explainability.attributions:{p.shap_key()!r}"
    if key in ctx.cache:
        return ctx.cache[key]
    if ctx.model is None:
        raise SkipCheck("the bundle has no model (predictions-only audit): SHAP needs the model")
    import_shap()
    notes: list[str] = []
    att: Attributions | None = None
    if p.explainer != "permutation":
        space = _fast_space(ctx)
        kind = None
        if space is not None:
            est = space[0]
            kind = "tree" if _is_tree(est) else "linear" if _is_linear(est) else None
        if p.explainer in ("tree", "linear") and kind != p.explainer:
            what = _type_name(space[0]) if space is not None else f"a {ctx.model.format} model"
            notes.append(
                f"explainer '{p.explainer}' does not apply to {what}; used the permutation explainer"
            )
        elif kind is not None and space is not None:
            try:
                att = _tree_or_linear(ctx, p, kind, *space)
            except SkipCheck:
                raise
            except Exception as exc:  # e.g. a tree type shap cannot read: fall back, say so
                notes.append(
                    f"{kind} explainer failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
                    "used the permutation explainer"
                )
    if att is None:
        att = _agnostic(ctx, p)
    att.warnings[:0] = notes
    ctx.cache[key] = att
    return att
