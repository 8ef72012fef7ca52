"""The gate's verdict: exit codes on pass, warn, fail, error; re-judging; missing checks; baseline states."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gate.helpers import ROOT, TOY_RUBRIC, check, make_report, metric, write_rubric
from trustaudit.errors import TrustAuditError
from trustaudit.gate import fingerprint, gate, rubric_of_report
from trustaudit.gate.baseline import baseline_from_report, load_baseline, parse_baseline, write_baseline
from trustaudit.results import Status
from trustaudit.rubrics import load_rubric

SEX = "sex: Female vs Male"


def toy(di: float, spd: float, *, di_ci: tuple[float, float] | None = None, spd_ci=None):
    lo, hi = di_ci or (di - 0.05, di + 0.05)
    slo, shi = spd_ci or (spd - 0.02, spd + 0.02)
    return make_report(
        [
            check(
                "fairness.model",
                [
                    metric("disparate_impact", di, lo, hi, subject=SEX),
                    metric("statistical_parity_difference", spd, slo, shi, subject=SEX),
                ],
            )
        ]
    )


@pytest.mark.parametrize(
    ("di", "spd", "fail_on", "status", "code"),
    [
        (0.95, 0.02, "fail", Status.PASS, 0),  # everything met
        (0.95, -0.20, "fail", Status.WARN, 0),  # a warn-level condition violated: passes under fail-on fail
        (0.95, -0.20, "warn", Status.WARN, 1),  # ... and fails under fail-on warn
        (0.50, 0.02, "fail", Status.FAIL, 1),  # the whole DI interval [0.45, 0.55] is below 0.8
        (0.78, 0.02, "fail", Status.WARN, 0),  # DI below 0.8 but its interval reaches it: uncertain -> warn
        (0.78, 0.02, "warn", Status.WARN, 1),
    ],
)
def test_exit_codes(toy_rubric: Path, di: float, spd: float, fail_on: str, status: Status, code: int) -> None:
    result = gate(toy(di, spd), rubric=toy_rubric, fail_on=fail_on)  # type: ignore[arg-type]
    assert result.status == status
    assert result.exit_code == code and result.passed == (code == 0)
    assert result.rejudged
    assert len(result.findings) == 2
    di_finding = next(f for f in result.findings if f.metric == "disparate_impact")
    assert di_finding.observed == di and di_finding.subject == SEX
    if code:
        assert result.reasons() and result.reasons()[0].startswith("fairness.model:")
    else:
        assert result.reasons() == []


def test_check_in_error_fails_the_gate(toy_rubric: Path) -> None:
    report = make_report(
        [
            check("fairness.model", [metric("disparate_impact", 0.95, 0.9, 1.0, subject=SEX),
                                     metric("statistical_parity_difference", 0.02, 0.0, 0.04, subject=SEX)]),
            check("fairness.dataset", [], status=Status.ERROR, error="ValueError: boom at x.py:1"),
            check("lineage.integrity", [], status=Status.SKIPPED, reason="no lineage section"),
        ]
    )
    result = gate(report, rubric=toy_rubric)
    assert result.status == Status.ERROR and result.exit_code == 1
    assert [c.status for c in result.checks] == [Status.PASS, Status.ERROR, Status.SKIPPED]
    assert result.reasons() == ["fairness.dataset: error: ValueError: boom at x.py:1"]
    # warn-level fail_on too; a skipped check never fails the gate
    assert gate(report, rubric=toy_rubric, fail_on="warn").exit_code == 1


def test_missing_check_fails_closed(tmp_path: Path) -> None:
    rub = write_rubric(
        tmp_path,
        TOY_RUBRIC + "  fairness.dataset:\n    conditions:\n"
        "      - {metric: label_disparate_impact, op: '>=', value: 0.8}\n",
    )
    report = toy(0.95, 0.0)
    result = gate(report, rubric=rub)
    missing = next(c for c in result.checks if c.check_id == "fairness.dataset")
    assert missing.status == Status.ERROR and "no result" in (missing.error or "")
    assert result.exit_code == 1
    relaxed = gate(report, rubric=rub, allow_missing=True)
    assert relaxed.exit_code == 0
    assert next(c for c in relaxed.checks if c.check_id == "fairness.dataset").status == Status.SKIPPED
    # a check the rubric's run list leaves out is not expected in the report
    only_model = write_rubric(
        tmp_path, rub.read_text().replace("checks:", "run: [fairness.model]\nchecks:", 1), "only-model.yaml"
    )
    assert gate(report, rubric=only_model).exit_code == 0
    # a check that is not installed cannot have run: required (fail closed)
    uninstalled = write_rubric(
        tmp_path,
        TOY_RUBRIC + "  vendor.custom:\n    conditions:\n      - {metric: x, op: '>=', value: 1}\n",
        "vendor.yaml",
    )
    res = gate(report, rubric=uninstalled)
    assert [c.check_id for c in res.checks if c.status == Status.ERROR] == ["vendor.custom"]


def test_bad_fail_on() -> None:
    with pytest.raises(TrustAuditError, match="fail_on"):
        gate(toy(0.9, 0.0), fail_on="error")  # type: ignore[arg-type]


def test_rejudging_matches_apply_rubric_and_another_rubric_changes_the_verdict(hgb_report) -> None:
    """The gate re-applies a rubric to the report's metrics exactly as the audit engine does."""
    from trustaudit.api import apply_rubric

    default = load_rubric("default")
    again = gate(hgb_report, rubric=default, allow_missing=True)  # the report has the fairness checks only
    engine = [
        c for cr in hgb_report.checks for c in apply_rubric(cr.model_copy(deep=True), default).conditions
    ]
    assert [(f.condition, f.subject, f.status) for f in again.findings] == [
        (c.condition, c.subject, c.status) for c in engine
    ]
    assert again.status == hgb_report.verdict == Status.FAIL  # the Adult HGB model really is unfair
    # the same report under the EEOC four-fifths rule: fails exactly where DI is outside [0.8, 1.25]
    eeoc = gate(hgb_report, rubric=ROOT / "rubrics" / "four-fifths.yaml", allow_missing=True)
    di = [m for m in hgb_report.check("fairness.model").metrics if m.name == "disparate_impact" and m.judged]
    expected = {m.subject for m in di if not 0.8 <= m.value <= 1.25}
    failed = {f.subject for f in eeoc.findings if f.status == Status.FAIL}
    assert failed == expected and "sex: Female vs Male" in failed
    assert eeoc.exit_code == 1
    # a lenient policy passes the same report without re-running anything
    lenient = load_rubric("default").model_copy(update={"checks": {}})
    assert gate(hgb_report, rubric=lenient).exit_code == 0


