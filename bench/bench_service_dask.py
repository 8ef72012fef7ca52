"""Benchmark ``trustaudit serve --executor dask://`` against the local worker pool, same machine, same audits.

Starts a local Dask cluster (two single-threaded worker processes on loopback) and, one after the other, two
servers on SQLite: ``--workers 2`` (local processes) and ``--executor dask://...``. For each it warms the workers,
then runs the same audits one at a time (sequential latency) and all at once (throughput), and prints:

  * ``worker`` = the job's ``duration_s`` (claim -> result recorded: for Dask this includes packing the bundle,
    shipping it, extracting it on the worker and writing the returned files),
  * ``submit->done`` = upload start -> the job's ``finished_at``,
  * throughput in audits/minute with every audit submitted at once.

    .venv/bin/python bench/bench_service_dask.py [--bundles german-credit adult-income-hgb] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_service import CHECKS, pack, start, submit, wait  # noqa: E402  (same server start-up, upload and polling)


def run(name: str, extra: list[str], payloads: dict[str, bytes], tmp: Path, repeats: int, burst: int) -> None:
    proc, url, token = start(tmp / name, 2, extra)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300) as c:
            first = next(iter(payloads.values()))
            for jid in [submit(c, first) for _ in range(2)]:  # warm both workers (lazy imports)
                wait(c, jid)
            for b, payload in payloads.items():
                worker, wall = [], []
                for k in range(repeats):
                    t0 = time.time()
                    job = wait(c, submit(c, payload, seed=k))
                    fin = datetime.fromisoformat(job["finished_at"].replace("Z", "+00:00")).timestamp()
                    worker.append(job["duration_s"])
                    wall.append(fin - t0)
                print(f"{name:>5} {b}: worker {statistics.median(worker):.2f}s | submit->done "
                      f"{statistics.median(wall):.2f}s (median of {repeats})")
            t0 = time.perf_counter()
            ids = [submit(c, p, seed=i) for p in payloads.values() for i in range(burst)]
            for jid in ids:
                wait(c, jid, poll=0.1)
            dt = time.perf_counter() - t0
            print(f"{name:>5} throughput: {len(ids)} audits in {dt:.1f}s = {len(ids) / dt * 60:.1f} audits/minute")
    finally:
        proc.terminate()
        proc.wait(20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundles", nargs="+", default=["german-credit", "adult-income-hgb"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--burst", type=int, default=4, help="audits per bundle submitted at once")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                           host="127.0.0.1")
    spec = "dask://" + str(cluster.scheduler_address).split("://", 1)[1]
    print(f"machine: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}; checks {CHECKS}; "
          f"2 local worker processes vs a local Dask cluster of 2 single-threaded workers")
    try:
        with tempfile.TemporaryDirectory() as tmp_s:
            tmp = Path(tmp_s)
            payloads = {b: pack(SAMPLES / b, tmp) for b in args.bundles}
            run("local", ["--workers", "2"], payloads, tmp, args.repeats, args.burst)
            run("dask", ["--executor", spec], payloads, tmp, args.repeats, args.burst)
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
