"""``trustaudit audit-many``: reports and summary written, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from trustaudit.cli import app

runner = CliRunner()
FAST_ARGS = ["--checks", "fairness.dataset"]


def test_audit_many_writes_one_report_per_bundle_and_a_summary(tmp_path, bundle_dir):
    out = tmp_path / "out"
    res = runner.invoke(app, ["audit-many", str(bundle_dir), "--executor", "local", "--workers", "2",
                              "--out", str(out), *FAST_ARGS])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["bundles"] == 3 and summary["audited"] == 3
    names = [r["name"] for r in summary["results"]]
    assert names == ["a-german", "b-adult-preds", "c-german"]
    for name in names:
        report = json.loads((out / name / "report.json").read_text())
        assert report["checks"][0]["check_id"] == "fairness.dataset"
    # exit code: 0 if every bundle passes the gate, 1 otherwise
    assert res.exit_code == (0 if summary["failed"] == 0 else 1), res.output
    assert "a-german" in res.output and "summary" in res.output


def test_audit_many_quiet_serial(tmp_path, bundle_dir):
    res = runner.invoke(app, ["audit-many", str(bundle_dir / "a-german"), str(bundle_dir / "c-german"),
                              "--executor", "serial", "--out", str(tmp_path), "-q", *FAST_ARGS])
    lines = res.output.strip().splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["a-german", "c-german"]
    assert res.exit_code in (0, 1)


def test_audit_many_input_errors_exit_2(tmp_path, bundle_dir):
    res = runner.invoke(app, ["audit-many", str(bundle_dir), "--executor", "threads", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "unknown executor 'threads'" in res.output
    res = runner.invoke(app, ["audit-many", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "does not exist" in res.output
    res = runner.invoke(app, ["audit-many", str(bundle_dir), "--checks", "fairnes.model", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "unknown check" in res.output


def test_a_broken_bundle_exits_2_but_the_others_are_written(tmp_path, bundle_dir, copy_bundle):
    bad = copy_bundle("german-credit")
    (bad / "model.skops").write_bytes(b"not a model")
    out = tmp_path / "out"
    res = runner.invoke(app, ["audit-many", str(bundle_dir / "a-german"), str(bad), "--executor", "serial",
                              "--out", str(out), *FAST_ARGS])
    assert res.exit_code == 2
    summary = json.loads((out / "summary.json").read_text())
    assert [r["status"] for r in summary["results"]] == ["audited", "error"]
    assert "skops" in summary["results"][1]["error"]
    assert (out / "a-german" / "report.json").is_file()


# -- trustaudit openness over many files ------------------------------------------------------------------------

MOT = sorted((Path(__file__).resolve().parents[1] / "openness" / "conformance")
             .glob("*.yml"))


def _openness_json(args):
    res = runner.invoke(app, ["openness", *map(str, MOT), "--format", "json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_openness_many_files_on_a_local_pool_equals_serial_in_order():
    assert len(MOT) >= 8
    serial = _openness_json(["--executor", "serial"])
    pooled = _openness_json(["--executor", "local", "--workers", "2"])
    assert pooled == serial
    assert [r["mof_class"] for r in serial][:2] == [r["mof_class"] for r in pooled][:2]
    assert len(serial) == len(MOT)


def test_openness_many_files_errors_exit_2_with_one_line(tmp_path):
    bad = tmp_path / "broken.yml"
    bad.write_text("framework: [unclosed\n")
    res = runner.invoke(app, ["openness", str(MOT[0]), str(bad), "--executor", "local", "--workers", "2"])
    assert res.exit_code == 2
    line = res.output.strip()
    assert line.startswith("error:") and "broken.yml" in line and "\n" not in line
    res = runner.invoke(app, ["openness", str(MOT[0]), str(MOT[1]), "--executor", "threads"])
    assert res.exit_code == 2 and "unknown executor 'threads'" in res.output
