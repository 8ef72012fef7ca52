"""What the command line prints (issue 18): ``--version``; per-check progress lines on stderr when output is
redirected (no escape codes) and a live display on a terminal; where each file went; a summary that does not
wrap check ids at 80 columns; "checks:" in the audit's counts and "conditions:" in the gate's; ``submit --wait``
progress from the server's record."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT, SAMPLES
from trustaudit.cli import app
from trustaudit.version import __version__

runner = CliRunner()
CHECKS = ("fairness.model", "lineage.integrity")


def test_version() -> None:
    for flag in ("--version", "-V"):
        r = runner.invoke(app, [flag])
        assert r.exit_code == 0 and r.output == f"trustaudit {__version__}\n"


@pytest.fixture(scope="module")
def redirected(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``trustaudit audit`` of the German credit sample, stdout and stderr redirected to files, 80 columns."""
    out = tmp_path_factory.mktemp("cli") / "out"
    env = dict(os.environ, COLUMNS="80", OMP_NUM_THREADS="2", MPLBACKEND="Agg")
    env.pop("FORCE_COLOR", None)
    cmd = [sys.executable, "-m", "trustaudit.cli", "audit", str(SAMPLES / "german-credit"),
           "--out", str(out), "--format", "html", "--param", "fairness.model.bootstrap=50"]
    for c in CHECKS:
        cmd += ["--checks", c]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=300)
    return {"out": out, "stdout": res.stdout, "stderr": res.stderr, "rc": res.returncode}


def test_redirected_audit_prints_one_line_per_check_start_and_end(redirected) -> None:
    from trustaudit.results.io import load_report

    assert redirected["rc"] in (0, 1), redirected["stderr"]
    err = redirected["stderr"]
    assert "\x1b" not in err and "\x1b" not in redirected["stdout"], "no escape codes when not on a terminal"
    report = load_report(redirected["out"] / "report.json")
    lines = err.splitlines()
    assert lines[0] == f"[1/{len(report.checks)}] {report.checks[0].check_id} ..."  # nothing before the checks
    for i, c in enumerate(report.checks):
        n = len(report.checks)
        assert f"[{i + 1}/{n}] {c.check_id} ..." in lines
        done = [ln for ln in lines if ln.startswith(f"[{i + 1}/{n}] {c.check_id}: ")]
        assert len(done) == 1 and re.match(
            rf"\[{i + 1}/{n}\] {re.escape(c.check_id)}: {c.status.value} in \d+\.\ds \(elapsed \d+\.\ds\)", done[0])
    # where every file went, and the rendering as it happens
    out = redirected["out"]
    for name in ("report.json", "attestation.intoto.json"):
        assert f"wrote {out / name}" in lines
    assert "rendering html ..." in lines
    assert any(ln.startswith(f"wrote {out / 'report.html'} (") for ln in lines)


def test_summary_fits_80_columns_and_counts_checks(redirected) -> None:
    from trustaudit.results.io import load_report

    report = load_report(redirected["out"] / "report.json")
    stdout = redirected["stdout"]
    assert all(len(ln) <= 80 for ln in stdout.splitlines()), stdout
    for c in report.checks:  # each check id whole on one line of the table
        assert re.search(rf"^{re.escape(c.check_id)}\s+{c.status.value}\s", stdout, re.M), stdout
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items() if v)
    assert f"(checks: {counts})" in stdout


def test_gate_counts_conditions(redirected) -> None:
    from trustaudit.gate import gate
    from trustaudit.results.io import load_report

    r = runner.invoke(app, ["gate", str(redirected["out"] / "report.json")])
    assert r.exit_code in (0, 1), r.output
    result = gate(load_report(redirected["out"] / "report.json"))
    counts = ", ".join(f"{k} {v}" for k, v in result.counts().items() if v)
    assert f"(conditions: {counts})" in r.output and "(checks:" not in r.output


def test_summary_of_a_full_report_at_80_columns() -> None:
    from rich.console import Console

    from trustaudit.cli import print_summary
    from trustaudit.results.io import load_report

    report = load_report(ROOT / "reports" / "adult-income-hgb" / "report.json")
    buf = io.StringIO()
    print_summary(report, Console(file=buf, width=80, highlight=False, soft_wrap=False, color_system=None))
    text = buf.getvalue()
    assert all(len(ln) <= 80 for ln in text.splitlines())
    rows = [ln for ln in text.splitlines() if ln.split(" ", 1)[0] in {c.check_id for c in report.checks}]
    assert [r.split(" ", 1)[0] for r in rows] == [c.check_id for c in report.checks], "one line per check"
    # every condition not met is listed under its check, with its worst subject
    for _, cond in report.failures():
        assert cond.condition in text.replace("\n         ", " ")


