"""Privacy: can an attacker tell training rows from unseen rows by the model's outputs?

ART's ``MembershipInferenceBlackBox`` (input type ``prediction``: the model's class probabilities plus the true
label) tells members (rows of the bundle's training data) from non-members (rows of the evaluation data, which the
model did not see), ``n_samples`` of each. It is cross-fitted: both sides are split into ``folds`` folds, and the
rows of each fold are inferred by an attack model trained on the other folds, so every member and non-member is a
held-out test row (twice the test rows of a single 50/50 train/test split, and each attack model trained on
(folds - 1) / folds of the rows). An attack that learns
nothing scores 0.5; the check reports the attack's accuracy (Wilson interval), its TPR and FPR, its advantage
TPR - FPR (Newcombe interval), and the model's accuracy on both samples (the generalisation gap that membership
inference exploits). What is computed is fixed by the parameters and the seed; ``time_budget_s`` is only a safety
stop.

Other tasks: a multiclass model is attacked the same way (every class's probability plus the true class, ART's
``nb_classes`` = the model's classes); a regressor with ART's ``input_type="loss"`` (the only input ART accepts for a
regressor: the squared error of the prediction, ``BlackBoxRegressor``'s default loss, plus the true value), and
its generalisation gap is reported as the RMSE on both samples instead of the accuracy.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
from pydantic import Field

from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec
from trustaudit.checks.robustness import _art
from trustaudit.checks.robustness._common import fmt, stop_note
from trustaudit.checks.robustness.stats import difference_metric, max_half_width, rate_metric
from trustaudit.context import AuditContext
from trustaudit.errors import SkipCheck
from trustaudit.results import Metric, Table


class MembershipParams(CheckParams):
    n_samples: int = Field(1000, ge=20, description="Members drawn from the training data, and as many non-members "
                           "from the evaluation data (fewer when either has fewer rows)")
    attack_model: Literal["rf", "gb", "lr", "dt", "knn"] = Field(
        "rf", description="ART's attack model type (rf: random forest)")
    folds: int = Field(5, ge=2, le=10, description="Cross-fitting folds: each fold of members and non-members is "
                       "inferred by an attack model trained on the other folds")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of the intervals")
    time_budget_s: float = Field(600.0, gt=0, description="Safety stop (wall time, checked between stages): a run "
                                 "that reaches it stops and judges none of its metrics")


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
    if ctx.task != "binary-classification":
        return _task_inputs(ctx, train, label, n_samples, purpose)
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


def _task_inputs(ctx: AuditContext, train: Any, label: str, n_samples: int, purpose: str) -> dict[str, Any]:
    """:func:`membership_inputs` of a multiclass model (class probabilities, label = class index in the model's
    order) or a regressor (the predicted value per row, 1-D, label = the true value)."""
    from trustaudit.bundle.loader import label_texts, numeric_column

    regression = ctx.task == "regression"
    if regression:
        y_all: np.ndarray = numeric_column(train[label], "training label", "task regression needs a numeric target")
    else:
        texts = label_texts(train[label], "training label")
        codes = {c: i for i, c in enumerate(ctx.classes)}
        unknown = sorted({t for t in texts if t not in codes})
        if unknown:
            raise SkipCheck(f"the training labels hold classes the model does not predict: {', '.join(unknown[:5])}")
        y_all = np.asarray([codes[t] for t in texts], dtype=np.int64)
    n = min(n_samples, len(train), ctx.n_rows)
    rng = ctx.rng(f"{purpose}:members")
    members = np.sort(rng.choice(len(train), size=n, replace=False))
    nonmembers = ctx.sample(n, purpose)
    t0 = time.perf_counter()
    out_m = ctx.predict_output(train.iloc[members][ctx.feature_columns])
    predict_s = time.perf_counter() - t0
    if regression:
        p_members = np.asarray(out_m, dtype=float).ravel()  # 1-D: ART's loss is (y - pred) ** 2 row by row
        p_non = np.asarray(ctx.prediction, dtype=float)[nonmembers]
        y_m, y_n = y_all[members], np.asarray(ctx.target, dtype=float)[nonmembers]
    else:
        p_members = np.asarray(out_m, dtype=float)
        proba = ctx.class_proba
        assert proba is not None
        p_non = np.asarray(proba[nonmembers], dtype=float)
        y_m = y_all[members]
        codes_all = {c: i for i, c in enumerate(ctx.classes)}
        y_n = np.asarray([codes_all.get(t, -1) for t in ctx.target[nonmembers]], dtype=np.int64)
        if (y_n < 0).any():
            raise SkipCheck("the evaluation labels hold classes the model does not predict")
    return {
        "members": members, "nonmembers": nonmembers, "p_members": p_members, "p_nonmembers": p_non,
        "label_members": y_m, "label_nonmembers": y_n, "y_members": y_m, "y_nonmembers": y_n,
        "predict_s": predict_s, "regression": regression, "nb_classes": 1 if regression else len(ctx.classes),
    }


def fold_ids(n: int, folds: int, rng: np.random.Generator) -> np.ndarray:
    """Fold of each of n rows: a seeded permutation dealt round-robin (fold sizes differ by at most one)."""
    out = np.empty(n, dtype=np.int64)
    out[rng.permutation(n)] = np.arange(n) % folds
    return out


def run_attack(inputs: dict[str, Any], attack_model: str, folds: int, rng: np.random.Generator,
               seed: int, deadline: float | None = None) -> dict[str, Any]:
    """Cross-fitted ART MembershipInferenceBlackBox: for each fold, an attack model trained on the members and
    non-members of the other folds infers the membership of the fold's rows. Returns the counts over the rows
    inferred (every row, unless the safety ``deadline`` stopped it between folds)."""
    art = _art.import_art()
    n_m, n_n = len(inputs["members"]), len(inputs["nonmembers"])
    f_m, f_n = fold_ids(n_m, folds, rng), fold_ids(n_n, folds, rng)
    lab_m, lab_n = inputs["label_members"], inputs["label_nonmembers"]
    P_m, P_n = inputs["p_members"], inputs["p_nonmembers"]
    inf_m = np.full(n_m, -1, dtype=np.int64)
    inf_n = np.full(n_n, -1, dtype=np.int64)
    stopped = False
    regression = bool(inputs.get("regression", False))
    input_type = "loss" if regression else "prediction"
    dummy: Any
    if regression:  # predictions are given; only its (default, squared-error) loss_from_predictions is used
        dummy = art.estimators.regression.BlackBoxRegressor(lambda x: np.zeros(len(x)), input_shape=(1,))
    else:
        k = int(inputs.get("nb_classes", 2))
        dummy = art.estimators.classification.BlackBoxClassifier(
            lambda x: np.zeros((len(x), k)), input_shape=(1,), nb_classes=k)
    with _art.single_threaded():
        for f in range(folds):
            if deadline is not None and time.perf_counter() > deadline:
                stopped = True
                break
            attack = art.attacks.inference.membership_inference.MembershipInferenceBlackBox(
                dummy, input_type=input_type, attack_model_type=attack_model)
            model = attack.attack_model
            if model is not None and "random_state" in model.get_params():
                model.set_params(random_state=seed)
            tr_m, te_m = f_m != f, f_m == f
            tr_n, te_n = f_n != f, f_n == f
            attack.fit(y=lab_m[tr_m], test_y=lab_n[tr_n], pred=P_m[tr_m], test_pred=P_n[tr_n])
            inf_m[te_m] = np.asarray(attack.infer(None, lab_m[te_m], pred=P_m[te_m])).ravel()
            inf_n[te_n] = np.asarray(attack.infer(None, lab_n[te_n], pred=P_n[te_n])).ravel()
    done_m, done_n = inf_m >= 0, inf_n >= 0
    return {"tp": int((inf_m == 1).sum()), "n_members": int(done_m.sum()), "fp": int((inf_n == 1).sum()),
            "n_nonmembers": int(done_n.sum()), "n_train_per_fold": int(n_m + n_n - (n_m + n_n) // folds),
            "fold_members": f_m, "fold_nonmembers": f_n, "inferred_members": inf_m, "inferred_nonmembers": inf_n,
            "stopped_early": stopped}


class MembershipInferenceCheck(Check):
    """Membership inference risk with ART's black-box attack, against the 0.5 baseline."""

    id = "robustness.membership_inference"
    category = "robustness"
    title = "Membership inference (privacy)"
    version = "1.0"
    description = ("Accuracy, TPR, FPR and advantage (TPR - FPR) of ART's MembershipInferenceBlackBox telling "
                   "training rows from evaluation rows by the model's probabilities and the true label, cross-fitted "
                   "so that every row of the balanced samples is inferred held-out (0.5 accuracy is no leakage); "
                   "the model's accuracy on both samples and their gap.")
    Params = MembershipParams
    requires = frozenset({"model", "training_data"})
    tasks = frozenset({"binary-classification", "multiclass-classification", "regression"})

    metrics = (
        MetricSpec("membership_inference_accuracy",
                   "Accuracy of a cross-fitted membership-inference attack telling training rows from held-out rows",
                   direction="lower_is_better", unit="fraction"),
        MetricSpec("membership_advantage",
                   "Attack TPR minus FPR (0: no better than chance)",
                   direction="lower_is_better", unit="fraction"),
        MetricSpec("membership_tpr", "Share of training rows the attack flags as members"),
        MetricSpec("membership_fpr", "Share of held-out rows the attack flags as members"),
        MetricSpec("train_accuracy", "Model accuracy on the training sample"),
        MetricSpec("eval_accuracy", "Model accuracy on the evaluation sample", direction="higher_is_better"),
        MetricSpec("generalization_gap",
                   "Training accuracy minus evaluation accuracy (Newcombe)",
                   direction="lower_is_better"),
        MetricSpec("train_rmse", "Regressor: root mean squared error on the training sample (target units)"),
        MetricSpec("eval_rmse", "Regressor: root mean squared error on the evaluation sample (target units)",
                   direction="lower_is_better"),
    )

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
        seed = int(ctx.rng(f"{self.id}:attack-model").integers(0, 2**31 - 1))
        r = run_attack(inputs, p.attack_model, p.folds, ctx.rng(f"{self.id}:split"), seed,
                       deadline=t0 + p.time_budget_s)
        tp, nm, fp, nn = r["tp"], r["n_members"], r["fp"], r["n_nonmembers"]
        correct = tp + (nn - fp)
        total = nm + nn
        acc = rate_metric("membership_inference_accuracy", correct, total, level, subject="held-out members and "
                          "non-members", unit="fraction", note="0.5 = no better than guessing; every row inferred "
                          "by an attack model trained on the other folds")
        adv = difference_metric("membership_advantage", tp, nm, fp, nn, level, subject="TPR - FPR",
                                unit="fraction", note="0 = no leakage")
        tpr = rate_metric("membership_tpr", tp, nm, level, subject="members flagged as members")
        fpr = rate_metric("membership_fpr", fp, nn, level, subject="non-members flagged as members")
        y_m, y_n = inputs["y_members"], inputs["y_nonmembers"]
        regression = bool(inputs.get("regression", False))
        fit_metrics: list[Any]
        if regression:
            rmse_tr = float(np.sqrt(np.mean((inputs["p_members"] - y_m) ** 2)))
            rmse_ev = float(np.sqrt(np.mean((inputs["p_nonmembers"] - y_n) ** 2)))
            fit_metrics = [Metric(name="train_rmse", value=rmse_tr, n=len(y_m), subject="training sample (members)"),
                           Metric(name="eval_rmse", value=rmse_ev, n=len(y_n),
                                  subject="evaluation sample (non-members)")]
            fit_text = f"train/eval RMSE {rmse_tr:.4g}/{rmse_ev:.4g}"
        else:
            if ctx.task == "binary-classification":
                fav = ctx.favorable_index
                pred_m = (inputs["p_members"].argmax(axis=1) == fav).astype(int)
                pred_n = (inputs["p_nonmembers"].argmax(axis=1) == fav).astype(int)
            else:  # multiclass: the arg-max class index against the true class index
                pred_m = inputs["p_members"].argmax(axis=1)
                pred_n = inputs["p_nonmembers"].argmax(axis=1)
            k_tr, k_ev = int((pred_m == y_m).sum()), int((pred_n == y_n).sum())
            acc_tr = rate_metric("train_accuracy", k_tr, len(y_m), level, subject="training sample (members)")
            acc_ev = rate_metric("eval_accuracy", k_ev, len(y_n), level, subject="evaluation sample (non-members)")
            gap = difference_metric("generalization_gap", k_tr, len(y_m), k_ev, len(y_n), level,
                                    subject="train - eval accuracy")
            fit_metrics = [acc_tr, acc_ev, gap]
            fit_text = f"train/eval accuracy {k_tr / len(y_m):.3f}/{k_ev / len(y_n):.3f}"
        from scipy.stats import binomtest

        pvalue = float(binomtest(correct, total, 0.5, alternative="greater").pvalue) if total else None
        metrics = [acc, adv, tpr, fpr, *fit_metrics]
        table = Table(title=f"Membership inference attack (every row held out, {p.folds}-fold cross-fitting)",
                      columns=["", "flagged member", "flagged non-member", "n"],
                      rows=[["members (training rows)", tp, nm - tp, nm],
                            ["non-members (evaluation rows)", fp, nn - fp, nn]])
        elapsed = time.perf_counter() - t0
        summary = (f"attack accuracy {correct / total:.3f} on {total} held-out rows (0.5 = guessing); "
                   f"advantage {tp / nm - fp / nn:+.3f}; {fit_text}") if total else "no rows"
        warnings: list[str] = []
        if r["stopped_early"]:
            summary += " (stopped early by the safety stop: not judged)"
            stop_note(metrics, warnings, elapsed, p.time_budget_s)
        widest = max_half_width(min(nm, nn), level)
        if widest is not None and widest > 0.05 and not r["stopped_early"]:
            warnings.append(f"only {min(nm, nn)} members and non-members each (training rows: "
                            f"{len(ctx.training_data) if ctx.training_data is not None else 0}, evaluation rows: "
                            f"{ctx.n_rows}): the TPR and FPR can have 95% intervals up to +-{widest:.3f} wide")
        evidence = {
            "attack": {"class": "art.attacks.inference.membership_inference.MembershipInferenceBlackBox",
                       "input_type": "loss" if regression else "prediction", "attack_model_type": p.attack_model,
                       "uses_labels": True,
                       "attack_model_random_state": seed},
            "art_version": _art.art_version(),
            "n_members": len(inputs["members"]),
            "n_nonmembers": len(inputs["nonmembers"]),
            "folds": p.folds,
            "n_attack_train_per_fold": r["n_train_per_fold"],
            "n_attack_test": total,
            "max_half_width": {"accuracy": fmt(max_half_width(total, level), 6),
                               "tpr": fmt(max_half_width(nm, level), 6), "fpr": fmt(max_half_width(nn, level), 6)},
            "baseline": 0.5,
            "p_value_vs_baseline": pvalue,
            "members_from": "training data (bundle training_data)",
            "nonmembers_from": "evaluation data (seeded stratified sample)",
            "stopped_early": r["stopped_early"],
            "elapsed_s": round(elapsed, 3),
            "time_budget_s": p.time_budget_s,
            "seed": ctx.seed,
        }
        return CheckOutput(metrics=metrics, summary=summary, tables=[table], evidence=evidence, warnings=warnings)
