"""The model's numeric feature space, shared by checks that attack or explain the model.

Most tabular models are scikit-learn Pipelines: preprocessing (imputation, one-hot encoding, scaling) followed by
an estimator. ART attacks and SHAP explainers work on the numeric matrix the estimator sees. ``feature_space``
splits the pipeline and maps every transformed column back to the original column it came from (so a one-hot
group is known, and attributions can be summed per original feature).

Rows are transformed **on demand**: the checks that use this space (SHAP, attacks) work on a few thousand sampled
rows, so :meth:`FeatureSpace.rows` transforms the rows asked for, once each, and keeps them for the rest of the
audit. Transforming every evaluation row up front cost 6.5 s and 0.83 GB (4.3x the data) on a 1M-row audit for
rows no check looked at (issue 9). Statistics of the space (means, spreads, categories) come from
:meth:`FeatureSpace.profile_rows`: every row up to ``PROFILE_ROWS``, a seeded stratified sample of that many rows
beyond.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

#: Rows the space's statistics are computed on: all rows up to this many, a seeded stratified sample beyond.
PROFILE_ROWS = 100_000

if TYPE_CHECKING:
    from trustaudit.context import AuditContext


@dataclass
class FeatureSpace:
    preprocessor: Any | None  # fitted transformer (or None when the estimator takes the raw columns)
    estimator: Any  # the final estimator (predict_proba on the transformed matrix)
    names: list[str]  # transformed feature names
    source: list[str]  # original column of each transformed feature
    one_hot: dict[str, list[int]] = field(default_factory=dict)  # original column -> indices of its one-hot group
    data: Any = None  # the evaluation rows (model input columns, a DataFrame)
    profile: np.ndarray | None = None  # row indices the statistics of the space are computed on
    _pos: np.ndarray | None = field(default=None, repr=False)  # per evaluation row: its row in _store, -1 if none
    _store: np.ndarray | None = field(default=None, repr=False)  # transformed rows asked for so far
    _full: np.ndarray | None = field(default=None, repr=False)
    _ctx: Any = field(default=None, repr=False)  # draws the profile sample on first use

    @property
    def n_rows(self) -> int:
        return 0 if self.data is None else len(self.data)

    @property
    def n_features(self) -> int:
        return len(self.names)

    @property
    def n_transformed(self) -> int:
        """How many evaluation rows have been transformed so far (for evidence and tests)."""
        return 0 if self._pos is None else int((self._pos >= 0).sum())

    def rows(self, idx: Any) -> np.ndarray:
        """Transformed evaluation rows ``idx`` (float64, a new array). Each row is transformed once per audit."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        if self._full is not None:
            return self._full[idx]
        if self._pos is None:
            self._pos = np.full(self.n_rows, -1, dtype=np.int64)
        pos = self._pos
        missing = np.unique(idx[pos[idx] < 0])
        if len(missing):
            Z = self.transform(self.data.iloc[missing])
            start = 0 if self._store is None else len(self._store)
            self._store = Z if self._store is None else np.vstack([self._store, Z])
            pos[missing] = np.arange(start, start + len(missing))
        assert self._store is not None or not len(idx)
        if self._store is None:
            return np.zeros((0, self.n_features))
        return self._store[pos[idx]]

    def profile_rows(self) -> np.ndarray:
        """Row indices the statistics of the space are computed on (sorted; drawn on first use)."""
        if self.profile is None:
            assert self._ctx is not None
            self.profile = self._ctx.sample(PROFILE_ROWS, "features.profile")
        return self.profile

    def view(self) -> LazyRows:
        """Every evaluation row as an array-like: ``view()[idx]`` transforms only rows ``idx``."""
        return LazyRows(self.n_rows, self.n_features, self.rows)

    @property
    def matrix(self) -> np.ndarray:
        """Every evaluation row transformed (computed on first use; the checks use :meth:`rows` instead)."""
        if self._full is None:
            self._full = self.rows(np.arange(self.n_rows))
            self._pos, self._store = None, None
        return self._full

    def groups(self) -> dict[str, list[int]]:
        """Original column -> transformed indices (every column, one-hot or not)."""
        out: dict[str, list[int]] = {}
        for i, s in enumerate(self.source):
            out.setdefault(s, []).append(i)
        return out

    def transform(self, X: Any) -> np.ndarray:
        if self.preprocessor is None:
            return np.asarray(X, dtype=np.float64)
        Z = self.preprocessor.transform(X)
        if hasattr(Z, "toarray"):
            Z = Z.toarray()
        return np.asarray(Z, dtype=np.float64)


