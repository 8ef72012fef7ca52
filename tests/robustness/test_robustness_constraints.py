"""One test per validity constraint of perturbed tabular rows (constraints.TabularSpace.project), on synthetic
data and on the Adult bundles (scikit-learn feature space and our own encoding for ONNX)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trustaudit.checks.robustness.adversarial import AdversarialParams, attack
from trustaudit.checks.robustness.spaces import build_space


def _noisy(space, Z0, scale=3.0, seed=1):
    """Wild perturbation of EVERY dim (mutable or not, one-hot included): projection must repair it."""
    rng = np.random.default_rng(seed)
    return Z0 + rng.normal(0.0, scale, size=Z0.shape)


def test_protected_and_immutable_columns_never_change(synthetic):
    ctx, _ = synthetic("logreg")
    space = build_space(ctx, "free")
    assert space.fixed == {"grp": "protected attribute", "x3": "declared immutable"}
    idx = np.arange(200)
    Z0 = space.encode(idx)
    Zp = space.project(_noisy(space, Z0), Z0)
    fixed = np.array([s in ("grp", "x3") for s in space.source])
    assert np.array_equal(Zp[:, fixed], Z0[:, fixed])
    df = space.decode(Zp, idx)
    orig = ctx.X.iloc[idx].reset_index(drop=True)
    pd.testing.assert_series_equal(df["grp"], orig["grp"])
    pd.testing.assert_series_equal(df["x3"], orig["x3"])
    # the mutable columns did change (the test is not vacuous)
    assert (df["x1"] != orig["x1"]).mean() > 0.9 and (df["color"] != orig["color"]).any()


def test_protected_columns_fixed_on_adult_space_and_attack(adult):
    ctx = adult("adult-income-logreg")
    space = build_space(ctx, "fixed")
    assert {c: space.fixed[c] for c in ("sex", "race", "age")} == {
        "sex": "protected attribute", "race": "protected attribute", "age": "protected attribute"}
    assert space.mutable_columns() == ["capital-gain", "capital-loss", "education-num", "hours-per-week"]
    run = attack(ctx, AdversarialParams(n_samples=200, budgets=(1.0,)))
    adv = run.result.adv[1.0]
    assert run.result.broken[1.0].sum() > 20
    df = space.decode(adv, run.idx)
    orig = ctx.X.iloc[run.idx].reset_index(drop=True)
    for col in ("sex", "race", "age", "workclass", "occupation", "native-country"):
        pd.testing.assert_series_equal(df[col], orig[col])


def test_one_hot_groups_stay_one_hot(synthetic, adult):
    for ctx in (synthetic("logreg")[0], adult("adult-income-hgb"), adult("adult-income-logreg-onnx")):
        space = build_space(ctx, "free")
        idx = np.arange(300)
        Z0 = space.encode(idx)
        Zp = space.project(_noisy(space, Z0, scale=0.8), Z0)
        changed = 0
        for col, dims in space.groups.items():
            block = Zp[:, dims]
            assert set(np.unique(block)) <= {0.0, 1.0}, col
            assert (block.sum(axis=1) == 1).all(), col  # no dropped category in these encoders
            changed += int((block != Z0[:, dims]).any(axis=1).sum())
        assert changed > 0
        df = space.decode(Zp, idx)
        for col in space.groups:
            observed = set(ctx.X[col].dropna().astype(str))
            assert set(df[col].dropna().astype(str)) <= observed, col


def test_integer_columns_stay_integers(synthetic, adult):
    for ctx, cols in ((synthetic("logreg")[0], ["k"]),
                      (adult("adult-income-hgb"), ["education-num", "capital-gain", "capital-loss",
                                                   "hours-per-week"]),
                      (adult("adult-income-logreg-onnx"), ["education-num", "hours-per-week"])):
        space = build_space(ctx, "fixed")
        idx = np.arange(300)
        Z0 = space.encode(idx)
        for budget in (None, 0.3):
            Zp = space.project(_noisy(space, Z0, scale=0.7), Z0, budget=budget)
            X = space.original_units(Zp)
            df = space.decode(Zp, idx)
            for col in cols:
                j = space.source.index(col)
                assert space.integer[j]
                assert np.allclose(X[:, j], np.rint(X[:, j]), atol=1e-6), col
                assert df[col].dtype == ctx.X[col].dtype
                if budget is None or budget * space.sd_original[j] >= 1:  # room to move by an integer
                    assert (df[col] != ctx.X[col].iloc[idx].to_numpy()).any(), col
                else:  # rounding toward the original keeps the change within the budget: no change
                    assert (df[col] == ctx.X[col].iloc[idx].to_numpy()).all(), col


def test_values_stay_in_observed_range(synthetic, adult):
    for ctx in (synthetic("logreg")[0], adult("adult-income-logreg"), adult("adult-income-logreg-onnx")):
        space = build_space(ctx, "fixed")
        idx = np.arange(300)
        Z0 = space.encode(idx)
        df = space.decode(space.project(_noisy(space, Z0, scale=10.0), Z0), idx)
        for col in space.mutable_columns():
            lo, hi = ctx.X[col].min(), ctx.X[col].max()
            assert df[col].min() >= lo - 1e-9 and df[col].max() <= hi + 1e-9, col
            assert df[col].min() == pytest.approx(lo) or df[col].max() == pytest.approx(hi)  # clipping bites


def test_budget_in_original_standard_deviations(synthetic, adult):
    """A budget of eps allows |x' - x| <= eps * sd(x) in original units, whether the pipeline standardises the
    column (logreg) or passes it through (hgb), and in our own encoding (onnx)."""
    for ctx in (synthetic("logreg")[0], adult("adult-income-logreg"), adult("adult-income-hgb"),
                adult("adult-income-logreg-onnx")):
        space = build_space(ctx, "fixed")
        for col in space.mutable_columns():
            j = space.source.index(col)
            assert space.sd_original[j] == pytest.approx(float(np.std(ctx.X[col].to_numpy(dtype=float))),
                                                         rel=1e-9), col
        idx = np.arange(400)
        Z0 = space.encode(idx)
        eps = 0.25
        Zp = space.project(_noisy(space, Z0, scale=2.0), Z0, budget=eps)
        df = space.decode(Zp, idx)
        orig = ctx.X.iloc[idx].reset_index(drop=True)
        for col in space.mutable_columns():
            sd = float(np.std(ctx.X[col].to_numpy(dtype=float)))
            delta = np.abs(df[col].to_numpy(dtype=float) - orig[col].to_numpy(dtype=float))
            assert delta.max() <= eps * sd + 1e-6 * max(1.0, sd), col
            if eps * sd >= 1:  # the budget is used, not just respected
                assert delta.max() >= 0.5 * eps * sd, col


def test_budget_conversion_through_the_scaler(adult):
    """In the logreg pipeline the numeric columns go through a StandardScaler: one sd of the original feature is
    sd(x) / scaler.scale_ in the transformed space the estimator sees, and a perturbed, projected row decoded to
    a DataFrame goes through the real preprocessor to exactly the values the attack space computes."""
    ctx = adult("adult-income-logreg")
    space = build_space(ctx, "fixed")
    pre = ctx.model.native.named_steps["preprocess"]
    scaler = pre.named_transformers_["num"]
    cols = list(scaler.feature_names_in_)
    for col in space.mutable_columns():
        j = space.source.index(col)
        sd = float(np.std(ctx.X[col].to_numpy(dtype=float)))
        assert space.scale[j] == pytest.approx(sd / scaler.scale_[cols.index(col)], rel=1e-9)
    idx = np.arange(200)
    Z0 = space.encode(idx)
    Zp = space.project(_noisy(space, Z0, scale=1.0), Z0, budget=0.5)
    T_real = pre.transform(space.decode(Zp, idx))
    np.testing.assert_allclose(space.model_values(Zp), T_real, rtol=0, atol=1e-9)


def test_attack_rows_satisfy_every_constraint(synthetic):
    """The rows the gradient attack reports (categorical changes allowed) are valid rows within budget."""
    ctx, _ = synthetic("logreg")
    p = AdversarialParams(n_samples=300, budgets=(0.1, 0.5), categorical="free")
    run = attack(ctx, p)
    space = run.space
    for b in p.budgets:
        for name in ("FGSM", "PGD"):
            Zp = run.result.projected[name][b]
            Z0 = run.Z0[run.result.rows]
            num = ~space.is_cat
            assert np.all(np.abs(Zp[:, num] - Z0[:, num]) <= b + 1e-9)
            fixed = ~space.mutable
            assert np.array_equal(Zp[:, fixed], Z0[:, fixed])
            for dims in space.groups.values():
                assert (Zp[:, dims].sum(axis=1) == 1).all()
            X = space.original_units(Zp)
            j = space.source.index("k")
            assert np.allclose(X[:, j], np.rint(X[:, j]))
            assert np.all(Zp >= space.lo - 1e-9) and np.all(Zp <= space.hi + 1e-9)


def test_dropped_category_one_hot_group():
    """OneHotEncoder(drop='first'): the dropped category is the all-zero state of its group; it decodes, stays
    reachable and the projection keeps every row on exactly one category."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from tests.robustness.robustness_helpers import synthetic_frame
    from trustaudit.api import in_memory_bundle
    from trustaudit.checks.robustness.spaces import _category_labels
    from trustaudit.context import AuditContext

    df = synthetic_frame(400, 5)
    feats = ["x1", "x2", "x3", "k", "color", "grp"]
    pre = ColumnTransformer([("cat", OneHotEncoder(drop="first", sparse_output=False), ["color", "grp"]),
                             ("num", StandardScaler(), ["x1", "x2", "x3", "k"])])
    model = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))]).fit(df[feats], df["y"])
    ctx = AuditContext(in_memory_bundle(model, df, label="y", favorable_label="yes", protected={"grp": ["a"]},
                                        features=feats))
    space = build_space(ctx, "free")
    assert space.zero_category == {"color": "blue", "grp": "a"}  # sorted categories: the first is dropped
    dims = space.groups["color"]
    assert [space.category[d] for d in dims] == ["green", "red"]
    labels, zero, has_zero = _category_labels(ctx.X["color"], space._fs.rows(space._fs.profile_rows())[:, dims])
    assert labels == ["green", "red"] and zero == "blue" and has_zero
    idx = np.arange(400)
    Z0 = space.encode(idx)
    pd.testing.assert_frame_equal(space.decode(Z0, idx), ctx.X.reset_index(drop=True))
    Zp = space.project(_noisy(space, Z0, scale=0.8), Z0)
    block = Zp[:, dims]
    assert set(np.unique(block)) <= {0.0, 1.0} and (block.sum(axis=1) <= 1).all()
    out = space.decode(Zp, idx)["color"]
    assert set(out) == {"red", "green", "blue"}
    np.testing.assert_allclose(model.predict_proba(space.decode(Zp, idx)), space.predict_proba(Zp, idx),
                               rtol=0, atol=1e-12)


