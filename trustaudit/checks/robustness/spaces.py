"""Building the attack space (:class:`~trustaudit.checks.robustness.constraints.TabularSpace`) for an audit's model.

Two ways, as :mod:`.constraints` describes: from a scikit-learn pipeline's own transform
(:func:`trustaudit.features.feature_space`: one-hot groups from its OneHotEncoder, affine maps of numeric columns
checked on the data), or our own encoding of the input DataFrame for any other model (ONNX, boosters), whose rows
are encoded on demand. For ONNX models a direct ONNX Runtime call on column arrays is used when it reproduces the
adapter's probabilities. The space and its validity constraints live in :mod:`.constraints`; this module only
builds it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from trustaudit.checks.robustness.constraints import MAX_CATEGORIES, CategoricalMode, TabularSpace

if TYPE_CHECKING:
    from trustaudit.context import AuditContext

__all__ = ["build_space", "fixed_columns"]


def _is_integer_column(col: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(col.dtype):
        return True
    if pd.api.types.is_float_dtype(col.dtype):
        v = col.dropna().to_numpy(dtype=float)
        return len(v) > 0 and bool(np.all(np.isfinite(v) & (v == np.rint(v))))
    return False


def _is_numeric_column(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype)


def fixed_columns(ctx: AuditContext) -> dict[str, str]:
    """Input columns that must never change, with the reason."""
    out: dict[str, str] = {}
    cols = set(ctx.feature_columns)
    for name in ctx.bundle.manifest.protected:
        if name in cols:
            out[name] = "protected attribute"
    for name in ctx.bundle.manifest.immutable:
        if name in cols:
            out.setdefault(name, "declared immutable")
    return out


def build_space(ctx: AuditContext, categorical: CategoricalMode = "fixed") -> TabularSpace:
    """The attack space of this audit's model (built once per audit, cached on the context)."""
    key = f"robustness.space:{categorical}"
    if key in ctx.cache:
        cached: TabularSpace = ctx.cache[key]
        return cached
    base_key = "robustness.space:free"
    if base_key not in ctx.cache:
        from trustaudit.features import feature_space

        fs = feature_space(ctx)
        space = _from_feature_space(ctx, fs) if fs is not None else None
        if space is None:
            space = _encoded_space(ctx)
        ctx.cache[base_key] = space
    base: TabularSpace = ctx.cache[base_key]
    if categorical == "free":
        return base
    fixed = dict(base.fixed)
    for col in base.groups:
        fixed.setdefault(col, "categorical (categorical='fixed')")
    derived = replace(base, mutable=base.mutable & ~base.is_cat, fixed=fixed, categorical="fixed")
    ctx.cache[key] = derived
    return derived


