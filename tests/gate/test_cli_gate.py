"""CLI: ``trustaudit gate`` / ``baseline update`` / ``lint`` / ``audit --gate`` exit codes and files, the
pre-commit hooks, and the CI examples (every trustaudit command they run uses options that exist)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from junitparser import JUnitXml
from typer.testing import CliRunner

from tests.gate.helpers import ROOT, TOY_RUBRIC, check, make_report, metric, write_rubric
from trustaudit.cli import app
from trustaudit.results import Status

runner = CliRunner()
SEX = "sex: Female vs Male"


def invoke(*args: object, env: dict[str, str] | None = None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def write_report(tmp_path: Path, di: float, *, error: bool = False, name: str = "out") -> Path:
    checks = [
        check(
            "fairness.model",
            [
                metric("disparate_impact", di, di - 0.05, di + 0.05, subject=SEX),
                metric("statistical_parity_difference", -0.2, -0.22, -0.18, subject=SEX),
            ],
        )
    ]
    if error:
        checks.append(check("fairness.dataset", [], status=Status.ERROR, error="ValueError: boom"))
    d = tmp_path / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "report.json").write_text(make_report(checks).to_json())
    return d


@pytest.mark.parametrize(
    ("di", "error", "fail_on", "code", "verdict"),
    [
        (0.95, False, "fail", 0, "gate passed"),  # SPD warns only
        (0.95, False, "warn", 1, "gate failed"),
        (0.50, False, "fail", 1, "gate failed"),
        (0.95, True, "fail", 1, "gate failed"),  # a check in error
    ],
)
def test_gate_exit_codes(
    tmp_path: Path, di: float, error: bool, fail_on: str, code: int, verdict: str
) -> None:
    out = write_report(tmp_path, di, error=error)
    rub = write_rubric(tmp_path, TOY_RUBRIC)
    res = invoke("gate", out, "--rubric", rub, "--fail-on", fail_on, "-q")
    assert res.exit_code == code, res.output
    assert res.output.strip() == verdict


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gate", "{tmp}/nowhere/report.json"], "does not exist"),
        (["gate", "{tmp}/garbage.json"], "not a trustaudit report"),
        (["gate", "{out}", "--fail-on", "error"], "--fail-on must be"),
        (["gate", "{out}", "--rubric", "{tmp}/bad.yaml"], "line 3"),
        (["gate", "{out}", "--rubric", "no-such-rubric"], "not found"),
        (["gate", "{out}", "--baseline", "{tmp}/missing.json"], "trustaudit baseline update"),
        (["gate", "{out}", "--baseline", "{tmp}/garbage.json"], "not valid JSON"),
        (["baseline", "update", "{tmp}/nowhere"], "does not exist"),
        (["lint", "--kind", "nonsense", "{tmp}"], "--kind must be"),
    ],
)
def test_bad_input_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    out = write_report(tmp_path, 0.9)
    (tmp_path / "garbage.json").write_text("{not json")
    (tmp_path / "bad.yaml").write_text("rubric: 1\nname: bad\nchecks: [1, 2]\n")
    res = invoke(*(a.format(tmp=tmp_path, out=out) for a in args))
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split())


def test_gate_writes_junit_sarif_summary(tmp_path: Path) -> None:
    out = write_report(tmp_path, 0.5)
    rub = write_rubric(tmp_path, TOY_RUBRIC)
    step = tmp_path / "step.md"
    res = invoke(
        "gate",
        out / "report.json",
        "-r",
        rub,
        "--junit",
        tmp_path / "ci/junit.xml",
        "--sarif",
        tmp_path / "ci/gate.sarif",
        "--summary",
        tmp_path / "ci/summary.md",
        env={"GITHUB_STEP_SUMMARY": str(step)},
    )
    assert res.exit_code == 1
    assert "gate: FAILED" in res.output and "fairness.model: 1 failed condition(s)" in res.output
    assert JUnitXml.fromfile(str(tmp_path / "ci/junit.xml")).failures == 1
    sarif = json.loads((tmp_path / "ci/gate.sarif").read_text())
    assert sorted(r["level"] for r in sarif["runs"][0]["results"]) == ["error", "warning"]
    assert (tmp_path / "ci/summary.md").read_text() == step.read_text().rstrip("\n") + "\n"


def test_baseline_update_then_gate(tmp_path: Path) -> None:
    before = write_report(tmp_path, 0.90, name="before")
    res = invoke(
        "baseline",
        "update",
        before,
        "--out",
        tmp_path / "baseline.json",
        "-r",
        write_rubric(tmp_path, TOY_RUBRIC),
    )
    assert res.exit_code == 0, res.output
    assert "2 metric(s) from 1 check(s), 1 open finding(s)" in res.output
    data = json.loads((tmp_path / "baseline.json").read_text())
    assert data["trustaudit_baseline"] == 1 and len(data["metrics"]["fairness.model"]) == 2
    regress = write_rubric(
        tmp_path,
        TOY_RUBRIC + "      - {metric: disparate_impact, relative_to: baseline, "
        "max_regression: 0.02, direction: higher_is_better}\n",
        "reg.yaml",
    )
    after = write_report(tmp_path, 0.60, name="after")  # [0.55, 0.65] vs [0.85, 0.95]: a regression
    res = invoke(
        "gate",
        after,
        "-r",
        regress,
        "--baseline",
        tmp_path / "baseline.json",
        "--sarif",
        tmp_path / "s.sarif",
    )
    assert res.exit_code == 1
    results = json.loads((tmp_path / "s.sarif").read_text())["runs"][0]["results"]
    reg = [r for r in results if r["ruleId"].endswith("/regression")]
    assert len(reg) == 1 and reg[0]["baselineState"] == "new"
    assert reg[0]["properties"]["change"] == pytest.approx(-0.30)
    same = write_report(tmp_path, 0.89, name="same")
    res = invoke("gate", same, "-r", regress, "--baseline", tmp_path / "baseline.json", "-q")
    assert res.exit_code == 0 and res.output.strip() == "gate passed"


def test_audit_gate_one_step(synthetic_bundle, tmp_path: Path) -> None:
    bundle = synthetic_bundle(n=1500)
    lenient = write_rubric(
        tmp_path,
        """\
