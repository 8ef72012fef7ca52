"""A gate that cannot pass by mistake (issue 16): rubric conditions are checked against the metrics checks declare,
judged by one judge for the audit and the gate, and stored with their structure."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from trustaudit.checks import registry
from trustaudit.cli import app
from trustaudit.results import AuditReport, Status

ROOT = Path(__file__).resolve().parents[2]
PREDICTIONS = ROOT / "sample_models" / "adult-income-predictions"
runner = CliRunner()

TYPO = """\
rubric: 1
name: typo
extends: default
checks:
  fairness.model:
    params: {bootstrap: 100, intersections: false}
    conditions:
      - {metric: disparate_impcat, op: ">=", value: 0.8}
"""


def _one_error_line(res) -> str:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    return lines[0]


def test_misspelled_metric_is_refused_by_lint_gate_and_audit(tmp_path):
    rub = tmp_path / "typo.yaml"
    rub.write_text(TYPO)
    for args in (["lint", str(rub)],
                 ["audit", str(PREDICTIONS), "--rubric", str(rub), "--out", str(tmp_path / "a"), "-c", "fairness.model"]):
        line = _one_error_line(runner.invoke(app, args))
        assert "disparate_impcat" in line and "did you mean 'disparate_impact'" in line, line
    assert not (tmp_path / "a" / "report.json").exists()
    # the gate, re-judging an existing report with the misspelled rubric
    out = tmp_path / "ok"
    r = runner.invoke(app, ["audit", str(PREDICTIONS), "--out", str(out), "-c", "fairness.model",
                            "--param", "fairness.model.bootstrap=100"])
    assert r.exit_code in (0, 1), r.output
    line = _one_error_line(runner.invoke(app, ["gate", str(out / "report.json"), "--rubric", str(rub)]))
    assert "did you mean 'disparate_impact'" in line


def test_unknown_selection_field_and_formatted_subject_are_refused(tmp_path):
    rub = tmp_path / "where.yaml"
    rub.write_text(TYPO.replace("disparate_impcat", "disparate_impact").replace(
        'value: 0.8}', 'value: 0.8, where: {atribute: sex}}'))
    line = _one_error_line(runner.invoke(app, ["lint", str(rub)]))
    assert "no field 'atribute'" in line and "did you mean 'attribute'" in line
    rub.write_text(TYPO.replace("disparate_impcat", "disparate_impact").replace(
        'value: 0.8}', 'value: 0.8, where: {subject: "sex: Female vs Male"}}'))
    line = _one_error_line(runner.invoke(app, ["lint", str(rub)]))
    assert "selects by formatted text" in line and "where: {attribute: sex}" in line


def test_every_packaged_rubric_passes_lint():
    for p in sorted((ROOT / "trustaudit" / "rubrics" / "data").glob("*.yaml")) + sorted((ROOT / "rubrics").glob("*.yaml")):
        r = runner.invoke(app, ["lint", str(p)])
        assert r.exit_code == 0, (p, r.output)


def _report_with(metric_names: list[str]) -> AuditReport:
    from tests.gate.helpers import check, make_report, metric

    return make_report([check("fairness.model", [metric(n, 0.9, 0.85, 0.95, subject="sex: Female vs Male")
                                                 for n in metric_names])])


def test_a_condition_matching_nothing_fails_at_run_time():
    """A check whose metrics cannot be validated at load time (a plug-in that declares none, or one that is not
    installed where the gate runs): the judge still never lets an unmatched condition pass."""
    from tests.gate.helpers import check, make_report, metric
    from trustaudit.gate import gate
    from trustaudit.rubrics import Condition, Rubric, judge, status_of

    rep = make_report([check("acme.calibration", [metric("ece", 0.02, 0.01, 0.03)])])
    conds = [Condition(metric="ece", op="<=", value=0.05), Condition(metric="eec", op="<=", value=0.05)]
    results = judge(rep.checks[0], conds)
    assert [c.status for c in results] == [Status.PASS, Status.ERROR]
    assert "matches no metric" in results[1].message and "'eec'" in results[1].message
    assert status_of(results)[0] == Status.ERROR
    rub = Rubric.model_validate({"rubric": 1, "name": "r", "checks": {"acme.calibration": {"conditions": [
        c.model_dump(exclude_none=True, exclude_defaults=True) | {"op": c.op, "value": c.value} for c in conds]}}})
    result = gate(rep, rubric=rub, allow_missing=True)
    assert result.exit_code == 1 and result.status == Status.ERROR
    assert any("matches no metric" in f.message for f in result.findings)


def test_nothing_judged_is_a_warning_not_a_pass():
    from tests.gate.helpers import check, metric
    from trustaudit.rubrics import Condition, judge, status_of

    cr = check("fairness.model", [metric("disparate_impact", 0.5, 0.2, 0.9, subject="sex", judged=False)])
    res = judge(cr, [Condition(metric="disparate_impact", op=">=", value=0.8)])
    assert [c.status for c in res] == [Status.SKIPPED]
    status, note = status_of(res)
    assert status == Status.WARN and "no condition could be judged" in note


def test_conditions_are_stored_with_their_structure(tmp_path):
    out = tmp_path / "out"
    r = runner.invoke(app, ["audit", str(PREDICTIONS), "--out", str(out), "-c", "fairness.model",
                            "--param", "fairness.model.bootstrap=100"])
    assert r.exit_code in (0, 1), r.output
    rep = json.loads((out / "report.json").read_text())
    assert rep["schema_version"] == "1.1"
    conds = rep["checks"][0]["conditions"]
    di = next(c for c in conds if c["metric"] == "disparate_impact")
    assert di["spec"]["op"] == ">=" and di["spec"]["value"] == 0.8 and di["spec"]["abs"] is False
    spd = next(c for c in conds if c["metric"] == "statistical_parity_difference")
    assert spd["spec"]["abs"] is True


def test_a_schema_1_0_report_still_loads_renders_and_gates(tmp_path):
    """Reports written before structured conditions (schema 1.0) keep working."""
    from trustaudit.api import load_report
    from trustaudit.gate import gate
    from trustaudit.render import render

    old = json.loads((Path(__file__).parent / "data" / "report-schema-1.0.json").read_text())  # landed main's
    assert old["schema_version"] == "1.0"
    p = tmp_path / "report.json"
    p.write_text(json.dumps(old))
    rep = load_report(p)
    html = render(rep, "html", report_dir=tmp_path)
    assert "disparate_impact" in html
    result = gate(rep)
    assert result.exit_code == 1 and any(f.status == Status.FAIL for f in result.findings)


def test_misspelled_check_in_packaged_style_rubric_is_a_did_you_mean(tmp_path):
    rub = tmp_path / "r.yaml"
    rub.write_text("rubric: 1\nname: r\nchecks:\n  fairness.modle:\n    conditions: []\n")
    r = runner.invoke(app, ["audit", str(PREDICTIONS), "--rubric", str(rub), "--out", str(tmp_path / "o")])
    line = _one_error_line(r)
    assert "did you mean 'fairness.model'" in line
    assert "fairness.model" in registry.available()
