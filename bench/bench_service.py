"""Benchmark the audit service: GET requests/s, audits/minute, and the service's overhead per audit vs the CLI.

Starts a real server (uvicorn subprocess, SQLite, loopback) in a temporary data dir and prints figures.

    .venv/bin/python bench/bench_service.py [--bundles german-credit adult-income-hgb] [--audits 8] [--gets 400]

Overhead: the same audit (bundle, checks, seed, params) timed three ways in the same run, sequentially:
  * in-process ``trustaudit.api.audit`` + ``write_report`` (warm: what the CLI does after its imports),
  * the CLI as a subprocess (``trustaudit audit``, includes interpreter start and imports),
  * the service: upload starts -> the job's finished_at (upload, extraction, validation, queue, audit, publish).
The service overhead is (service - in-process) / in-process; the target is <= 10%.
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
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"
CHECKS = ["fairness.*"]
PARAMS: dict[str, dict[str, int]] = {}


def pack(bundle: Path, dest: Path) -> bytes:
    out = dest / f"{bundle.name}.tar.gz"
    with tarfile.open(out, "w:gz") as tf:
        for p in sorted(bundle.rglob("*")):
            if p.is_file():
                tf.add(p, arcname=str(p.relative_to(bundle)))
    return out.read_bytes()


def start(data: Path, workers: int = 2, extra: list[str] | None = None) -> tuple[subprocess.Popen[bytes], str, str]:
    """A ``trustaudit serve`` subprocess on a free loopback port with a fresh admin token: (process, url, token)."""
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
                             str(port), "--workers", str(workers), "--log-level", "warning", *(extra or [])],
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
    r = c.post("/v1/audits", data={"checks": CHECKS, "seed": str(seed), "params": json.dumps(PARAMS)},
               files={"bundle": ("b.tar.gz", payload, "application/gzip")})
    r.raise_for_status()
    return str(r.json()["id"])


def wait(c: httpx.Client, jid: str, poll: float = 0.02) -> dict:
    while True:
        j = c.get(f"/v1/audits/{jid}").json()
        if j["state"] not in ("queued", "running"):
            if j["state"] != "done":
                raise SystemExit(f"job {jid} {j['state']}: {j.get('error')}")
            return dict(j)
        time.sleep(poll)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundles", nargs="+", default=["german-credit", "adult-income-hgb"])
    ap.add_argument("--audits", type=int, default=8, help="audits per bundle for the throughput figure")
    ap.add_argument("--gets", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=3, help="sequential runs for the overhead figure")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    from trustaudit import api

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        payloads = {b: pack(SAMPLES / b, tmp) for b in args.bundles}
        proc, url, token = start(tmp / "data", args.workers)
        try:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300) as c:
                # warm every worker (first audit pays for lazy imports)
                for jid in [submit(c, payloads[args.bundles[0]]) for _ in range(args.workers)]:
                    wait(c, jid)
                print(f"machine: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}; "
                      f"checks {CHECKS}, {args.workers} workers, SQLite")

                # --- overhead: sequential, one audit at a time
                api.audit(SAMPLES / args.bundles[0], checks=CHECKS, params=PARAMS)  # warm this process
                for b in args.bundles:
                    inproc, svc, svc_server, cli = [], [], [], []
                    for k in range(args.repeats):
                        t0 = time.perf_counter()
                        rep = api.audit(SAMPLES / b, checks=CHECKS, seed=k, params=PARAMS, out_dir=tmp / f"o{k}")
                        api.write_report(rep, tmp / f"o{k}")
                        inproc.append(time.perf_counter() - t0)
                        t_wall = time.time()
                        job = wait(c, submit(c, payloads[b], seed=k), poll=0.25)
                        # submit -> finished_at on the server's clock (same machine): polling does not count
                        fin = datetime.fromisoformat(job["finished_at"].replace("Z", "+00:00")).timestamp()
                        svc.append(fin - t_wall)
                        svc_server.append(job["duration_s"])
                        t0 = time.perf_counter()
                        subprocess.run([sys.executable, "-m", "trustaudit.cli", "audit", str(SAMPLES / b), "-q",
                                        "--out", str(tmp / f"c{k}"), "--seed", str(k),
                                        *[a for x in CHECKS for a in ("--checks", x)]],
                                       check=False, capture_output=True)
                        cli.append(time.perf_counter() - t0)
                    m_in, m_svc = statistics.median(inproc), statistics.median(svc)
                    print(f"{b}: in-process audit {m_in:.2f}s | service submit->done {m_svc:.2f}s "
                          f"(worker {statistics.median(svc_server):.2f}s) | CLI subprocess "
                          f"{statistics.median(cli):.2f}s | service overhead vs in-process "
                          f"{(m_svc - m_in) / m_in * 100:+.1f}% ({m_svc - m_in:+.2f}s), vs CLI "
                          f"{(m_svc - statistics.median(cli)) / statistics.median(cli) * 100:+.1f}%")

                # --- throughput: all audits submitted at once
                t0 = time.perf_counter()
                ids = [submit(c, payloads[b], seed=i) for b in args.bundles for i in range(args.audits)]
                for jid in ids:
                    wait(c, jid, poll=0.1)
                dt = time.perf_counter() - t0
                print(f"throughput: {len(ids)} audits in {dt:.1f}s = {len(ids) / dt * 60:.1f} audits/minute")

                # --- GET requests/s (4 client threads, one connection each)
                jid = ids[0]


                for path in (f"/v1/audits/{jid}", "/v1/audits?limit=20", "/healthz"):
                    def burst_p(n: int, path: str = path) -> int:
                        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as cc:
                            for _ in range(n):
                                cc.get(path).raise_for_status()
                        return n

                    t0 = time.perf_counter()
                    with ThreadPoolExecutor(4) as ex:
                        total = sum(ex.map(burst_p, [args.gets // 4] * 4))
                    print(f"GET {path}: {total / (time.perf_counter() - t0):.0f} requests/s")
        finally:
            proc.terminate()
            proc.wait(20)


if __name__ == "__main__":
    main()