def test_without_rubric_uses_the_reports_own(hgb_report, toy_rubric: Path) -> None:
    assert rubric_of_report(hgb_report) is not None  # packaged:default, unchanged
    result = gate(hgb_report)
    assert not result.rejudged and result.rubric == hgb_report.rubric  # its own rubric, re-applied
    stored = [(c.condition, c.subject, c.status) for cr in hgb_report.checks for c in cr.conditions]
    assert [(f.condition, f.subject, f.status) for f in result.findings] == stored
    # a rubric that cannot be reloaded: the stored conditions are used, and the gate says so
    r = toy(0.5, 0.0)
    judged = gate(r, rubric=toy_rubric)
    r.rubric = judged.rubric.model_copy(update={"source": str(toy_rubric.parent / "gone.yaml")})
    from trustaudit.api import apply_rubric

    rub = load_rubric(toy_rubric)
    r.checks = [apply_rubric(c, rub) for c in r.checks]
    stored_only = gate(r)
    assert not stored_only.rejudged and "cannot be reloaded" in stored_only.notes[0]
    assert stored_only.status == Status.FAIL and stored_only.exit_code == 1


def test_fingerprints_are_stable_and_distinct(hgb_report) -> None:
    a = gate(hgb_report)
    b = gate(hgb_report.model_copy(update={"report_id": "another", "seed": 7}))
    assert [f.fingerprint for f in a.findings] == [f.fingerprint for f in b.findings]
    fps = [f.fingerprint for f in a.findings]
    assert len(set(fps)) == len(fps)
    f = a.findings[0]
    assert f.fingerprint == fingerprint(f.check_id, f.condition, f.metric, f.subject)


