"""robustness.noise: flip rates recomputed by hand from the same seeded perturbations, through the real model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trustaudit.checks.robustness.noise import NoiseParams, NoiseRobustnessCheck, categorical_rows
from trustaudit.checks.robustness.spaces import build_space


def _metric(out, name, subject=None):
    ms = [m for m in out.metrics if m.name == name and (subject is None or m.subject == subject)]
    assert len(ms) == 1, (name, subject)
    return ms[0]


def test_gaussian_flip_rate_by_hand(synthetic):
    """Redo the noise with numpy (same seeded generator), in original units, and score the rows with the
    pipeline itself: the flip rates must be the check's."""
    ctx, model = synthetic("logreg")
    p = NoiseParams(n_samples=300, levels=(0.1, 0.5), min_group_size=10)
    out = NoiseRobustnessCheck().run(ctx, p)
    idx = ctx.sample(300, NoiseRobustnessCheck.id)
    X = ctx.X.iloc[idx].reset_index(drop=True)
    clean = model.predict(X)
    space = build_space(ctx, "free")
    order = [space.source[j] for j in range(space.n_dims)]
    for sigma in p.levels:
        rng = ctx.rng(f"{NoiseRobustnessCheck.id}:gaussian:{sigma:g}")
        noise = rng.normal(0.0, sigma, size=(len(idx), space.n_dims))  # same draws, one column per dim
        hand = X.copy()
        for col in ("x1", "x2", "k"):  # mutable numeric (x3 immutable, grp protected)
            sd = float(np.std(ctx.X[col].to_numpy(dtype=float)))
            v = X[col].to_numpy(dtype=float) + noise[:, order.index(col)] * sd
            if col == "k":
                v = np.rint(v)
            hand[col] = np.clip(v, ctx.X[col].min(), ctx.X[col].max()).astype(ctx.X[col].dtype)
        flipped = model.predict(hand) != clean
        m = _metric(out, "flip_rate", f"sigma={sigma:g}")
        assert m.n == len(idx)
        assert m.value == pytest.approx(flipped.mean(), abs=1.5 / len(idx))  # float rounding at most one row
        assert (hand["x3"] == X["x3"]).all() and (hand["grp"] == X["grp"]).all()
    assert _metric(out, "flip_rate", "sigma=0.5").value > _metric(out, "flip_rate", "sigma=0.1").value
    # per-group rates and gap (unprivileged minus privileged) at group_level
    gap = _metric(out, "flip_rate_gap")
    ga, gb = _metric(out, "group_flip_rate", "grp=a"), _metric(out, "group_flip_rate", "grp=b")
    assert gap.value == pytest.approx(gb.value - ga.value)
    assert ga.n + gb.n == len(idx)


def test_categorical_changes_are_valid_and_counted(synthetic):
    ctx, _ = synthetic("logreg", immutable=())
    space = build_space(ctx, "free")
    idx = np.arange(400)
    Z0 = space.encode(idx)
    Zc = categorical_rows(space, Z0, 1, np.random.default_rng(3), ["color"])
    df, orig = space.decode(Zc, idx), ctx.X.iloc[idx].reset_index(drop=True)
    assert (df["color"] != orig["color"]).all()  # every row got another category
    assert set(df["color"]) <= {"red", "green", "blue"}
    pd.testing.assert_series_equal(df["grp"], orig["grp"])  # protected: never
    for col in ("x1", "x2", "x3", "k"):
        pd.testing.assert_series_equal(df[col], orig[col])
    # frequencies follow the observed ones (excluding the current category)
    counts = pd.crosstab(orig["color"], df["color"])
    assert (np.diag(counts.to_numpy()) == 0).all()
    p = NoiseParams(n_samples=400, levels=(0.1,), categorical_changes=1)
    out = NoiseRobustnessCheck().run(ctx, p)
    m = _metric(out, "categorical_flip_rate")
    assert m.subject == "1 column" and m.n >= 400 and 0 <= m.value <= 1
    per_col = {r[0]: r for r in out.tables[1].rows}
    assert set(per_col) == {"color"}


def test_noise_on_adult_bundles(adult):
    for name in ("adult-income-hgb", "adult-income-logreg-onnx"):
        ctx = adult(name)
        out = NoiseRobustnessCheck().run(ctx, NoiseParams(n_samples=300, levels=(0.05, 0.5)))
        ev = out.evidence
        assert ev["clean_prediction_mismatches"] == 0
        assert ev["numeric_columns_perturbed"] == ["capital-gain", "capital-loss", "education-num",
                                                   "hours-per-week"]
        assert set(ev["fixed_columns"]) == {"age", "race", "sex"}
        assert "sex" not in ev["categorical_columns_changed"]
        rates = [_metric(out, "flip_rate", s).value for s in ("sigma=0.05", "sigma=0.5")]
        assert 0 <= rates[0] <= rates[1] <= 1
        assert not ev["stopped_early"]


def test_noise_deterministic_and_time_budget(synthetic):
    ctx, _ = synthetic("logreg")
    a = NoiseRobustnessCheck().run(ctx, NoiseParams(n_samples=200))
    b = NoiseRobustnessCheck().run(ctx, NoiseParams(n_samples=200))
    assert [m.model_dump() for m in a.metrics] == [m.model_dump() for m in b.metrics]
    c = NoiseRobustnessCheck().run(ctx, NoiseParams(n_samples=200, time_budget_s=1e-9))
    assert c.evidence["stopped_early"] is True and c.evidence["levels_done"] == []
    assert c.metrics and all(not m.judged and m.note.startswith("not judged: stopped early") for m in c.metrics)


def test_fast_path_disagreement_falls_back_to_full_model(synthetic):
    """Outcomes are scored by the fast path and confirmed by the full model: when the fast path is wrong, the
    check notices and re-scores everything with the full model, giving the same numbers as a correct run."""
    ctx, _ = synthetic("logreg")
    ref = NoiseRobustnessCheck().run(ctx, NoiseParams(n_samples=200))
    assert ref.evidence["scoring"]["disagreements"] == 0
    ctx2, _ = synthetic("logreg")
    space = build_space(ctx2, "free")
    honest = space.predict_proba

    def lying(Z, base=None):
        proba = honest(Z, base).copy()
        proba[::7] = proba[::7, ::-1]
        return proba

    space.predict_proba = lying
    out = NoiseRobustnessCheck().run(ctx2, NoiseParams(n_samples=200))
    assert out.evidence["scoring"]["disagreements"] > 0
    assert out.evidence["scoring"]["rescored_by_full_model"] is True
    assert [m.model_dump() for m in out.metrics] == [m.model_dump() for m in ref.metrics]
