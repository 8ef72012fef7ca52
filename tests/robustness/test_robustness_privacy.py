"""robustness.membership_inference: cross-check with ART called directly, a leaking model, skips."""

from __future__ import annotations

import numpy as np
import pytest

from trustaudit.checks.robustness import _art
from trustaudit.checks.robustness.privacy import (
    MembershipInferenceCheck,
    MembershipParams,
    fold_ids,
    membership_inputs,
)


def _metric(out, name):
    ms = [m for m in out.metrics if m.name == name]
    assert len(ms) == 1
    return ms[0]


def test_matches_art_called_directly(adult):
    """The check's cross-fitted attack is ART's MembershipInferenceBlackBox fitted on the other folds and inferring
    each fold, on the same members / non-members, folds and attack-model seed: same counts."""
    ctx = adult("adult-income-hgb")
    p = MembershipParams(n_samples=300, folds=3)
    out = MembershipInferenceCheck().run(ctx, p)
    inputs = membership_inputs(ctx, 300, MembershipInferenceCheck.id)
    assert len(inputs["members"]) == len(inputs["nonmembers"]) == 300
    # the non-member probabilities the check takes from the audit's scores are the model's
    direct_p = ctx.model.predict_proba(ctx.X.iloc[inputs["nonmembers"]])
    np.testing.assert_allclose(inputs["p_nonmembers"], direct_p, atol=1e-12)
    art = _art.import_art()
    rng = ctx.rng(f"{MembershipInferenceCheck.id}:split")
    f_m, f_n = fold_ids(300, 3, rng), fold_ids(300, 3, rng)
    assert sorted(np.bincount(f_m)) == [100, 100, 100]
    seed = int(ctx.rng(f"{MembershipInferenceCheck.id}:attack-model").integers(0, 2**31 - 1))
    lm, ln, pm, pn = (inputs[k] for k in ("label_members", "label_nonmembers", "p_members", "p_nonmembers"))
    inf_m, inf_n = np.zeros(300, dtype=int), np.zeros(300, dtype=int)
    for f in range(3):
        est = art.estimators.classification.BlackBoxClassifier(lambda x: x, input_shape=(1,), nb_classes=2)
        mia = art.attacks.inference.membership_inference.MembershipInferenceBlackBox(est, attack_model_type="rf")
        mia.attack_model.set_params(random_state=seed)
        mia.fit(y=lm[f_m != f], test_y=ln[f_n != f], pred=pm[f_m != f], test_pred=pn[f_n != f])
        inf_m[f_m == f] = mia.infer(None, lm[f_m == f], pred=pm[f_m == f]).ravel()
        inf_n[f_n == f] = mia.infer(None, ln[f_n == f], pred=pn[f_n == f]).ravel()
    acc = ((inf_m == 1).sum() + (inf_n == 0).sum()) / 600
    m = _metric(out, "membership_inference_accuracy")
    assert m.value == pytest.approx(acc, abs=1e-12)
    assert m.n == 600 and m.ci is not None and m.ci.low < 0.5 + 0.1  # every row held out; the HGB leaks little
    adv = _metric(out, "membership_advantage")
    assert adv.value == pytest.approx(inf_m.mean() - inf_n.mean(), abs=1e-12)
    assert _metric(out, "membership_tpr").n == _metric(out, "membership_fpr").n == 300
    assert out.evidence["baseline"] == 0.5 and out.evidence["folds"] == 3


def test_overfit_model_leaks(synthetic):
    """A fully grown decision tree memorises its (noisy) training rows: the attack beats 0.5 clearly;
    a logistic regression on the same data does not."""
    leaky, _ = synthetic("overfit", n=1200)
    out = MembershipInferenceCheck().run(leaky, MembershipParams(n_samples=1000))
    m = _metric(out, "membership_inference_accuracy")
    assert m.ci.low > 0.6
    assert _metric(out, "train_accuracy").value == 1.0
    assert _metric(out, "generalization_gap").ci.low > 0.1
    assert out.evidence["p_value_vs_baseline"] < 1e-6
    safe, _ = synthetic("logreg", n=1200)
    m2 = _metric(MembershipInferenceCheck().run(safe, MembershipParams(n_samples=1000)),
                 "membership_inference_accuracy")
    assert m2.ci.low < 0.5 < m2.ci.high or abs(m2.value - 0.5) < 0.05


def test_skipped_without_training_data(synthetic, adult):
    from trustaudit.api import _run_check

    ctx, _ = synthetic("logreg", training=False)
    res = _run_check(MembershipInferenceCheck, ctx, {})
    assert res.status.value == "skipped" and res.skipped_reason == "the bundle declares no training data"
    res = _run_check(MembershipInferenceCheck, adult("adult-income-predictions"), {})
    assert res.status.value == "skipped" and "no model" in res.skipped_reason
