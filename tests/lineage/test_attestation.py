"""The in-toto Statement written beside report.json, and its verification."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.lineage.conftest import rewrite_csv_gz
from trustaudit.lineage.attestation import (
    FILENAME,
    PREDICATE_TYPE,
    AttestationError,
    verify_attestation,
    write_attestation,
)


@pytest.fixture
def audited(copy_bundle, tmp_path):
    """A copy of a sample bundle audited through the CLI (which writes the attestation)."""
    from typer.testing import CliRunner

    from trustaudit.cli import app

    b = copy_bundle("adult-income-logreg")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["audit", str(b), "--out", str(out), "-c", "lineage.integrity", "-q"])
    assert res.exit_code == 0, res.output
    return b, out


def test_statement(audited):
    b, out = audited
    st = json.loads((out / FILENAME).read_text())
    report = json.loads((out / "report.json").read_text())
    assert st["_type"] == "https://in-toto.io/Statement/v1" and st["predicateType"] == PREDICATE_TYPE
    subjects = {s["name"]: s["digest"]["sha256"] for s in st["subject"]}
    assert subjects == {p: hashlib.sha256((b / p).read_bytes()).hexdigest()
                        for p in ("model.skops", "data/eval.csv.gz", "data/train.csv.gz", "trustaudit.yaml")}
    pred = st["predicate"]
    assert pred["report"]["digest"]["sha256"] == hashlib.sha256((out / "report.json").read_bytes()).hexdigest()
    assert pred["verdict"] == report["verdict"] == "pass"
    assert pred["rubric"] == {"name": "default", "version": report["rubric"]["version"],
                              "source": report["rubric"]["source"],
                              "digest": {"sha256": report["rubric"]["sha256"]}}
    assert pred["tool"]["version"] == report["tool"]["version"]
    assert pred["checks"] == [{"id": "lineage.integrity", "version": "1.2", "status": "pass"}]


def test_verify(audited):
    b, out = audited
    assert verify_attestation(out / FILENAME, b) == []
    rewrite_csv_gz(b / "data/eval.csv.gz", lambda df: df.iloc[:-1])
    report = out / "report.json"
    report.write_text(report.read_text().replace('"verdict": "pass"', '"verdict": "fail"'))
    problems = verify_attestation(out / FILENAME, b)
    assert len(problems) == 2
    assert problems[0].startswith("data/eval.csv.gz: sha256 ") and problems[1].startswith("report.json: sha256 ")


def test_verify_cli(audited):
    from typer.testing import CliRunner

    from trustaudit.cli import app

    b, out = audited
    runner = CliRunner()
    assert runner.invoke(app, ["verify-attestation", str(out / FILENAME), str(b)]).exit_code == 0
    (b / "model.skops").unlink()
    res = runner.invoke(app, ["verify-attestation", str(out / FILENAME), str(b)])
    assert res.exit_code == 1 and "changed: model.skops: missing" in res.output
    (out / "bad.json").write_text("{}")
    res = runner.invoke(app, ["verify-attestation", str(out / "bad.json"), str(b)])
    assert res.exit_code == 2 and "is not an in-toto Statement v1" in res.output


def test_in_memory_audit_has_nothing_to_attest(tmp_path):
    from tests.conftest import make_synthetic
    from trustaudit.api import audit, in_memory_bundle

    df = make_synthetic(100)[["age", "sex", "approved"]].assign(pred="yes")
    b = in_memory_bundle(None, df, label="approved", favorable_label="yes", protected={"sex": ["male"]},
                         prediction="pred")
    report = audit(b, checks=["lineage.*"])
    with pytest.raises(AttestationError, match="no files to attest"):
        write_attestation(report, tmp_path)