def _one_hot_encoders(pre: Any) -> dict[str, tuple[list[Any], Any]]:
    """Input column -> (categories in output order, dropped category or None) for every OneHotEncoder of a
    ColumnTransformer (possibly inside a one-step Pipeline); {} when there is none or it groups categories."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    if isinstance(pre, Pipeline) and len(pre.steps) == 1:
        pre = pre.steps[0][1]
    if not isinstance(pre, ColumnTransformer):
        return {}
    out: dict[str, tuple[list[Any], Any]] = {}
    names_in = list(getattr(pre, "feature_names_in_", []))
    for _, trans, cols in pre.transformers_:
        enc = trans.steps[-1][1] if isinstance(trans, Pipeline) else trans
        if not isinstance(enc, OneHotEncoder) or getattr(enc, "_infrequent_enabled", False):
            continue
        cols_list = [names_in[c] if isinstance(c, (int, np.integer)) and names_in else c for c in np.atleast_1d(cols)]
        drop_idx = getattr(enc, "drop_idx_", None)
        for j, (col, cats) in enumerate(zip(cols_list, enc.categories_)):
            d = None if drop_idx is None else drop_idx[j]
            kept = [c for i, c in enumerate(cats) if d is None or i != d]
            out[str(col)] = (kept, None if d is None else cats[d])
    return out


def _encoder_labels(enc: tuple[list[Any], Any] | None, values: pd.Series, block: np.ndarray,
                    n_check: int = 1000) -> tuple[list[Any], Any, bool] | None:
    """Category labels of a one-hot group from its encoder, checked against the first rows of the data (None:
    no encoder, or it disagrees with the data; the caller then reads the labels off the data)."""
    if enc is None or len(enc[0]) != block.shape[1]:
        return None
    kept, dropped = enc
    head = block[:n_check]
    v = values.iloc[:n_check].to_numpy(dtype=object)
    one = head.max(axis=1) == 1.0
    ok = one & ~pd.isna(v)
    labels = np.asarray(kept, dtype=object)
    if not np.all(labels[head[ok].argmax(axis=1)] == v[ok]):
        return None
    zero = block.sum(axis=1) == 0
    if not zero.any():
        return list(kept), None, False
    if dropped is not None:
        return list(kept), dropped, True
    vc = values[zero].value_counts(dropna=False)  # unknown categories (handle_unknown='ignore')
    return list(kept), (vc.index[0] if len(vc) else None), True


def _category_labels(values: pd.Series, block: np.ndarray) -> tuple[list[Any], Any, bool]:
    """The category value of each one-hot dim (the most common value among rows where it is 1; None when it is
    never 1), the value of the all-zero state (dropped category) and whether that state occurs."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    k = block.shape[1]
    rowmax = block.max(axis=1) if k else np.zeros(len(block))
    active = rowmax == 1.0
    dim = block.argmax(axis=1) if k else np.zeros(len(block), dtype=int)
    ok = active & (codes >= 0)
    counts = np.zeros((k, len(uniques) + 1), dtype=np.int64)
    np.add.at(counts, (dim[ok], codes[ok]), 1)
    labels: list[Any] = [uniques[int(c)] if counts[d].sum() else None for d, c in
                         enumerate(counts.argmax(axis=1))]
    zero = block.sum(axis=1) == 0
    zero_value: Any = None
    if zero.any():
        zc = np.bincount(codes[zero] + 1, minlength=len(uniques) + 1)
        best = int(zc.argmax()) - 1
        zero_value = uniques[best] if best >= 0 else None
    return labels, zero_value, bool(zero.any())


def _finite_outside(ctx: AuditContext, fs: Any, prof: np.ndarray, chunk: int = 50_000) -> bool:
    """Whether every evaluation row outside the profile sample is finite in the model's space. Only a row with a
    missing value can transform to NaN (a pipeline without an imputer, for a model that takes NaN): those rows
    are transformed, in chunks, and checked; complete rows are not."""
    rows = np.flatnonzero(ctx.X.isna().to_numpy().any(axis=1))
    rows = rows[~np.isin(rows, prof)]
    for start in range(0, len(rows), chunk):
        if not np.isfinite(fs.transform(ctx.X.iloc[rows[start:start + chunk]])).all():
            return False
    return True


