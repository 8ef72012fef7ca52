"""Privacy: can an attacker tell training rows from unseen rows by the model's outputs?

ART's ``MembershipInferenceBlackBox`` (input type ``prediction``: the model's class probabilities plus the true
label) is trained on a balanced set of members (rows of the bundle's training data) and non-members (rows of the
evaluation data, which the model did not see), then tested on held-out members and non-members in equal numbers.
An attack that learns nothing scores 0.5; the check reports the attack's accuracy (Wilson interval), its
advantage TPR - FPR (Newcombe interval), and the model's accuracy on both samples (the generalisation gap that
membership inference exploits).
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
from pydantic import Field

from trustaudit.checks.base import Check, CheckOutput, CheckParams
from trustaudit.checks.robustness import _art
from trustaudit.checks.robustness.stats import difference_metric, rate_metric
from trustaudit.context import AuditContext
from trustaudit.errors import SkipCheck
from trustaudit.results import Table


class MembershipParams(CheckParams):
    n_samples: int = Field(1000, ge=20, description="Members drawn from the training data, and as many non-members "
                           "from the evaluation data")
    attack_model: Literal["rf", "gb", "lr", "dt", "knn"] = Field(
        "rf", description="ART's attack model type (rf: random forest)")
    attack_train_fraction: float = Field(0.5, gt=0.05, lt=0.95,
                                         description="Share of each side used to train the attack model")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of the intervals")
    time_budget_s: float = Field(60.0, gt=0, description="Wall-time cap (checked between stages)")


def membership_inputs(ctx: AuditContext, n_samples: int, purpose: str) -> dict[str, Any]:
    """Members (training rows) and non-members (evaluation rows): class-probability rows, label indices and the
    row indices, drawn with the audit's seed. Shared with the benchmark so both score the same rows."""
    from trustaudit.bundle.loader import encode_labels

    train = ctx.training_data
    if train is None:
        raise SkipCheck("the bundle declares no training data")
    spec = ctx.bundle.manifest.training_data
    label = (spec.label if spec is not None and spec.label else None) or ctx.bundle.spec.label
    if label not in train.columns:
        raise SkipCheck(f"the training data has no label column '{label}'")
    missing = [c for c in ctx.feature_columns if c not in train.columns]
    if missing:
        raise SkipCheck(f"the training data lacks model input columns: {', '.join(missing[:5])}")
    y_train = encode_labels(train[label], ctx.bundle.spec.favorable_label, "training label")
    n = min(n_samples, len(train), ctx.n_rows)
    rng = ctx.rng(f"{purpose}:members")
    members = np.sort(rng.choice(len(train), size=n, replace=False))
    nonmembers = ctx.sample(n, purpose)
    fav = ctx.favorable_index
    t0 = time.perf_counter()
    p_members = np.asarray(ctx.model.predict_proba(train.iloc[members][ctx.feature_columns]), dtype=float)
    predict_s = time.perf_counter() - t0
    scores = ctx.scores
    if scores is not None and p_members.shape[1] == 2:
        s = scores[nonmembers]
        p_non = np.empty((len(nonmembers), 2))
        p_non[:, fav] = s
        p_non[:, 1 - fav] = 1.0 - s
    else:  # pragma: no cover - binary models always have scores
        p_non = np.asarray(ctx.model.predict_proba(ctx.X.iloc[nonmembers]), dtype=float)
    y_m = y_train[members].astype(int)
    y_n = ctx.y_true[nonmembers].astype(int)
    return {
        "members": members, "nonmembers": nonmembers, "p_members": p_members, "p_nonmembers": p_non,
        "label_members": np.where(y_m == 1, fav, 1 - fav), "label_nonmembers": np.where(y_n == 1, fav, 1 - fav),
        "y_members": y_m, "y_nonmembers": y_n, "predict_s": predict_s,
    }


