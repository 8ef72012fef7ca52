"""Synthetic data and bundles for the robustness tests (a module with a unique name, importable from tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Floats on different scales, an integer column, a categorical and a protected attribute."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "x1": rng.normal(0.0, 1.0, n),
        "x2": rng.normal(50.0, 10.0, n),
        "x3": rng.normal(100.0, 30.0, n),
        "k": rng.integers(0, 20, n).astype("int64"),
        "color": rng.choice(["red", "green", "blue"], n),
        "grp": rng.choice(["a", "b"], n, p=[0.6, 0.4]),
    })
    logit = (1.2 * df.x1 + 0.08 * (df.x2 - 50) - 0.02 * (df.x3 - 100) + 0.1 * (df.k - 10)
             + 0.8 * (df.color == "red") + 0.3 * (df.grp == "a"))
    df["y"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return df


def make_bundle(kind: str = "logreg", n: int = 600, seed: int = 0, immutable: tuple[str, ...] = ("x3",),
                     training: bool = True):
    """An in-memory bundle: ColumnTransformer(OneHot + StandardScaler) -> LR / HGB / tree / deep tree."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    from trustaudit.api import in_memory_bundle

    train = synthetic_frame(n, seed + 100)
    df = synthetic_frame(n, seed)
    est = {
        "logreg": LogisticRegression(max_iter=1000),
        "hgb": HistGradientBoostingClassifier(max_iter=30, random_state=0),
        "tree": DecisionTreeClassifier(max_depth=5, random_state=0),
        "overfit": DecisionTreeClassifier(random_state=0),
    }[kind]
    pre = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["color", "grp"]),
        ("num", StandardScaler(), ["x1", "x2", "x3", "k"]),
    ])
    model = Pipeline([("pre", pre), ("clf", est)])
    feats = ["x1", "x2", "x3", "k", "color", "grp"]
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # OpenMP on a busy shared machine can make this fit 100x slower
        model.fit(train[feats], train["y"])
    bundle = in_memory_bundle(model, df, label="y", favorable_label="yes", protected={"grp": ["a"]},
                              features=feats, training_data=train if training else None)
    bundle.manifest = bundle.manifest.model_copy(update={"immutable": list(immutable)})
    return bundle, model
