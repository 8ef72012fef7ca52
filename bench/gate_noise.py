"""How often does the regression gate fail on noise alone, and how often does it catch a real regression?

Data: the Adult predictions sample bundle (16,281 rows, predictions of the HGB model). Each repetition splits
the rows at random into two halves: the first half is audited and becomes the baseline, the second half is
audited with another seed and gated against it. Both halves come from the same model, so every difference
is sampling and bootstrap noise. For power, a share of the favourable decisions for women in the second
half is withdrawn (a real regression of the model's treatment of women).

Rubric: no regression at all allowed (max_regression 0) in disparate impact, |equal opportunity
difference| and per-group selection rates, over all subjects (about 50 changes per gate). Compared:
- interval + Bonferroni (the default): fail only when the multiplicity-adjusted interval of the change
  excludes the allowed region;
- interval, no correction (``baseline_correction: none``);
- value: judge the point estimates (what a naive gate does).

Usage: ``python bench/gate_noise.py [--reps 60] [--bootstrap 300]``. Prints the false-alarm rate of each
policy and the detection rate for each size of regression.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RUBRIC = """\
rubric: 1
name: no-regression-{name}
baseline_correction: {correction}
checks:
  fairness.model:
    conditions:
      - {{metric: disparate_impact, relative_to: baseline, max_regression: {tol}, direction: higher_is_better,
          judge: {judge}}}
      - {{metric: equal_opportunity_difference, abs: true, relative_to: baseline, max_regression: {tol},
          judge: {judge}}}
      - {{metric: selection_rate, relative_to: baseline, op: between, value: [-{tol}, {tol}], judge: {judge}}}
"""
POLICIES = {
    "interval+bonferroni": ("interval", "bonferroni"),
    "interval, no correction": ("interval", "none"),
    "point estimates": ("value", "none"),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=60)
    ap.add_argument("--power-reps", type=int, default=20)
    ap.add_argument("--bootstrap", type=int, default=300)
    args = ap.parse_args()

    import numpy as np
    import pandas as pd

    from trustaudit.api import audit, in_memory_bundle
    from trustaudit.gate import gate
    from trustaudit.gate.baseline import baseline_from_report
    from trustaudit.rubrics import load_rubric

    df = pd.read_csv(ROOT / "sample_models" / "adult-income-predictions" / "data" / "eval.csv.gz")
    params = {"fairness.model": {"bootstrap": args.bootstrap, "intersections": False}}
    protected = {"sex": ["Male"], "race": ["White"], "age": ">= 25"}

    def run(d: pd.DataFrame, seed: int):
        b = in_memory_bundle(None, d.reset_index(drop=True), label="income", favorable_label=">50K",
                             protected=protected, prediction="pred_income")
        return audit(b, checks=["fairness.model"], seed=seed, params=params)

    tmp = Path(tempfile.mkdtemp())
    rubrics = {}
    for tol in ("0.0", "0.02"):
        for name, (judge, corr) in POLICIES.items():
            p = tmp / f"{judge}-{corr}-{tol}.yaml"
            p.write_text(RUBRIC.format(name=f"{judge}-{corr}", correction=corr, tol=tol, judge=judge))
            rubrics[(name, tol)] = load_rubric(p)

    rng = np.random.default_rng(2026)
    t0 = time.perf_counter()
    false_alarms = {k: 0 for k in rubrics}
    family = []
    for _ in range(args.reps):
        idx = rng.permutation(len(df))
        a, b = df.iloc[idx[: len(df) // 2]], df.iloc[idx[len(df) // 2:]]
        base = baseline_from_report(run(a, 0))
        rep = run(b, 1)
        for key, rub in rubrics.items():
            g = gate(rep, rubric=rub, baseline=base)
            false_alarms[key] += g.exit_code
            if key == ("interval+bonferroni", "0.0"):
                family.append(g.family_size)
    t_noise = time.perf_counter() - t0
    print(f"noise: {args.reps} pairs of disjoint halves (n={len(df) // 2} each), bootstrap {args.bootstrap}, "
          f"~{int(np.mean(family))} changes judged per gate, {t_noise:.0f}s")
    print(f"{'policy':<26} {'tolerance':>9} {'false alarms':>14}")
    for (name, tol), k in false_alarms.items():
        print(f"{name:<26} {tol:>9} {k:>4}/{args.reps} = {k / args.reps:5.1%}")

    print(f"\npower: share of the women's favourable decisions withdrawn in the second half "
          f"({args.power_reps} repetitions each)")
    shares = (0.05, 0.10, 0.20, 0.30)
    print(f"{'policy':<26} {'tolerance':>9} " + " ".join(f"{s:>7.0%}" for s in shares))
    caught = {k: [] for k in rubrics}
    for share in shares:
        hits = {k: 0 for k in rubrics}
        for _ in range(args.power_reps):
            idx = rng.permutation(len(df))
            a, b = df.iloc[idx[: len(df) // 2]], df.iloc[idx[len(df) // 2:]].copy()
            women = np.flatnonzero((b["sex"] == "Female").to_numpy() & (b["pred_income"] == ">50K").to_numpy())
            flip = rng.choice(women, size=int(share * len(women)), replace=False)
            b.iloc[flip, b.columns.get_loc("pred_income")] = "<=50K"
            base = baseline_from_report(run(a, 0))
            rep = run(b, 1)
            for key, rub in rubrics.items():
                hits[key] += gate(rep, rubric=rub, baseline=base).exit_code
        for key in rubrics:
            caught[key].append(hits[key] / args.power_reps)
    for (name, tol), rates in caught.items():
        print(f"{name:<26} {tol:>9} " + " ".join(f"{r:>7.0%}" for r in rates))
    print(f"\ntotal {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
