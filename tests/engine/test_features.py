"""The model's feature space transforms evaluation rows on demand (issue 9): the explainability and robustness
checks see exactly the rows they sample, and the statistics of the space come from the profile rows."""

from __future__ import annotations

import numpy as np
import pytest

import trustaudit.features as features
from trustaudit.api import _run_check
from trustaudit.bundle import load_bundle
from trustaudit.checks.explainability import ShapCheck
from trustaudit.checks.robustness.spaces import build_space
from trustaudit.context import AuditContext
from trustaudit.features import LazyRows, feature_space
from trustaudit.results import Status


@pytest.fixture(scope="module")
def bundle(samples_dir):
    return load_bundle(samples_dir / "adult-income-hgb")


def _pipeline_matrix(ctx):
    pre = ctx.model.sklearn_estimator[:-1]
    return np.asarray(pre.transform(ctx.X), dtype=np.float64)


def test_rows_are_the_pipeline_transform_of_exactly_the_rows_asked_for(bundle):
    ctx = AuditContext(bundle, seed=0)
    fs = feature_space(ctx)
    assert fs is not None and fs.n_transformed <= 1  # one row to learn the width
    full = _pipeline_matrix(ctx)
    idx = np.array([5, 3, 5, 16000, 0, 3])
    np.testing.assert_array_equal(fs.rows(idx), full[idx])
    assert fs.n_transformed == 4  # rows 0 (the width), 3, 5 and 16000
    again = fs.rows(np.array([16000, 7]))  # cached rows and a new one, in the order asked
    np.testing.assert_array_equal(again, full[[16000, 7]])
    view = fs.view()
    assert isinstance(view, LazyRows) and view.shape == full.shape
    np.testing.assert_array_equal(view[np.array([1, 2])], full[[1, 2]])
    np.testing.assert_array_equal(fs.matrix, full)  # the whole matrix is still there on request


def test_checks_transform_only_their_samples(bundle):
    ctx = AuditContext(bundle, seed=0)
    res = _run_check(ShapCheck, ctx, {"rows": 300, "bootstrap": 100})
    assert res.status == Status.PASS, res.error
    fs = feature_space(ctx)
    # 300 explained rows + two background halves of 50 (+ overlap), far from the 16,281 evaluation rows
    assert 300 <= fs.n_transformed <= 420
    assert ctx.n_rows == 16281


def test_space_statistics_from_a_profile_sample_keep_the_full_range(bundle, monkeypatch):
    full_ctx = AuditContext(bundle, seed=0)
    full_space = build_space(full_ctx, "free")
    T = _pipeline_matrix(full_ctx)
    num = ~full_space.is_cat
    # up to PROFILE_ROWS rows, the statistics are those of every row
    np.testing.assert_allclose(full_space.mean[num], T[:, num].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(full_space.scale[num], np.where(T[:, num].std(axis=0) > 0, T[:, num].std(axis=0), 1))

    monkeypatch.setattr(features, "PROFILE_ROWS", 2000)
    ctx = AuditContext(bundle, seed=0)
    space = build_space(ctx, "free")
    fs = feature_space(ctx)
    assert len(fs.profile_rows()) == 2000
    assert fs.n_transformed <= 1  # the profile is transformed for the statistics, not kept
    # same structure: categories, the affine map of each numeric column, what may change
    assert space.category == full_space.category and space.source == full_space.source
    np.testing.assert_array_equal(space.mutable, full_space.mutable)
    inv = np.isfinite(full_space.beta) & num
    np.testing.assert_allclose(space.beta[inv], full_space.beta[inv])
    np.testing.assert_allclose(space.alpha[inv], full_space.alpha[inv], atol=1e-9)
    # the observed range in original units is every row's range, not the sample's
    np.testing.assert_array_equal(space.x_lo[inv], full_space.x_lo[inv])
    np.testing.assert_array_equal(space.x_hi[inv], full_space.x_hi[inv])
    lo_v, hi_v = space.lo * space.scale + space.mean, space.hi * space.scale + space.mean
    np.testing.assert_allclose(lo_v[inv], T[:, inv].min(axis=0), atol=1e-9)
    np.testing.assert_allclose(hi_v[inv], T[:, inv].max(axis=0), atol=1e-9)
    # sample means within a few standard errors of the full ones
    se = full_space.scale[num] / np.sqrt(2000)
    assert np.all(np.abs(space.mean[num] - full_space.mean[num]) <= 5 * se)
    # encode() uses the rows asked for only
    Z = space.encode(np.array([10, 20]))
    np.testing.assert_allclose(Z, (T[[10, 20]] - space.mean) / space.scale)
    assert fs.n_transformed <= 3


def test_missing_values_outside_the_profile_sample_are_still_seen(monkeypatch):
    """A pipeline without an imputer (HGB takes NaN) transforms a missing value to NaN. The scikit-learn attack
    space cannot hold NaN, so the robustness check falls back to its own encoding: that decision must not depend
    on whether the profile sample happened to contain a row with a missing value."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from trustaudit.api import in_memory_bundle

    rng = np.random.default_rng(0)
    n = 3000
    df = pd.DataFrame({"x": rng.normal(size=n), "g": rng.choice(["a", "b"], n)})
    df["y"] = np.where(df["x"] + (df["g"] == "a") + rng.normal(0, 0.5, n) > 0.5, "yes", "no")
    pre = ColumnTransformer([("cat", OneHotEncoder(sparse_output=False), ["g"]), ("num", "passthrough", ["x"])])
    model = Pipeline([("pre", pre), ("clf", HistGradientBoostingClassifier(max_iter=10, random_state=0))])
    model.fit(df[["x", "g"]], df["y"])
    df.loc[[7, 1500], "x"] = np.nan  # two rows with a missing value
    bundle = in_memory_bundle(model, df, label="y", favorable_label="yes", protected={"g": ["a"]},
                              features=["x", "g"])
    full = build_space(AuditContext(bundle, seed=0), "free")
    assert full.mode == "encoded"  # NaN in the transformed matrix: our own encoding instead
    monkeypatch.setattr(features, "PROFILE_ROWS", 500)
    ctx = AuditContext(bundle, seed=0)
    prof = feature_space(ctx).profile_rows()
    assert 7 not in prof and 1500 not in prof
    assert build_space(ctx, "free").mode == "encoded"
