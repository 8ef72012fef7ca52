"""Benchmark the openness scorer on a catalog of model files.

Generates N MOT model.yml files (default 10,000) by varying the 27 conformance files (licenses swapped for
other spellings, expressions and restrictive licenses; components dropped; globals changed), writes them to a
temporary folder, then reads and scores every file on one core and prints files per second.

    python bench/bench_openness.py [--n 10000] [--strict-mot] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trustaudit.openness import load_mot_file, score_openness  # noqa: E402

CONF = ROOT / "tests" / "openness" / "conformance"
SPELLINGS = [
    "Apache 2.0",
    "apache-2.0",
    "MIT License",
    "BSD-3",
    "cc-by-4.0",
    "CC BY-SA 4.0",
    "odbl",
    "llama3.1",
    "gemma",
    "bigscience-openrail-m",
    "CC-BY-NC-4.0",
    "MIT OR Apache-2.0",
    "Apache-2.0 AND CC-BY-NC-4.0",
    "GPL-2.0",
    "Custom License",
    "unlicensed",
    "CDLA-Permissive-2.0",
    "OpenMDW-1.0",
]


def generate(n: int, out: Path, seed: int = 0) -> list[Path]:
    rng = random.Random(seed)
    bases = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(CONF.glob("*.yml"))]
    paths = []
    for i in range(n):
        doc = yaml.safe_load(yaml.safe_dump(bases[i % len(bases)]))  # deep copy
        rel = doc["release"]
        rel["name"] = f"{rel['name']}-{i}"
        comps = rel.get("components") or []
        for comp in comps:
            r = rng.random()
            if r < 0.15:
                comp["license"] = rng.choice(SPELLINGS)
            elif r < 0.2:
                comp.pop("license", None)
        if comps and rng.random() < 0.3:
            comps.pop(rng.randrange(len(comps)))
        if rng.random() < 0.2:
            rel["license"] = {"distribution": {"name": rng.choice(SPELLINGS)}}
        p = out / f"model-{i:05d}.yml"
        p.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        paths.append(p)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--strict-mot", action="store_true")
    ap.add_argument("--keep", type=Path, default=None, help="write the catalog here and keep it")
    args = ap.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="openness-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        paths = generate(args.n, tmp)
        classes: dict[str, int] = {}
        # CPU time of this process: on a shared machine wall time mostly measures the neighbours
        t0, c0 = time.perf_counter(), time.process_time()
        t_load = 0.0
        for p in paths:
            t1 = time.process_time()
            decl = load_mot_file(p)
            t_load += time.process_time() - t1
            r = score_openness(decl, strict_mot=args.strict_mot)
            classes[r.mof_class] = classes.get(r.mof_class, 0) + 1
        cpu = time.process_time() - c0
        wall = time.perf_counter() - t0
        mode = "strict-mot" if args.strict_mot else "default"
        print(
            f"scored {len(paths)} model files ({mode} mode): {len(paths) / cpu:,.0f} files/s on one core "
            f"({cpu:.2f} s CPU; {wall:.2f} s wall = {len(paths) / wall:,.0f} files/s; "
            f"reading+validating {t_load / cpu:.0%} of the CPU time, scoring {1 - t_load / cpu:.0%})"
        )
        print("classes:", ", ".join(f"{k}: {v}" for k, v in sorted(classes.items())))
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
