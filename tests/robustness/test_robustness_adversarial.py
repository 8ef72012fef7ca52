"""robustness.adversarial: a known-answer FGSM case, cross-checks against ART called directly, the search,
HopSkipJump and tree paths, skips, query budgets, determinism."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from trustaudit.checks.robustness import _art
from trustaudit.checks.robustness.adversarial import AdversarialParams, AdversarialRobustnessCheck, attack
from trustaudit.checks.robustness.spaces import build_space


def _metric(out, name, subject=None):
    ms = [m for m in out.metrics if m.name == name and (subject is None or m.subject == subject)]
    assert len(ms) == 1, (name, subject, [m.subject for m in out.metrics if m.name == name])
    return ms[0]


def _run(ctx, **kw):
    check = AdversarialRobustnessCheck()
    return check.run(ctx, AdversarialParams(**kw))


def test_fgsm_known_answer_logistic_regression(synthetic):
    """FGSM on a logistic regression moves every mutable feature by exactly eps standard deviations against the
    true class: x' = clip(x - eps * sd * sign(w)) for a favourable row, x + ... for the other class (integers
    rounded toward the original within the budget); protected and immutable features do not move. The
    predictions of those hand-made rows give the attack success rate the check reports."""
    ctx, model = synthetic("logreg")
    pre, lr = model[:-1], model[-1]
    names = list(pre.get_feature_names_out())
    w = {n.split("__", 1)[1]: lr.coef_[0][i] for i, n in enumerate(names) if n.startswith("num__")}
    assert list(lr.classes_) == ["no", "yes"]  # coef_ is the weight of 'yes' (favourable)
    budgets = (0.1, 0.5)
    run = attack(ctx, AdversarialParams(n_samples=400, budgets=budgets))
    out = _run(ctx, n_samples=400, budgets=budgets)
    idx, rows = run.idx, run.result.rows
    X = ctx.X.iloc[idx[rows]].reset_index(drop=True)
    y = run.y[rows]
    against = np.where(y == 1, -1.0, 1.0)  # move against the true class
    for b in budgets:
        adv = run.space.decode(run.result.projected["FGSM"][b], idx[rows])
        hand = X.copy()
        for col in ("x1", "x2", "k"):
            sd = float(np.std(ctx.X[col].to_numpy(dtype=float)))
            step = against * np.sign(w[col]) * b * sd
            if col == "k":  # integer: nearest integer within the budget
                step = np.sign(step) * np.floor(np.abs(step) + 1e-9)
            hand[col] = np.clip(X[col] + step, ctx.X[col].min(), ctx.X[col].max())
        for col in ("x1", "x2"):
            np.testing.assert_allclose(adv[col], hand[col], rtol=0, atol=1e-5 * float(np.std(ctx.X[col])))
        assert (adv["k"] == hand["k"]).all()
        for col in ("x3", "grp", "color"):  # immutable, protected, categorical (fixed)
            assert (adv[col] == X[col]).all(), col
        flipped = (model.predict(hand) == "yes").astype(int) != y
        m = _metric(out, "attack_success_rate", f"eps={b:g}")
        assert m.n == len(rows) == int(run.correct.sum())
        assert m.value == pytest.approx(flipped.mean(), abs=1e-12)
        acc = _metric(out, "adversarial_accuracy", f"eps={b:g}")
        assert acc.value == pytest.approx((len(rows) - flipped.sum()) / len(idx), abs=1e-12)
    # PGD cannot beat FGSM on a linear model within an L-infinity box: the same vertex
    for b in budgets:
        assert np.array_equal(run.result.curves["FGSM"][b], run.result.curves["PGD"][b])
    clean = _metric(out, "clean_accuracy")
    assert clean.value == pytest.approx(float((ctx.y_pred[idx] == ctx.y_true[idx]).mean()))
    assert out.evidence["clean_prediction_mismatches"] == 0
    assert out.evidence["scoring"]["disagreements"] == 0
    assert out.evidence["scoring"]["adversarial_rows_verified_by_full_model"] > 0


def _art_direct_fgsm_pgd(ctx, run, b, pgd_steps=10):
    """ART called directly on the bare LogisticRegression in the pipeline's transformed space (no folding, no
    standardised space): eps converted to the transformed units of each feature, same mask and rows."""
    art = _art.import_art()
    space = run.space
    lr = ctx.model.native[-1]
    T = space.model_values(run.Z0[run.result.rows])
    sd_t = space.scale  # standard deviation of each transformed column: 1 sd of the original feature
    lo, hi = space.model_values(space.lo[None])[0], space.model_values(space.clip_values()[1][None])[0]
    from art.estimators.classification.scikitlearn import ScikitlearnLogisticRegression

    clf = ScikitlearnLogisticRegression(model=lr, clip_values=(lo, hi))
    eps = (b * sd_t).astype(np.float32)
    fav = ctx.favorable_index
    labels = np.where(run.y[run.result.rows] == 1, fav, 1 - fav)
    yoh = np.eye(2, dtype=np.float32)[labels]
    mask = space.mutable.astype(np.float32)
    out = {}
    fgsm = art.attacks.evasion.FastGradientMethod(clf, norm=np.inf, eps=eps, eps_step=eps, batch_size=4096)
    out["FGSM"] = fgsm.generate(T.astype(np.float32), y=yoh, mask=mask)
    pgd = art.attacks.evasion.ProjectedGradientDescent(clf, norm=np.inf, eps=eps, eps_step=eps * 2.5 / pgd_steps,
                                                       max_iter=pgd_steps, batch_size=4096, verbose=False)
    out["PGD"] = pgd.generate(T.astype(np.float32), y=yoh, mask=mask)
    return out


@pytest.mark.parametrize("bundle", ["synthetic", "adult-income-logreg"])
def test_gradient_attack_matches_art_called_directly(bundle, synthetic, adult):
    ctx = synthetic("logreg")[0] if bundle == "synthetic" else adult(bundle)
    budgets = (0.1, 0.5)
    run = attack(ctx, AdversarialParams(n_samples=300, budgets=budgets, target_half_width=None))
    space = run.space
    Z0 = run.Z0[run.result.rows]
    for b in budgets:
        direct = _art_direct_fgsm_pgd(ctx, run, b)
        for name, T_adv in direct.items():
            Z_direct = (np.asarray(T_adv, dtype=np.float64) - space.mean) / space.scale
            # same raw perturbation (before our validity projection), to float32 precision
            Zp_direct = space.project(Z_direct, Z0, budget=b)
            np.testing.assert_allclose(Zp_direct, run.result.projected[name][b], atol=1e-5)
            hit = space.predict_fav_model(Zp_direct, run.idx[run.result.rows]) != run.y[run.result.rows]
            assert np.array_equal(hit, run.result.curves[name][b][run.result.rows]), (name, b)


def test_blackbox_hopskipjump_on_hgb(adult):
    from trustaudit.checks.robustness.adversarial import _report

    ctx = adult("adult-income-hgb")
    p = dict(method="blackbox", n_blackbox=8, hsj_max_iter=3, budgets=(0.1, 0.5, 1.0, 2.0))
    run = attack(ctx, AdversarialParams(**p))
    out = _report(ctx, run, AdversarialParams(**p), time.perf_counter())
    ev = out.evidence
    assert ev["method"] == "blackbox" and ev["attacks"]["HopSkipJump"]["input_dims"] == 4
    assert ev["scoring"]["disagreements"] == 0 and ev["clean_prediction_mismatches"] == 0
    assert ev["scoring"]["scored_by"] == "final estimator on the transformed matrix"
    assert not ev["stopped_early"]
    asr = [_metric(out, "attack_success_rate", f"eps={b:g}").value for b in p["budgets"]]
    assert asr == sorted(asr)  # a curve from minimal perturbations is monotone
    med = _metric(out, "median_minimal_perturbation")
    assert med.value is not None and med.value > 0 and med.unit.startswith("sd")
    d = run.result.dist[run.result.attacked]
    for b, rate in zip(p["budgets"], asr):
        assert rate == float(np.mean(d <= b + 1e-9))
    assert np.median(d) == med.value
    # every reported adversarial row is valid and adversarial through the full pipeline on a DataFrame
    broken = np.flatnonzero(run.result.broken[2.0])
    assert len(broken) > 0
    df = run.space.decode(run.result.adv[2.0][broken], run.idx[broken])
    pred = (ctx.model.predict_proba(df).argmax(axis=1) == ctx.favorable_index).astype(int)
    assert (pred != run.y[broken]).all()
    dist = run.space.numeric_distance(run.result.adv[2.0][broken], run.Z0[broken])
    np.testing.assert_allclose(dist, run.result.dist[broken])


def test_hopskipjump_matches_art_called_directly(synthetic):
    """Our HopSkipJump run is ART's: calling HopSkipJump directly with the same classifier function, start point
    and global seed gives the same raw adversarial row; our reported perturbation is the closest valid one."""
    ctx, _ = synthetic("hgb")
    p = AdversarialParams(method="blackbox", n_blackbox=8, hsj_max_iter=3)
    run = attack(ctx, p)
    space, res = run.space, run.result
    art = _art.import_art()
    mut = np.flatnonzero(space.mutable)
    lo, hi = space.clip_values()
    i = int(np.flatnonzero(res.attacked & np.isfinite(res.dist))[0])
    z0 = run.Z0[i]
    base = run.idx[i]

    def predict(Zs):
        Z = np.repeat(z0[None], len(Zs), axis=0)
        Z[:, mut] = Zs
        return space.predict_proba(Z, np.full(len(Zs), base))

    # the start point and seed the check used, recomputed the same way
    rng = ctx.rng(f"{AdversarialRobustnessCheck.id}:hopskipjump")
    order = rng.permutation(len(run.idx))
    seeds = np.asarray(rng.integers(0, 2**31 - 1, size=len(run.idx)))
    rows = np.flatnonzero(run.correct)
    cand = rng.uniform(lo[mut], hi[mut], size=(len(rows), p.hsj_init_size, len(mut))).astype(np.float32)
    cand = cand.astype(np.float64)
    assert order is not None
    r = int(np.flatnonzero(rows == i)[0])
    full = np.repeat(z0[None], p.hsj_init_size, axis=0)
    full[:, mut] = cand[r]
    pf = space.predict_fav(full, np.full(p.hsj_init_size, base))
    start = cand[r][int(np.argmax(pf != run.y[i]))]
    clf = art.estimators.classification.BlackBoxClassifier(predict, input_shape=(len(mut),), nb_classes=2,
                                                          clip_values=(lo[mut], hi[mut]))
    hsj = art.attacks.evasion.HopSkipJump(clf, batch_size=p.hsj_max_eval, norm=np.inf, max_iter=p.hsj_max_iter,
                                          max_eval=p.hsj_max_eval, init_eval=p.hsj_init_eval,
                                          init_size=p.hsj_init_size, verbose=False)
    label = ctx.favorable_index if run.y[i] == 1 else 1 - ctx.favorable_index
    with _art.seeded_global_numpy(int(seeds[i])), _art.single_threaded():
        raw = hsj.generate(z0[mut][None].astype(np.float32), y=np.eye(2)[[label]],
                           x_adv_init=start[None].astype(np.float32))[0]
    full = z0.copy()
    full[mut] = raw
    direct = min(space.numeric_distance(space.project(full[None], z0[None], rounding=r_)[0:1], z0[None])[0]
                 if space.predict_fav(space.project(full[None], z0[None], rounding=r_), np.array([base]))[0]
                 != run.y[i] else np.inf for r_ in ("nearest", "away"))
    assert np.isfinite(direct)
    assert res.dist[i] <= direct + 1e-9


def test_onnx_model_blackbox_with_fast_path(adult):
    ctx = adult("adult-income-logreg-onnx")
    out = _run(ctx, method="blackbox", n_blackbox=10, hsj_max_iter=3)
    ev = out.evidence
    assert ev["method"] == "blackbox" and ev["space"] == "encoded"
    assert ev["clean_prediction_mismatches"] == 0 and ev["scoring"]["disagreements"] == 0
    assert ev["scoring"]["scored_by"] == "direct ONNX Runtime call"
    assert build_space(ctx, "fixed").fast_path is not None
    assert _metric(out, "clean_accuracy").n >= 10  # stratified: at least one row per group x label stratum


def test_decision_tree_attack(synthetic):
    ctx, model = synthetic("tree")
    out = _run(ctx, n_samples=120, budgets=(0.25, 1.0, 3.0))
    assert out.evidence["method"] == "tree"
    run = attack(ctx, AdversarialParams(n_samples=120, budgets=(0.25, 1.0, 3.0)))
    broken = np.flatnonzero(run.result.broken[3.0])
    assert len(broken) > 10
    df = run.space.decode(run.result.adv[3.0][broken], run.idx[broken])
    assert ((model.predict(df) == "yes").astype(int) != run.y[broken]).all()
    # cross-check with ART's DecisionTreeAttack called directly: a raw adversarial row that stays adversarial
    # after our projection is found by the check too
    art = _art.import_art()
    clf = art.estimators.classification.SklearnClassifier(model=model[-1])
    rows = np.flatnonzero(run.correct)
    T_adv = art.attacks.evasion.DecisionTreeAttack(clf, verbose=False).generate(
        run.space.model_values(run.Z0[rows]))
    Z = (T_adv - run.space.mean) / run.space.scale
    Zp = run.space.project(Z, run.Z0[rows])
    ok = run.space.predict_fav(Zp, run.idx[rows]) != run.y[rows]
    assert np.all(np.isfinite(run.result.dist[rows[ok]]))


def test_predictions_only_bundle_is_skipped(adult):
    from trustaudit.api import _run_check

    ctx = adult("adult-income-predictions")
    res = _run_check(AdversarialRobustnessCheck, ctx, {})
    assert res.status.value == "skipped"
    assert res.skipped_reason == "the bundle has no model (predictions-only audit)"


def test_method_not_available_is_skipped(synthetic):
    from trustaudit.errors import SkipCheck

    with pytest.raises(SkipCheck, match="method 'gradient' needs"):
        _run(synthetic("hgb")[0], method="gradient")
    with pytest.raises(SkipCheck, match="method 'tree' needs"):
        _run(synthetic("logreg")[0], method="tree")


@pytest.mark.parametrize("method", ["search", "blackbox"])
def test_safety_stop_judges_nothing(synthetic, method):
    """A run cut short by the safety stop reports what it measured, says so, and judges none of it."""
    ctx, _ = synthetic("hgb")
    t0 = time.perf_counter()
    out = _run(ctx, method=method, n_blackbox=30, time_budget_s=1e-6)
    assert time.perf_counter() - t0 < 60
    assert out.evidence["stopped_early"] is True
    assert any("stopped early" in w and "time_budget_s=1e-06" in w for w in out.warnings)
    assert out.metrics and all(not m.judged for m in out.metrics)
    assert all(m.note.startswith("not judged: stopped early after") for m in out.metrics)


def test_query_budget_per_row(synthetic):
    ctx, _ = synthetic("hgb")
    out = _run(ctx, method="blackbox", n_blackbox=6, max_queries=60)
    status = out.evidence["row_status"]
    assert status["query_budget"] == status["attacked"] > 0
    assert out.evidence["queries_total"] <= 60 * status["attacked"]
    again = _run(ctx, method="blackbox", n_blackbox=6, max_queries=60)
    assert [m.value for m in again.metrics] == [m.value for m in out.metrics]


def test_curve_table_and_svg(synthetic, tmp_path):
    ctx, _ = synthetic("logreg")
    ctx.out_dir = tmp_path
    out = _run(ctx, n_samples=100, budgets=(0.1, 0.5))
    curve = out.tables[0]
    assert curve.columns[:2] == ["budget (sd)", "adversarial accuracy"]
    assert [r[0] for r in curve.rows] == [0.1, 0.5]
    assert [r[1] for r in curve.rows] == [round(_metric(out, "adversarial_accuracy", s).value, 4)
                                         for s in ("eps=0.1", "eps=0.5")]
    assert out.artifacts[0].path == "robustness_adversarial_curve.svg"
    svg = (tmp_path / "robustness_adversarial_curve.svg").read_bytes()
    assert svg.startswith(b"<?xml") and b"<svg" in svg
    _run(ctx, n_samples=100, budgets=(0.1, 0.5))
    assert (tmp_path / "robustness_adversarial_curve.svg").read_bytes() == svg  # deterministic bytes
    json.dumps(out.evidence)  # evidence is JSON


def test_per_group_metrics_and_gap(synthetic):
    ctx, _ = synthetic("logreg")
    out = _run(ctx, n_samples=300, budgets=(0.5,), group_budget=0.5, min_group_size=10)
    run = attack(ctx, AdversarialParams(n_samples=300, budgets=(0.5,)))
    grp = ctx.X["grp"].to_numpy()[run.idx]
    broken = run.result.broken[0.5]
    rates = {}
    for g in ("a", "b"):
        sel = (grp == g) & run.correct
        rates[g] = broken[sel].mean()
        m = _metric(out, "group_attack_success_rate", f"grp={g}")
        assert m.value == pytest.approx(rates[g]) and m.n == int(sel.sum())
    gap = _metric(out, "attack_success_rate_gap")
    assert gap.value == pytest.approx(rates["b"] - rates["a"])  # unprivileged minus privileged
    assert gap.reference == "a" and gap.ci is not None and gap.ci.method == "newcombe-wilson"


def test_fast_path_disagreement_rescored_by_full_model(synthetic):
    """When the fast scoring path disagrees with the full model on a reported adversarial row, the run is
    re-scored by the full model: every row reported as adversarial is adversarial for the real model."""
    ctx, model = synthetic("hgb")
    space = build_space(ctx, "fixed")
    honest = space.predict_proba

    def lying(Z, base=None):
        proba = honest(Z, base).copy()
        proba[::3] = proba[::3, ::-1]
        return proba

    space.predict_proba = lying
    run = attack(ctx, AdversarialParams(n_samples=60, target_half_width=None, budgets=(5.0,)))
    assert run.method == "search"
    assert run.result.scoring["rescored_by_full_model"] is True
    broken = np.flatnonzero(run.result.broken[5.0])
    df = space.decode(run.result.adv[5.0][broken], run.idx[broken])
    assert ((model.predict(df) == "yes").astype(int) != run.y[broken]).all()
