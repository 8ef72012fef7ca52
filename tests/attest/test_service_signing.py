"""The service signs every job's attestation with the server's key (trustaudit serve --sign-key)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.attest.conftest import ROOT, write_keypair
from trustaudit.cli import app

BUNDLE = ROOT / "sample_models" / "adult-income-predictions"


@pytest.mark.slow
def test_serve_signs_attestations_with_the_server_key(tmp_path):
    pytest.importorskip("fastapi")
    from tests.service.conftest import pack, start_server, submit

    pub = write_keypair(tmp_path / "server.pem")
    srv = start_server(tmp_path / "srv", workers=1, extra=["--sign-key", str(tmp_path / "server.pem")])
    try:
        r = submit(srv, pack(BUNDLE, tmp_path), checks=("lineage.completeness",), params={})
        assert r.status_code == 202, r.text
        job = srv.wait_job(r.json()["id"], timeout=180)
        assert job["state"] == "done", job
    finally:
        srv.stop()
    job_dir = srv.data_dir / "jobs" / job["id"]
    res = CliRunner().invoke(app, ["verify-attestation", str(job_dir / "bundle"),
                                   str(job_dir / "out-1" / "attestation.intoto.json"), "--key", str(pub)])
    assert res.exit_code == 0 and "signature by" in res.output, res.output
    other = write_keypair(tmp_path / "other.pem")
    res = CliRunner().invoke(app, ["verify-attestation", str(job_dir / "bundle"),
                                   str(job_dir / "out-1" / "attestation.intoto.json"), "--key", str(other)])
    assert res.exit_code == 1 and "wrong key" in res.output


def test_serve_refuses_a_bad_key_before_starting(tmp_path):
    pytest.importorskip("fastapi")
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    res = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path / "d"), "--workers", "0",
                                   "--sign-key", str(bad)])
    assert res.exit_code == 2 and "is not a PEM private key" in res.output
