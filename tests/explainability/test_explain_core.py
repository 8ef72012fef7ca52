"""The building blocks: the permutation estimator against exact Shapley values (by enumeration and through
shap.KernelExplainer), the ordinal codec, and the small statistics."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from trustaudit.checks.explainability.permutation import OrdinalCodec, permutation_shap
from trustaudit.checks.explainability.stats import (
    bootstrap_counts,
    contingency,
    cramers_v,
    discretise,
    mean_statistics,
    normalized_mutual_info,
    spearman,
)


def exact_shapley(f, x: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Shapley values of the interventional game v(S) = mean_b f(x_S, b_rest), by enumerating coalitions."""
    m = len(x)

    def v(S: tuple[int, ...]) -> float:
        Z = background.copy()
        Z[:, list(S)] = x[list(S)]
        return float(f(Z).mean())

    phi = np.zeros(m)
    for j in range(m):
        others = [k for k in range(m) if k != j]
        for r in range(m):
            w = math.factorial(r) * math.factorial(m - r - 1) / math.factorial(m)
            for S in itertools.combinations(others, r):
                phi[j] += w * (v((*S, j)) - v(S))
    return phi


def pairwise(Z: np.ndarray) -> np.ndarray:
    return Z[:, 0] * Z[:, 1] + np.sin(Z[:, 2]) + Z[:, 0] ** 2 * Z[:, 3] - Z[:, 3]


def threeway(Z: np.ndarray) -> np.ndarray:
    return Z[:, 0] * Z[:, 1] * Z[:, 2] + np.tanh(Z[:, 3])


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(6, 4)), rng.normal(size=(7, 4)), rng.normal(size=(5, 4))


def test_antithetic_permutations_are_exact_up_to_pairwise_interactions(data):
    X, B1, _ = data
    res = permutation_shap(pairwise, X, B1, permutations=1, rng=np.random.default_rng(1))
    expected = np.array([exact_shapley(pairwise, X[i], B1) for i in res.order])
    np.testing.assert_allclose(res.values, expected, atol=1e-12)
    np.testing.assert_allclose(res.base, pairwise(B1).mean(), atol=1e-14)
    np.testing.assert_allclose(res.fx, pairwise(X[res.order]), atol=1e-14)
    assert sorted(res.order) == list(range(len(X))) and not res.stopped_early


def test_each_row_against_its_own_background_draw(data):
    """With ``draws``, row i is explained against background[draws[i]] only: exactly the values of explaining
    it alone against those rows, and its base value is their mean output."""
    X, B1, B2 = data
    background = np.vstack([B1, B2])
    draws = np.random.default_rng(5).integers(0, len(background), size=(len(X), 4))
    res = permutation_shap(pairwise, X, background, draws=draws, permutations=1, rng=np.random.default_rng(2))
    for pos, i in enumerate(res.order):
        own = background[draws[i]]
        np.testing.assert_allclose(res.values[pos], exact_shapley(pairwise, X[i], own), atol=1e-12)
        assert res.base[pos] == pytest.approx(pairwise(own).mean(), abs=1e-14)
        assert res.base[pos] + res.values[pos].sum() == pytest.approx(pairwise(X[i : i + 1])[0], abs=1e-12)


def test_higher_order_interactions_converge_and_stay_additive(data):
    X, B1, _ = data
    exact = np.array([exact_shapley(threeway, x, B1) for x in X])
    errors = []
    for perms in (2, 200):
        res = permutation_shap(threeway, X, B1, permutations=perms, rng=np.random.default_rng(3))
        v = res.values[np.argsort(res.order)]
        # additivity is exact whatever the number of orderings
        np.testing.assert_allclose(res.base[0] + v.sum(axis=1), threeway(X), atol=1e-12)
        errors.append(np.abs(v - exact).max())
    assert errors[1] < 0.05 and errors[1] < errors[0]


def test_agrees_with_shap_kernel_explainer_exact_enumeration(data):
    from trustaudit.checks.explainability.attributions import import_shap

    shap = import_shap()
    X, B1, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kernel = shap.KernelExplainer(pairwise, B1)
        expected = np.asarray(kernel.shap_values(X, nsamples=2 ** X.shape[1], l1_reg=False, silent=True))
    res = permutation_shap(pairwise, X, B1, permutations=1, rng=np.random.default_rng(0))
    np.testing.assert_allclose(res.values[np.argsort(res.order)], expected, atol=1e-8)
    assert res.base[0] == pytest.approx(float(np.ravel(kernel.expected_value)[0]))


