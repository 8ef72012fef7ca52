"""CI renderings: JUnit XML parsed back with junitparser, SARIF validated against the SARIF 2.1.0 schema,
and the Markdown step summary."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from tests.gate.helpers import SARIF_SCHEMA, check, make_report, metric
from trustaudit.gate import gate
from trustaudit.gate.baseline import baseline_from_report
from trustaudit.gate.junit import write_junit
from trustaudit.gate.sarif import FINGERPRINT_KEY, to_sarif
from trustaudit.gate.summary import to_markdown, write_step_summary
from trustaudit.results import Status

SEX = "sex: Female vs Male"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def mixed_report():
    return make_report(
        [
            check(
                "fairness.model",
                [
                    metric("disparate_impact", 0.50, 0.45, 0.55, subject=SEX, attribute="sex"),  # fail
                    metric("statistical_parity_difference", -0.2, -0.22, -0.18, subject=SEX),  # warn
                    metric("disparate_impact", 0.95, 0.9, 1.0, subject="race: Black vs White"),  # pass
                    metric(
                        "disparate_impact", 0.3, 0.0, 0.9, subject="race: Other vs White", judged=False
                    ),  # skipped
                ],
            ),
            check("fairness.dataset", [], status=Status.ERROR, error="ValueError: boom"),
            check("lineage.integrity", [], status=Status.SKIPPED, reason="no lineage section"),
        ]
    )


@pytest.mark.parametrize("fail_on", ["fail", "warn"])
def test_junit_parses_back(toy_rubric: Path, tmp_path: Path, fail_on: str) -> None:
    result = gate(mixed_report(), rubric=toy_rubric, fail_on=fail_on)  # type: ignore[arg-type]
    path = write_junit(result, tmp_path / "out" / "junit.xml")
    xml = JUnitXml.fromfile(str(path))
    suites = {s.name: s for s in xml}
    assert list(suites) == [
        "trustaudit.fairness.model",
        "trustaudit.fairness.dataset",
        "trustaudit.lineage.integrity",
    ]
    model = suites["trustaudit.fairness.model"]
    cases = list(model)
    # one case for the check, one per condition x metric (2 conditions: DI on 3 subjects, SPD on 1)
    assert len(cases) == 1 + 4 and model.tests == 5
    by_name = {c.name: c for c in cases}
    assert by_name["fairness.model ran"].is_passed
    fail_case = by_name[f"disparate_impact >= 0.8 [{SEX}]"]
    assert isinstance(fail_case.result[0], Failure) and "violates" in fail_case.result[0].message
    warn_case = by_name[f"|statistical_parity_difference| <= 0.1 [{SEX}]"]
    if fail_on == "warn":
        assert isinstance(warn_case.result[0], Failure) and warn_case.result[0].type == "warn"
        assert model.failures == 2
    else:
        assert warn_case.is_passed and warn_case.system_out.startswith("WARN:")
        assert model.failures == 1
    assert isinstance(by_name["disparate_impact >= 0.8 [race: Other vs White]"].result[0], Skipped)
    assert by_name["disparate_impact >= 0.8 [race: Black vs White]"].is_passed
    assert [c.classname for c in cases][1] == "trustaudit.fairness.model.disparate_impact"
    errored = list(suites["trustaudit.fairness.dataset"])
    assert len(errored) == 1 and isinstance(errored[0].result[0], Error)
    assert (
        errored[0].result[0].message == "ValueError: boom"
        and suites["trustaudit.fairness.dataset"].errors == 1
    )
    assert isinstance(next(iter(suites["trustaudit.lineage.integrity"])).result[0], Skipped)
    assert xml.tests == 7 and xml.errors == 1
    props = {p.name: p.value for p in model.properties()}
    assert props["report_id"] == result.report_id and props["fail_on"] == fail_on


def test_junit_of_a_real_audit(hgb_report, tmp_path: Path) -> None:
    result = gate(hgb_report)
    xml = JUnitXml.fromfile(str(write_junit(result, tmp_path / "j.xml")))
    n_conditions = sum(len(c.conditions) for c in hgb_report.checks)
    assert xml.tests == len(hgb_report.checks) + n_conditions
    assert xml.failures == sum(1 for c in hgb_report.checks for x in c.conditions if x.status == Status.FAIL)


def test_sarif_is_schema_valid_with_all_baseline_states(toy_rubric: Path, validator) -> None:
    before = make_report(
        [
            check(
                "fairness.model",
                [
                    metric("disparate_impact", 0.50, 0.45, 0.55, subject=SEX),  # will stay: unchanged
                    metric(
                        "disparate_impact", 0.60, 0.55, 0.65, subject="race: Black vs White"
                    ),  # will worsen: updated
                    metric(
                        "statistical_parity_difference", -0.2, -0.22, -0.18, subject=SEX
                    ),  # will be fixed: absent
                ],
            )
        ]
    )
    baseline = baseline_from_report(before, rubric=toy_rubric)
    now = make_report(
        [
            check(
                "fairness.model",
                [
                    metric("disparate_impact", 0.51, 0.46, 0.56, subject=SEX),
                    metric("disparate_impact", 0.30, 0.25, 0.35, subject="race: Black vs White"),
                    metric("statistical_parity_difference", 0.0, -0.02, 0.02, subject=SEX),
                    metric("disparate_impact", 0.40, 0.30, 0.50, subject="race: Other vs White"),  # new
                ],
            ),
            check("fairness.dataset", [], status=Status.ERROR, error="boom"),
        ]
    )
    result = gate(now, rubric=toy_rubric, baseline=baseline)
    log = to_sarif(result)
    errors = sorted(validator.iter_errors(log), key=lambda e: e.path)
    assert not errors, [e.message for e in errors[:3]]
    run = log["runs"][0]
    states = {(r["properties"].get("subject"), r["baselineState"]) for r in run["results"]}
    assert states == {
        (SEX, "unchanged"),
        ("race: Black vs White", "updated"),
        ("race: Other vs White", "new"),
        (None, "absent"),
    }
    absent = next(r for r in run["results"] if r["baselineState"] == "absent")
    assert absent["kind"] == "pass" and absent["level"] == "none"
    assert {r["level"] for r in run["results"] if r["baselineState"] != "absent"} == {"error"}
    # rules: one per rule id, referenced by index
    rules = run["tool"]["driver"]["rules"]
    for r in run["results"]:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    # fingerprints: the gate's, stable and distinct
    fps = [r["partialFingerprints"][FINGERPRINT_KEY] for r in run["results"]]
    assert len(set(fps)) == len(fps)
    assert set(fps) == {f.fingerprint for f in result.problems()} | {a.fingerprint for a in result.absent}
    inv = run["invocations"][0]
    assert inv["exitCode"] == 1 and inv["executionSuccessful"] is False
    assert inv["toolExecutionNotifications"][0]["descriptor"]["id"] == "fairness.dataset"


def test_sarif_of_a_real_audit(hgb_report, validator, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.gate.helpers import ROOT

    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    result = gate(hgb_report)
    log = to_sarif(result)
    assert not list(validator.iter_errors(log))
    results = log["runs"][0]["results"]
    assert len(results) == len(hgb_report.failures())
    assert {r["level"] for r in results} == {"error", "warning"}
    assert all("baselineState" not in r for r in results)  # no baseline given
    loc = results[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {
        "uri": "sample_models/adult-income-hgb/trustaudit.yaml",
        "uriBaseId": "%SRCROOT%",
    }
    # a result about 'sex' points at the line declaring the protected attribute 'sex'
    manifest = (ROOT / "sample_models" / "adult-income-hgb" / "trustaudit.yaml").read_text().splitlines()
    sex = next(r for r in results if r["properties"]["subject"].startswith("sex:"))
    line = sex["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert manifest[line - 1].strip().startswith("sex:")
    # the same report gated twice gives identical SARIF (deterministic order)
    assert to_sarif(gate(hgb_report)) == log


def test_markdown_summary(toy_rubric: Path, tmp_path: Path) -> None:
    result = gate(mixed_report(), rubric=toy_rubric)
    md = to_markdown(result)
    assert md.startswith("## ❌ trustaudit gate failed: toy 1.0.0")
    assert "| `fairness.model` | ❌ fail | 1 fail, 1 warn, 1 pass, 1 skipped |" in md
    assert "\\|statistical_parity_difference\\| <= 0.1" in md  # pipes escaped inside the table
    assert "fairness.dataset: error: ValueError: boom" in md
    for line in md.splitlines():
        if line.startswith("| ") and "---" not in line:
            assert line.replace("\\|", "").count("|") in (5, 6, 8)
    summary = tmp_path / "step_summary.md"
    assert write_step_summary(result, env={}) is None
    write_step_summary(result, env={"GITHUB_STEP_SUMMARY": str(summary)})
    write_step_summary(result, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert summary.read_text().count("## ❌ trustaudit gate failed") == 2  # appended, not overwritten


def test_markdown_limits_rows(hgb_report) -> None:
    result = gate(hgb_report)
    md = to_markdown(result, max_rows=5)
    rows = [line for line in md.splitlines() if line.startswith("| ❌") or line.startswith("| ⚠️")]
    assert len(rows) == 5  # the first five problems (check rows start with the check id)
    assert f"… and {len(result.problems()) - 5} more" in md