def test_encoded_space_encodes_rows_on_demand_exactly_as_a_full_one_hot_encoding(adult):
    """The encoded space (ONNX models) keeps statistics of every row but encodes only the rows asked for: the
    rows it gives equal a one-hot encoding of the whole table built by hand with pandas."""
    from trustaudit.checks.robustness.spaces import _encoded_space

    ctx = adult("adult-income-logreg-onnx")
    space = _encoded_space(ctx)
    X = ctx.X
    assert X["workclass"].isna().any()  # a column with missing values: its own level
    blocks = []
    for col in dict.fromkeys(space.source):
        s = X[col]
        if col in space.groups:
            levels = space.category[space.groups[col][0]: space.groups[col][-1] + 1]
            known = [v for v in levels if v is not None]
            assert known == sorted(s.dropna().unique().tolist())
            d = pd.get_dummies(pd.Categorical(s, categories=known), dummy_na=None in levels).to_numpy(float)
            blocks.append(d)
        else:
            x = s.to_numpy(dtype=float, na_value=np.nan)
            blocks.append(np.where(np.isnan(x), np.nanmedian(x), x)[:, None])
    M = np.hstack(blocks)
    idx = np.array([16000, 3, 3, 0, 11])
    V = space.encode(idx) * space.scale + space.mean
    np.testing.assert_allclose(V, M[idx], rtol=0, atol=1e-9)
    num = ~space.is_cat
    np.testing.assert_allclose(space.mean[num], M[:, num].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(space.scale[num], M[:, num].std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(space.cat_freq[space.is_cat], M[:, space.is_cat].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(space.lo[num] * space.scale[num] + space.mean[num], M[:, num].min(axis=0))
    np.testing.assert_allclose(space.hi[num] * space.scale[num] + space.mean[num], M[:, num].max(axis=0))
