"""The explainability.shap check against shap called directly with the same explainer, rows and background size.

For each bundle, prints the wall time of (a) the ``explainability.shap`` check (explainer, per-column sums,
bootstrap intervals, stability, plots; also without plots) and (b) the same explainer called directly on the same
explained rows with one shared background of the same size (the same number of (row, background row) pairs as
the check's per-row draws), and the ratio (a)/(b). Target: at most 1.1. Also checks that the check's values of a
few rows equal a freshly built explainer on each row's own background draw.

Excluded from both, as in an audit where they are computed once and shared by every check: importing shap and
matplotlib, the model's predictions, and the transformed evaluation matrix. Each repeat uses a fresh audit
context (nothing cached); the figures are the minimum over repeats (the machine is shared), medians beside them.
Also checks that the check's SHAP values equal the direct call's (summed per original column). Wall and CPU time
of this process are both printed: on a shared machine the CPU time is the steadier figure.

For a bundle explained model-agnostically (ONNX), the direct call is ``shap.PermutationExplainer`` with the same
number of orderings per row, after one warm-up row (numba compiles its masking code on first use; that time is
reported separately and not counted).

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_shap.py [--rows 2000] [--repeat 3]
        [--bundle sample_models/adult-income-hgb --bundle sample_models/adult-income-logreg ...]

``--seeds 0-4`` instead audits each bundle (both explainability checks, the default rubric or ``--rubric``) once
per seed and prints the status of each check per seed, and whether it depends on the seed (issue 15: statuses
must not).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
# OpenMP threads (HistGradientBoosting's predict) spin-wait between parallel regions; on a shared, oversubscribed
# machine that spinning costs 0.1-2 s per call instead of 15 ms. Passive waiting makes the timings reproducible.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pandas as pd

from trustaudit.api import _run_check
from trustaudit.bundle import load_bundle
from trustaudit.checks.explainability import ShapCheck
from trustaudit.checks.explainability.attributions import ShapParams, compute_attributions, import_shap
from trustaudit.context import AuditContext
from trustaudit.features import feature_space

ROOT = Path(__file__).resolve().parents[1]


def per_column(values: np.ndarray, sources: list[str], features: list[str]) -> np.ndarray:
    return np.column_stack(
        [values[:, [i for i, s in enumerate(sources) if s == f]].sum(axis=1) for f in features]
    )


def timed(fn, *args):
    """(result, wall seconds, CPU seconds of this process)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - w0, time.process_time() - c0


def direct_fast(shap, ctx: AuditContext, method: str, rows: np.ndarray, background: np.ndarray) -> np.ndarray:
    """shap called directly: the estimator and explained rows the check used, against ``background`` (rows of
    the estimator's input space)."""
    fs = feature_space(ctx)
    assert fs is not None
    masker = shap.maskers.Independent(background, max_samples=len(background))
    X = fs.matrix[rows]
    with contextlib.redirect_stderr(io.StringIO()):  # shap's C progress bar, as in the check
        if method == "tree":
            explainer = shap.TreeExplainer(fs.estimator, masker, feature_perturbation="interventional")
            return np.asarray(explainer.shap_values(X, check_additivity=False))
        return np.asarray(shap.LinearExplainer(fs.estimator, masker).shap_values(X))


def permutation_explainer(shap, ctx: AuditContext, p: ShapParams, rows: np.ndarray, background):
    """shap.PermutationExplainer on the check's encoding and rows, one shared background of the check's per-row
    size; warmed up on one row."""
    from trustaudit.checks.explainability.permutation import OrdinalCodec

    codec = OrdinalCodec(pd.concat([ctx.X, background]))

    def f(Z: np.ndarray) -> np.ndarray:
        return ctx.predict_favorable_proba(codec.decode(Z))

    X = codec.encode(ctx.X.iloc[rows])
    evals = p.permutations * (2 * X.shape[1] + 1)
    masker = shap.maskers.Independent(codec.encode(background), max_samples=len(background))
    explainer = shap.PermutationExplainer(f, masker, seed=0)
    t0 = time.perf_counter()
    explainer(X[:1], max_evals=evals, silent=True)  # numba compiles its masking code here
    warm = time.perf_counter() - t0
    return lambda: np.asarray(explainer(X, max_evals=evals, silent=True).values), warm


