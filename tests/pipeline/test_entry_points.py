"""One pipeline behind every entry point (issue 16): ``trustaudit audit``, the Python API, ``audit-many`` and the
service's local worker write the same files (report.json, attestation, artefacts) with the same report content.
(The service's Dask workers are covered in tests/service/test_dask_executor.py.)"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from trustaudit.cli import app
from trustaudit.lineage.attestation import verify_attestation
from trustaudit.pipeline import CORE_FILES, run_audit
from trustaudit.results import AuditReport
from trustaudit.scale import comparable

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "sample_models" / "adult-income-predictions"
CHECKS = ["fairness.model", "lineage.completeness"]
PARAMS = {"fairness.model": {"bootstrap": 100, "intersections": False}}
runner = CliRunner()


def _files(d: Path) -> list[str]:
    return sorted(p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file())


def _content(d: Path) -> dict:
    rep = AuditReport.from_json((d / "report.json").read_bytes())
    data = comparable(rep)
    data["bundle"].pop("source", None)  # where the bundle was read from (a copy for the service)
    return data


def _cli(out: Path) -> None:
    r = runner.invoke(app, ["audit", str(BUNDLE), "--out", str(out), "-c", CHECKS[0], "-c", CHECKS[1],
                            "--param", "fairness.model.bootstrap=100", "--param", "fairness.model.intersections=false"])
    assert r.exit_code in (0, 1), r.output


def test_cli_python_and_audit_many_write_the_same_files(tmp_path):
    _cli(tmp_path / "cli")
    run = run_audit(BUNDLE, tmp_path / "py", checks=CHECKS, params=PARAMS)
    cli, py = tmp_path / "cli", tmp_path / "py"
    assert set(CORE_FILES) <= set(_files(cli))
    assert _files(cli) == _files(py) == run.files()
    assert _content(cli) == _content(py)
    for d in (cli, py):
        assert verify_attestation(d / "attestation.intoto.json", BUNDLE) == []


def test_audit_many_writes_what_audit_writes(tmp_path):
    from trustaudit.scale import audit_many

    (tmp_path / "cli").mkdir()
    _cli(tmp_path / "cli")
    audit_many([BUNDLE], executor="serial", checks=CHECKS, params=PARAMS, out_dir=tmp_path / "many")
    many = tmp_path / "many" / BUNDLE.name
    assert _files(many) == _files(tmp_path / "cli")
    assert _content(many) == _content(tmp_path / "cli")
    assert verify_attestation(many / "attestation.intoto.json", BUNDLE) == []


def test_audit_many_cli_writes_attestations(tmp_path):
    r = runner.invoke(app, ["audit-many", str(BUNDLE), "--out", str(tmp_path), "--executor", "serial",
                            "-c", "lineage.completeness"])
    assert r.exit_code in (0, 1), r.output
    d = tmp_path / BUNDLE.name
    assert set(CORE_FILES) <= set(_files(d))
    assert verify_attestation(d / "attestation.intoto.json", BUNDLE) == []
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["results"][0]["report"] == f"{BUNDLE.name}/report.json"


def test_service_worker_writes_what_audit_writes(tmp_path):
    import pytest

    pytest.importorskip("fastapi")
    from tests.service.conftest import pack, start_server, submit

    _cli(tmp_path / "cli")
    srv = start_server(tmp_path / "srv", workers=1)
    try:
        r = submit(srv, pack(BUNDLE, tmp_path), checks=tuple(CHECKS), params=PARAMS)
        assert r.status_code == 202, r.text
        job = srv.wait_job(r.json()["id"], timeout=180)
        assert job["state"] == "done", job
        out = srv.data_dir / "jobs" / job["id"] / "out-1"
        assert _files(out) == _files(tmp_path / "cli")
        assert _content(out) == _content(tmp_path / "cli")
        assert verify_attestation(out / "attestation.intoto.json", srv.data_dir / "jobs" / job["id"] / "bundle") == []
    finally:
        srv.stop()


def test_audit_param_option(tmp_path):
    r = runner.invoke(app, ["audit", str(BUNDLE), "--out", str(tmp_path), "-c", "fairness.model",
                            "--param", "fairness.model.bootstrap=50", "--param", "fairness.model.intersections=false"])
    assert r.exit_code in (0, 1), r.output
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["checks"][0]["params"]["bootstrap"] == 50
    bad = runner.invoke(app, ["audit", str(BUNDLE), "--out", str(tmp_path / "x"), "--param", "bootstrap=5"])
    assert bad.exit_code == 2 and "use CHECK.PARAM=VALUE" in bad.output
    bad = runner.invoke(app, ["audit", str(BUNDLE), "--out", str(tmp_path / "y"), "-c", "fairness.model",
                              "--param", "fairness.model.bootstrap=-3"])
    assert bad.exit_code == 1 and "invalid parameter 'bootstrap'" in json.loads(
        (tmp_path / "y" / "report.json").read_text())["checks"][0]["error"]
