"""The numeric space the robustness checks perturb, and the constraints that keep perturbed rows valid.

Attacks and noise work on a matrix ``Z`` with one column ("dim") per numeric feature and one per category of a
one-hot encoded column, standardised so that a change of 1 in a numeric dim is one standard deviation of that
feature *in its original units* (on the evaluation data). Budgets are therefore "per feature, in standard
deviations"; the space is the same whatever scaler the model uses.

Two ways to build it:

* **scikit-learn** models: from :func:`trustaudit.features.feature_space` (preprocessor + final estimator). Each
  transformed column is a dim. One-hot groups come from the OneHotEncoder; each numeric transformed column is
  checked to be an exact affine function ``t = alpha + beta * x`` of one input column on the evaluation data
  (passthrough, StandardScaler, MinMaxScaler, ...), which gives the way back to original units (integer rounding,
  decoding to a DataFrame). The model is evaluated by the final estimator on ``Z * scale + mean`` (exactly the
  transformed matrix the pipeline would compute) or, to decode, through the full model on a DataFrame.
* **Any other model** (ONNX, XGBoost, LightGBM, ...): our own encoding of the input DataFrame: numeric columns as
  they are (missing values replaced by the column median), every other column one-hot over the values observed in
  the evaluation data (a missing value is its own category). Rows are decoded back to a DataFrame with the
  original columns and dtypes and scored through the real model (``ctx.predict_favorable_proba``).

Validity constraints, applied by :meth:`TabularSpace.project` after every attack or noise draw:

1. protected attributes, columns the manifest declares ``immutable``, and columns we cannot map back to the input
   (non-affine transforms, a column encoded twice, constant columns) never change;
2. each one-hot group is projected back to exactly one category (arg-max of the relaxed vector; ties keep the
   original category);
3. values stay inside the observed [min, max] of their column;
4. integer columns stay integers, rounded to the nearest integer that keeps the change within the budget;
5. a numeric change never exceeds the budget (``|z - z0| <= eps`` in standard deviations).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    pass

#: Columns with more distinct values than this are not one-hot encoded by our own encoding: they stay fixed.
MAX_CATEGORIES = 100
_CHUNK = 4096  # rows per model call when scoring many rows
_TINY = 1e-6  # relative changes smaller than this are float noise from ART's float32 arithmetic: undone

CategoricalMode = Literal["fixed", "free"]


@dataclass
class TabularSpace:
    """A standardised numeric encoding of the model's input rows, with validity constraints."""

    mode: Literal["sklearn", "encoded"]
    columns: list[str]  # model input columns (DataFrame order)
    source: list[str]  # per dim: the input column it encodes
    is_cat: np.ndarray  # per dim: one-hot indicator
    category: list[Any]  # per dim: category value of a one-hot dim (None for numeric dims / unknown)
    selectable: np.ndarray  # per dim: a one-hot dim we can decode (its category value is known)
    mean: np.ndarray  # value in the model space v = z * scale + mean
    scale: np.ndarray
    alpha: np.ndarray  # numeric dims: v = alpha + beta * x, x in original units
    beta: np.ndarray
    lo: np.ndarray  # observed range, in z
    hi: np.ndarray
    x_lo: np.ndarray  # observed range in original units (numeric dims)
    x_hi: np.ndarray
    integer: np.ndarray  # numeric dims holding integer values
    mutable: np.ndarray  # dims an attack may change
    groups: dict[str, np.ndarray]  # one-hot column -> its dims
    zero_category: dict[str, Any] = field(default_factory=dict)  # group -> value of the all-zero state (drop=)
    fixed: dict[str, str] = field(default_factory=dict)  # input column -> why it never changes
    categorical: CategoricalMode = "fixed"
    cat_freq: np.ndarray | None = None  # per dim: share of evaluation rows in that category (one-hot dims)
    zero_freq: dict[str, float] = field(default_factory=dict)  # group -> share of rows in the all-zero state
    n_imputed: int = 0  # encoded mode: numeric missing values replaced by the median
    _ctx: Any = None
    _estimator: Any = None
    _base: dict[Any, Any] = field(default_factory=dict)  # raw column arrays of ctx.X, category arrays
    _dtypes: dict[str, Any] = field(default_factory=dict)
    _encoder: Any = None  # encoded mode: builds Z of evaluation rows on demand (_RowEncoder)
    _fs: Any = None  # scikit-learn mode: the FeatureSpace (transforms evaluation rows on demand)
    _fast: Any = None  # encoded mode: verified direct ONNX Runtime call on column arrays (no DataFrame)
    fast_path: str | None = None  # description of the fast path, for evidence

    # -- shape --------------------------------------------------------------------------------------
    @property
    def n_dims(self) -> int:
        return len(self.source)

    @property
    def numeric_mutable(self) -> np.ndarray:
        return self.mutable & ~self.is_cat

    @property
    def cat_mutable(self) -> np.ndarray:
        return self.mutable & self.is_cat

    @property
    def sd_original(self) -> np.ndarray:
        """Standard deviation of each numeric dim in original units (1.0 for one-hot dims)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            sd = np.where(self.is_cat, 1.0, self.scale / np.abs(self.beta))
        return np.where(np.isfinite(sd), sd, 1.0)

    def mutable_columns(self) -> list[str]:
        return sorted({s for s, m in zip(self.source, self.mutable) if m})

    def clip_values(self) -> tuple[np.ndarray, np.ndarray]:
        """(min, max) per dim for ART (strictly increasing, as ART requires)."""
        hi = np.where(self.hi > self.lo, self.hi, self.lo + 1.0)
        return self.lo.copy(), hi

    @property
    def fast_path_name(self) -> str:
        """What :meth:`predict_proba` calls."""
        if self.mode == "sklearn":
            return "final estimator on the transformed matrix"
        return "direct ONNX Runtime call" if self._fast is not None else "full model"

    @property
    def fast_is_exact(self) -> bool:
        """True when the fast path is the full model on the decoded DataFrame itself."""
        return self.mode == "encoded" and self._fast is None

    # -- encode / evaluate --------------------------------------------------------------------------
    def encode(self, idx: np.ndarray) -> np.ndarray:
        """Z of evaluation rows ``idx``."""
        if self.mode == "sklearn":
            assert self._fs is not None
            return (self._fs.rows(idx) - self.mean) / self.scale
        assert self._encoder is not None
        return self._encoder(np.asarray(idx, dtype=np.int64))

    def model_values(self, Z: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        """Values in the model's space (the transformed matrix for scikit-learn models). Integer features are
        snapped to their integer value, and with ``base`` (the evaluation row of each Z row) every value left
        unchanged is the evaluation row's own transformed value, bit for bit: tree thresholds can sit exactly on
        an observed value, where a float round trip through z would cross them."""
        V = np.asarray(Z, dtype=np.float64) * self.scale + self.mean
        ints = np.flatnonzero(self.integer)
        if len(ints):
            a, b = self.alpha[ints], self.beta[ints]
            V[:, ints] = a + b * np.rint((V[:, ints] - a) / b)
        if base is not None and self._fs is not None:
            T0 = self._fs.rows(base)
            V = np.where(np.abs(V - T0) <= 1e-9 * self.scale, T0, V)
        return V

    def original_units(self, Z: np.ndarray) -> np.ndarray:
        """Numeric dims in original units, unrounded (one-hot dims unchanged)."""
        V = np.asarray(Z, dtype=np.float64) * self.scale + self.mean
        with np.errstate(divide="ignore", invalid="ignore"):
            X = np.where(self.is_cat, V, (V - self.alpha) / self.beta)
        return X

    def from_original(self, X: np.ndarray) -> np.ndarray:
        V = np.where(self.is_cat, X, self.alpha + self.beta * X)
        return (V - self.mean) / self.scale

    def predict_proba(self, Z: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities (model class order) of rows Z by the fast path the attacks query: the final
        estimator on the transformed matrix (scikit-learn), or the model on decoded columns. ``base``: evaluation
        row of each Z row (supplies the columns that are not encoded)."""
        if len(Z) > _CHUNK:
            return _chunked(self.predict_proba, Z, base)
        if self.mode == "sklearn":
            return np.asarray(self._estimator.predict_proba(self.model_values(Z, base)), dtype=float)
        assert base is not None
        if self._fast is not None:
            return self._fast(self.column_arrays(Z, base))
        return np.asarray(self._ctx.model.predict_proba(self.decode(Z, base)), dtype=float)

    def predict_fav(self, Z: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        """Favourable-label predictions (1/0) of rows Z by the fast path (see :meth:`predict_proba`)."""
        proba = self.predict_proba(Z, base)
        return (proba.argmax(axis=1) == self._ctx.favorable_index).astype(np.int8)

    def full_model_proba(self, Z: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Class probabilities of rows Z by the real, full model on the decoded DataFrame."""
        if len(Z) > _CHUNK:
            return _chunked(self.full_model_proba, Z, base)
        return np.asarray(self._ctx.model.predict_proba(self.decode(Z, base)), dtype=float)

    def predict_fav_model(self, Z: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Favourable-label predictions (1/0) of rows Z by the real, full model on the decoded DataFrame
        (``ctx.predict_favorable_proba``): what decides every reported outcome."""
        if not len(Z):
            return np.zeros(0, dtype=np.int8)
        proba = self.full_model_proba(Z, base)
        return (proba.argmax(axis=1) == self._ctx.favorable_index).astype(np.int8)

    # -- decode -------------------------------------------------------------------------------------
    def column_arrays(self, Z: np.ndarray, base: np.ndarray) -> dict[str, np.ndarray]:
        """Raw column values (numpy arrays) of rows Z: decoded where an attack may change the column, copied from
        the base evaluation row otherwise."""
        base = np.asarray(base)
        out: dict[str, np.ndarray] = {}
        for col, dims in self.groups.items():
            if self.mutable[dims].any():
                out[col] = self._decode_group(Z[:, dims], dims, col)
        num = np.flatnonzero(~self.is_cat & self.mutable)
        if len(num):
            V = Z[:, num] * self.scale[num] + self.mean[num]
            Xo = (V - self.alpha[num]) / self.beta[num]
            for pos, j in enumerate(num):
                out[self.source[j]] = np.rint(Xo[:, pos]) if self.integer[j] else Xo[:, pos]
        for col in self.columns:
            if col not in out:
                out[col] = self._base_values(col)[base]
        return out

    def decode(self, Z: np.ndarray, base: np.ndarray) -> pd.DataFrame:
        """The input DataFrame for rows Z (``base``: the evaluation row each Z row was derived from).

        Columns an attack may change are decoded from Z: numeric columns in original units (integers as
        integers), one-hot groups as their category value. Every other column is copied from the base row, so a
        decoded clean row is the evaluation row itself (up to the encoding's imputation of missing values).
        Columns keep the evaluation data's dtypes.
        """
        X = self._ctx.X
        base = np.asarray(base)
        data: dict[str, Any] = {}
        for col, dims in self.groups.items():
            if self.mutable[dims].any():
                block = Z[:, dims]
                codes = block.argmax(axis=1)
                if col in self.zero_category:
                    codes = np.where(block.max(axis=1) < 0.5, len(dims), codes)
                data[col] = self._category_array(col, dims, X[col].dtype).take(codes)
        num = np.flatnonzero(~self.is_cat & self.mutable)
        if len(num):
            V = Z[:, num] * self.scale[num] + self.mean[num]
            Xo = (V - self.alpha[num]) / self.beta[num]
            for pos, j in enumerate(num):
                col = self.source[j]
                data[col] = _as_dtype(np.rint(Xo[:, pos]) if self.integer[j] else Xo[:, pos], X[col].dtype)
        for col in self.columns:
            if col not in data:
                data[col] = X[col].array.take(base)
        return pd.DataFrame(data, columns=self.columns)

    def _category_array(self, col: str, dims: np.ndarray, dtype: Any) -> Any:
        """The category values of a one-hot group (plus its all-zero state) as an array of the column's dtype."""
        key = ("cat", col)
        if key not in self._base:
            values = [self.category[d] for d in dims] + [self.zero_category.get(col)]
            self._base[key] = _as_dtype(np.asarray(values, dtype=object), dtype)
        return self._base[key]

    def _base_values(self, col: str) -> np.ndarray:
        if col not in self._base:
            self._base[col] = self._ctx.X[col].to_numpy()
        return self._base[col]

    def _decode_group(self, block: np.ndarray, dims: np.ndarray, col: str) -> np.ndarray:
        cats = np.array([self.category[d] for d in dims], dtype=object)
        has_zero = col in self.zero_category
        choice = block.argmax(axis=1)
        vals = cats[choice]
        if has_zero:
            vals = np.where(block.max(axis=1) < 0.5, self.zero_category[col], vals)
        return vals

    # -- constraints --------------------------------------------------------------------------------
    def project(
        self,
        Z: np.ndarray,
        Z0: np.ndarray,
        budget: float | np.ndarray | None = None,
        rounding: Literal["nearest", "away"] = "nearest",
    ) -> np.ndarray:
        """Project perturbed rows back to valid rows (see the module docstring for the constraints).

        ``budget``: the largest allowed change of a numeric dim, in sd (None: unbounded). ``rounding``:
        integers to the nearest value within the budget, or away from the original value (used to keep an
        on-the-boundary adversarial example adversarial after rounding).
        """
        Z = np.array(Z, dtype=np.float64, copy=True)
        Z0 = np.asarray(Z0, dtype=np.float64)
        # 1. fixed dims never change; float noise is undone
        Z = np.where(self.mutable, Z, Z0)
        Z = np.where(np.abs(Z - Z0) < _TINY * np.maximum(1.0, np.abs(Z0)), Z0, Z)
        num = ~self.is_cat
        # 5./3. numeric budget and observed range
        if budget is not None:
            b = np.broadcast_to(np.asarray(budget, dtype=np.float64), Z.shape[1:])
            Z = np.where(num, np.clip(Z, Z0 - b, Z0 + b), Z)
        Z = np.where(num, np.clip(Z, self.lo, self.hi), Z)
        # 4. integers, in original units
        ints = np.flatnonzero(self.integer & self.mutable)
        if len(ints):
            Xo = self.original_units(Z)[:, ints]
            X0 = self.original_units(Z0)[:, ints]
            X0r = np.rint(X0)
            delta = Xo - X0r
            if rounding == "away":
                r = X0r + np.sign(delta) * np.ceil(np.abs(delta) - 1e-9)
            else:
                r = np.rint(Xo)
            if budget is not None:
                b_orig = np.broadcast_to(np.asarray(budget, dtype=np.float64), Z.shape[1:])[ints] * \
                    self.sd_original[ints]
                over = np.abs(r - X0r) > b_orig + 1e-9
                r = np.where(over, X0r + np.sign(delta) * np.floor(np.abs(delta) + 1e-9), r)
                over = np.abs(r - X0r) > b_orig + 1e-9  # still over (only possible with tiny budgets)
                r = np.where(over, X0r, r)
            r = np.clip(r, np.ceil(self.x_lo[ints] - 1e-9), np.floor(self.x_hi[ints] + 1e-9))
            unchanged = r == X0r
            newz = self.from_original(_embed(r, ints, Z.shape[1]))[:, ints]
            Z[:, ints] = np.where(unchanged, Z0[:, ints], newz)
        # 2. one-hot groups back to exactly one category
        for col, dims in self.groups.items():
            if not self.mutable[dims].any() or np.array_equal(Z[:, dims], Z0[:, dims]):
                continue
            Z[:, dims] = self._project_group(Z[:, dims], Z0[:, dims], dims, col)
        return Z

    def _project_group(self, block: np.ndarray, block0: np.ndarray, dims: np.ndarray, col: str) -> np.ndarray:
        rows = np.arange(len(block))
        score = np.where(self.selectable[dims], block, -np.inf)
        if col in self.zero_category:  # the dropped category scores 1 - max(other indicators)
            zero_score = 1.0 - np.clip(block, 0, 1).max(axis=1, initial=0.0)
            score = np.column_stack([score, zero_score])
            orig = np.where(block0.max(axis=1) < 0.5, len(dims), block0.argmax(axis=1))
            score[rows, orig] = np.where(orig < len(dims), block[rows, np.minimum(orig, len(dims) - 1)],
                                         zero_score)
        else:
            orig = block0.argmax(axis=1)
            score[rows, orig] = block[rows, orig]  # the original category is always allowed
        best = score.max(axis=1)
        choice = np.where(score[rows, orig] >= best - 1e-12, orig, score.argmax(axis=1))  # ties keep it
        out = np.zeros_like(block)
        hit = choice < len(dims)
        out[rows[hit], choice[hit]] = 1.0
        return out

    def observed_values(self, dim: int, limit: int = 2048) -> np.ndarray:
        """Sorted distinct values of numeric dim ``dim`` in the evaluation data, in z (at most ``limit``: evenly
        spaced quantiles of the distinct values beyond that)."""
        x = self._ctx.X[self.source[dim]].to_numpy(dtype=float, na_value=np.nan)
        v = np.unique(x[np.isfinite(x)])
        if len(v) > limit:
            v = v[np.unique(np.linspace(0, len(v) - 1, limit).round().astype(int))]
        X = np.zeros((len(v), self.n_dims))
        X[:, dim] = v
        return np.asarray(self.from_original(X)[:, dim])

    def subspace(self, dims: np.ndarray) -> TabularSpace:
        """The space restricted to ``dims`` (every dim an attack may change, in order): per-dim arrays sliced,
        one-hot groups re-indexed. It projects and measures exactly as this space does on those dims (the
        constraints act per dim and per one-hot group), at a fraction of the cost on wide one-hot encodings; it
        cannot score rows (the caller puts the dims back into full rows for the model)."""
        dims = np.asarray(dims, dtype=int)
        pos = {int(d): i for i, d in enumerate(dims)}
        groups = {col: np.array([pos[int(d)] for d in g]) for col, g in self.groups.items()
                  if all(int(d) in pos for d in g)}
        freq = None if self.cat_freq is None else self.cat_freq[dims]
        return replace(
            self, source=[self.source[d] for d in dims], is_cat=self.is_cat[dims],
            category=[self.category[d] for d in dims], selectable=self.selectable[dims], mean=self.mean[dims],
            scale=self.scale[dims], alpha=self.alpha[dims], beta=self.beta[dims], lo=self.lo[dims],
            hi=self.hi[dims], x_lo=self.x_lo[dims], x_hi=self.x_hi[dims], integer=self.integer[dims],
            mutable=self.mutable[dims], groups=groups, cat_freq=freq, _ctx=None, _estimator=None, _base={},
            _encoder=None, _fs=None, _fast=None)

    # -- convenience --------------------------------------------------------------------------------
    def changed_columns(self, Z: np.ndarray, Z0: np.ndarray) -> list[list[str]]:
        """Per row: the input columns whose value differs between Z and Z0."""
        diff = np.abs(Z - Z0) > 1e-9
        src = np.asarray(self.source, dtype=object)
        return [sorted(set(src[row])) for row in diff]

    def numeric_distance(self, Z: np.ndarray, Z0: np.ndarray) -> np.ndarray:
        """L-infinity distance over numeric dims, in sd (0 when only categories changed)."""
        num = ~self.is_cat
        if not num.any():
            return np.zeros(len(Z))
        return np.abs(Z[:, num] - Z0[:, num]).max(axis=1)


def _chunked(fn: Any, Z: np.ndarray, base: np.ndarray | None) -> np.ndarray:
    """``fn`` over chunks of rows: tree ensembles predict large batches up to 2x slower per row (cache)."""
    parts = [fn(Z[i:i + _CHUNK], None if base is None else np.asarray(base)[i:i + _CHUNK])
             for i in range(0, len(Z), _CHUNK)]
    return np.vstack(parts)


def _embed(values: np.ndarray, dims: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((values.shape[0], width))
    out[:, dims] = values
    return out


def _as_dtype(values: np.ndarray, dtype: Any) -> Any:
    """Values in a column's original dtype (integers rounded; strings/categories as pandas arrays)."""
    if isinstance(dtype, np.dtype):
        if dtype.kind in "iu":
            return np.rint(np.asarray(values, dtype=float)).astype(dtype)
        if dtype.kind == "f":
            return np.asarray(values, dtype=dtype)
        if dtype.kind == "b":
            return np.asarray(values, dtype=bool)
        return np.asarray(values, dtype=object)
    arr = np.asarray(values, dtype=object).copy()
    arr[pd.isna(arr)] = None
    return pd.array(arr, dtype=dtype)