def test_single_feature_and_time_limit():
    X = np.arange(5.0).reshape(-1, 1)
    res = permutation_shap(lambda Z: Z[:, 0] ** 2, X, np.zeros((2, 1)), permutations=2, rng=np.random.default_rng(0))
    np.testing.assert_allclose(res.values[:, 0], X[res.order, 0] ** 2)
    # a safety stop that is already spent stops after the first block, on a random subset of rows
    rng = np.random.default_rng(0)
    Xb, B = rng.normal(size=(50, 4)), rng.normal(size=(4, 4))
    res = permutation_shap(pairwise, Xb, B, permutations=1, rng=rng, time_limit_s=1e-9, samples_per_call=24)
    assert res.stopped_early and len(res.order) == 1


def test_ordinal_codec_round_trip_keeps_values_dtypes_and_missing():
    X = pd.DataFrame(
        {
            "age": pd.array([25, 38, 61, 40], dtype="int64"),
            "hours": [40.0, np.nan, 12.5, 40.0],
            "job": pd.array(["Sales", None, "Tech", "Sales"], dtype="str"),
            "flag": [True, False, True, True],
        }
    )
    codec = OrdinalCodec(X)
    Z = codec.encode(X)
    assert codec.categorical == ["job"]
    np.testing.assert_array_equal(Z[:, 2], [0, -1, 1, 0])
    back = codec.decode(Z)
    pd.testing.assert_frame_equal(back, X)
    # decoding the background's values into another row (what masking does) gives real categories
    Z2 = Z.copy()
    Z2[1, 2] = Z[0, 2]
    assert codec.decode(Z2)["job"].tolist() == ["Sales", "Sales", "Tech", "Sales"]


def test_adult_codec_round_trip_gives_identical_predictions(samples_dir):
    from trustaudit.bundle import load_bundle
    from trustaudit.context import AuditContext

    ctx = AuditContext(load_bundle(samples_dir / "adult-income-logreg-onnx"))
    rows = ctx.sample(500, "codec")
    X = ctx.X.iloc[rows]
    assert X.isna().any().any()  # Adult has missing workclass/occupation/native-country
    codec = OrdinalCodec(ctx.X)
    back = codec.decode(codec.encode(X))
    pd.testing.assert_frame_equal(back, X.reset_index(drop=True))
    np.testing.assert_array_equal(ctx.predict_favorable_proba(back), ctx.scores[rows])


def test_spearman_matches_scipy():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    a = rng.normal(size=20)
    b = a + rng.normal(scale=0.7, size=20)
    b[3] = b[4]  # a tie
    assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    assert np.isnan(spearman(a, np.ones(20)))


def test_cramers_v_by_hand_nmi_against_sklearn_and_discretisation():
    from sklearn.metrics import normalized_mutual_info_score

    # 2x2 table [[30, 10], [10, 50]]: chi2 = n (ad - bc)^2 / (row and column totals), V = sqrt(chi2 / n)
    a = np.r_[np.zeros(40), np.ones(60)].astype(int)
    b = np.r_[np.zeros(30), np.ones(10), np.zeros(10), np.ones(50)].astype(int)
    np.testing.assert_array_equal(contingency(a, b), [[30, 10], [10, 50]])
    phi = (30 * 50 - 10 * 10) / math.sqrt(40 * 60 * 40 * 60)
    assert cramers_v(contingency(a, b)) == pytest.approx(abs(phi), abs=1e-12)
    assert cramers_v(contingency(a, a)) == pytest.approx(1.0)
    assert cramers_v(contingency(a, np.zeros(100, dtype=int))) == 0.0
    rng = np.random.default_rng(0)
    for x, y in ((a, b), (rng.integers(0, 7, 500), rng.integers(0, 2, 500)), (a, a), (a, np.zeros(100, int))):
        t = contingency(x, y)
        assert normalized_mutual_info(t) == pytest.approx(normalized_mutual_info_score(x, y), abs=1e-12)
    codes = discretise(pd.Series(np.r_[np.arange(100.0), np.nan]), bins=4)
    assert codes[-1] == -1 and np.bincount(codes[:-1]).tolist() == [25, 25, 25, 25]
    cats = discretise(pd.Series(["a", "b", None, "a"], dtype="str"), bins=4)
    assert cats[0] == cats[3] and len(set(cats.tolist())) == 3