def _from_feature_space(ctx: AuditContext, fs: Any) -> TabularSpace | None:
    """The attack space of a scikit-learn model. Means, spreads, categories and the affine map of each numeric
    feature come from the profile rows (every evaluation row up to ``PROFILE_ROWS``, a stratified sample
    beyond); the observed range of each invertible numeric feature from every row's raw column."""
    prof = fs.profile_rows()
    sampled = len(prof) < ctx.n_rows
    X = ctx.X.iloc[prof] if sampled else ctx.X
    T = fs.transform(X)  # not kept: the attacks ask fs.rows() for the rows they use
    if not np.isfinite(T).all() or (sampled and not _finite_outside(ctx, fs, prof)):
        return None
    n_dims = T.shape[1]
    fixed = fixed_columns(ctx)
    source = [str(s) for s in fs.source]
    is_cat = np.zeros(n_dims, dtype=bool)
    category: list[Any] = [None] * n_dims
    selectable = np.zeros(n_dims, dtype=bool)
    groups: dict[str, np.ndarray] = {}
    zero_category: dict[str, Any] = {}
    zero_freq: dict[str, float] = {}
    cat_freq = np.zeros(n_dims)
    encoders = _one_hot_encoders(fs.preprocessor)
    for col, dims_list in fs.one_hot.items():
        dims = np.asarray(dims_list, dtype=int)
        groups[col] = dims
        is_cat[dims] = True
        if col not in X.columns:
            fixed.setdefault(col, "not an input column")
            continue
        labels, zero_value, has_zero = _encoder_labels(encoders.get(col), X[col], T[:, dims]) or \
            _category_labels(X[col], T[:, dims])
        cat_freq[dims] = T[:, dims].mean(axis=0)
        for d, lab in zip(dims, labels):
            category[d] = lab
            selectable[d] = lab is not None and cat_freq[d] > 0  # only categories observed in the data
        if has_zero:
            zero_category[col] = zero_value
            zero_freq[col] = float((T[:, dims].sum(axis=1) == 0).mean())

    mean = np.zeros(n_dims)
    scale = np.ones(n_dims)
    alpha = np.full(n_dims, np.nan)
    beta = np.full(n_dims, np.nan)
    x_lo = np.full(n_dims, np.nan)
    x_hi = np.full(n_dims, np.nan)
    integer = np.zeros(n_dims, dtype=bool)
    invertible = np.zeros(n_dims, dtype=bool)
    num_dims = np.flatnonzero(~is_cat)
    counts: dict[str, int] = {}
    for j in num_dims:
        counts[source[j]] = counts.get(source[j], 0) + 1
    for j in num_dims:
        t = T[:, j]
        mean[j] = float(t.mean())
        sd = float(t.std())
        scale[j] = sd if sd > 0 else 1.0
        col = source[j]
        if sd == 0:
            fixed.setdefault(col, "constant in the evaluation data")
            continue
        if col not in X.columns or not _is_numeric_column(X[col]):
            fixed.setdefault(col, "a transformed feature that is not an affine function of one input column")
            continue
        if counts[col] > 1 or col in groups:
            fixed.setdefault(col, "encoded by several model features")
            continue
        x = X[col].to_numpy(dtype=float, na_value=np.nan)
        ok = np.isfinite(x)
        xv, tv = x[ok], t[ok]
        if len(xv) < 2 or float(xv.std()) == 0:
            fixed.setdefault(col, "constant in the evaluation data")
            continue
        b = float(np.cov(xv, tv, bias=True)[0, 1] / xv.var())
        a = float(tv.mean() - b * xv.mean())
        resid = np.abs(a + b * xv - tv).max()
        if b == 0 or resid > 1e-8 * (1.0 + np.abs(tv).max()):
            fixed.setdefault(col, "a transformed feature that is not an affine function of one input column")
            continue
        if abs(b - 1.0) <= 1e-12 and abs(a) <= 1e-12 * (1.0 + float(np.abs(tv).max())):
            a, b = 0.0, 1.0  # passthrough: keep it exact
        alpha[j], beta[j] = a, b
        invertible[j] = True
        x_lo[j], x_hi[j] = float(xv.min()), float(xv.max())
        if sampled:  # the observed range over every row, from the raw column
            full = ctx.X[col].to_numpy(dtype=float, na_value=np.nan)
            x_lo[j], x_hi[j] = float(np.nanmin(full)), float(np.nanmax(full))
        integer[j] = _is_integer_column(X[col])
    t_lo, t_hi = T.min(axis=0), T.max(axis=0)
    inv = np.flatnonzero(invertible)
    if sampled and len(inv):  # v = alpha + beta * x over every row's observed x range
        ends = alpha[inv] + beta[inv] * np.vstack([x_lo[inv], x_hi[inv]])
        t_lo[inv], t_hi[inv] = ends.min(axis=0), ends.max(axis=0)
    lo = np.where(is_cat, 0.0, (t_lo - mean) / scale)  # scale > 0: the observed range in z
    hi = np.where(is_cat, 1.0, (t_hi - mean) / scale)
    mutable = np.array([source[j] not in fixed for j in range(n_dims)], dtype=bool)
    mutable &= is_cat | invertible
    dtypes = {c: X[c].dtype for c in X.columns}
    return TabularSpace(
        mode="sklearn", columns=list(ctx.feature_columns), source=source, is_cat=is_cat, category=category,
        selectable=selectable, mean=mean, scale=scale, alpha=alpha, beta=beta, lo=lo, hi=hi, x_lo=x_lo,
        x_hi=x_hi, integer=integer, mutable=mutable, groups=groups, zero_category=zero_category, fixed=fixed,
        categorical="free", cat_freq=cat_freq, zero_freq=zero_freq, _ctx=ctx, _estimator=fs.estimator,
        _dtypes=dtypes, _fs=fs,
    )