class LazyRows:
    """An array-like of ``n`` rows whose rows are produced on demand: ``lazy[idx]`` calls ``fn(idx)``. Only
    integer index arrays (and slices) are supported, which is all the checks use."""

    def __init__(self, n: int, width: int, fn: Any) -> None:
        self.shape = (n, width)
        self._fn = fn

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, idx: Any) -> np.ndarray:
        if isinstance(idx, slice):
            idx = np.arange(self.shape[0])[idx]
        return np.asarray(self._fn(np.asarray(idx, dtype=np.int64)))


def _source_columns(pre: Any, names_out: list[str], input_cols: list[str]) -> tuple[list[str], dict[str, list[int]]]:
    """Map transformed names back to input columns; detect one-hot groups from OneHotEncoders."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    source = [""] * len(names_out)
    one_hot: dict[str, list[int]] = {}
    if isinstance(pre, ColumnTransformer):
        start = 0
        for name, trans, cols in pre.transformers_:
            if trans == "drop" or (name == "remainder" and trans == "drop"):
                continue
            cols_list = list(np.asarray(input_cols)[cols]) if _is_index_list(cols) else list(np.atleast_1d(cols))
            width = sum(1 for n in names_out if n.startswith(f"{name}__"))
            enc = trans.steps[-1][1] if isinstance(trans, Pipeline) else trans
            if isinstance(enc, OneHotEncoder):
                pos = start
                for col, cats in zip(cols_list, enc.categories_):
                    k = len(cats) - (1 if enc.drop is not None else 0)
                    one_hot[str(col)] = list(range(pos, pos + k))
                    for j in range(pos, pos + k):
                        source[j] = str(col)
                    pos += k
            else:
                for j, col in enumerate(cols_list[:width]):
                    source[start + j] = str(col)
            start += width
    for i, s in enumerate(source):
        if not s:  # fall back to the name itself ("num__age" -> "age")
            s = names_out[i].split("__", 1)[-1]
            source[i] = next((c for c in input_cols if s == c or s.startswith(f"{c}_")), s)
    return source, one_hot


def _is_index_list(cols: Any) -> bool:
    arr = np.atleast_1d(cols)
    return arr.dtype.kind in "iub"


def _is_numeric(col: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col))


def feature_space(ctx: AuditContext) -> FeatureSpace | None:
    """The numeric feature space of a scikit-learn model (cached), or None for non-sklearn models."""
    if "feature_space" in ctx.cache:
        cached: FeatureSpace | None = ctx.cache["feature_space"]
        return cached
    est = ctx.model.sklearn_estimator if ctx.model is not None else None
    fs: FeatureSpace | None = None
    if est is not None:
        from sklearn.pipeline import Pipeline

        input_cols = list(ctx.feature_columns)
        if isinstance(est, Pipeline) and len(est.steps) > 1:
            pre = est[:-1]
            final = est.steps[-1][1]
            try:
                names = [str(n) for n in pre.get_feature_names_out()]
            except Exception:
                names = []
            fs = FeatureSpace(pre, final, names, [], {}, ctx.X, _ctx=ctx)
            width = fs.rows(np.arange(min(1, ctx.n_rows))).shape[1]  # transformed width (one row is enough)
            if len(names) != width:
                names = [f"x{i}" for i in range(width)]
            inner = pre.steps[-1][1] if len(pre.steps) == 1 else pre.steps[0][1]
            source, one_hot = _source_columns(inner, names, input_cols)
            fs.names, fs.source, fs.one_hot = names, source, one_hot
        else:
            try:
                np.asarray(ctx.X.iloc[:1000], dtype=np.float64)
                numeric = all(_is_numeric(ctx.X[c]) for c in ctx.X.columns)
            except (TypeError, ValueError):
                numeric = False
            if numeric:
                fs = FeatureSpace(None, est, input_cols, input_cols, {}, ctx.X, _ctx=ctx)
    ctx.cache["feature_space"] = fs
    return fs
