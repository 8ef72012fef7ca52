"""One misbehaving check never ends the audit (issue 21): a plug-in that fails to import, returns the wrong
type, returns invalid metrics or calls sys.exit is recorded as an error; the other checks run and report.json is
written."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint

import pytest
from typer.testing import CliRunner

from trustaudit.checks import registry
from trustaudit.cli import app

FAKE = {
    "bad.import": "trustaudit_no_such_plugin.checks:Check",
    "bad.syntax": "tests.hardening.no_such_module:Check",
    "bad.exit": "tests.hardening.plugins:ExitCheck",
    "bad.wrong_return": "tests.hardening.plugins:WrongReturnCheck",
    "bad.invalid_metric": "tests.hardening.plugins:InvalidMetricCheck",
    "bad.good": "tests.hardening.plugins:GoodCheck",
}


@pytest.fixture
def plugins(monkeypatch):
    real = dict(registry._entry_points())
    fake = {name: EntryPoint(name=name, value=value, group=registry.GROUP) for name, value in FAKE.items()}
    registry.clear_cache()
    monkeypatch.setattr(registry, "_entry_points", lambda: {**real, **fake})
    yield


def test_misbehaving_plugins_are_errors_and_the_audit_goes_on(plugins, synthetic_bundle, tmp_path):
    d = synthetic_bundle(n=300)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["audit", str(d), "--out", str(out), "-c", "bad.*", "-c", "fairness.model"])
    assert r.exit_code == 1, r.output  # errors fail the gate; the audit itself completed
    report = json.loads((out / "report.json").read_text())
    by_id = {c["check_id"]: c for c in report["checks"]}
    assert by_id["bad.import"]["status"] == "error"
    assert "failed to import: ModuleNotFoundError" in by_id["bad.import"]["error"]
    assert "failed to import" in by_id["bad.syntax"]["error"]
    assert by_id["bad.exit"]["status"] == "error" and "sys.exit(3)" in by_id["bad.exit"]["error"]
    assert "returned dict, not a CheckOutput" in by_id["bad.wrong_return"]["error"]
    assert "invalid result" in by_id["bad.invalid_metric"]["error"]
    assert by_id["bad.good"]["status"] == "pass" and by_id["bad.good"]["metrics"][0]["value"] == 300
    assert by_id["fairness.model"]["status"] in ("pass", "warn", "fail")
    assert (out / "attestation.intoto.json").is_file()


def test_a_broken_plugin_does_not_abort_default_audits(plugins, synthetic_bundle, tmp_path):
    """With no --checks, the default selection loads every check: a broken one is an error, not an abort."""
    from trustaudit.api import audit

    d = synthetic_bundle(n=300)
    ids = registry.select(None)
    assert "bad.import" in ids and "bad.good" in ids
    rep = audit(d, checks=["bad.import", "bad.good"])
    assert [c.status.value for c in rep.checks] == ["error", "pass"]


def test_checks_command_lists_a_broken_plugin(plugins):
    r = CliRunner().invoke(app, ["checks", "--json"])
    assert r.exit_code == 0
    rows = {row["id"]: row for row in json.loads(r.output)}
    assert "error" in rows["bad.import"] and rows["bad.good"]["title"] == "A well-behaved plug-in"