@dataclass
class _RowEncoder:
    """Z of evaluation rows for the encoded space, built on demand from the raw columns: numeric columns with
    missing values replaced by the column's median, other columns one-hot over their levels (missing is a level
    of its own). Only the rows an attack uses are ever encoded (1M rows x 100 dims would be 0.8 GB)."""

    X: pd.DataFrame
    parts: list[tuple[str, str, Any]]  # (column, "num" | "cat", median | list of levels in order)
    mean: np.ndarray
    scale: np.ndarray

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        return (self.raw(self.X.iloc[idx]) - self.mean) / self.scale

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        blocks: list[np.ndarray] = []
        for col, kind, info in self.parts:
            s = X[col]
            if kind == "num":
                x = s.to_numpy(dtype=float, na_value=np.nan)
                blocks.append(np.where(np.isfinite(x), x, info)[:, None])
            else:
                codes = _level_codes(s, info)
                onehot = np.zeros((len(s), len(info)))
                onehot[np.arange(len(s)), codes] = 1.0
                blocks.append(onehot)
        return np.hstack(blocks) if blocks else np.zeros((len(X), 0))


def _level_codes(s: pd.Series, levels: list[Any]) -> np.ndarray:
    """Index of each value in ``levels`` (missing values: the trailing ``None`` level)."""
    missing = pd.isna(s).to_numpy()
    known = [v for v in levels if v is not None]
    codes = pd.Index(known, dtype=object).get_indexer(s.astype(object).where(~missing, None))
    return np.where(missing, len(known), codes).astype(np.int64)


def _encoded_space(ctx: AuditContext) -> TabularSpace:
    """The attack space of a model that is not a scikit-learn pipeline: numeric columns as they are, the others
    one-hot encoded. Every statistic (levels, medians, means, spreads, ranges, category shares) is computed from
    the raw columns over every evaluation row; rows are encoded only when an attack asks for them."""
    X = ctx.X
    fixed = fixed_columns(ctx)
    source: list[str] = []
    is_cat: list[bool] = []
    category: list[Any] = []
    integer: list[bool] = []
    parts: list[tuple[str, str, Any]] = []
    groups: dict[str, np.ndarray] = {}
    means: list[np.ndarray] = []
    sds: list[np.ndarray] = []
    mins: list[np.ndarray] = []
    maxs: list[np.ndarray] = []
    n_imputed = 0
    for col in X.columns:
        s = X[col]
        if _is_numeric_column(s):
            x = s.to_numpy(dtype=float, na_value=np.nan)
            miss = ~np.isfinite(x)
            if miss.all():
                fixed.setdefault(col, "no numeric values")
                continue
            median = float(np.median(x[~miss])) if miss.any() else 0.0
            if miss.any():
                n_imputed += int(miss.sum())
                x = np.where(miss, median, x)
            parts.append((col, "num", median))
            source.append(col)
            is_cat.append(False)
            category.append(None)
            integer.append(_is_integer_column(s))
            means.append(np.array([x.mean()]))
            sds.append(np.array([x.std()]))
            mins.append(np.array([x.min()]))
            maxs.append(np.array([x.max()]))
            continue
        try:
            codes, uniques = pd.factorize(s, sort=True, use_na_sentinel=True)  # -1 for missing
        except TypeError:  # values that cannot be sorted together: order of appearance
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
        cats = list(uniques)
        has_missing = bool((codes < 0).any())
        if len(cats) + has_missing > MAX_CATEGORIES:
            fixed.setdefault(col, f"more than {MAX_CATEGORIES} distinct values (not encoded)")
            continue
        levels: list[Any] = [*cats, None] if has_missing else cats
        codes = np.where(codes < 0, len(cats), codes) if has_missing else codes
        share = np.bincount(codes, minlength=len(levels)) / max(len(s), 1)
        start = len(source)
        groups[col] = np.arange(start, start + len(levels))
        parts.append((col, "cat", levels))
        for lev in levels:
            source.append(col)
            is_cat.append(True)
            category.append(lev)
            integer.append(False)
        means.append(share)  # the mean of a one-hot dim is its category's share of rows
        sds.append(np.sqrt(share * (1.0 - share)))
        mins.append((share >= 1.0).astype(float))
        maxs.append((share > 0).astype(float))
    is_cat_a = np.asarray(is_cat, dtype=bool)
    n_dims = len(source)
    M_mean = np.concatenate(means) if means else np.zeros(0)
    sd = np.concatenate(sds) if sds else np.zeros(0)
    M_min = np.concatenate(mins) if mins else np.zeros(0)
    M_max = np.concatenate(maxs) if maxs else np.zeros(0)
    mean = np.where(is_cat_a, 0.0, M_mean)
    for j in np.flatnonzero(~is_cat_a & (sd == 0)):
        fixed.setdefault(source[j], "constant in the evaluation data")
    scale = np.where(is_cat_a | (sd == 0), 1.0, sd)
    lo = np.where(is_cat_a, 0.0, (M_min - mean) / scale)
    hi = np.where(is_cat_a, 1.0, (M_max - mean) / scale)
    x_lo = np.where(is_cat_a, np.nan, M_min)
    x_hi = np.where(is_cat_a, np.nan, M_max)
    mutable = np.array([source[j] not in fixed for j in range(n_dims)], dtype=bool)
    space = TabularSpace(
        mode="encoded", columns=list(ctx.feature_columns), source=source, is_cat=is_cat_a, category=category,
        selectable=is_cat_a.copy(), mean=mean, scale=scale, alpha=np.where(is_cat_a, np.nan, 0.0),
        beta=np.where(is_cat_a, np.nan, 1.0), lo=lo, hi=hi, x_lo=x_lo, x_hi=x_hi,
        integer=np.asarray(integer, dtype=bool), mutable=mutable, groups=groups, fixed=fixed,
        categorical="free", cat_freq=np.where(is_cat_a, M_mean, 0.0), n_imputed=n_imputed, _ctx=ctx,
        _dtypes={c: X[c].dtype for c in X.columns}, _encoder=_RowEncoder(X, parts, mean, scale),
    )
    _enable_onnx_fast_path(space)
    return space


