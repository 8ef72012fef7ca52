"""Durability: SIGKILL the server mid-audit and restart it; 50 concurrent submissions each run exactly once."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.service.conftest import SAMPLES, Server, start_server, submit

pytestmark = pytest.mark.slow
TINY = {"fairness.model": {"bootstrap": 20}}


def _wait_state(srv: Server, job_id: str, states: set[str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    with srv.client("read") as c:
        while time.monotonic() < deadline:
            job = c.get(f"/v1/audits/{job_id}").json()
            if job["state"] in states:
                return job
            time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {states}:\n{srv.tail()}")


def test_kill_and_restart_never_leaves_a_job_running(tmp_path: Path, bundle_archive: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data, workers=1)
    try:
        # a slow audit (large bootstrap) so the kill lands while it runs
        slow = {"fairness.dataset": {"bootstrap": 3000}, "fairness.model": {"bootstrap": 3000}}
        r = submit(srv, bundle_archive, params=slow)
        assert r.status_code == 202, r.text
        jid = r.json()["id"]
        running = _wait_state(srv, jid, {"running"}, 60)
        assert running["attempts"] == 1
    finally:
        srv.kill()  # SIGKILL: no shutdown handler runs
    # the worker dies with its server (PR_SET_PDEATHSIG): nothing may publish for attempt 1 afterwards
    time.sleep(1.0)
    job_dir = data / "jobs" / jid
    assert not (job_dir / "out-1").exists()
    srv2 = start_server(data, srv.database_url, workers=1, tokens=srv.tokens)
    try:
        job = _wait_state(srv2, jid, {"done", "failed"}, 120)
        # re-queued on startup, then run to the end by the new worker
        assert job["state"] == "done", job
        assert job["attempts"] == 2
        assert any("attempt 1 was interrupted" in n for n in job["notes"])
        with srv2.client("read") as c:
            rep = c.get(f"/v1/audits/{jid}/report.json")
            assert rep.status_code == 200 and rep.json()["verdict"] == job["verdict"]
        assert sorted(p.name for p in job_dir.iterdir()) == ["bundle", "out-2"]  # no half-written leftovers
    finally:
        srv2.stop()
    # out of attempts: a job killed on its last attempt is failed with the reason, never left running
    from sqlalchemy import update

    from trustaudit.service.db import Job, make_engine, make_sessionmaker
    from trustaudit.service.queue import recover

    eng = make_engine(srv.database_url)
    sm = make_sessionmaker(eng)
    with sm() as s:
        s.execute(update(Job).where(Job.id == jid).values(state="running", claim="dead:1", attempts=2))
        s.commit()
    assert recover(sm) == {"requeued": 0, "failed": 1, "cancelled": 0}
    with sm() as s:
        j = s.get(Job, jid)
        assert j is not None and j.state == "failed" and "gave up after 2 attempt(s)" in (j.error or "")
    eng.dispose()


def test_fifty_concurrent_submissions_each_run_once(sqlite_server: Server, bundle_archive: Path) -> None:
    from trustaudit.api import audit

    payload = bundle_archive.read_bytes()
    seeds = list(range(50))

    def one(seed: int) -> str:
        with sqlite_server.client("submit") as c:
            r = c.post("/v1/audits", data={"checks": ["fairness.model"], "seed": str(seed % 2),
                                           "params": json.dumps(TINY)},
                       files={"bundle": ("b.tar.gz", payload, "application/gzip")})
            assert r.status_code == 202, r.text
            return str(r.json()["id"])

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=10) as ex:  # several clients at once
        ids = list(ex.map(one, seeds))
    assert len(set(ids)) == 50
    jobs = [sqlite_server.wait_job(i, timeout=240) for i in ids]
    elapsed = time.monotonic() - t0
    assert all(j["state"] == "done" for j in jobs), [j for j in jobs if j["state"] != "done"][:2]
    assert all(j["attempts"] == 1 for j in jobs)  # each exactly once
    # reports equal (timestamps aside) to the CLI audit of the same bundle and seed
    want = {s: json.loads(audit(SAMPLES / "german-credit", checks=["fairness.model"], seed=s,
                                params=TINY).to_json()) for s in range(2)}
    with sqlite_server.client("read") as c:
        for seed, jid in zip(seeds, ids):
            got = c.get(f"/v1/audits/{jid}/report.json").json()
            w = want[seed % 2]
            assert got["verdict"] == w["verdict"]
            for g, x in zip(got["checks"], w["checks"], strict=True):
                assert g["metrics"] == x["metrics"] and g["conditions"] == x["conditions"]
        metrics = c.get("/metrics").text
    assert 'trustaudit_jobs{state="running"} 0.0' in metrics
    print(f"50 audits in {elapsed:.1f}s")
