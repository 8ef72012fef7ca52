"""Benchmark the lineage family: each check on a sample bundle, leakage/skew at larger sizes, BOM, attestation.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_lineage.py [--sizes 100k,1M] [--bundle adult-income-hgb]
    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_lineage.py --seeds 0-4   # status stability table only

Prints wall seconds per check on the bundle as shipped (16,281 evaluation / 32,561 training rows for Adult),
then leakage and skew on up-samples of the Adult data (evaluation and training rows drawn with replacement,
seeded; the rows are in-memory, so the time is the checks' own), then ``trustaudit bom`` (build + CycloneDX 1.6
schema validation) and the in-toto attestation.

``--seeds A-B`` instead audits every sample bundle with ``lineage.*`` and ``fairness.*`` under each seed and prints
each check's status per seed, and how many rubric conditions changed status between seeds (issue 15: a status
must not depend on the seed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = {"100k": 100_000, "1M": 1_000_000}
LINEAGE = ["lineage.integrity", "lineage.completeness", "lineage.consistency", "lineage.leakage", "lineage.skew",
           "lineage.reproducibility"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default="adult-income-hgb")
    ap.add_argument("--sizes", default="100k,1M", help="comma-separated: 100k, 1M (empty: none)")
    ap.add_argument("--seeds", default="", help="A-B: print the status of every lineage/fairness check per seed")
    args = ap.parse_args()
    if args.seeds:
        lo, hi = (int(x) for x in args.seeds.split("-"))
        return seed_table(range(lo, hi + 1))

    from trustaudit.api import audit, in_memory_bundle, write_report
    from trustaudit.bundle import load_bundle
    from trustaudit.lineage.attestation import write_attestation
    from trustaudit.lineage.bom import bom_json, build_bom, validate_bom

    bdir = ROOT / "sample_models" / args.bundle
    t0 = time.perf_counter()
    bundle = load_bundle(bdir)
    print(f"{args.bundle}: load {time.perf_counter() - t0:.2f}s; {len(bundle.data):,} eval rows, "
          f"{len(bundle.training_data) if bundle.training_data is not None else 0:,} training rows")
    report = audit(bundle, checks=LINEAGE)
    print(f"{'check':28s} {'status':8s} {'seconds':>8s}")
    for c in report.checks:
        print(f"{c.check_id:28s} {c.status.value:8s} {c.duration_s:8.2f}")
    print(f"{'(predictions, shared)':28s} {'':8s} {report.prediction_s:8.2f}")

    ev, tr = bundle.data, bundle.training_data
    assert tr is not None
    spec = bundle.manifest.data
    for name in [s for s in args.sizes.split(",") if s]:
        n = SIZES[name]
        ev_n = ev.sample(n=n, replace=True, random_state=1).reset_index(drop=True)
        tr_n = tr.sample(n=2 * n, replace=True, random_state=2).reset_index(drop=True)
        ev_n["pred"] = ev_n[spec.label]
        mem = in_memory_bundle(None, ev_n, label=spec.label, favorable_label=spec.favorable_label, protected={},
                               prediction="pred", features=list(bundle.feature_columns()), training_data=tr_n)
        r = audit(mem, checks=["lineage.leakage", "lineage.skew"])
        times = ", ".join(f"{c.check_id} {c.duration_s:.2f}s" for c in r.checks)
        print(f"up-sampled to {n:,} eval / {2 * n:,} training rows: {times}")

    t0 = time.perf_counter()
    text = bom_json(build_bom(load_bundle(bdir, load_model=False)))
    t1 = time.perf_counter()
    validate_bom(text)
    t2 = time.perf_counter()
    print(f"bom: build {t1 - t0:.2f}s, CycloneDX 1.6 schema validation {t2 - t1:.2f}s, {len(text):,} bytes")
    with tempfile.TemporaryDirectory() as tmp:
        write_report(report, tmp)
        t0 = time.perf_counter()
        write_attestation(report, tmp)
        print(f"attestation: {time.perf_counter() - t0:.3f}s")
    return 0


def seed_table(seeds: range) -> int:
    from trustaudit.api import audit
    from trustaudit.bundle import load_bundle

    names = sorted(p.name for p in (ROOT / "sample_models").iterdir() if (p / "trustaudit.yaml").exists())
    print(f"{'bundle':26s} {'check':26s} " + " ".join(f"seed {s:<3d}" for s in seeds) + "  conditions changed")
    unstable = 0
    for name in names:
        runs = []
        for seed in seeds:
            bundle = load_bundle(ROOT / "sample_models" / name, load_model=name != "adult-income-predictions")
            runs.append(audit(bundle, checks=["lineage.*", "fairness.*"], seed=seed))
        for i, check in enumerate(runs[0].checks):
            per_seed = [r.checks[i] for r in runs]
            assert all(c.check_id == check.check_id for c in per_seed)
            conds = [[(x.metric, x.subject, x.status.value) for x in c.conditions] for c in per_seed]
            changed = sum(len(set(col)) > 1 for col in zip(*conds))
            same = len({c.status for c in per_seed}) == 1
            unstable += (not same) + changed
            print(f"{name:26s} {check.check_id:26s} " + " ".join(f"{c.status.value:8s}" for c in per_seed)
                  + f"  {changed} of {len(conds[0])}")
    print(f"status or condition changes across seeds: {unstable}")
    return 1 if unstable else 0


if __name__ == "__main__":
    sys.exit(main())
