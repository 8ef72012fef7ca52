#!/usr/bin/env python
"""Time each robustness check on the Adult sample bundles next to ART called directly with the same settings.

Usage (from the repository root)::

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_robustness.py [--repeat 3] [--bundles adult-income-logreg,...]
    .venv/bin/python bench/bench_robustness.py --compare-audit /tmp/ta-old [--bundles adult-income-hgb]

``--compare-audit OLD_TREE`` times the default audit (every check, ``trustaudit audit BUNDLE --out DIR``) of each
bundle with an older checkout (``git worktree add /tmp/ta-old HEAD``, run with ``PYTHONPATH=OLD_TREE`` and the same
virtual environment) and with this tree, one after the other, ``--repeat`` times, and prints both wall times and
their ratio.

For every (bundle, check) it prints the check's time (``Check.run`` on a fresh audit context), the time of the
same work written directly against ART (same rows, same budgets, same attack parameters, same starting points
and seeds), and their ratio (target: at most 1.2). Costs an audit pays once whatever checks run (loading the
bundle, the audit's predictions on the evaluation data, the model's transformed matrix, importing ART) are paid
before either timer starts. Each figure is the best (minimum) of ``--repeat`` runs, check and baseline
alternating: on a shared machine the minimum is the least disturbed by other processes; the median ratio is
printed too.

What "ART called directly" is, per check:

* robustness.adversarial, gradient (logistic regression): ART's ScikitlearnLogisticRegression on the bare
  estimator in the pipeline's transformed space; FastGradientMethod and ProjectedGradientDescent at every budget
  with the budget converted to each transformed column; predictions of the adversarial rows by the estimator.
* robustness.adversarial, search (HGB, ONNX; the default for models without gradients): no ART baseline (ART
  has no batched black-box attack for tabular rows; see docs/robustness.md): the check's time is printed alone.
* robustness.adversarial, method blackbox (HGB, ONNX): BlackBoxClassifier + HopSkipJump per row on the same
  mutable features, same start points and seeds, scored by the same model function; no validity projection.
  ART needs a numeric array: the baseline uses trustaudit's numeric encoding of the rows, and building it is
  timed on both sides.
* robustness.noise: ART has no random-noise attack: the baseline is the same perturbations written with
  numpy/pandas on the DataFrame and scored by ``model.predict_proba``.
* robustness.membership_inference: ART's MembershipInferenceBlackBox fit/infer on the same members and
  non-members, with the model's predictions computed by the baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trustaudit.bundle.loader import load_bundle  # noqa: E402
from trustaudit.checks.robustness import _art  # noqa: E402
from trustaudit.checks.robustness.adversarial import (  # noqa: E402
    AdversarialParams,
    AdversarialRobustnessCheck,
    attack_sample,
)
from trustaudit.checks.robustness.noise import NoiseParams, NoiseRobustnessCheck  # noqa: E402
from trustaudit.checks.robustness.privacy import (  # noqa: E402
    MembershipInferenceCheck,
    MembershipParams,
    fold_ids,
)
from trustaudit.checks.robustness.spaces import build_space  # noqa: E402
from trustaudit.context import AuditContext  # noqa: E402
from trustaudit.features import feature_space  # noqa: E402


def fresh_context(bundle: Any) -> AuditContext:
    """A new audit context with the once-per-audit costs already paid (predictions, transformed matrix)."""
    ctx = AuditContext(bundle, seed=0)
    with _art.single_threaded():
        _ = ctx.y_pred
        feature_space(ctx)
    return ctx


# -- ART called directly -----------------------------------------------------------------------------------


def direct_gradient(ctx: AuditContext, p: AdversarialParams) -> dict[str, Any]:
    art = _art.import_art()
    from art.estimators.classification.scikitlearn import ScikitlearnLogisticRegression

    fs = feature_space(ctx)
    assert fs is not None and fs.matrix is not None
    pre, lr = ctx.model.native[:-1], ctx.model.native[-1]
    fav = ctx.favorable_index
    idx = attack_sample(ctx, p, "gradient")
    T = np.asarray(pre.transform(ctx.X.iloc[idx]), dtype=np.float64)
    y = ctx.y_true[idx]
    correct = (lr.predict_proba(T).argmax(axis=1) == fav).astype(int) == y
    Tc = T[correct].astype(np.float32)
    labels = np.where(y[correct] == 1, fav, 1 - fav)
    yoh = np.eye(2, dtype=np.float32)[labels]
    sd = fs.matrix.std(axis=0)
    lo, hi = fs.matrix.min(axis=0), fs.matrix.max(axis=0)
    hi = np.where(hi > lo, hi, lo + 1)
    fixed = set(ctx.bundle.manifest.protected) | set(ctx.bundle.manifest.immutable) | set(fs.one_hot)
    mask = np.array([s not in fixed for s in fs.source], dtype=np.float32)
    clf = ScikitlearnLogisticRegression(model=lr, clip_values=(lo, hi))
    broken = {}
    with _art.single_threaded():
        for b in p.budgets:
            eps = (b * np.where(sd > 0, sd, 1.0)).astype(np.float32)
            hit = np.zeros(len(Tc), dtype=bool)
            for attack in (
                art.attacks.evasion.FastGradientMethod(clf, norm=np.inf, eps=eps, eps_step=eps, batch_size=4096),
                art.attacks.evasion.ProjectedGradientDescent(clf, norm=np.inf, eps=eps,
                                                             eps_step=eps * (2.5 / p.pgd_steps),
                                                             max_iter=p.pgd_steps, batch_size=4096, verbose=False),
            ):
                adv = attack.generate(Tc, y=yoh, mask=mask)
                hit |= lr.predict_proba(adv).argmax(axis=1) != labels
            broken[b] = int(hit.sum())
    return {"n_correct": int(correct.sum()), "broken": broken}


def direct_hopskipjump(ctx: AuditContext, p: AdversarialParams, prepared: dict[str, Any]) -> dict[str, Any]:
    """HopSkipJump per row with the same classifier function, start points and seeds as the check."""
    art = _art.import_art()
    space, idx, Z0 = prepared["space"], prepared["idx"], prepared["Z0"]
    fav = ctx.favorable_index
    y = ctx.y_true[idx]
    with _art.single_threaded():
        pred0 = space.predict_fav(Z0, idx)
        correct = pred0 == y
        label_idx = np.where(y == 1, fav, 1 - fav)
        mut = np.flatnonzero(space.mutable)
        lo_all, hi_all = space.clip_values()
        lo, hi = lo_all[mut], hi_all[mut]
        rng = ctx.rng(f"{AdversarialRobustnessCheck.id}:hopskipjump")
        order = rng.permutation(len(idx))
        seeds = np.asarray(rng.integers(0, 2**31 - 1, size=len(idx)))
        rows = np.flatnonzero(correct)
        K = p.hsj_init_size
        cand = rng.uniform(lo, hi, size=(len(rows), K, len(mut))).astype(np.float32).astype(np.float64)
        full = np.repeat(Z0[rows][:, None, :], K, axis=1)
        full[:, :, mut] = cand
        pf = space.predict_fav(full.reshape(-1, Z0.shape[1]), np.repeat(idx[rows], K)).reshape(len(rows), K)
        advm = pf != y[rows][:, None]
        init = {int(r): cand[j, int(advm[j].argmax())] for j, r in enumerate(rows) if advm[j].any()}
        current = {"row": 0}

        def predict(Zs: np.ndarray) -> np.ndarray:
            Z = np.repeat(Z0[current["row"]][None], len(Zs), axis=0)
            Z[:, mut] = Zs
            return space.predict_proba(Z, np.full(len(Zs), idx[current["row"]]))

        clf = art.estimators.classification.BlackBoxClassifier(predict, input_shape=(len(mut),), nb_classes=2,
                                                              clip_values=(lo, hi))
        hsj = art.attacks.evasion.HopSkipJump(clf, batch_size=p.hsj_max_eval, norm=np.inf, max_iter=p.hsj_max_iter,
                                              max_eval=p.hsj_max_eval, init_eval=p.hsj_init_eval,
                                              init_size=p.hsj_init_size, verbose=False)
        dist = []
        for i in (int(o) for o in order):
            if i not in init:
                continue
            current["row"] = i
            with _art.seeded_global_numpy(int(seeds[i])):
                adv = hsj.generate(Z0[i][mut][None].astype(np.float32), y=np.eye(2)[[label_idx[i]]],
                                   x_adv_init=init[i][None].astype(np.float32))[0]
            dist.append(float(np.abs(adv - Z0[i][mut]).max()))
    return {"n_attacked": len(dist), "median": float(np.median(dist)) if dist else None}


def direct_noise(ctx: AuditContext, p: NoiseParams) -> dict[str, Any]:
    import pandas as pd

    model = ctx.model
    idx = ctx.sample(p.n_samples, NoiseRobustnessCheck.id)
    X = ctx.X.iloc[idx].reset_index(drop=True)
    fixed = set(ctx.bundle.manifest.protected) | set(ctx.bundle.manifest.immutable)
    num = [c for c in X.columns if c not in fixed and pd.api.types.is_numeric_dtype(X[c])]
    cat = [c for c in X.columns if c not in fixed and not pd.api.types.is_numeric_dtype(X[c])]
    rng = np.random.default_rng(0)
    fav = ctx.favorable_index
    with _art.single_threaded():
        clean = model.predict_proba(X).argmax(axis=1) == fav
        rates: dict[str, float] = {}
        for sigma in p.levels:
            Xn = X.copy()
            for c in num:
                full = ctx.X[c]
                v = X[c].to_numpy(dtype=float) + rng.normal(0, sigma * full.std(ddof=0), len(X))
                v = np.clip(v, full.min(), full.max())
                Xn[c] = np.rint(v).astype(full.dtype) if pd.api.types.is_integer_dtype(full) else v
            rates[f"{sigma:g}"] = float(((model.predict_proba(Xn).argmax(axis=1) == fav) != clean).mean())
        sets = []
        pick = rng.integers(0, len(cat), len(X))
        Xc = X.copy()
        for j, c in enumerate(cat):
            values = ctx.X[c].dropna().to_numpy()
            sel = pick == j
            Xc.loc[sel, c] = rng.choice(values, int(sel.sum()))
            Xk = X.copy()
            Xk[c] = rng.choice(values, len(X))
            sets.append(Xk)
        for Xk in [Xc, *sets]:
            rates[str(len(rates))] = float(((model.predict_proba(Xk).argmax(axis=1) == fav) != clean).mean())
    return rates


def direct_membership(ctx: AuditContext, p: MembershipParams) -> dict[str, Any]:
    from trustaudit.bundle.loader import encode_labels

    art = _art.import_art()
    train = ctx.training_data
    assert train is not None
    fav = ctx.favorable_index
    with _art.single_threaded():
        m = np.sort(ctx.rng(f"{MembershipInferenceCheck.id}:members").choice(len(train), p.n_samples,
                                                                              replace=False))
        nm = ctx.sample(p.n_samples, MembershipInferenceCheck.id)
        pm = ctx.model.predict_proba(train.iloc[m][ctx.feature_columns])
        pn = ctx.model.predict_proba(ctx.X.iloc[nm])
        ym = encode_labels(train[ctx.bundle.spec.label], ctx.bundle.spec.favorable_label, "label")[m]
        lm = np.where(ym == 1, fav, 1 - fav)
        ln = np.where(ctx.y_true[nm] == 1, fav, 1 - fav)
        rng = ctx.rng(f"{MembershipInferenceCheck.id}:split")
        f_m, f_n = fold_ids(len(m), p.folds, rng), fold_ids(len(nm), p.folds, rng)
        correct = 0
        for f in range(p.folds):
            est = art.estimators.classification.BlackBoxClassifier(lambda x: x, input_shape=(1,), nb_classes=2)
            mia = art.attacks.inference.membership_inference.MembershipInferenceBlackBox(est,
                                                                                         attack_model_type="rf")
            mia.attack_model.set_params(random_state=0)
            mia.fit(y=lm[f_m != f], test_y=ln[f_n != f], pred=pm[f_m != f], test_pred=pn[f_n != f])
            correct += int((mia.infer(None, lm[f_m == f], pred=pm[f_m == f]).ravel() == 1).sum())
            correct += int((mia.infer(None, ln[f_n == f], pred=pn[f_n == f]).ravel() == 0).sum())
    return {"accuracy": correct / (len(m) + len(nm))}


# -- driver --------------------------------------------------------------------------------------------------


def timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def compare_audit(old_tree: str, bundles: list[str], repeat: int) -> None:
    """Default audit wall time, an older checkout (PYTHONPATH=old_tree) then this tree, ``repeat`` times."""
    import subprocess
    import tempfile

    exe = str(Path(sys.executable).with_name("trustaudit"))
    for name in bundles:
        times: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(repeat):
            for label in ("old", "new"):
                env = dict(os.environ)
                env.pop("PYTHONPATH", None)
                if label == "old":
                    env["PYTHONPATH"] = old_tree
                with tempfile.TemporaryDirectory() as out:  # run outside the repository: no '' on sys.path
                    where = subprocess.run([sys.executable, "-c", "import trustaudit; print(trustaudit.__file__)"],
                                           env=env, capture_output=True, text=True, check=True, cwd=out).stdout.strip()
                    t0 = time.perf_counter()
                    proc = subprocess.run([exe, "audit", str(ROOT / "sample_models" / name), "--out", out + "/r"],
                                          env=env, capture_output=True, text=True, cwd=out)
                    dt = time.perf_counter() - t0
                if proc.returncode not in (0, 1):
                    raise SystemExit(f"{label} audit failed ({proc.returncode}): {proc.stderr[-2000:]}")
                times[label].append(dt)
                print(f"{name:<26} {label:<4} {dt:7.1f}s  ({where})", flush=True)
        old, new = statistics.median(times["old"]), statistics.median(times["new"])
        print(f"{name}: default audit old {old:.1f}s, new {new:.1f}s (medians of {repeat}), ratio {new / old:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--bundles", default="adult-income-logreg,adult-income-hgb,adult-income-logreg-onnx")
    ap.add_argument("--compare-audit", metavar="OLD_TREE", default=None,
                    help="time the default audit with an older checkout and with this tree")
    args = ap.parse_args()
    if args.compare_audit:
        bundles = args.bundles.split(",") if args.bundles != ap.get_default("bundles") else ["adult-income-hgb"]
        compare_audit(args.compare_audit, bundles, args.repeat)
        return
    _art.import_art()
    print(f"{'bundle':<26} {'check':<34} {'check s':>8} {'ART s':>8} {'ratio':>6} {'median':>6}  notes")
    total_check: dict[str, float] = {}
    for name in args.bundles.split(","):
        bundle = load_bundle(ROOT / "sample_models" / name)
        cases: list[tuple[str, Any, Any, Any]] = []
        adv_p = AdversarialParams()
        probe = fresh_context(bundle)
        method = "gradient" if build_space(probe, "fixed").mode == "sklearn" and _art.gradient_kind(
            build_space(probe, "fixed")._estimator) else "blackbox"
        if method == "gradient":
            cases.append(("robustness.adversarial", AdversarialRobustnessCheck, adv_p,
                          lambda ctx, p=adv_p: direct_gradient(ctx, p)))
        else:
            hsj_p = AdversarialParams(method="blackbox")

            def hsj_baseline(ctx: AuditContext, p: AdversarialParams = hsj_p) -> Any:
                with _art.single_threaded():
                    space = build_space(ctx, "fixed")  # the numeric encoding ART needs
                idx = attack_sample(ctx, p, "blackbox")
                return direct_hopskipjump(ctx, p, {"space": space, "idx": idx, "Z0": space.encode(idx)})

            cases.append(("robustness.adversarial", AdversarialRobustnessCheck, adv_p, None))
            cases.append(("robustness.adversarial[blackbox]", AdversarialRobustnessCheck, hsj_p, hsj_baseline))
        noise_p = NoiseParams()
        cases.append(("robustness.noise", NoiseRobustnessCheck, noise_p, lambda ctx, p=noise_p: direct_noise(ctx, p)))
        mia_p = MembershipParams()
        cases.append(("robustness.membership_inference", MembershipInferenceCheck, mia_p,
                      lambda ctx, p=mia_p: direct_membership(ctx, p)))
        for cid, cls, params, baseline in cases:
            t_check, t_direct = [], []
            notes = ""
            for _ in range(args.repeat):
                ctx = fresh_context(bundle)
                dt, out = timed(lambda ctx=ctx, cls=cls, params=params: cls().run(ctx, params))
                t_check.append(dt)
                notes = out.evidence.get("method", "") or ""
                if baseline is not None:
                    ctx = fresh_context(bundle)
                    dt, _ = timed(lambda ctx=ctx, baseline=baseline: baseline(ctx))
                    t_direct.append(dt)
            c = min(t_check)
            if not cid.endswith("[blackbox]"):
                total_check[name] = total_check.get(name, 0.0) + statistics.median(t_check)
            if cid == "robustness.noise":
                notes = "baseline: numpy/pandas + predict_proba (ART has no noise attack)"
            if not t_direct:
                print(f"{name:<26} {cid:<34} {c:8.2f} {'-':>8} {'-':>6} {'-':>6}  {notes} (no ART baseline)",
                      flush=True)
                continue
            d = min(t_direct)
            med = statistics.median(t_check) / statistics.median(t_direct)
            print(f"{name:<26} {cid:<34} {c:8.2f} {d:8.2f} {c / d:6.2f} {med:6.2f}  {notes}", flush=True)
    for name, t in total_check.items():
        print(f"{name}: whole robustness family {t:.1f}s (median runs, after the audit's shared setup)")


if __name__ == "__main__":
    main()