rubric: 1
name: lenient
checks:
  fairness.model:
    params: {bootstrap: 200}
    conditions:
      - {metric: disparate_impact, op: ">=", value: 0.01}
      - {metric: disparate_impact, relative_to: baseline, max_regression: 0.05, direction: higher_is_better}
      - {metric: statistical_parity_difference, op: "<=", value: 0.01, abs: true, severity: warn}
""",
        "lenient.yaml",
    )
    out = tmp_path / "out"
    base = ["audit", bundle, "--out", out, "--checks", "fairness.model", "--rubric", lenient, "-q"]
    res = invoke(*base, "--gate")
    assert res.exit_code == 0, res.output
    assert res.output.split() == ["warn", "gate", "passed"]
    assert invoke("baseline", "update", out, "--out", tmp_path / "b.json").exit_code == 0
    res = invoke(
        *base, "--baseline", tmp_path / "b.json", "--junit", out / "junit.xml", "--sarif", out / "g.sarif"
    )
    assert res.exit_code == 0, res.output
    xml = JUnitXml.fromfile(str(out / "junit.xml"))
    names = [c.name for s in xml for c in s]
    assert any("baseline - 0.05" in n for n in names)
    assert json.loads((out / "g.sarif").read_text())["runs"][0]["invocations"][0]["exitCode"] == 0
    res = invoke(*base, "--fail-on", "warn")
    assert res.exit_code == 1 and "gate failed" in res.output
    # bad gate input is refused before the audit runs
    res = invoke(*base, "--baseline", tmp_path / "none.json")
    assert res.exit_code == 2 and "does not exist" in res.output
    assert invoke(*base, "--fail-on", "sometimes").exit_code == 2


# -- lint and the pre-commit hooks ----------------------------------------------------------------


def test_lint_sample_bundles_and_rubrics() -> None:
    paths = [ROOT / "sample_models" / n / "trustaudit.yaml" for n in ("adult-income-hgb", "german-credit")]
    res = invoke("lint", *paths, *sorted((ROOT / "rubrics").glob("*.yaml")), ROOT / "pyproject.toml")
    assert res.exit_code == 0, res.output
    assert "ok: 6 trustaudit file(s) valid, 1 other file(s) ignored" in res.output
    registered = "openness.mof" in __import__("trustaudit.checks.registry", fromlist=["x"]).available()
    assert registered or "check 'openness.mof' is not registered" in res.output


def test_lint_errors(tmp_path: Path, copy_bundle) -> None:
    bundle = copy_bundle("german-credit")
    manifest = bundle / "trustaudit.yaml"
    manifest.write_text(
        manifest.read_text().replace("path: data/eval.csv.gz", "path: data/missing.csv.gz", 1)
    )
    res = invoke("lint", bundle)
    assert res.exit_code == 2 and "data.path 'data/missing.csv.gz' does not exist" in res.output
    manifest.write_text(
        "trustaudit: 1\nname: x\nversion: 1\ndata: {path: d.csv, lable: y, favorable_label: 1}\n"
    )
    res = invoke("lint", manifest)
    assert res.exit_code == 2 and "did you mean 'label'" in res.output
    rub = write_rubric(
        tmp_path,
        "rubric: 1\nname: r\nchecks:\n  fairness.model:\n    conditions:\n"
        "      - {metric: m, op: '=>', value: 1}\n",
        "rubrics/r.yaml",
    )
    res = invoke("lint", rub)
    assert res.exit_code == 2 and "line 6" in res.output
    mot = write_rubric(
        tmp_path,
        "release:\n  name: m\n  components:\n    - {name: Model weights, license: MIT}\n",
        "model.yml",
    )
    res = invoke("lint", mot)
    assert res.exit_code == 2 and "unknown component 'Model weights'" in res.output
    mot.write_text(
        "release:\n  name: m\n  license: {distribution: {name: Apache-2.0}}\n  components:\n"
        "    - {name: Model architecture, license: Apache-2.0}\n"
    )
    assert invoke("lint", mot).exit_code == 0


def test_pre_commit_hooks() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    by_id = {h["id"]: h for h in hooks}
    assert set(by_id) == {
        "trustaudit-lint",
        "trustaudit-manifest",
        "trustaudit-rubric",
        "trustaudit-openness",
    }
    for h in hooks:
        assert {"id", "name", "entry", "language"} <= set(h) and h["entry"].startswith("trustaudit lint")
    matches = {hid: re.compile(h["files"]) for hid, h in by_id.items() if "files" in h}
    assert matches["trustaudit-manifest"].search("models/credit/trustaudit.yaml")
    assert not matches["trustaudit-manifest"].search("docs/trustaudit.yaml.md")
    assert matches["trustaudit-rubric"].search("rubrics/strict.yaml")
    assert matches["trustaudit-openness"].search("release/model.yml")
    # each hook's command runs on the files it matches
    cases = {
        "trustaudit-manifest": ROOT / "sample_models/adult-income-hgb/trustaudit.yaml",
        "trustaudit-rubric": ROOT / "rubrics/strict.yaml",
        "trustaudit-lint": ROOT / "rubrics/four-fifths.yaml",
    }
    for hid, path in cases.items():
        args = shlex.split(by_id[hid]["entry"])[1:]
        res = invoke(*args, path)
        assert res.exit_code == 0, (hid, res.output)


def _trustaudit_commands(node: object) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        for v in node.values():
            out += _trustaudit_commands(v)
    elif isinstance(node, list):
        for v in node:
            out += _trustaudit_commands(v)
    elif isinstance(node, str):
        out += [line.strip() for line in node.splitlines() if line.strip().startswith("trustaudit ")]
    return out


@pytest.mark.parametrize("example", ["github-actions.yml", "gitlab-ci.yml"])
def test_ci_examples_use_real_options(example: str) -> None:
    import typer.main

    cli = typer.main.get_command(app)
    doc = yaml.safe_load((ROOT / "examples" / "ci" / example).read_text())
    commands = _trustaudit_commands(doc)
    assert len(commands) >= 3
    for line in commands:
        words = shlex.split(line.split("||")[0])[1:]
        cmd = cli
        while hasattr(cmd, "commands") and words and words[0] in cmd.commands:  # type: ignore[attr-defined]
            cmd = cmd.commands[words.pop(0)]  # type: ignore[attr-defined]
        assert not hasattr(cmd, "commands"), line
        known = {o for p in cmd.params for o in p.opts}
        used = {w for w in words if w.startswith("-")}
        assert used <= known, (line, used - known)
        ctx = cmd.make_context(cmd.name, [w.replace("$BUNDLE", "b") for w in words], resilient_parsing=True)
        assert ctx.params
