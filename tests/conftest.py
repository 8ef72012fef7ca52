"""Shared fixtures: sample bundles, small synthetic bundles, and a cached audit of the Adult HGB bundle."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES


@pytest.fixture
def copy_bundle(tmp_path: Path):
    """Copy a sample bundle into tmp_path so a test can break it."""

    def _copy(name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(SAMPLES / name, dst)
        return dst

    return _copy


def make_synthetic(n: int = 2000, seed: int = 0, bias: float = 1.5) -> pd.DataFrame:
    """A small credit-like dataset with a protected attribute that shifts the label."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["male", "female"], size=n, p=[0.6, 0.4])
    age = rng.integers(18, 70, size=n)
    income = rng.normal(50, 15, size=n) + np.where(sex == "male", 5 * bias, 0)
    debt = rng.normal(20, 8, size=n)
    logit = 0.08 * (income - 50) - 0.1 * (debt - 20) + bias * (sex == "male") - 0.8 + 0.01 * (age - 40)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"income": income, "debt": debt, "age": age, "sex": sex,
                         "approved": np.where(y, "yes", "no")})


@pytest.fixture
def synthetic_bundle(tmp_path: Path):
    """A small skops bundle (LogisticRegression pipeline) written to tmp_path; returns its directory."""

    def _make(n: int = 2000, manifest_extra: str = "", **kw) -> Path:
        import skops.io as sio
        from sklearn.compose import ColumnTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        df = make_synthetic(n, **kw)
        X = df.drop(columns="approved")
        pre = ColumnTransformer([("num", StandardScaler(), ["income", "debt", "age"]),
                                 ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex"])])
        pipe = Pipeline([("pre", pre), ("clf", LogisticRegression(random_state=0))]).fit(X, df["approved"])
        d = tmp_path / "synthetic"
        (d / "data").mkdir(parents=True, exist_ok=True)
        df.to_csv(d / "data" / "eval.csv", index=False)
        sio.dump(pipe, d / "model.skops")
        (d / "trustaudit.yaml").write_text(
            "trustaudit: 1\nname: synthetic\nversion: 0.1.0\ntask: binary-classification\n"
            "model: {path: model.skops, format: skops}\n"
            "data: {path: data/eval.csv, label: approved, favorable_label: 'yes'}\n"
            "protected:\n  sex: {privileged: [male]}\n  age: {privileged: '>= 25'}\n" + manifest_extra
        )
        return d

    return _make


@pytest.fixture(scope="session")
def hgb_report(tmp_path_factory: pytest.TempPathFactory):
    """One fairness audit of the Adult HGB sample bundle, shared by tests (bootstrap 200 for speed)."""
    from trustaudit.api import audit

    out = tmp_path_factory.mktemp("hgb")
    params = {"fairness.model": {"bootstrap": 200}, "fairness.dataset": {"bootstrap": 200}}
    return audit(SAMPLES / "adult-income-hgb", checks=["fairness.*"], params=params, out_dir=out, seed=0)