def test_mean_statistics_bca_contains_the_estimate_and_matches_scipy():
    """BCa intervals of functions of column means: the same interval as scipy.stats.bootstrap's BCa (up to the
    resampling draws), the estimate always inside, exact intervals for a constant metric, None when undefined."""
    from scipy.stats import bootstrap

    rng = np.random.default_rng(0)
    A = np.abs(rng.standard_t(3, size=(400, 3)))
    A[:, 2] = 0.0  # a feature the model never uses
    est, cis = mean_statistics(
        A, lambda m: np.column_stack([m[:, 0], m[:, 0] / m[:, :2].sum(axis=1), m[:, 2]]),
        n_boot=4000, rng=np.random.default_rng(1), level=0.95,
    )
    assert est[0] == pytest.approx(A[:, 0].mean()) and est[1] == pytest.approx(A[:, 0].sum() / A[:, :2].sum())
    ref = bootstrap((A[:, 0],), np.mean, n_resamples=4000, method="BCa", rng=np.random.default_rng(2))
    assert cis[0].low == pytest.approx(ref.confidence_interval.low, rel=0.02)
    assert cis[0].high == pytest.approx(ref.confidence_interval.high, rel=0.02)
    for e, ci in zip(est, cis):
        assert ci.low <= e <= ci.high
    assert (cis[2].low, cis[2].high) == (0.0, 0.0) and "every resample equals the estimate" in cis[2].method
    assert cis[0].method == "bootstrap-bca (4000)"
    # a ratio undefined in most resamples has no interval
    B = np.zeros((50, 2))
    B[0] = 1.0
    est, cis = mean_statistics(B, lambda m: m[:, :1] / m[:, 1:], n_boot=200, rng=np.random.default_rng(0), level=0.9)
    assert est[0] == 1.0 and cis[0] is None
    est, cis = mean_statistics(A, lambda m: m[:, :1], n_boot=0, rng=np.random.default_rng(0), level=0.9)
    assert cis == [None]


def test_bootstrap_counts_are_resamples_with_replacement():
    W = bootstrap_counts(50, 400, np.random.default_rng(0))
    assert W.shape == (400, 50) and (W.sum(axis=1) == 50).all()
    assert W.mean() == pytest.approx(1.0) and W.var() == pytest.approx(1 - 1 / 50, rel=0.05)
    np.testing.assert_array_equal(W, bootstrap_counts(50, 400, np.random.default_rng(0)))


@pytest.mark.parametrize("per_pass", [8, 2, 1])
def test_group_tables_are_the_per_attribute_contingency_tables(samples_dir, monkeypatch, per_pass):
    """The one-pass joint tables give exactly contingency(codes[valid], privileged[valid]) per attribute, with
    every attribute in one pass or spread over several."""
    import trustaudit.checks.explainability.checks as checks_mod
    from trustaudit.bundle import load_bundle
    from trustaudit.checks.explainability.checks import _group_tables

    monkeypatch.setattr(checks_mod, "_ATTRS_PER_PASS", per_pass)
    from trustaudit.checks.explainability.stats import discretise
    from trustaudit.context import AuditContext

    ctx = AuditContext(load_bundle(samples_dir / "adult-income-hgb"), seed=0)
    assert len(ctx.protected) == 3
    codes = {f: discretise(ctx.X[f], 10) for f in ctx.X.columns}
    tables = _group_tables(ctx, codes)
    for name, attr in ctx.protected.items():
        valid = np.asarray(attr.valid)
        group = np.asarray(attr.privileged)[valid].astype(np.int64)
        for f, c in codes.items():
            np.testing.assert_array_equal(tables[name][f], contingency(c[valid], group))
    # and by hand for one pair: sex against itself is the 2x2 diagonal of group sizes
    sex = np.asarray(ctx.protected["sex"].privileged)
    t = tables["sex"]["sex"]
    assert sorted(t.ravel().tolist()) == sorted([0, 0, int(sex.sum()), int((~sex).sum())])
