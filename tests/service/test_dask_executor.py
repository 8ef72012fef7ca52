"""``trustaudit serve --executor dask://HOST:PORT``: audits run on a real local Dask cluster (two worker processes
on loopback), the server writes the results. Reports equal a local audit of the same bundle and seed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service import _dask_tasks
from tests.service.conftest import ROOT, SAMPLES, Server, free_port, pack, start_server, submit

pytest.importorskip("distributed")

CHECKS = ("fairness.*", "lineage.integrity", "lineage.completeness", "robustness.noise")
PARAMS = {"fairness.model": {"bootstrap": 50}, "fairness.dataset": {"bootstrap": 50},
          "robustness.noise": {"n_samples": 300}}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from distributed import Client, LocalCluster

    lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      host="127.0.0.1")
    client = Client(lc, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        lc.close()


@pytest.fixture(scope="module")
def dask_server(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    spec = "dask://" + cluster.scheduler.address.split("://", 1)[1]
    srv = start_server(tmp_path_factory.mktemp("srv-dask"), extra=["--executor", spec])
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def patched(cluster: Any) -> Iterator[Any]:
    """Run ``client.run(fn, ...)`` on the cluster's workers for one test; undone afterwards."""
    try:
        yield cluster
    finally:
        cluster.run(_dask_tasks.restore)


def _archive(tmp: Path, name: str = "german-credit") -> Path:
    return pack(SAMPLES / name, tmp)


