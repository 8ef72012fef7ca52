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
import json
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"
CHECKS = ["fairness.*"]


def pack(bundle: Path, dest: Path) -> bytes:
    out = dest / f"{bundle.name}.tar.gz"
    with tarfile.open(out, "w:gz") as tf:
        for p in sorted(bundle.rglob("*")):
            if p.is_file():
                tf.add(p, arcname=str(p.relative_to(bundle)))
    return out.read_bytes()


def start(data: Path, extra: list[str]) -> tuple[subprocess.Popen[bytes], str, str]:
    from trustaudit.service.auth import create_token
    from trustaudit.service.config import Settings
    from trustaudit.service.db import make_engine, make_sessionmaker, migrate

    st = Settings(data_dir=data)
    st.prepare()
    migrate(st.database_url)
    with make_sessionmaker(make_engine(st.database_url))() as s:
        token = create_token(s, "admin", "bench")[1]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "trustaudit.cli", "serve", "--data-dir", str(data), "--port",
                             str(port), "--log-level", "warning", *extra],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url, token
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not become ready")


def submit(c: httpx.Client, payload: bytes, seed: int = 0) -> str:
    r = c.post("/v1/audits", data={"checks": CHECKS, "seed": str(seed), "params": json.dumps({})},
               files={"bundle": ("b.tar.gz", payload, "application/gzip")})
    r.raise_for_status()
    return str(r.json()["id"])


def wait(c: httpx.Client, jid: str, poll: float = 0.05) -> dict:
    while True:
        j = c.get(f"/v1/audits/{jid}").json()
        if j["state"] not in ("queued", "running"):
            if j["state"] != "done":
                raise SystemExit(f"job {jid} {j['state']}: {j.get('error')}")
            return dict(j)
        time.sleep(poll)


def run(name: str, extra: list[str], payloads: dict[str, bytes], tmp: Path, repeats: int, burst: int) -> None:
    proc, url, token = start(tmp / name, extra)
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