def bench(bundle: Path, rows: int, repeat: int) -> None:
    shap = import_shap()
    import matplotlib.figure  # noqa: F401  (imported once per audit; not part of either timing)

    b = load_bundle(bundle)
    params = {"rows": rows, "permutation_rows": min(rows, 200)}
    p = ShapParams(**params)
    times: dict[str, list[tuple[float, float]]] = {"check": [], "noplot": [], "direct": []}
    warm = None

    def run_check(out: Path | None) -> tuple[AuditContext, float, float]:
        ctx = AuditContext(b, seed=0, out_dir=out)
        _ = ctx.y_pred  # predictions: once per audit, before any check
        feature_space(ctx)  # the transformed matrix: once per audit, shared with robustness
        res, wall, cpu = timed(_run_check, ShapCheck, ctx, params)
        assert res.error is None, res.error
        return ctx, wall, cpu

    for _ in range(repeat):  # check, direct call, check without plots: neighbours in time, compared in pairs
        with tempfile.TemporaryDirectory() as tmp:
            ctx, wall, cpu = run_check(Path(tmp))
        times["check"].append((wall, cpu))
        att = compute_attributions(ctx, p)  # cached: the rows and backgrounds the check used
        bg = att.background
        frame = bg.frame.iloc[bg.pool]
        if att.method in ("tree", "linear"):
            fs = feature_space(ctx)
            assert fs is not None
            pool = fs.transform(frame)
            shared = pool[bg.draws[0]] if bg.draws is not None else pool
            sv, wall, cpu = timed(direct_fast, shap, ctx, att.method, att.rows, shared)
            # a few rows against their own draws, by freshly built explainers
            agreement = 0.0
            for i in (0, att.n // 2, att.n - 1):
                own = pool[bg.draws[i]] if bg.draws is not None else pool
                direct = direct_fast(shap, ctx, att.method, att.rows[i : i + 1], own)
                if direct.ndim == 3:
                    direct = direct[:, :, ctx.favorable_index]
                agreement = max(agreement, float(np.abs(per_column(direct, fs.source, att.features)[0]
                                                         - att.values[i]).max()))
        else:
            shared_frame = frame.iloc[bg.draws[0]] if bg.draws is not None else frame
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                call, first = permutation_explainer(shap, ctx, p, att.rows, shared_frame)
                warm = first if warm is None else warm  # compilation happens once per process
                sv, wall, cpu = timed(call)
            # different random orderings and backgrounds: compare the importances
            imp_check = np.abs(att.values).mean(axis=0)
            imp_direct = np.abs(sv).mean(axis=0)[[list(ctx.X.columns).index(f) for f in att.features]]
            agreement = float(np.abs(imp_check - imp_direct).max() / imp_direct.max())
        times["direct"].append((wall, cpu))
        _, wall, cpu = run_check(None)
        times["noplot"].append((wall, cpu))

    def best(key: str, k: int) -> float:
        return min(t[k] for t in times[key])

    def paired(key: str, k: int) -> float:  # median over repeats of (this run / the direct call beside it)
        return statistics.median(a[k] / d[k] for a, d in zip(times[key], times["direct"]))

    def fmt(key: str) -> str:
        med = statistics.median(t[0] for t in times[key])
        return f"wall {best(key, 0):7.3f} s (median {med:.3f})   CPU {best(key, 1):7.3f} s"

    print(
        f"\n{bundle.name}: {att.method} explainer ({att.explainer}), {att.n} rows explained, "
        f"{bg.per_row} background rows per row from the {bg.source}, {repeat} repeats"
    )
    print(f"  explainability.shap check      {fmt('check')}")
    print(f"  ... without plots              {fmt('noplot')}")
    print(f"  shap called directly           {fmt('direct')}")
    if warm is not None:
        print(f"  (shap.PermutationExplainer's first row, numba compilation: {warm:.1f} s, not counted)")
    print("  ratio check / direct (target <= 1.1):   best/best   median of paired runs")
    for k, what in ((0, "wall"), (1, "CPU")):
        for key, label in (("check", "check"), ("noplot", "without plots")):
            print(
                f"    {what:4} {label:16}                {best(key, k) / best('direct', k):5.2f}   {paired(key, k):5.2f}"
            )
    if best("direct", 0) < 0.05:
        print(
            "  (shap takes milliseconds here: the ratio only shows the check's fixed cost, in seconds above)"
        )
    if att.method in ("tree", "linear"):
        print(f"  max |check - direct| SHAP value per column (3 rows, each on its own draw): {agreement:.2e}")
    else:
        print(f"  max relative difference of mean |SHAP| (different orderings and backgrounds): {agreement:.3f}")


def seeds_table(bundles: list[Path], seeds: list[int], rubric: str | None) -> None:
    """Status of each explainability check per seed and bundle (and the conditions behind a warn/fail)."""
    from trustaudit.api import audit

    checks = ("explainability.shap", "explainability.protected_reliance")
    print(f"{'bundle':28} {'check':36} " + " ".join(f"seed {s}" for s in seeds) + "  stable")
    for bundle in bundles:
        statuses: dict[str, list[str]] = {c: [] for c in checks}
        for seed in seeds:
            report = audit(bundle, checks=list(checks), seed=seed, rubric=rubric)
            for result in report.checks:
                statuses[result.check_id].append(result.status.value)
        for c in checks:
            row = statuses[c]
            print(f"{bundle.name:28} {c:36} " + " ".join(f"{s:6}" for s in row) + f"  {len(set(row)) == 1}")


def parse_seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", action="append", type=Path, help="bundle directory (repeatable)")
    ap.add_argument("--rows", type=int, default=2000, help="rows explained (tree/linear explainers)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seeds", help="e.g. 0-4: the status of each check per seed instead of timings")
    ap.add_argument("--rubric", help="rubric file or name for --seeds (default: the default rubric)")
    args = ap.parse_args()
    if args.seeds:
        names = ("adult-income-hgb", "adult-income-logreg", "adult-income-logreg-onnx", "german-credit",
                 "adult-income-predictions")
        seeds_table(args.bundle or [ROOT / "sample_models" / n for n in names], parse_seeds(args.seeds), args.rubric)
        return
    for bundle in args.bundle or [ROOT / "sample_models" / "adult-income-hgb"]:
        bench(bundle, args.rows, args.repeat)


if __name__ == "__main__":
    main()
