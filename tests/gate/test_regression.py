"""Noise-aware regression gating on real audits of the Adult predictions.

A real regression (30% of the favourable decisions for women withdrawn) is caught; sampling noise (two
disjoint halves of the evaluation data, audited with different seeds) and bootstrap noise (the same data,
different seeds) are not, even with no tolerance at all, while judging point estimates would fail on noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.gate.helpers import audit_predictions, write_rubric
from trustaudit.gate import gate
from trustaudit.gate.baseline import baseline_from_report
from trustaudit.results import Status

NO_TOLERANCE = """\
rubric: 1
name: no-regression
checks:
  fairness.model:
    conditions:
      - {metric: disparate_impact, relative_to: baseline, max_regression: 0.0, direction: higher_is_better,
         judge: JUDGE}
      - {metric: equal_opportunity_difference, abs: true, relative_to: baseline, max_regression: 0.0,
         judge: JUDGE}
      - {metric: selection_rate, relative_to: baseline, op: between, value: [0.0, 0.0], judge: JUDGE}
"""


@pytest.fixture(scope="module")
def rubrics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("rubrics")
    return {j: write_rubric(d, NO_TOLERANCE.replace("JUDGE", j), f"{j}.yaml") for j in ("interval", "value")}


@pytest.fixture(scope="module")
def full_audit(adult_predictions):
    return audit_predictions(adult_predictions, seed=0)


def test_real_regression_is_caught(adult_predictions, full_audit, rubrics) -> None:
    df = adult_predictions.copy()
    women_selected = np.flatnonzero((df["sex"] == "Female") & (df["pred_income"] == ">50K"))
    flip = np.random.default_rng(5).choice(women_selected, size=int(0.3 * len(women_selected)), replace=False)
    df.loc[flip, "pred_income"] = "<=50K"
    regressed = audit_predictions(df, seed=0)

    baseline = baseline_from_report(full_audit)
    result = gate(regressed, rubric=rubrics["interval"], baseline=baseline)
    assert result.exit_code == 1 and result.family_size > 20
    failed = {(f.metric, f.subject) for f in result.findings if f.status == Status.FAIL}
    assert ("disparate_impact", "sex: Female vs Male") in failed
    assert ("equal_opportunity_difference", "sex: Female vs Male") in failed
    assert ("selection_rate", "sex=Female") in failed
    # nothing about race or age moved beyond noise... except through the women in those groups
    assert all(s.startswith("sex") for _, s in failed)
    di = next(f for f in result.findings if f.status == Status.FAIL and f.metric == "disparate_impact")
    # the change is the difference of the two reports' values, and its interval excludes 0
    before = next(
        m
        for m in full_audit.check("fairness.model").metrics
        if m.name == "disparate_impact" and m.subject == di.subject
    )
    assert di.change == pytest.approx(di.observed - before.value)
    assert di.change_high < 0 and di.baseline_state == "new"


@pytest.mark.parametrize("split_seed", [1, 2, 3])
def test_sampling_noise_is_not_caught(adult_predictions, rubrics, split_seed: int) -> None:
    idx = np.random.default_rng(split_seed).permutation(len(adult_predictions))
    half = len(idx) // 2
    first = audit_predictions(adult_predictions.iloc[idx[:half]], seed=0)
    second = audit_predictions(adult_predictions.iloc[idx[half:]], seed=1)
    baseline = baseline_from_report(first)
    noise_aware = gate(second, rubric=rubrics["interval"], baseline=baseline)
    assert noise_aware.exit_code == 0, noise_aware.reasons()
    assert noise_aware.family_size > 20
    judged = [f for f in noise_aware.findings if f.change is not None]
    assert judged and all(f.change != 0 for f in judged)  # the halves do differ
    # judging the point estimates instead fails the same comparison on noise alone
    naive = gate(second, rubric=rubrics["value"], baseline=baseline)
    assert naive.exit_code == 1


def test_another_seed_is_not_caught(adult_predictions, full_audit, rubrics) -> None:
    """Re-auditing the same data with another seed is no regression. (Fairness intervals are formula intervals
    since issue 15, so they do not move with the seed at all; the gate must not flag the same values.)"""
    other_seed = audit_predictions(adult_predictions, seed=123)
    di = [m for m in other_seed.check("fairness.model").metrics if m.name == "disparate_impact" and m.ci]
    di0 = {m.subject: m for m in full_audit.check("fairness.model").metrics if m.name == "disparate_impact"}
    assert di and all(m.ci == di0[m.subject].ci for m in di)  # same data, same intervals, whatever the seed
    result = gate(other_seed, rubric=rubrics["interval"], baseline=baseline_from_report(full_audit))
    assert result.exit_code == 0
    assert all(f.change == 0 for f in result.findings if f.change is not None)
