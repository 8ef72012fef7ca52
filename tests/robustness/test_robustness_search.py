"""The batched search (method 'search'): valid adversarial rows only, fixed work, determinism, strength."""

from __future__ import annotations

import numpy as np
import pytest

from trustaudit.checks.robustness.adversarial import AdversarialParams, AdversarialRobustnessCheck, attack
from trustaudit.checks.robustness.spaces import build_space


@pytest.mark.parametrize("categorical", ["fixed", "free"])
def test_every_reported_row_is_valid_and_adversarial(synthetic, categorical):
    """Each adversarial row the search reports keeps the protected (grp) and immutable (x3) columns, keeps the
    integer column integer, stays in the observed range and within the budget, changes a categorical column only
    with categorical='free', and flips the real pipeline's decision on the decoded DataFrame."""
    ctx, model = synthetic("hgb")
    p = AdversarialParams(n_samples=200, target_half_width=None, budgets=(0.25, 1.0), categorical=categorical)
    run = attack(ctx, p)
    assert run.method == "search"
    X = ctx.X
    for b in p.budgets:
        rows = np.flatnonzero(run.result.broken[b])
        assert len(rows) > 5, b
        df = run.space.decode(run.result.adv[b][rows], run.idx[rows])
        orig = X.iloc[run.idx[rows]].reset_index(drop=True)
        assert (df["grp"] == orig["grp"]).all() and (df["x3"] == orig["x3"]).all()
        if categorical == "fixed":
            assert (df["color"] == orig["color"]).all()
        assert set(df["color"]) <= {"red", "green", "blue"}
        assert (df["k"] == np.rint(df["k"])).all()
        for col in ("x1", "x2", "k"):
            sd = float(np.std(X[col].to_numpy(dtype=float)))
            assert (np.abs(df[col] - orig[col]) <= b * sd + 1e-9 * sd).all(), col
            assert df[col].min() >= X[col].min() and df[col].max() <= X[col].max()
        pred = (model.predict(df) == "yes").astype(int)
        assert (pred != run.y[rows]).all()
        assert np.all(run.result.dist[rows] <= b + 1e-9)
    # the curve follows from the distances: broken at b <=> distance <= b
    for b in p.budgets:
        assert np.array_equal(run.result.broken[b], run.result.dist <= b + 1e-9)


def test_work_is_fixed_by_the_parameters(synthetic):
    ctx, _ = synthetic("hgb")
    p = AdversarialParams(n_samples=150, target_half_width=None, search_queries=40, search_candidates=8,
                          refine_steps=3)
    out = AdversarialRobustnessCheck().run(ctx, p)
    ev = out.evidence
    search = ev["attacks"]["search"]
    assert search["queries_per_row_and_budget"] == 40 and search["corners"] == 8  # 2^3 numeric features
    assert search["single_feature_moves"] == 6
    n_budgets = len(p.budgets)
    # per row: one clean query, at most `search_queries` per budget, `refine_steps` once per budget it is found at
    assert ev["queries_per_row_max"] <= 1 + n_budgets * (p.search_queries + p.refine_steps)
    assert [b["budget"] for b in ev["per_budget"]] == list(p.budgets)
    again = AdversarialRobustnessCheck().run(ctx, p)
    assert [m.model_dump() for m in again.metrics] == [m.model_dump() for m in out.metrics]
    assert again.evidence["queries_total"] == ev["queries_total"]


def test_more_queries_never_find_less_on_the_judged_budgets(adult):
    """A cross-check of strength on the HGB sample: the structured candidates alone (corners and single-feature
    moves, 2 x 4 + 16 queries) already find most of what 4x the default random search finds at the small
    budgets, and more queries find at least as many rows."""
    ctx = adult("adult-income-hgb")
    base = {"n_samples": 300, "target_half_width": None, "budgets": (0.1, 0.25)}
    small = attack(ctx, AdversarialParams(**base, search_queries=25))
    large = attack(ctx, AdversarialParams(**base, search_queries=400))
    for b in (0.1, 0.25):
        k_small, k_large = int(small.result.broken[b].sum()), int(large.result.broken[b].sum())
        assert k_large >= k_small > 0.8 * k_large, (b, k_small, k_large)


def test_observed_values_are_the_data(synthetic):
    ctx, _ = synthetic("hgb")
    space = build_space(ctx, "fixed")
    j = space.source.index("k")
    z = space.observed_values(j)
    X = np.zeros((len(z), space.n_dims))
    X[:, j] = z
    back = space.original_units(X)[:, j]
    np.testing.assert_allclose(back, np.unique(ctx.X["k"].to_numpy(dtype=float)), atol=1e-9)