def _onnx_runner(ctx: AuditContext) -> Any:
    """A direct ONNX Runtime call on column arrays, mirroring the ONNX adapter's feed (one [n, 1] tensor per
    column; strings with missing values as ''), without building a DataFrame per call. Black-box attacks make
    thousands of one-row calls, where the DataFrame round trip costs ~10x the model itself."""
    model = ctx.model
    if model is None or model.format != "onnx":
        return None
    from trustaudit.bundle.models import onnx_column_array, prob_output_name

    sess = model.native
    inputs = sess.get_inputs()
    prob = prob_output_name(sess)
    columns = list(ctx.feature_columns)
    single = len(inputs) == 1 and inputs[0].name not in columns

    def run(arrays: dict[str, np.ndarray]) -> np.ndarray:
        feed: dict[str, np.ndarray] = {}
        if single:
            feed[inputs[0].name] = np.column_stack([np.asarray(arrays[c], dtype=np.float32) for c in columns])
        else:
            for inp in inputs:
                feed[inp.name] = onnx_column_array(inp.type, arrays[inp.name]).reshape(-1, 1)
        proba = np.asarray(sess.run([prob], feed)[0], dtype=float)
        if proba.ndim == 1:
            proba = np.column_stack([1.0 - proba, proba])
        return proba

    return run


def _enable_onnx_fast_path(space: TabularSpace, n_check: int = 256) -> None:
    """Use the direct ONNX Runtime call only when it reproduces the adapter's probabilities on real rows."""
    ctx = space._ctx
    run = _onnx_runner(ctx)
    if run is None:
        return
    idx = np.arange(min(n_check, ctx.n_rows))
    Z = space.encode(idx)
    try:
        fast = run(space.column_arrays(Z, idx))
    except Exception:
        return
    slow = np.asarray(ctx.model.predict_proba(space.decode(Z, idx)), dtype=float)
    if fast.shape == slow.shape and np.allclose(fast, slow, rtol=0, atol=1e-6):
        space._fast = run
        space.fast_path = f"direct ONNX Runtime call (matches the adapter on {len(idx)} rows to 1e-6)"
