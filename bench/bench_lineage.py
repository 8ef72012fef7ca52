"""Benchmark the lineage family: each check on a sample bundle, leakage/skew at larger sizes, BOM, attestation.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_lineage.py [--sizes 100k,1M] [--bundle adult-income-hgb]

Prints wall seconds per check on the bundle as shipped (16,281 evaluation / 32,561 training rows for Adult),
then leakage and skew on up-samples of the Adult data (evaluation and training rows drawn with replacement,
seeded; the rows are in-memory, so the time is the checks' own), then ``trustaudit bom`` (build + CycloneDX 1.6
schema validation) and the in-toto attestation.
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
    args = ap.parse_args()

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


if __name__ == "__main__":
    sys.exit(main())
