"""The model's numeric feature space, shared by checks that attack or explain the model.

Most tabular models are scikit-learn Pipelines: preprocessing (imputation, one-hot encoding, scaling) followed by
an estimator. ART attacks and SHAP explainers work on the numeric matrix the estimator sees. ``feature_space``
splits the pipeline, transforms the evaluation data once (cached on the context), and maps every transformed
column back to the original column it came from (so a one-hot group is known, and attributions can be summed
per original feature).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from trustaudit.context import AuditContext


@dataclass
class FeatureSpace:
    preprocessor: Any | None  # fitted transformer (or None when the estimator takes the raw columns)
    estimator: Any  # the final estimator (predict_proba on the transformed matrix)
    names: list[str]  # transformed feature names
    source: list[str]  # original column of each transformed feature
    one_hot: dict[str, list[int]] = field(default_factory=dict)  # original column -> indices of its one-hot group
    matrix: np.ndarray | None = None  # transformed evaluation data (float64)

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
            Z = pre.transform(ctx.X)
            if hasattr(Z, "toarray"):
                Z = Z.toarray()
            Z = np.asarray(Z, dtype=np.float64)
            if len(names) != Z.shape[1]:
                names = [f"x{i}" for i in range(Z.shape[1])]
            inner = pre.steps[-1][1] if len(pre.steps) == 1 else pre.steps[0][1]
            source, one_hot = _source_columns(inner, names, input_cols)
            fs = FeatureSpace(pre, final, names, source, one_hot, Z)
        else:
            try:
                Z = np.asarray(ctx.X, dtype=np.float64)
            except (TypeError, ValueError):
                Z = None
            if Z is not None:
                fs = FeatureSpace(None, est, input_cols, input_cols, {}, Z)
    ctx.cache["feature_space"] = fs
    return fs