def _wait(srv: Server, jid: str, pred: Any, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with srv.client("read") as c:
        while True:
            job = c.get(f"/v1/audits/{jid}").json()
            if pred(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {jid} is {job['state']} {job['progress']}\n{srv.tail()}")
            time.sleep(0.05)


def test_dask_audit_equals_local_audit(dask_server: Server, tmp_path: Path) -> None:
    from trustaudit.api import audit
    from trustaudit.results import AuditReport
    from trustaudit.scale import comparable

    with dask_server.client("read") as c:
        ready = c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["workers"].startswith("dask tcp://127.0.0.1:")
        assert ": 2 workers, 2 threads, 0 audits running" in ready.json()["checks"]["workers"]
    r = submit(dask_server, _archive(tmp_path), checks=CHECKS, seed=3, params=PARAMS)
    assert r.status_code == 202, r.text
    jid = r.json()["id"]
    job_dir = dask_server.data_dir / "jobs" / jid
    # the reference (computed while the cluster works): a local audit of the same extracted bundle, seed and
    # options, which is what a local worker runs
    ref_dir = tmp_path / "ref"
    ref = audit(job_dir / "bundle", checks=list(CHECKS), seed=3, params=PARAMS, out_dir=ref_dir)
    job = dask_server.wait_job(jid, timeout=120)
    assert job["state"] == "done", job
    assert job["attempts"] == 1
    with dask_server.client("read") as c:
        got = AuditReport.from_json(c.get(f"/v1/audits/{jid}/report.json").content)
        assert comparable(got) == comparable(ref)
        assert got.bundle.source == str(job_dir / "bundle")  # the server's path, not the worker's temp dir
        # artefacts the checks wrote on the worker are stored and served, byte for byte as the local run's
        svgs = sorted(p.name for p in ref_dir.glob("*.svg"))
        assert svgs == ["robustness_noise_flip_rate.svg"]
        for name in svgs:
            res = c.get(f"/v1/audits/{jid}/{name}")
            assert res.status_code == 200 and res.content == (ref_dir / name).read_bytes()
        att = c.get(f"/v1/audits/{jid}/attestation.intoto.json")  # the pipeline's files, as a local audit's
        assert att.status_code == 200, att.text
        from trustaudit.lineage.attestation import verify_attestation

        (tmp_path / "got").mkdir()
        (tmp_path / "got" / "report.json").write_bytes(c.get(f"/v1/audits/{jid}/report.json").content)
        (tmp_path / "got" / "attestation.intoto.json").write_bytes(att.content)
        assert verify_attestation(tmp_path / "got" / "attestation.intoto.json", job_dir / "bundle") == []
        html = c.get(f"/v1/audits/{jid}/report.html")  # rendered by the server from report.json
        assert html.status_code == 200 and "german-credit" in html.text
        metrics = c.get("/metrics").text
    # per-check progress came back from the workers; the final record carries every check's status
    assert job["progress"]["done"] == job["progress"]["total"] == len(ref.checks)
    assert job["progress"]["checks"] == {ch.check_id: ch.status.value for ch in ref.checks}
    assert job["verdict"] == ref.verdict.value and job["counts"] == ref.counts
    assert sorted(p.name for p in job_dir.iterdir()) == ["bundle", "out-1"]  # no .work-* leftovers
    assert 'trustaudit_jobs{state="running"} 0.0' in metrics
    print(f"dask audit: server-measured {job['duration_s']:.2f}s; report duration {got.duration_s:.2f}s "
          f"(local in-process {ref.duration_s:.2f}s)")


def test_cancel_stops_the_dask_task(dask_server: Server, patched: Any, tmp_path: Path) -> None:
    # lineage.integrity sleeps 3 s on the workers, so the cancel lands while it runs
    patched.run(_dask_tasks.slow_checks, {"lineage.integrity": 3.0})
    checks = ("lineage.integrity", "lineage.completeness", "fairness.model")
    r = submit(dask_server, _archive(tmp_path), checks=checks, params={})
    jid = r.json()["id"]
    running = _wait(dask_server, jid, lambda j: j["progress"].get("current") == "lineage.integrity")
    assert running["state"] == "running" and running["progress"]["total"] == 3  # progress events arrived
    t0 = time.monotonic()
    with dask_server.client("submit") as c:
        res = c.delete(f"/v1/audits/{jid}")
    assert res.status_code == 202
    job = _wait(dask_server, jid, lambda j: j["state"] != "running", timeout=10)
    assert job["state"] == "cancelled" and job["error"] == "cancelled while running"
    assert time.monotonic() - t0 < 2.5  # marked at once, before the slow check could have finished
    time.sleep(3.5)  # the worker reaches its next check, sees the cancel and stops there
    started = [cid for lst in patched.run(_dask_tasks.started).values() for cid in lst]
    assert started == ["lineage.integrity"]  # the checks after the cancel never ran
    assert not list((dask_server.data_dir / "jobs" / jid).glob("out-*"))
    # the cluster is free again: the next job runs to the end
    r2 = submit(dask_server, _archive(tmp_path, "adult-income-predictions"), checks=("lineage.completeness",),
                params={})
    assert dask_server.wait_job(r2.json()["id"], timeout=60)["state"] == "done"


def test_failures_are_one_line(dask_server: Server, patched: Any, tmp_path: Path) -> None:
    from trustaudit.api import audit
    from trustaudit.errors import TrustAuditError

    # an unreadable model is refused at upload (the skops schema is read before the job is queued)
    bad = tmp_path / "bad"
    shutil.copytree(SAMPLES / "german-credit", bad)
    (bad / "model.skops").write_bytes(b"not a zip file")
    r = submit(dask_server, pack(bad, tmp_path), checks=("fairness.model",))
    assert r.status_code == 422 and "not a readable skops file" in r.json()["detail"], r.text
    # a bundle that passes the upload but cannot be audited (text in a numeric feature, found when the worker
    # loads the model and scores a few rows): the same one-line error as locally
    import pandas as pd

    bad2 = tmp_path / "bad2"
    shutil.copytree(SAMPLES / "german-credit", bad2)
    df = pd.read_csv(bad2 / "data" / "eval.csv.gz")
    df.assign(duration="long").to_csv(bad2 / "data" / "eval.csv.gz", index=False)
    r = submit(dask_server, pack(bad2, tmp_path), checks=("fairness.model",))
    assert r.status_code == 202, r.text
    job = dask_server.wait_job(r.json()["id"], timeout=60)
    assert job["state"] == "failed", job
    with pytest.raises(TrustAuditError) as err:
        audit(dask_server.data_dir / "jobs" / job["id"] / "bundle", checks=["fairness.model"])
    assert job["error"] == err.value.one_line()
    assert "cannot score the data's first rows" in job["error"]
    # a failure of the cluster itself (a worker whose disk is full): failed, one line, no traceback
    patched.run(_dask_tasks.break_task)
    r = submit(dask_server, _archive(tmp_path), checks=("lineage.completeness",), params={})
    job = dask_server.wait_job(r.json()["id"], timeout=60)
    assert job["state"] == "failed"
    assert job["error"] == ("the Dask cluster could not run this audit: OSError: [Errno 28] "
                            "No space left on device")


@pytest.mark.slow
def test_killed_server_requeues_the_dask_job(cluster: Any, patched: Any, tmp_path: Path) -> None:
    spec = "dask://" + cluster.scheduler.address.split("://", 1)[1]
    patched.run(_dask_tasks.slow_checks, {"lineage.integrity": 2.0})
    data = tmp_path / "data"
    srv = start_server(data, extra=["--executor", spec])
    try:
        r = submit(srv, _archive(tmp_path), checks=("lineage.integrity", "lineage.completeness"), params={})
        jid = r.json()["id"]
        _wait(srv, jid, lambda j: j["progress"].get("current") == "lineage.integrity")
    finally:
        srv.kill()  # SIGKILL: the client is gone, the scheduler drops its task
    srv2 = start_server(data, srv.database_url, tokens=srv.tokens, extra=["--executor", spec])
    try:
        job = srv2.wait_job(jid, timeout=60)
        assert job["state"] == "done" and job["attempts"] == 2, job
        assert any("attempt 1 was interrupted" in n for n in job["notes"])
        assert sorted(p.name for p in (data / "jobs" / jid).iterdir()) == ["bundle", "out-2"]
    finally:
        srv2.stop()


def test_unreachable_scheduler_exits_2_with_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from trustaudit.cli import app

    res = subprocess.run([sys.executable, "-m", "trustaudit.cli", "serve", "--data-dir", str(tmp_path), "--port",
                          str(free_port()), "--executor", f"dask://127.0.0.1:{free_port()}", "--connect-timeout",
                          "1"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:")
    assert not (tmp_path / "jobs").exists()  # nothing started
    runner = CliRunner()
    for spec, message in (
        ("dask://no-port", "error: executor 'dask://no-port': expected dask://HOST:PORT (e.g. dask://scheduler:8786)"),
        ("spark", "error: unknown executor 'spark'; use local or dask://HOST:PORT"),
    ):
        out = runner.invoke(app, ["serve", "--data-dir", str(tmp_path), "--executor", spec])
        assert out.exit_code == 2 and out.stderr.strip() == message


def test_task_outside_a_cluster_matches_local(tmp_path: Path) -> None:
    """The worker-side function alone (no Dask): packs, extracts safely, audits, and names the server's path."""
    from trustaudit.api import audit
    from trustaudit.results import AuditReport
    from trustaudit.scale import comparable
    from trustaudit.service.dask_pool import DaskAuditTask, pack_dir, run_dask_audit

    src = tmp_path / "server" / "bundle"
    shutil.copytree(SAMPLES / "adult-income-predictions", src)
    task = DaskAuditTask(job_id="j", claim="c:1", server_bundle_dir=str(src), rubric=None,
                         checks=["fairness.dataset", "lineage.completeness"], seed=1,
                         params={"fairness.dataset": {"bootstrap": 20}}, allow_unsafe_pickle=False,
                         cancel_event="e")
    out = run_dask_audit(task, pack_dir(src))
    assert set(out) == {"report", "files"} and set(out["files"]) == {"report.json", "attestation.intoto.json"}
    assert out["files"]["report.json"].decode() == out["report"]  # the bytes the attestation pins
    got = AuditReport.from_json(out["report"])
    with tempfile.TemporaryDirectory() as t:
        ref = audit(src, checks=task.checks, seed=1, params=task.params, out_dir=t)
    assert comparable(got) == comparable(ref)
    assert json.loads(out["report"])["bundle"]["source"] == str(src)
