"""Stable verdicts (issue 15): a condition judged too close to its bound is re-judged on a wider sample."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
from pydantic import Field

from trustaudit.api import _judge, _run_check, in_memory_bundle, widen_if_seed_sensitive
from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec
from trustaudit.context import AuditContext
from trustaudit.results import ConditionResult, ConditionSpec, Interval, Status
from trustaudit.rubrics import CheckPolicy, Condition, Rubric, seed_sensitive
from trustaudit.stats import rate_metric

from ..conftest import make_synthetic


def _cond(op: str, bound: Any, observed: float, lo: float, hi: float, judge: str = "interval",
          abs_: bool = False, status: Status = Status.PASS) -> ConditionResult:
    spec = ConditionSpec(metric="m", op=op, value=None if op == "between" else bound,
                         low=bound[0] if op == "between" else None, high=bound[1] if op == "between" else None,
                         abs=abs_, judge=judge)
    return ConditionResult(condition="c", metric="m", severity="fail", status=status, observed=observed,
                           ci=Interval(low=lo, high=hi, method="t"), judge=judge, message="", spec=spec)


# se = (hi - lo) / (2 * 1.96); the margin is 2 se
@pytest.mark.parametrize(("cond", "expected"), [
    # interval [0.06, 0.0996]: se 0.0101, upper edge 0.0004 below the bound 0.1 -> a seed may cross it
    (_cond("<=", 0.1, 0.08, 0.0604, 0.0996), True),
    # same width, upper edge 0.05 below the bound: far
    (_cond("<=", 0.1, 0.03, 0.0104, 0.0496), False),
    # the lower edge near a ">=" bound
    (_cond(">=", 0.8, 0.85, 0.805, 0.895), True),
    (_cond(">=", 0.8, 0.95, 0.905, 0.995), False),
    # judged by value: the estimate, not the edges, decides
    (_cond(">=", 0.8, 0.95, 0.85, 1.05, judge="value"), False),
    (_cond(">=", 0.8, 0.95, 0.85, 1.05), True),
    (_cond(">=", 0.8, 0.81, 0.70, 0.92, judge="value"), True),
    # abs: [-0.1182, -0.0772] is |.| in [0.0772, 0.1182], the bound 0.1 inside: near
    (_cond("<=", 0.1, -0.0996, -0.1182, -0.0772, abs_=True, status=Status.WARN), True),
    (_cond("between", [0.8, 1.25], 1.0, 0.95, 1.05), False),
    (_cond("between", [0.8, 1.25], 1.2, 1.15, 1.26), True),
    # not judged, or without an interval width: not assessed
    (_cond("<=", 0.1, 0.08, 0.0604, 0.0996, status=Status.SKIPPED), False),
    (_cond("<=", 0.1, 0.1, 0.1, 0.1), False),
])
def test_seed_sensitive(cond, expected):
    assert seed_sensitive(cond) is expected


class _RateParams(CheckParams):
    n: int = Field(200, ge=10)


class _SampledRate(Check):
    """The share of approved rows on a seeded sample of n rows (a stand-in for any sampled check)."""

    id = "test.sampled_rate"
    category = "test"
    title = "Sampled rate"
    Params = _RateParams
    metrics: ClassVar[tuple[MetricSpec, ...]] = (MetricSpec("rate", "share of favourable labels"),)
    grows = True

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        idx = ctx.sample(params.n, "rate", stratify=False)
        k = int(ctx.y_true[idx].sum())
        return CheckOutput(metrics=[rate_metric("rate", k, len(idx))])

    def widened(self, ctx: AuditContext, params: Any) -> dict[str, Any] | None:
        return {"n": ctx.n_rows} if self.grows and params.n < ctx.n_rows else None


class _FixedRate(_SampledRate):
    grows = False


@pytest.fixture(scope="module")
def ctx():
    df = make_synthetic(4000, seed=5)
    b = in_memory_bundle(None, df.assign(pred=df["approved"]), label="approved", favorable_label="yes",
                         protected={"sex": ["male"]}, prediction="pred")
    return AuditContext(b, seed=0)


def _rubric(cid: str, bound: float) -> Rubric:
    return Rubric(rubric=1, name="t", checks={cid: CheckPolicy(
        conditions=[Condition(metric="rate", op="<=", value=bound, severity="fail")])})


def _first(cls: type[Check], ctx: AuditContext, rub: Rubric):
    return _judge(_run_check(cls, ctx, {}), rub)


def test_a_verdict_near_its_bound_is_rejudged_on_every_row(ctx):
    first = _run_check(_SampledRate, ctx, {}).metrics[0]
    assert first.n == 200 and first.ci is not None
    rub = _rubric(_SampledRate.id, first.ci.high + 0.005)  # the upper edge just below the bound
    res = widen_if_seed_sensitive(_SampledRate, ctx, {}, _first(_SampledRate, ctx, rub), rub)
    m = res.metrics[0]
    population = float(np.mean(ctx.y_true))
    assert m.n == ctx.n_rows == 4000 and m.value == pytest.approx(population, abs=1e-12)
    assert res.params["n"] == 4000 and res.evidence["widened"]["params"] == {"n": 4000}
    assert res.evidence["widened"]["first_status"] == "pass"
    assert any("re-run on a wider sample (n=4000)" in w for w in res.warnings)
    # the wider result is judged: its verdict is the rubric's on every row
    assert res.status == (Status.PASS if m.ci.high <= rub.checks[_SampledRate.id].conditions[0].value
                          else Status.WARN if m.ci.low <= rub.checks[_SampledRate.id].conditions[0].value
                          else Status.FAIL)


def test_a_verdict_far_from_its_bound_keeps_its_sample(ctx):
    rub = _rubric(_SampledRate.id, 0.99)
    first = _first(_SampledRate, ctx, rub)
    res = widen_if_seed_sensitive(_SampledRate, ctx, {}, first, rub)
    assert res is first and res.metrics[0].n == 200 and "widened" not in res.evidence


def test_a_check_that_cannot_grow_says_its_verdict_is_seed_sensitive(ctx):
    first_m = _run_check(_FixedRate, ctx, {}).metrics[0]
    rub = _rubric(_FixedRate.id, first_m.ci.high + 0.005)
    res = widen_if_seed_sensitive(_FixedRate, ctx, {}, _first(_FixedRate, ctx, rub), rub)
    assert res.metrics[0].n == 200 and "widened" not in res.evidence
    assert any(w.startswith("seed-sensitive: rate <= ") and "cannot use more rows" in w for w in res.warnings)


def test_no_rerun_when_the_checks_status_cannot_change(ctx):
    """A far condition already fails: the near one (pass or warn) cannot change the check's status."""
    first_m = _run_check(_SampledRate, ctx, {}).metrics[0]
    rub = Rubric(rubric=1, name="t", checks={_SampledRate.id: CheckPolicy(conditions=[
        Condition(metric="rate", op="<=", value=first_m.ci.high + 0.005, severity="warn"),
        Condition(metric="rate", op=">=", value=0.99, severity="fail")])})
    first = _first(_SampledRate, ctx, rub)
    assert first.status == Status.FAIL
    res = widen_if_seed_sensitive(_SampledRate, ctx, {}, first, rub)
    assert res.metrics[0].n == 200 and "widened" not in res.evidence
    assert any("the check's status (fail) does not depend on it" in w for w in res.warnings)
