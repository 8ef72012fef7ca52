"""Baseline-relative rubric conditions, error messages that name the line, and ``extends:`` from a user repo."""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

import pytest

from tests.gate.helpers import ROOT, metric, write_rubric
from trustaudit.errors import RubricError
from trustaudit.results import Status
from trustaudit.rubrics import Condition, load_rubric, validate_against_registry

# -- the condition model --------------------------------------------------------------------------------


def test_max_regression_is_shorthand_for_op_and_value() -> None:
    up = Condition(metric="m", relative_to="baseline", max_regression=0.02, direction="higher_is_better")
    assert (up.op, up.value) == (">=", -0.02)
    assert up.text() == "m >= baseline - 0.02"
    down = Condition(
        metric="m", relative_to="baseline", max_regression=0.05, abs=True
    )  # abs: lower is better
    assert (down.op, down.value, down.direction) == ("<=", 0.05, "lower_is_better")
    assert down.text() == "|m| <= baseline + 0.05"
    explicit = Condition(metric="m", relative_to="baseline", op="between", value=[-0.1, 0.1])
    assert explicit.text() == "-0.1 <= m - baseline <= 0.1"
    # plain conditions keep their text and behaviour
    assert Condition(metric="m", op=">=", value=0.8).text() == "m >= 0.8"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"max_regression": 0.02, "direction": "higher_is_better"}, "max_regression needs relative_to"),
        ({"relative_to": "baseline", "max_regression": 0.02}, "needs direction"),
        (
            {"relative_to": "baseline", "max_regression": 0.02, "direction": "higher_is_better", "op": ">="},
            "not both",
        ),
        ({"op": ">=", "value": 1, "direction": "higher_is_better"}, "direction needs relative_to"),
        (
            {"relative_to": "baseline", "max_regression": -1, "direction": "lower_is_better"},
            "greater than or equal",
        ),
        ({"relative_to": "previous", "op": ">=", "value": 0}, "baseline"),
    ],
)
def test_invalid_relative_conditions(raw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Condition.model_validate({"metric": "m", **raw})


def test_change_interval_is_mover_by_hand() -> None:
    """MOVER: L = d - sqrt((x-lx)^2 + (ub-b)^2), U = d + sqrt((ux-x)^2 + (b-lb)^2)."""
    cond = Condition(metric="m", relative_to="baseline", max_regression=0.02, direction="higher_is_better")
    now = metric("m", 0.70, 0.66, 0.73)
    before = metric("m", 0.80, 0.78, 0.83)
    x, b, low, high = cond.change(now, before)
    assert (x, b) == (0.70, 0.80)
    assert low == pytest.approx(-0.10 - math.sqrt(0.04**2 + 0.03**2))
    assert high == pytest.approx(-0.10 + math.sqrt(0.03**2 + 0.02**2))
    # the whole interval of the change [-0.15, -0.064] is below -0.02: a regression
    assert cond.evaluate(now, before).status == Status.FAIL
    # Bonferroni over 10 changes widens both intervals by z(1 - .05/20) / z(1 - .05/2)
    scale = NormalDist().inv_cdf(1 - 0.05 / 20) / NormalDist().inv_cdf(0.975)
    _, _, low10, high10 = cond.change(now, before, family_size=10)
    assert low10 == pytest.approx(-0.10 - scale * 0.05)
    assert high10 == pytest.approx(-0.10 + scale * math.sqrt(0.03**2 + 0.02**2))
    assert scale == pytest.approx(1.4322, abs=1e-4)


def test_relative_statuses() -> None:
    cond = Condition(metric="m", relative_to="baseline", max_regression=0.02, direction="higher_is_better")
    before = metric("m", 0.80, 0.76, 0.84)
    # a small drop: within the allowed 0.02
    assert cond.evaluate(metric("m", 0.79, 0.75, 0.83), before).status == Status.PASS
    # a drop of 0.05 whose interval reaches -0.02: uncertain -> warn, not fail
    res = cond.evaluate(metric("m", 0.75, 0.71, 0.79), before)
    assert res.status == Status.WARN and "uncertain" in res.message
    # the same drop judged on values fails
    by_value = Condition(
        metric="m", relative_to="baseline", max_regression=0.02, direction="higher_is_better", judge="value"
    )
    assert by_value.evaluate(metric("m", 0.75, 0.71, 0.79), before).status == Status.FAIL
    # no interval on one side: a change cannot be told from noise under judge: interval
    res = cond.evaluate(metric("m", 0.5), before)
    assert res.status == Status.WARN and "noise" in res.message
    assert by_value.evaluate(metric("m", 0.5), before).status == Status.FAIL
    # nothing to compare with: skipped, with the hint
    res = cond.evaluate(metric("m", 0.5, 0.4, 0.6))
    assert res.status == Status.SKIPPED and "--baseline" in res.message
    assert cond.evaluate(metric("m", 0.5, 0.4, 0.6), metric("m", None)).status == Status.SKIPPED
    # a metric too small to judge stays skipped
    assert cond.evaluate(metric("m", 0.1, 0.0, 0.2, judged=False), before).status == Status.SKIPPED


def test_relative_abs_uses_absolute_values() -> None:
    cond = Condition(metric="d", relative_to="baseline", abs=True, max_regression=0.02, severity="warn")
    before = metric("d", -0.05, -0.07, -0.03)
    now = metric("d", 0.15, 0.12, 0.18)  # the gap flipped sign and widened from 0.05 to 0.15
    x, b, low, high = cond.change(now, before)
    assert (x, b) == (0.15, 0.05)
    assert low == pytest.approx(0.10 - math.sqrt(0.03**2 + 0.02**2))
    assert high == pytest.approx(0.10 + math.sqrt(0.03**2 + 0.02**2))
    assert cond.evaluate(now, before).status == Status.WARN  # severity warn


# -- rubric files -----------------------------------------------------------------------------------


def test_rubric_error_names_the_line(tmp_path: Path) -> None:
    p = write_rubric(
        tmp_path,
        """\
rubric: 1
name: bad
checks:
  fairness.model:
    conditions:
      - metric: disparate_impact
        op: ">="
        value: 0.8
      - metric: disparate_impact
        relative_to: baseline
        max_regression: 0.02
""",
    )
    with pytest.raises(RubricError, match=r"line 9\).*needs direction"):
        load_rubric(p)


def test_error_in_the_parent_names_the_parent_file(tmp_path: Path) -> None:
    write_rubric(
        tmp_path,
        "rubric: 1\nname: base\nchecks:\n  fairness.model:\n    conditions:\n"
        "      - {metric: m, op: '>=', value: 1, severty: fail}\n",
        "base.yaml",
    )
    child = write_rubric(tmp_path, "rubric: 1\nname: child\nextends: base.yaml\n", "child.yaml")
    with pytest.raises(RubricError, match=r"base\.yaml \(line 6\).*unknown key.*did you mean 'severity'"):
        load_rubric(child)


def test_unknown_check_names_the_line(tmp_path: Path) -> None:
    p = write_rubric(tmp_path, "rubric: 1\nname: x\nchecks:\n  fairness.model: {}\n  fairness.modle: {}\n")
    with pytest.raises(RubricError, match=r"line 5\).*unknown check 'fairness.modle'.*fairness.model"):
        validate_against_registry(load_rubric(p))


def test_extends_from_a_user_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """policies/team.yaml extends ../rubrics/base.yaml, which extends the packaged default; loaded from
    another working directory, and by a bare name found next to the extending file."""
    repo = tmp_path / "repo"
    write_rubric(
        repo,
        """\
rubric: 1
name: base
extends: default
checks:
  fairness.model:
    params: {bootstrap: 200}
""",
        "rubrics/base.yaml",
    )
    write_rubric(
        repo,
        """\
rubric: 1
name: team
extends: ../rubrics/base.yaml
checks:
  fairness.model:
    params: {min_group_size: 50}
    conditions:
      - {metric: disparate_impact, relative_to: baseline, max_regression: 0.02, direction: higher_is_better}
""",
        "policies/team.yaml",
    )
    write_rubric(repo, "rubric: 1\nname: sibling\nextends: team\n", "policies/sibling.yaml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    packaged = load_rubric("default")
    for path in (repo / "policies" / "team.yaml", repo / "policies" / "sibling.yaml"):
        rub = load_rubric(path)
        pol = rub.policy("fairness.model")
        # params merged down the chain: packaged defaults, then base, then team
        assert pol.params["bootstrap"] == 200 and pol.params["min_group_size"] == 50
        assert pol.params["confidence"] == packaged.policy("fairness.model").params["confidence"]
        # conditions replaced by the child; other checks inherited from the packaged default
        assert [c.text() for c in pol.conditions] == ["disparate_impact >= baseline - 0.02"]
        assert rub.policy("fairness.dataset").conditions == packaged.policy("fairness.dataset").conditions
    monkeypatch.chdir(repo)
    assert load_rubric("policies/team.yaml").name == "team"  # relative path from the repo root


def test_shipped_rubrics_load_and_validate() -> None:
    from trustaudit.checks import registry

    names = sorted(p.name for p in (ROOT / "rubrics").glob("*.yaml"))
    assert {"default.yaml", "strict.yaml", "four-fifths.yaml", "openness-minimum.yaml"} <= set(names)
    known = set(registry.available())
    for name in names:
        rub = load_rubric(ROOT / "rubrics" / name)
        assert rub.name == name[:-5]
        if set(rub.checks) <= known:
            validate_against_registry(rub)
    # the repo's default.yaml is the packaged default
    assert load_rubric(ROOT / "rubrics" / "default.yaml").checks == load_rubric("default").checks
    strict = load_rubric(ROOT / "rubrics" / "strict.yaml")
    relative = [c for c in strict.policy("fairness.model").conditions if c.relative_to]
    assert {c.metric for c in relative} == {"disparate_impact", "equal_opportunity_difference", "accuracy"}
