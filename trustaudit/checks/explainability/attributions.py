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

**Background** (:class:`Background`). Drawn from the bundle's training data when it has every model input column,
else from the evaluation data: every row up to ``background_pool`` rows, a seeded sample of that many beyond (the
*pool*).

* linear: the whole pool. With the independent masker a linear model's SHAP values are ``coef * (x - mean)``,
  so this is the exact expectation over the pool at no extra cost: no background sampling at all.
* tree and permutation: **each explained row gets its own background draw** of ``background`` (resp.
  ``permutation_background``) pool rows. The draws are consecutive slices of seeded permutations of the pool, so
  together they use every pool row equally often (once per pass; the last pass is partial): their union matches
  the data. The cost is the same as one shared background of that size (rows x background), but a background's
  sampling error is no longer shared by every explained row: it averages out over the rows, and because each
  (row, background draw) pair is independent of the others, resampling explained rows resamples backgrounds
  too, so the bootstrap interval covers both. A shared 106-row background, as before, moved capital-gain's
  mean |SHAP| by half its value (two rows with capital-gain 99,999).

Interventional SHAP of a tree explainer with a row's own background: one ``shap.TreeExplainer`` is built and
rebound to each row's background (:func:`_rebind`): building one costs 20-70 ms (parsing the trees), explaining a
row against 200 background rows 3-4 ms. Each row's base value is the mean tree output over its background
(shap's ``expected_value`` for that background). Attributions in the transformed space are summed per original column
(``FeatureSpace.groups()``).

Everything that decides what is computed is a count (rows, background rows, permutations) and the seed.
``time_limit_s`` is only a safety stop: a computation that reaches it is reported with ``stopped_early`` set, and
the checks then judge none of their metrics.
"""

from __future__ import annotations

import contextlib
import copy
import io
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from trustaudit.checks.base import CheckParams
from trustaudit.context import report_progress
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
    rows: int = Field(1000, ge=10, description="Evaluation rows explained by the tree and linear explainers")
    background: int = Field(
        200,
        ge=1,
        description="Background rows drawn for each explained row by the tree explainer (the linear explainer "
        "uses the whole background pool: its exact expectation)",
    )
    background_pool: int = Field(
        50_000,
        ge=100,
        description="Rows the backgrounds are drawn from: the training data (else the evaluation data), all of "
        "it up to this many rows, a seeded sample of this many beyond",
    )
    permutation_rows: int = Field(200, ge=10, description="Rows explained by the model-agnostic explainer")
    permutation_background: int = Field(
        50, ge=1, description="Background rows drawn for each row explained by the model-agnostic explainer"
    )
    permutations: int = Field(
        4, ge=1, le=100, description="Forward/backward orderings per row (model-agnostic explainer)"
    )
    permutation_output: Literal["probability", "log-odds"] = Field(
        "probability", description="Output explained by the model-agnostic explainer"
    )
    time_limit_s: float = Field(
        600.0,
        gt=0,
        description="Safety stop on the wall time of the SHAP computation (in-process runs): when reached, the "
        "rows explained so far are reported and no metric is judged",
    )
    bootstrap: int = Field(
        1000,
        ge=0,
        le=100_000,
        description="Bootstrap resamples of the explained rows, each with its own background draw (BCa "
        "intervals; 0: none)",
    )
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of the intervals")

    def shap_key(self) -> tuple[Any, ...]:
        return (
            self.explainer,
            self.rows,
            self.background,
            self.background_pool,
            self.permutation_rows,
            self.permutation_background,
            self.permutations,
            self.permutation_output,
            self.time_limit_s,
        )


#: Categories per column tracked by the background-balance measure (rarer ones are pooled as "other").
_BALANCE_LEVELS = 50


class BackgroundBalance:
    """How far a weighted set of pool rows is from the source data, per input column: the relative difference
    of the means for numeric columns (absolute when the data's mean is 0), the total variation distance of the
    category shares for the others (missing values count as a category).

    Built once per pool (a (pool rows, summary columns) matrix); :meth:`deviations` then costs one weighted sum,
    so that candidate draws can be compared cheaply."""

    def __init__(self, frame: pd.DataFrame, pool: np.ndarray) -> None:
        blocks: list[np.ndarray] = []
        self._spans: list[tuple[str, bool, slice, np.ndarray]] = []  # column, numeric?, columns in A, target
        width = 0
        sub = frame.iloc[pool]
        for c in frame.columns:
            col = frame[c]
            if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
                v = sub[c].to_numpy(dtype=np.float64, na_value=np.nan)
                ok = np.isfinite(v)
                block = np.column_stack([np.where(ok, v, 0.0), ok.astype(np.float64)])
                target = np.array([float(col.mean())])
                numeric = True
            else:
                keys = col.astype(object).where(col.notna(), "<missing>")
                shares = keys.value_counts(normalize=True)
                levels = list(shares.index[:_BALANCE_LEVELS])
                codes = pd.Categorical(keys.iloc[pool], categories=levels).codes.astype(np.int64)
                codes[codes < 0] = len(levels)  # other
                block = np.eye(len(levels) + 1)[codes]
                target = np.append(shares.to_numpy()[: len(levels)], shares.to_numpy()[len(levels):].sum())
                numeric = False
            self._spans.append((str(c), numeric, slice(width, width + block.shape[1]), target))
            blocks.append(block)
            width += block.shape[1]
        self.matrix = np.hstack(blocks) if blocks else np.zeros((len(pool), 0))

    def deviations(self, sums: np.ndarray) -> dict[str, float]:
        """Per column, the deviation of the pool rows weighted so that their summary columns add up to
        ``sums`` (e.g. ``counts @ matrix``)."""
        out: dict[str, float] = {}
        for c, numeric, span, target in self._spans:
            s = sums[span]
            if numeric:
                mean = s[0] / s[1] if s[1] > 0 else float("nan")
                out[c] = float(abs(mean - target[0]) / abs(target[0]) if target[0] != 0 else abs(mean - target[0]))
            else:
                out[c] = float(0.5 * np.abs(s / s.sum() - target).sum())
        return out

    def worst(self, sums: np.ndarray) -> float:
        dev = [v for v in self.deviations(sums).values() if np.isfinite(v)]
        return max(dev) if dev else 0.0


@dataclass
class Background:
    """Where the background rows come from and how each explained row's background was drawn."""

    source: Literal["training data", "evaluation data"]
    frame: pd.DataFrame  # every row of the source, model input columns (original space)
    pool: np.ndarray  # positions in ``frame`` of the rows backgrounds are drawn from (sorted)
    draws: np.ndarray | None  # (explained rows, per row) positions in ``pool``; None: the whole pool for every row
    balance: BackgroundBalance
    candidates: int = 1  # candidate orders tried for the last, partial pass over the pool

    @property
    def per_row(self) -> int:
        return len(self.pool) if self.draws is None else int(self.draws.shape[1])

    def counts(self) -> np.ndarray:
        """How often each pool row is used as background, over all explained rows."""
        if self.draws is None:
            return np.ones(len(self.pool))
        return np.bincount(self.draws.ravel(), minlength=len(self.pool)).astype(np.float64)

    def deviations(self) -> dict[str, float]:
        """Per input column, how far the background (every draw together) is from the source data
        (:class:`BackgroundBalance`)."""
        return self.balance.deviations(self.counts() @ self.balance.matrix)

    def describe(self) -> dict[str, Any]:
        dev = self.deviations()
        numeric = {c: v for c, v in dev.items() if pd.api.types.is_numeric_dtype(self.frame[c])
                   and not pd.api.types.is_bool_dtype(self.frame[c])}
        categorical = {c: v for c, v in dev.items() if c not in numeric}
        return {
            "source": self.source,
            "source_rows": len(self.frame),
            "pool_rows": len(self.pool),
            "rows_per_explained_row": self.per_row,
            "design": "the whole pool for every explained row (exact expectation)"
            if self.draws is None
            else "an independent draw per explained row: consecutive slices of seeded permutations of the pool",
            "background_rows_drawn": len(self.pool) if self.draws is None else int(self.draws.size),
            "partial_pass_candidates": self.candidates,
            "mean_deviation": {c: round(v, 6) for c, v in numeric.items()},
            "max_mean_deviation": round(max(numeric.values()), 6) if numeric else None,
            "category_share_deviation": {c: round(v, 6) for c, v in categorical.items()},
            "max_category_share_deviation": round(max(categorical.values()), 6) if categorical else None,
        }


@dataclass
class Attributions:
    """SHAP values per original column for a sample of evaluation rows."""

    method: Literal["tree", "linear", "permutation"]
    explainer: str  # human-readable: "shap.TreeExplainer (interventional)"
    output: Literal["log-odds", "probability", "raw"]
    output_label: str  # "log-odds of P(income = >50K)"
    features: list[str]  # original columns, in the model's input order
    rows: np.ndarray  # indices into ctx.data of the explained rows
    values: np.ndarray  # (n, F) SHAP values per original column
    base: np.ndarray  # (n,) base value of each row: the mean model output over that row's background
    model_output: np.ndarray  # (n,) the model's own output at the rows, for the additivity check
    background: Background
    n_inputs: int  # columns the explainer saw (transformed width for tree/linear)
    elapsed_s: float
    stopped_early: str | None = None  # why the safety stop ended the computation early (None: it did not)
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def base_value(self) -> float:
        return float(np.mean(self.base)) if len(self.base) else float("nan")

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


def _orient_values(values: np.ndarray, fav: int, n_classes: int) -> np.ndarray:
    """The favourable class's (n, M) SHAP values from a (n, M[, k]) array."""
    return _orient(values, np.zeros(values.shape[2] if values.ndim == 3 else 1), fav, n_classes)[0]


def _orient_output(raw: np.ndarray, fav: int, n_classes: int) -> np.ndarray:
    """The favourable class's (n,) output from a (n[, k]) model output, oriented as :func:`_orient`."""
    return _orient_values(raw[:, None] if raw.ndim == 1 else raw[:, None, :], fav, n_classes)[:, 0]


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


# -- background -------------------------------------------------------------------------------------------------


def background_source(ctx: AuditContext) -> tuple[Literal["training data", "evaluation data"], pd.DataFrame, str | None]:
    """The data backgrounds are drawn from: the training data when the bundle has it with every model input
    column, else the evaluation data (and why)."""
    train = ctx.training_data
    cols = list(ctx.feature_columns)
    if train is None:
        return "evaluation data", ctx.X, None
    missing = [c for c in cols if c not in train.columns]
    if missing:
        why = f"the training data lacks model input column(s) {', '.join(missing[:5])}: background from the " \
              "evaluation data"
        return "evaluation data", ctx.X, why
    return "training data", train[cols], None


#: The last pass over the pool is partial when the draws need fewer rows than a pass: up to this many seeded
#: candidate orders are tried for it and the best balanced is kept (rerandomization, Morgan & Rubin 2012), stopping
#: at the first whose background deviates from the data by at most ``BALANCE_TARGET`` on every column.
BALANCE_CANDIDATES = 200
BALANCE_TARGET = 0.01


def draw_background(
    ctx: AuditContext, n_rows: int, per_row: int | None, pool_rows: int
) -> tuple[Background, str | None]:
    """The background of ``n_rows`` explained rows: ``per_row`` rows each (None: the whole pool for every row).

    Seeded: the pool (all source rows up to ``pool_rows``, a uniform sample beyond) and the draws depend only on
    the audit seed and these counts. The draws are consecutive slices of passes over the pool, each pass a
    seeded permutation, so every pool row is used equally often over the full passes; the order of the last,
    partial pass is the best balanced of up to ``BALANCE_CANDIDATES`` candidates."""
    source, frame, note = background_source(ctx)
    n_source = len(frame)
    if n_source == 0:
        raise SkipCheck(f"the {source} has no rows to draw a background from")
    if n_source > pool_rows:
        pool = np.sort(ctx.rng("explainability.background.pool").choice(n_source, size=pool_rows, replace=False))
    else:
        pool = np.arange(n_source)
    balance = BackgroundBalance(frame, pool)
    n_pool = len(pool)
    if per_row is None or per_row >= n_pool:
        return Background(source, frame, pool, None, balance), note
    rng = ctx.rng("explainability.background.draws")
    total = n_rows * per_row
    full, partial = divmod(total, n_pool)
    passes = [rng.permutation(n_pool) for _ in range(full)]
    candidates = 0
    if partial:
        sums = full * balance.matrix.sum(axis=0)
        best: tuple[float, np.ndarray] | None = None
        while candidates < BALANCE_CANDIDATES:
            order = rng.permutation(n_pool)
            candidates += 1
            worst = balance.worst(sums + balance.matrix[order[:partial]].sum(axis=0))
            if best is None or worst < best[0]:
                best = (worst, order)
            if worst <= BALANCE_TARGET:
                break
        assert best is not None
        passes.append(best[1])
    draws = np.concatenate(passes)[:total].reshape(n_rows, per_row)
    return Background(source, frame, pool, draws, balance, candidates), note


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


def _fast_space(ctx: AuditContext) -> tuple[Any, Any, list[str], Callable[[pd.DataFrame], np.ndarray]] | None:
    """(estimator, every evaluation row in the estimator's input space, source column of each input column, the
    transformation of other rows into that space) for tree/linear explainers. The rows are an array-like that
    transforms only the rows indexed (``Z[rows]``): the explainers see about a thousand rows, however many the
    evaluation data has."""
    from trustaudit.features import LazyRows, feature_space

    fs = feature_space(ctx)
    if fs is not None:
        return fs.estimator, fs.view(), list(fs.source), fs.transform
    native = ctx.model.native
    if _type_name(native, _BOOSTERS) in _BOOSTERS:
        cols = list(ctx.model.feature_names or ctx.feature_columns)
        X = ctx.X[cols]
        if all(pd.api.types.is_numeric_dtype(X[c]) for c in cols):

            def numeric(frame: pd.DataFrame) -> np.ndarray:
                return frame[cols].to_numpy(dtype=np.float64, na_value=np.nan)

            def take(idx: np.ndarray) -> np.ndarray:
                return numeric(X.iloc[idx])

            return native, LazyRows(len(X), len(cols), take), cols, numeric
    return None


#: Explained rows per task when the tree explainer is split across an executor's workers, and between two looks
#: at the safety stop in-process (each row: one explainer call against its own background).
CHUNK_ROWS = 64
#: Fewest explained rows per worker for which splitting the tree explainer across an executor pays (its task
#: overhead and the pickled explainer and pool cost ~0.1-0.3 s; one row against 200 background rows ~3 ms).
SPLIT_MIN_ROWS = 256


def _rebind(explainer: Any, data: np.ndarray) -> Any:
    """The interventional ``shap.TreeExplainer`` ``explainer`` with ``data`` as its background, without parsing
    the model again.

    shap's TreeExplainer keeps its background as ``data`` (and its missing-value mask as ``data_missing``) and
    reads it only when explaining; parsing the trees is what costs in its constructor. A shallow copy with those
    two attributes replaced is therefore the explainer shap would have built for ``data``: the tests check the
    values against a freshly built one, row by row, so a shap release that changes this is caught.
    """
    rebound = copy.copy(explainer)
    rebound.data = data
    rebound.data_missing = np.isnan(data)
    return rebound


def tree_values_chunk(
    positions: np.ndarray, *, explainer: Any, X: np.ndarray, pool: np.ndarray, draws: np.ndarray
) -> np.ndarray:
    """SHAP values of explained rows ``positions`` (of ``X``), each against its own background
    ``pool[draws[i]]`` (module level, so executor workers can import it). Shape (rows, inputs[, outputs])."""
    out: list[np.ndarray] = []
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore", (DeprecationWarning, FutureWarning))
        for i in positions:
            sv = _rebind(explainer, pool[draws[i]]).shap_values(X[i : i + 1], check_additivity=False)
            out.append(np.asarray(sv, dtype=np.float64)[0])
    return np.stack(out) if out else np.zeros((0, X.shape[1]))


def _tree_values(
    explainer: Any, X: np.ndarray, pool: np.ndarray, draws: np.ndarray, time_limit_s: float
) -> tuple[np.ndarray, int]:
    """SHAP values of every row of X against its own draw, and how many rows were explained (all of them unless
    the safety stop was reached, in-process only). Split across the current executor's workers when there are
    several and enough rows: each row's values depend only on the row and its draw, so the result is the same
    however the rows are split."""
    from trustaudit.executors import current_executor, map_rows

    n = len(X)
    shared = {"explainer": explainer, "X": X, "pool": pool, "draws": draws}
    ex = current_executor()
    if ex.workers >= 2 and n >= 2 * SPLIT_MIN_ROWS:
        chunk = max(SPLIT_MIN_ROWS, -(-n // ex.workers))
        out: np.ndarray = map_rows(tree_values_chunk, np.arange(n), executor=ex, chunk_rows=chunk, shared=shared)
        return out, n
    t0 = time.perf_counter()
    parts = []
    done = 0
    while done < n:
        if done and time.perf_counter() - t0 > time_limit_s:
            break
        parts.append(tree_values_chunk(np.arange(done, min(n, done + CHUNK_ROWS)), **shared))
        done = min(n, done + CHUNK_ROWS)
        report_progress(done, n, "rows explained")
    return np.concatenate(parts), done


def _tree_or_linear(
    ctx: AuditContext,
    p: ShapParams,
    kind: str,
    est: Any,
    Z: Any,
    sources: list[str],
    transform: Callable[[pd.DataFrame], np.ndarray],
) -> Attributions:
    shap = import_shap()
    t0 = time.perf_counter()
    rows = ctx.sample(p.rows, "explainability.rows")
    fav = ctx.favorable_index
    n_classes = len(ctx.model.classes) or 2
    bg, note = draw_background(ctx, len(rows), p.background if kind == "tree" else None, p.background_pool)
    X = Z[rows]
    if bg.source == "evaluation data":
        pool = Z[bg.pool]
    else:
        pool = transform(bg.frame.iloc[bg.pool])
    output: Literal["log-odds", "probability", "raw"]
    stopped = None
    # shap's C extension draws a progress bar on sys.stderr after 10 s; it would garble the CLI's output
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore", (DeprecationWarning, FutureWarning, UserWarning))
        if kind == "tree":
            first = pool[bg.draws[0]] if bg.draws is not None else pool
            # an explicit masker: given a bare array, shap silently keeps a random 100 of its rows
            expl = shap.TreeExplainer(
                est, data=shap.maskers.Independent(first, max_samples=len(first)), feature_perturbation="interventional"
            )
            if bg.draws is None:  # the pool is no larger than one draw: every row against all of it
                sv = np.asarray(expl.shap_values(X, check_additivity=False), dtype=np.float64)
                done = len(X)
            else:
                sv, done = _tree_values(expl, X, pool, bg.draws, p.time_limit_s)
            tree_output = getattr(expl.model, "tree_output", None)
            output = (
                "log-odds" if tree_output == "log_odds" else "probability" if tree_output == "probability" else "raw"
            )
            label = f"{output} of {_favourable_name(ctx)}" if output != "raw" else f"raw score ({tree_output})"
            name = "shap.TreeExplainer (interventional)"
        else:
            expl = shap.LinearExplainer(est, shap.maskers.Independent(pool, max_samples=len(pool)))
            sv = np.asarray(expl.shap_values(X), dtype=np.float64)
            done = len(X)
            output = "log-odds"
            label = f"log-odds of {_favourable_name(ctx)}"
            name = "shap.LinearExplainer (independent masker, exact expectation over the background pool)"
    if done < len(rows):
        stopped = f"stopped early after {p.time_limit_s:g} s (time_limit_s; {done} of {len(rows)} rows explained)"
        rows, X = rows[:done], X[:done]
        if bg.draws is not None:
            bg.draws = bg.draws[:done]
    values = _orient_values(np.asarray(sv, dtype=np.float64), fav, n_classes)
    if kind == "linear":
        base = np.full(len(rows), _orient(np.zeros((1, 1)), expl.expected_value, fav, n_classes)[1])
    else:  # each row's base value: the mean tree output over its own background, as shap's expected_value is
        # (shap's single-threaded tree traversal: the model's own predict can spin OpenMP threads on a busy machine)
        pool_out = _orient_output(np.asarray(expl.model.predict(pool), dtype=np.float64), fav, n_classes)
        base = pool_out[bg.draws].mean(axis=1) if bg.draws is not None else np.full(len(rows), pool_out.mean())
    elapsed = time.perf_counter() - t0
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
        values=values @ G,
        base=base,
        model_output=ref if ref is not None else np.full(len(rows), np.nan),
        background=bg,
        n_inputs=Z.shape[1],
        elapsed_s=elapsed,
        stopped_early=stopped,
        warnings=[note] if note else [],
        details={"estimator": _type_name(est), "reference_output": ref_source},
    )


# -- model-agnostic ---------------------------------------------------------------------------------------------


def _agnostic(ctx: AuditContext, p: ShapParams) -> Attributions:
    from trustaudit.checks.explainability.permutation import OrdinalCodec, permutation_shap

    t0 = time.perf_counter()
    rows = ctx.sample(p.permutation_rows, "explainability.permutation.rows")
    bg, note = draw_background(ctx, len(rows), p.permutation_background, p.background_pool)
    pool_frame = bg.frame.iloc[bg.pool]
    # codes for every value the model may be given: the explained rows' and the background's
    codec = OrdinalCodec(ctx.X if bg.source == "evaluation data" else pd.concat([ctx.X, pool_frame]))
    log_odds = p.permutation_output == "log-odds"
    calls = [0]

    def f(Zb: np.ndarray) -> np.ndarray:
        calls[0] += 1
        prob = ctx.predict_favorable_proba(codec.decode(Zb))
        return logit(prob) if log_odds else prob

    res = permutation_shap(
        f,
        codec.encode(ctx.X.iloc[rows]),
        codec.encode(pool_frame),
        draws=bg.draws,
        permutations=p.permutations,
        rng=ctx.rng("explainability.permutations"),
        time_limit_s=p.time_limit_s,
    )
    keep = np.argsort(rows[res.order], kind="stable")  # back to row order
    done = res.order[keep]  # positions (in ``rows``) of the rows explained, in row order
    stopped = None
    if res.stopped_early:
        stopped = (
            f"stopped early after {p.time_limit_s:g} s (time_limit_s; {len(done)} of {len(rows)} rows explained)"
        )
    if bg.draws is not None:
        bg.draws = bg.draws[done]
    output: Literal["log-odds", "probability"] = "log-odds" if log_odds else "probability"
    return Attributions(
        method="permutation",
        explainer=f"permutation (antithetic, {p.permutations} orderings per row; algorithm of "
        "shap.PermutationExplainer)",
        output=output,
        output_label=f"{output} of {_favourable_name(ctx)}",
        features=list(codec.columns),
        rows=rows[done],
        values=res.values[keep],
        base=res.base[keep],
        model_output=_from_scores(ctx, rows[done], output),
        background=bg,
        n_inputs=len(codec.columns),
        elapsed_s=time.perf_counter() - t0,
        stopped_early=stopped,
        warnings=[note] if note else [],
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