def test_baseline_states(toy_rubric: Path, tmp_path: Path) -> None:
    before = toy(0.50, -0.20)  # DI fails, SPD warns
    base = baseline_from_report(before, rubric=toy_rubric)
    assert {f.status for f in base.findings} == {Status.FAIL, Status.WARN}
    path = write_baseline(base, tmp_path / "b.json")
    loaded = load_baseline(path)
    assert loaded.findings == base.findings and loaded.metric_index().keys() == base.metric_index().keys()
    # same DI within its interval (unchanged), SPD fixed (absent), and a new problem on another subject
    now = make_report(
        [
            check(
                "fairness.model",
                [
                    metric("disparate_impact", 0.52, 0.47, 0.57, subject=SEX),
                    metric("statistical_parity_difference", 0.01, -0.01, 0.03, subject=SEX),
                    metric("disparate_impact", 0.40, 0.30, 0.50, subject="race: Black vs White"),
                ],
            )
        ]
    )
    result = gate(now, rubric=toy_rubric, baseline=loaded)
    states = {(f.metric, f.subject): f.baseline_state for f in result.problems()}
    assert states == {
        ("disparate_impact", SEX): "unchanged",
        ("disparate_impact", "race: Black vs White"): "new",
    }
    assert [(a.metric, a.status) for a in result.absent] == [("statistical_parity_difference", Status.WARN)]
    # DI dropped far outside both intervals: same problem, updated
    worse = toy(0.20, 0.0, di_ci=(0.15, 0.25))
    assert gate(worse, rubric=toy_rubric, baseline=loaded).problems()[0].baseline_state == "updated"


def test_baseline_accepts_a_report_and_rejects_garbage(hgb_report, tmp_path: Path) -> None:
    p = tmp_path / "report.json"
    p.write_text(hgb_report.to_json())
    b = load_baseline(p)
    assert b.source.report_id == hgb_report.report_id
    assert sum(len(v) for v in b.metrics.values()) == sum(len(c.metrics) for c in hgb_report.checks)
    assert len(b.findings) == len(hgb_report.failures())
    for text, message in [
        ("{", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"a": 1}', "neither"),
        ('{"trustaudit_baseline": 1}', "invalid"),
    ]:
        with pytest.raises(TrustAuditError, match=message):
            parse_baseline(text)
    with pytest.raises(TrustAuditError, match="does not exist"):
        load_baseline(tmp_path / "nope.json")


def test_baseline_metric_filter_and_diffable_json(hgb_report) -> None:
    b = baseline_from_report(hgb_report, metrics=["disparate_impact", "label_*"])
    assert {m.name for ms in b.metrics.values() for m in ms} == {
        "disparate_impact",
        "label_disparate_impact",
        "label_statistical_parity_difference",
    }
    text = b.to_json()
    lines = text.splitlines()
    assert sum(1 for line in lines if '"name": "disparate_impact"' in line) == 16  # one metric per line
    assert parse_baseline(text).model_dump() == b.model_dump()


def test_notes_about_baseline_relative_conditions(tmp_path: Path) -> None:
    rub = write_rubric(
        tmp_path,
        TOY_RUBRIC + "      - {metric: disparate_impact, relative_to: baseline, "
        "max_regression: 0.02, direction: higher_is_better}\n",
    )
    report = toy(0.9, 0.0)
    alone = gate(report, rubric=rub)
    assert alone.exit_code == 0 and "no baseline given" in alone.notes[0]
    assert {f.status for f in alone.findings if f.relative} == {Status.SKIPPED}
    other = make_report([check("fairness.model", [metric("accuracy", 0.9)])])
    unrelated = gate(report, rubric=rub, baseline=baseline_from_report(other))
    assert "the baseline has none of their metrics" in unrelated.notes[0]
