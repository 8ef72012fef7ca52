"""Robustness and reproducibility checks on the new tasks (issue #17), on the 3-class sample
``adult-hours-band`` and the regressor ``adult-hours-regressor``: every reported number is recomputed here by
hand (the real model on the decoded rows, numpy/pandas counts per group), not read back from the check."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np
import pandas as pd
import pytest

from trustaudit.bundle.loader import load_bundle
from trustaudit.checks.robustness.noise import NoiseParams, NoiseRobustnessCheck, gaussian_rows
from trustaudit.checks.robustness.spaces import build_space
from trustaudit.context import AuditContext

ROOT = Path(__file__).resolve().parents[2]
MC = ROOT / "sample_models" / "adult-hours-band"
REG = ROOT / "sample_models" / "adult-hours-regressor"
N_NOISE = 400


@pytest.fixture(scope="module")
def mc_ctx() -> AuditContext:
    return AuditContext(load_bundle(MC), seed=0)


@pytest.fixture(scope="module")
def reg_ctx() -> AuditContext:
    return AuditContext(load_bundle(REG), seed=0)


def _metric(out, name: str, **fields):
    hits = [m for m in out.metrics if m.name == name and all(getattr(m, k) == v for k, v in fields.items())]
    assert len(hits) == 1, (name, fields, hits)
    return hits[0]


def _declared(check_cls, out) -> None:
    """Every metric the check emitted on the new task is declared, with the subject fields it declares."""
    from trustaudit.checks.base import SUBJECT_FIELDS

    specs = {m.name: m for m in check_cls.metrics}
    for m in out.metrics:
        assert m.name in specs, f"{check_cls.id} emits undeclared {m.name}"
        fields = {f for f in SUBJECT_FIELDS if getattr(m, f) is not None}
        assert fields <= set(specs[m.name].subject), (m.name, fields)


# -- robustness.noise on a multiclass model ---------------------------------------------------------------


@pytest.fixture(scope="module")
def mc_noise(mc_ctx):
    check = NoiseRobustnessCheck()
    assert check.skip_reason(mc_ctx) is None
    params = NoiseParams(n_samples=N_NOISE, levels=(0.1, 0.5), categorical_changes=0)
    return check.run(mc_ctx, params)


def test_noise_multiclass_flip_is_any_argmax_change(mc_ctx, mc_noise) -> None:
    ctx = mc_ctx
    idx = ctx.sample(N_NOISE, "robustness.noise")
    space = build_space(ctx, "free")
    Z0 = space.encode(idx)
    # the clean rows decode to the evaluation rows: the full model's arg-max class is the audit's prediction
    proba0 = np.asarray(ctx.model.predict_proba(space.decode(Z0, idx)))
    names = np.asarray(ctx.classes, dtype=object)
    assert (names[proba0.argmax(axis=1)] == ctx.prediction[idx]).all()
    sex = ctx.data["sex"].iloc[idx].to_numpy()
    for sigma in (0.1, 0.5):
        Zp = gaussian_rows(space, Z0, sigma, ctx.rng(f"robustness.noise:gaussian:{sigma:g}"))
        # the real model on the decoded DataFrame: the class it predicts, compared with pandas
        pred = pd.Series(names[np.asarray(ctx.model.predict_proba(space.decode(Zp, idx))).argmax(axis=1)])
        flipped = pred.to_numpy() != ctx.prediction[idx]
        m = _metric(mc_noise, "flip_rate", budget=sigma)
        assert m.n == N_NOISE
        assert m.value == pytest.approx(flipped.mean(), abs=1e-12)
        assert m.ci is not None and m.ci.low <= m.value <= m.ci.high
        if sigma == 0.1:
            df = pd.DataFrame({"male": sex == "Male", "flip": flipped})
            by = df.groupby("male")["flip"].mean()
            assert _metric(mc_noise, "group_flip_rate", group="Male").value == pytest.approx(by[True])
            assert _metric(mc_noise, "group_flip_rate", group="Female").value == pytest.approx(by[False])
            gap = _metric(mc_noise, "flip_rate_gap", attribute="sex")
            assert gap.value == pytest.approx(by[False] - by[True])
        else:
            # untargeted: flips land on more than one class and not only on/off one "favourable" class
            moves = set(zip(ctx.prediction[idx][flipped], pred.to_numpy()[flipped]))
            assert flipped.sum() > 0 and len(moves) >= 2
    assert mc_noise.evidence["flip"].startswith("any change of the arg-max class")
    _declared(NoiseRobustnessCheck, mc_noise)
    assert mc_noise.evidence["clean_prediction_mismatches"] == 0


def test_noise_still_refuses_regression(reg_ctx) -> None:
    assert "not applicable to regression" in (NoiseRobustnessCheck().skip_reason(reg_ctx) or "")


# -- robustness.membership_inference: multiclass (prediction) and regression (loss) -------------------------

N_MIA = 200


@pytest.mark.parametrize("which", ["mc", "reg"])
def test_membership_inference_new_tasks_recomputed(which, mc_ctx, reg_ctx) -> None:
    from trustaudit.checks.robustness.privacy import MembershipInferenceCheck, MembershipParams

    ctx = mc_ctx if which == "mc" else reg_ctx
    check = MembershipInferenceCheck()
    assert check.skip_reason(ctx) is None
    out = check.run(ctx, MembershipParams(n_samples=N_MIA, folds=3))
    _declared(MembershipInferenceCheck, out)
    ev = out.evidence
    assert ev["attack"]["input_type"] == ("prediction" if which == "mc" else "loss")
    assert ev["n_members"] == ev["n_nonmembers"] == N_MIA
    acc = _metric(out, "membership_inference_accuracy")
    tpr, fpr = _metric(out, "membership_tpr"), _metric(out, "membership_fpr")
    assert acc.n == 2 * N_MIA and tpr.n == fpr.n == N_MIA
    # accuracy = (TP + TN) / (members + non-members); advantage = TPR - FPR
    assert acc.value == pytest.approx((tpr.value * N_MIA + (1 - fpr.value) * N_MIA) / (2 * N_MIA))
    assert _metric(out, "membership_advantage").value == pytest.approx(tpr.value - fpr.value)
    assert 0.35 < acc.value < 0.65  # a regularised model on 10,000 rows: no real leakage
    # the model's fit on both samples, by hand: same members (seeded) and non-members (the audit's sample)
    train = ctx.training_data
    members = np.sort(
        ctx.rng("robustness.membership_inference:members").choice(len(train), N_MIA, replace=False)
    )
    nonmembers = ctx.sample(N_MIA, "robustness.membership_inference")
    label = ctx.bundle.spec.label
    Xm = train.iloc[members][ctx.feature_columns]
    if which == "mc":
        pm = pd.Series(ctx.model.native.predict(Xm)).astype(str).to_numpy()
        k_tr = int((pm == train[label].iloc[members].astype(str).to_numpy()).sum())
        k_ev = int((ctx.prediction[nonmembers] == ctx.target[nonmembers]).sum())
        assert _metric(out, "train_accuracy").value == pytest.approx(k_tr / N_MIA)
        assert _metric(out, "eval_accuracy").value == pytest.approx(k_ev / N_MIA)
        assert _metric(out, "generalization_gap").value == pytest.approx((k_tr - k_ev) / N_MIA)
    else:
        pm = ctx.model.native.predict(Xm)
        rmse_tr = float(np.sqrt(((pm - train[label].iloc[members].to_numpy(float)) ** 2).mean()))
        ev_rows = ctx.data.iloc[nonmembers]
        rmse_ev = float(
            np.sqrt(
                (
                    (ctx.model.native.predict(ev_rows[ctx.feature_columns]) - ev_rows[label].to_numpy(float))
                    ** 2
                ).mean()
            )
        )
        assert _metric(out, "train_rmse").value == pytest.approx(rmse_tr, rel=1e-9)
        assert _metric(out, "eval_rmse").value == pytest.approx(rmse_ev, rel=1e-9)
        assert not [m for m in out.metrics if m.name == "train_accuracy"]


@pytest.mark.parametrize("regression", [False, True])
def test_membership_attack_detects_a_leak_on_new_tasks(regression: bool) -> None:
    """The same attack code on synthetic outputs that leak: members predicted exactly (zero loss, or the true
    class with probability 1), non-members with large errors. The attack must see it (a test that can fail)."""
    from trustaudit.checks.robustness.privacy import run_attack

    rng = np.random.default_rng(0)
    n = 300
    if regression:
        y_m, y_n = rng.normal(40, 12, n), rng.normal(40, 12, n)
        p_m, p_n = y_m.copy(), y_n + rng.normal(0, 15, n)
        inputs = {
            "members": np.arange(n),
            "nonmembers": np.arange(n),
            "p_members": p_m,
            "p_nonmembers": p_n,
            "label_members": y_m,
            "label_nonmembers": y_n,
            "regression": True,
            "nb_classes": 1,
        }
    else:
        y_m, y_n = rng.integers(0, 3, n), rng.integers(0, 3, n)
        p_m = np.eye(3)[y_m]
        p_n = rng.dirichlet(np.ones(3), n)
        inputs = {
            "members": np.arange(n),
            "nonmembers": np.arange(n),
            "p_members": p_m,
            "p_nonmembers": p_n,
            "label_members": y_m,
            "label_nonmembers": y_n,
            "nb_classes": 3,
        }
    r = run_attack(inputs, "rf", 3, np.random.default_rng(1), 0)
    assert r["n_members"] == r["n_nonmembers"] == n
    accuracy = (r["tp"] + r["n_nonmembers"] - r["fp"]) / (2 * n)
    assert accuracy > 0.9, accuracy
    assert r["tp"] == int((r["inferred_members"] == 1).sum())


# -- lineage.reproducibility: regressors (values) and multiclass (classes + probabilities) -----------------


def _repro(bundle, **params):
    from trustaudit.checks.lineage.reproducibility import ReproducibilityCheck, ReproducibilityParams

    ctx = AuditContext(bundle, seed=0)
    check = ReproducibilityCheck()
    assert check.skip_reason(ctx) is None
    return ctx, check.run(ctx, ReproducibilityParams(**params))


def test_reproducibility_sample_regressor_reloads_and_refits(reg_ctx) -> None:
    ctx, out = _repro(reg_ctx.bundle, sample_size=200, refit_sample_size=200)
    for stage in ("reload", "refit"):
        for suffix in ("max_diff", "mean_diff", "max_diff_sd"):
            m = _metric(out, f"{stage}_value_{suffix}")
            assert m.value == 0.0 and m.n == 200 and m.judged
    assert out.evidence["target_sd"] == pytest.approx(float(pd.Series(ctx.target).std()))
    from trustaudit.checks.lineage.reproducibility import ReproducibilityCheck

    _declared(ReproducibilityCheck, out)
    assert not [m for m in out.metrics if "label" in m.name]


@pytest.fixture(scope="module")
def drifted():
    """Both samples' estimators fitted on the first 600 training rows, with the first 1500 declared as the training
    data: a refit on the declared data gives another model, whose differences the check must measure exactly."""
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    from trustaudit.api import in_memory_bundle

    out = {}
    for key, path, task in (("mc", MC, "multiclass-classification"), ("reg", REG, "regression")):
        b = load_bundle(path)
        est = clone(b.model.sklearn_estimator)
        est.set_params(**{k: 0 for k in est.get_params(deep=True) if k.endswith("random_state")})
        label = b.spec.label
        feats = b.feature_columns()
        train = b.training_data.iloc[:1500].reset_index(drop=True)
        data = b.data.iloc[:600].reset_index(drop=True)
        with threadpool_limits(limits=1):
            model = est.fit(train[feats].iloc[:600], train[label].iloc[:600])
            full = clone(model).fit(train[feats], train[label])
        out[key] = (
            in_memory_bundle(
                model,
                data,
                label=label,
                favorable_label=None,
                protected={},
                features=feats,
                training_data=train,
                task=task,
            ),
            model,
            full,
        )
    return out


def test_reproducibility_regressor_refit_differences_by_hand(drifted) -> None:
    bundle, model, full = drifted["reg"]
    _, out = _repro(bundle, sample_size=600, refit_sample_size=600)  # every row of the 600
    X = bundle.data[bundle.feature_columns()]
    d = np.abs(full.predict(X) - model.predict(X))
    sd = float(bundle.data[bundle.spec.label].std())
    assert d.max() > 0
    assert _metric(out, "refit_value_max_diff").value == pytest.approx(d.max(), rel=1e-9)
    assert _metric(out, "refit_value_mean_diff").value == pytest.approx(d.mean(), rel=1e-9)
    assert _metric(out, "refit_value_max_diff_sd").value == pytest.approx(d.max() / sd, rel=1e-9)
    assert _metric(out, "reload_value_max_diff").value == 0.0  # in memory: the same object predicted twice


def test_reproducibility_multiclass_refit_agreement_by_hand(drifted) -> None:
    bundle, model, full = drifted["mc"]
    _, out = _repro(bundle, sample_size=600, refit_sample_size=600)
    X = bundle.data[bundle.feature_columns()]
    p_model, p_full = model.predict_proba(X), full.predict_proba(X)
    agree = (pd.Series(full.predict(X)).astype(str) == pd.Series(model.predict(X)).astype(str)).mean()
    assert 0.5 < agree < 1.0  # a drifted refit: some classes change
    m = _metric(out, "refit_label_agreement")
    assert m.value == pytest.approx(agree) and m.n == 600 and m.ci is not None
    assert _metric(out, "refit_max_abs_diff").value == pytest.approx(np.abs(p_full - p_model).max(), rel=1e-9)
    assert _metric(out, "reload_label_agreement").value == 1.0
    assert _metric(out, "reload_max_abs_diff").value == 0.0


# -- robustness.adversarial on a multiclass model: untargeted success ----------------------------------------

N_ADV = 300


@pytest.fixture(scope="module")
def mc_attacks(mc_ctx):
    import time

    from trustaudit.checks.robustness.adversarial import (
        AdversarialParams,
        AdversarialRobustnessCheck,
        _report,
        attack,
    )

    assert AdversarialRobustnessCheck().skip_reason(mc_ctx) is None
    out = {}
    for method in ("gradient", "search"):
        p = AdversarialParams(method=method, n_samples=N_ADV, target_half_width=None)
        run_ = attack(mc_ctx, p)  # what the check's run() does: attack, then report
        out[method] = (run_, _report(mc_ctx, run_, p, time.perf_counter()))
    return out


def test_adversarial_multiclass_recomputed_by_hand(mc_ctx, mc_attacks) -> None:
    ctx = mc_ctx
    names = np.asarray(ctx.classes, dtype=object)
    for run_, out in mc_attacks.values():
        idx, space = run_.idx, run_.space
        assert len(idx) == N_ADV
        truth = ctx.target[idx]
        correct = ctx.prediction[idx] == truth  # pandas-free: the audit's own predictions vs the labels
        assert (run_.correct == correct).all()
        assert _metric(out, "clean_accuracy").value == pytest.approx(correct.mean())
        protected = ["sex", "race", "age"]
        for b in run_.result.budgets_done:
            broken = run_.result.broken[b]
            assert not (broken & ~correct).any()  # only correct rows are attacked
            rows = np.flatnonzero(broken)
            asr = _metric(out, "attack_success_rate", budget=b)
            assert asr.n == int(correct.sum())
            assert asr.value == pytest.approx(len(rows) / correct.sum())
            assert _metric(out, "adversarial_accuracy", budget=b).value == pytest.approx(
                (correct.sum() - len(rows)) / N_ADV
            )
            if not len(rows):
                continue
            # every adversarial row: the real model on the decoded DataFrame predicts another class than the
            # true one (any other: untargeted), the row is valid and within the budget
            Za = run_.result.adv[b][rows]
            df = space.decode(Za, idx[rows])
            new = names[np.asarray(ctx.model.predict_proba(df)).argmax(axis=1)]
            assert (new != truth[rows]).all()
            orig = ctx.X.iloc[idx[rows]]
            for col in protected:
                assert (df[col].astype(str).to_numpy() == orig[col].astype(str).to_numpy()).all()
            assert (space.numeric_distance(Za, run_.Z0[rows]) <= b + 1e-9).all()
        assert out.evidence["success"].startswith("untargeted")
        from trustaudit.checks.robustness.adversarial import AdversarialRobustnessCheck

        _declared(AdversarialRobustnessCheck, out)
    # two independent attacks (ART's FGSM+PGD gradients, the batched corner search) on this linear model find
    # the same broken rows at every budget
    g, s = mc_attacks["gradient"][0].result, mc_attacks["search"][0].result
    assert sum(int(g.broken[b].sum()) for b in g.budgets_done) > 0
    for b in g.budgets_done:
        assert (g.broken[b] == s.broken[b]).all(), b


def test_adversarial_multiclass_moves_to_several_classes(mc_ctx, mc_attacks) -> None:
    run_, out = mc_attacks["gradient"]
    b = max(run_.result.budgets_done)
    rows = np.flatnonzero(run_.result.broken[b])
    names = np.asarray(mc_ctx.classes, dtype=object)
    Za = run_.result.adv[b][rows]
    new = names[np.asarray(mc_ctx.model.predict_proba(run_.space.decode(Za, run_.idx[rows]))).argmax(axis=1)]
    moves = set(zip(mc_ctx.target[run_.idx[rows]], new))
    assert len(moves) >= 2, moves  # not a one-class target: any other class counts
    examples = next(t for t in out.tables if "xample" in t.title)
    assert all(" -> " in r[2] and r[2].split(" -> ")[0] != r[2].split(" -> ")[1] for r in examples.rows)


def test_adversarial_blackbox_refused_on_multiclass(mc_ctx) -> None:
    from trustaudit.checks.robustness.adversarial import AdversarialParams, attack
    from trustaudit.errors import SkipCheck

    with pytest.raises(SkipCheck, match="binary classifiers"):
        attack(mc_ctx, AdversarialParams(method="blackbox", n_blackbox=10))