def test_progress_on_a_terminal_is_live_with_a_line_per_check() -> None:
    from rich.console import Console

    from trustaudit.cli import CliProgress
    from trustaudit.results import CheckResult, Status

    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=True)
    p = CliProgress(console)
    assert p.live
    p("fairness.model", "start", 0, 2)
    p.check_done(CheckResult(check_id="fairness.model", category="f", version="1", title="t", status=Status.FAIL,
                             duration_s=2.0), 0, 2)
    p("robustness.adversarial", "start", 1, 2)
    p.log("wrote out/report.json")
    p.stop()
    plain = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", buf.getvalue())
    assert "[1/2] fairness.model fail in 2.0s" in plain and "wrote out/report.json" in plain
    assert "robustness.adversarial" in plain  # the live bar names the running check


def test_validate_says_what_it_does_on_a_terminal_only(tmp_path) -> None:
    bundle = str(SAMPLES / "adult-income-predictions")
    r = runner.invoke(app, ["validate", bundle], env={"FORCE_COLOR": "1"})  # rich: stderr is a terminal
    assert r.exit_code == 0, r.output
    assert f"validating {bundle}" in r.stderr and r.stdout.startswith("ok: ")
    r = runner.invoke(app, ["validate", bundle])
    assert r.exit_code == 0 and r.stderr == ""
    # redirected, a bad bundle's error stays the only line
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "trustaudit.yaml").write_text("- a list\n")
    r = runner.invoke(app, ["validate", str(bad)])
    assert r.exit_code == 2 and r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1


def test_submit_wait_prints_the_server_progress(capsys) -> None:
    from trustaudit.cli_serve import _ProgressPrinter

    p = _ProgressPrinter()
    base = {"id": "j1", "progress": {"total": 3, "checks": {}}}
    p.show({**base, "state": "queued"})
    p.show({**base, "state": "running", "progress": {"total": 3, "checks": {"a.x": "running"}}})
    p.show({**base, "state": "running", "progress": {"total": 3, "checks": {"a.x": "done", "b.y": "done",
                                                                             "c.z": "running"}}})
    p.show({**base, "state": "done", "progress": {"total": 3, "checks": {"a.x": "pass", "b.y": "fail",
                                                                          "c.z": "warn"}}})
    lines = [re.sub(r" \(elapsed \d+s\)| \(\d+s\)", "", ln) for ln in capsys.readouterr().err.splitlines()]
    assert lines == ["audit j1: queued", "audit j1: running", "[1/3] a.x ...", "[1/3] a.x done", "[2/3] b.y done",
                     "[3/3] c.z ...", "audit j1: done", "[3/3] c.z warn"]


def test_long_loops_report_how_far_they_are() -> None:
    """A check's long loop (here the search attack's budgets) reports its progress to a ``work`` hook of the
    progress object, for the running check only; TextProgress turns it into a line at most every ``every_s``."""
    from trustaudit.api import TextProgress, audit

    class Recorder:
        def __init__(self) -> None:
            self.work_calls: list[tuple[str, int, int, str]] = []

        def __call__(self, cid: str, phase: str, i: int, total: int) -> None:
            pass

        def work(self, cid: str, done: int, total: int, unit: str) -> None:
            self.work_calls.append((cid, done, total, unit))

    rec = Recorder()
    params = {"robustness.adversarial": {"method": "search", "n_samples": 60, "target_half_width": None,
                                         "search_queries": 4, "refine_steps": 0}}
    report = audit(SAMPLES / "german-credit", checks=["robustness.adversarial", "fairness.dataset"],
                   params=params, progress=rec)
    assert report.check("robustness.adversarial").status.value != "error"
    budgets = [c for c in rec.work_calls if c[3] == "budgets"]
    # one pass over the 5 budgets per run of the check (a second run when its verdict was re-judged on every row)
    assert [c[1] for c in budgets][:5] == [0, 1, 2, 3, 4] and {c[2] for c in budgets} == {5}
    assert len(budgets) == 5 * (1 + ("widened" in report.check("robustness.adversarial").evidence))
    assert {c[0] for c in rec.work_calls} == {"robustness.adversarial"}

    buf = io.StringIO()
    text = TextProgress(buf, every_s=1e-9)
    for done in range(4):
        text.work("explainability.shap", done * 100, 300, "rows explained")
    assert buf.getvalue().splitlines() == ["        explainability.shap: 100/300 rows explained",
                                           "        explainability.shap: 200/300 rows explained"]
    quiet = io.StringIO()
    TextProgress(quiet).work("x", 1, 3, "rows")  # the default: nothing for a loop shorter than 15 s
    assert quiet.getvalue() == ""