def split(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(n)
    k = round(n * fraction)
    return np.sort(perm[:k]), np.sort(perm[k:])


def run_attack(inputs: dict[str, Any], attack_model: str, fraction: float, rng: np.random.Generator,
               seed: int) -> dict[str, Any]:
    """Train ART's MembershipInferenceBlackBox on part of both sides and infer membership on the rest."""
    art = _art.import_art()
    n = len(inputs["members"])
    tr_m, te_m = split(n, fraction, rng)
    tr_n, te_n = split(n, fraction, rng)
    dummy = art.estimators.classification.BlackBoxClassifier(
        lambda x: np.zeros((len(x), 2)), input_shape=(1,), nb_classes=2)
    attack = art.attacks.inference.membership_inference.MembershipInferenceBlackBox(
        dummy, input_type="prediction", attack_model_type=attack_model)
    model = attack.attack_model
    if model is not None and "random_state" in model.get_params():
        model.set_params(random_state=seed)
    lab_m, lab_n = inputs["label_members"], inputs["label_nonmembers"]
    P_m, P_n = inputs["p_members"], inputs["p_nonmembers"]
    with _art.single_threaded():
        attack.fit(y=lab_m[tr_m], test_y=lab_n[tr_n], pred=P_m[tr_m], test_pred=P_n[tr_n])
        inf_m = np.asarray(attack.infer(None, lab_m[te_m], pred=P_m[te_m])).ravel()
        inf_n = np.asarray(attack.infer(None, lab_n[te_n], pred=P_n[te_n])).ravel()
    return {"tp": int((inf_m == 1).sum()), "n_members": len(te_m), "fp": int((inf_n == 1).sum()),
            "n_nonmembers": len(te_n), "n_train": len(tr_m) + len(tr_n), "test_members": te_m,
            "test_nonmembers": te_n}


class MembershipInferenceCheck(Check):
    """Membership inference risk with ART's black-box attack, against the 0.5 baseline."""

    id = "robustness.membership_inference"
    category = "robustness"
    title = "Membership inference (privacy)"
    version = "1.0"
    description = ("Accuracy and advantage (TPR - FPR) of ART's MembershipInferenceBlackBox telling training rows "
                   "from evaluation rows by the model's probabilities, on balanced held-out samples; 0.5 accuracy "
                   "is no leakage.")
    Params = MembershipParams
    requires = frozenset({"model", "training_data"})

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        # Native thread pools single-threaded: these checks make many small model calls, and OpenMP
        # oversubscription on a shared machine makes each call 10-100x slower (see _art.single_threaded).
        with _art.single_threaded():
            return self._run(ctx, params)

    def _run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        p: MembershipParams = params
        t0 = time.perf_counter()
        level = p.confidence
        inputs = membership_inputs(ctx, p.n_samples, self.id)
        if time.perf_counter() - t0 > p.time_budget_s:
            raise SkipCheck(f"time budget ({p.time_budget_s:g}s) used up scoring the training sample")
        seed = int(ctx.rng(f"{self.id}:attack-model").integers(0, 2**31 - 1))
        r = run_attack(inputs, p.attack_model, p.attack_train_fraction, ctx.rng(f"{self.id}:split"), seed)
        tp, nm, fp, nn = r["tp"], r["n_members"], r["fp"], r["n_nonmembers"]
        correct = tp + (nn - fp)
        total = nm + nn
        acc = rate_metric("membership_inference_accuracy", correct, total, level, subject="held-out members and "
                          "non-members", unit="fraction", note="0.5 = no better than guessing")
        adv = difference_metric("membership_advantage", tp, nm, fp, nn, level, subject="TPR - FPR",
                                unit="fraction", note="0 = no leakage")
        tpr = rate_metric("membership_tpr", tp, nm, level, subject="members flagged as members")
        fpr = rate_metric("membership_fpr", fp, nn, level, subject="non-members flagged as members")
        y_m, y_n = inputs["y_members"], inputs["y_nonmembers"]
        fav = ctx.favorable_index
        pred_m = (inputs["p_members"].argmax(axis=1) == fav).astype(int)
        pred_n = (inputs["p_nonmembers"].argmax(axis=1) == fav).astype(int)
        k_tr, k_ev = int((pred_m == y_m).sum()), int((pred_n == y_n).sum())
        acc_tr = rate_metric("train_accuracy", k_tr, len(y_m), level, subject="training sample (members)")
        acc_ev = rate_metric("eval_accuracy", k_ev, len(y_n), level, subject="evaluation sample (non-members)")
        gap = difference_metric("generalization_gap", k_tr, len(y_m), k_ev, len(y_n), level,
                                subject="train - eval accuracy")
        from scipy.stats import binomtest

        pvalue = float(binomtest(correct, total, 0.5, alternative="greater").pvalue) if total else None
        metrics = [acc, adv, tpr, fpr, acc_tr, acc_ev, gap]
        table = Table(title="Membership inference attack (held-out test set)",
                      columns=["", "flagged member", "flagged non-member", "n"],
                      rows=[["members (training rows)", tp, nm - tp, nm],
                            ["non-members (evaluation rows)", fp, nn - fp, nn]])
        elapsed = time.perf_counter() - t0
        summary = (f"attack accuracy {correct / total:.3f} on {total} held-out rows (0.5 = guessing); "
                   f"advantage {tp / nm - fp / nn:+.3f}; train/eval accuracy "
                   f"{k_tr / len(y_m):.3f}/{k_ev / len(y_n):.3f}") if total else "no rows"
        evidence = {
            "attack": {"class": "art.attacks.inference.membership_inference.MembershipInferenceBlackBox",
                       "input_type": "prediction", "attack_model_type": p.attack_model, "uses_labels": True,
                       "attack_model_random_state": seed},
            "art_version": _art.art_version(),
            "n_members": len(inputs["members"]),
            "n_nonmembers": len(inputs["nonmembers"]),
            "n_attack_train": r["n_train"],
            "n_attack_test": total,
            "baseline": 0.5,
            "p_value_vs_baseline": pvalue,
            "members_from": "training data (bundle training_data)",
            "nonmembers_from": "evaluation data (seeded stratified sample)",
            "stopped_early": False,
            "elapsed_s": round(elapsed, 3),
            "time_budget_s": p.time_budget_s,
            "seed": ctx.seed,
        }
        return CheckOutput(metrics=metrics, summary=summary, tables=[table], evidence=evidence)
