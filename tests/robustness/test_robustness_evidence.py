"""Evidence that holds (issue 15): work budgets instead of clocks, enough rows behind every judged rate, intervals
that contain their values, the same results whatever the clock, the run or the executor."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.robustness.conftest import SAMPLES
from trustaudit.checks.robustness.adversarial import AdversarialParams, AdversarialRobustnessCheck, attack
from trustaudit.checks.robustness.noise import NoiseParams, NoiseRobustnessCheck
from trustaudit.checks.robustness.privacy import MembershipInferenceCheck, MembershipParams
from trustaudit.checks.robustness.stats import max_half_width, rows_for_half_width, wilson

#: Rates whose 95% interval the defaults must keep within +-0.05 (the judged overall rates of each check).
JUDGED_RATES = {"clean_accuracy", "adversarial_accuracy", "attack_success_rate", "attack_found_rate", "flip_rate",
                "categorical_flip_rate", "membership_inference_accuracy", "membership_tpr", "membership_fpr",
                "membership_advantage", "train_accuracy", "eval_accuracy"}


class SlowClock:
    """A perf_counter that advances ``step`` seconds at every call: a machine that is very slow, or very busy."""

    def __init__(self, step: float) -> None:
        self.t = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def _dump(metrics):
    return [m.model_dump() for m in metrics]


def _half(m) -> float:
    return (m.ci.high - m.ci.low) / 2.0


CHECKS = {
    "adversarial-search": (AdversarialRobustnessCheck, AdversarialParams, "hgb", {"n_samples": 120}),
    "adversarial-gradient": (AdversarialRobustnessCheck, AdversarialParams, "logreg", {"n_samples": 200}),
    "noise": (NoiseRobustnessCheck, NoiseParams, "logreg", {"n_samples": 300}),
    "membership": (MembershipInferenceCheck, MembershipParams, "hgb", {"n_samples": 300}),
}


@pytest.mark.parametrize("case", sorted(CHECKS))
def test_slow_clock_changes_nothing_but_the_safety_stop(case, synthetic, monkeypatch):
    """What a check computes is a count fixed by its parameters and the seed: a clock that runs 5 s per reading
    (a run of hundreds of 'seconds') gives the very same metrics; only the safety stop looks at the clock, and a
    clock fast enough to reach it makes every metric 'not judged' with the reason."""
    cls, params, kind, kw = CHECKS[case]
    ctx, _ = synthetic(kind)
    normal = cls().run(ctx, params(**kw))
    assert not normal.evidence["stopped_early"]
    clock = SlowClock(5.0)
    monkeypatch.setattr(time, "perf_counter", clock)
    monkeypatch.setattr(time, "monotonic", clock)
    slow = cls().run(ctx, params(**kw))
    assert clock.t > 1000.0 + 5.0  # the clock was read
    assert _dump(slow.metrics) == _dump(normal.metrics)
    assert not slow.evidence["stopped_early"] and not any("stopped early" in w for w in slow.warnings)
    # a clock that jumps past the (default, 600 s) safety stop at every reading
    monkeypatch.setattr(time, "perf_counter", SlowClock(1000.0))
    stopped = cls().run(ctx, params(**kw))
    assert stopped.evidence["stopped_early"] is True
    assert stopped.metrics and all(not m.judged for m in stopped.metrics)
    assert all(m.note.startswith("not judged: stopped early after ") and "(time_budget_s=600)" in m.note
               for m in stopped.metrics)
    assert any(w.startswith("stopped early after ") for w in stopped.warnings)


def test_rows_for_half_width_is_the_smallest_n():
    for h in (0.1, 0.05, 0.025):
        n = rows_for_half_width(h)
        lo, hi = wilson(n // 2, n)
        assert (hi - lo) / 2 <= h + 1e-12
        lo, hi = wilson((n - 1) // 2, n - 1)
        assert (hi - lo) / 2 > h
        # the widest interval is at k/n = 1/2
        assert max((wilson(k, n)[1] - wilson(k, n)[0]) / 2 for k in range(n + 1)) <= max_half_width(n) + 1e-12
    assert rows_for_half_width(0.05) == 381


@pytest.fixture(scope="module")
def hgb_default():
    """The default robustness.adversarial run (seeded) on the HGB sample bundle: the batched search."""
    from trustaudit.bundle.loader import load_bundle
    from trustaudit.context import AuditContext

    ctx = AuditContext(load_bundle(SAMPLES / "adult-income-hgb"), seed=0)
    return ctx, AdversarialRobustnessCheck().run(ctx, AdversarialParams())


def test_default_sample_gives_narrow_intervals(hgb_default):
    """With default parameters the attacked (correctly classified) rows are enough for a +-0.05 interval on every
    attack success rate whatever its value, and every judged overall rate is that narrow."""
    _, out = hgb_default
    ev = out.evidence
    assert ev["method"] == "search"
    assert ev["n_correct"] >= rows_for_half_width(0.05) == 381
    assert ev["n_correct"] >= ev["rows_needed"] == rows_for_half_width(AdversarialParams().target_half_width)
    assert ev["max_half_width"] <= 0.05
    rates = [m for m in out.metrics if m.name in JUDGED_RATES]
    assert {m.name for m in rates} >= {"attack_success_rate", "adversarial_accuracy", "clean_accuracy"}
    for m in rates:
        assert m.judged and _half(m) <= 0.05, (m.name, m.subject, _half(m))
    asr = [m for m in out.metrics if m.name == "attack_success_rate"]
    assert len(asr) == len(AdversarialParams().budgets) and all(m.n == ev["n_correct"] for m in asr)
    assert not out.warnings


def test_every_interval_contains_its_value(hgb_default, synthetic):
    outs = [hgb_default[1]]
    ctx, _ = synthetic("logreg")
    outs.append(NoiseRobustnessCheck().run(ctx, NoiseParams(n_samples=300)))
    outs.append(MembershipInferenceCheck().run(ctx, MembershipParams(n_samples=300)))
    outs.append(AdversarialRobustnessCheck().run(ctx, AdversarialParams(n_samples=200)))
    seen = 0
    for out in outs:
        for m in out.metrics:
            if m.ci is None or m.value is None:
                continue
            seen += 1
            assert m.ci.low - 1e-12 <= m.value <= m.ci.high + 1e-12, (m.name, m.subject, m.value, m.ci)
            assert m.ci.level == 0.95
    assert seen > 40


def test_same_results_on_a_second_run(hgb_default):
    """Same bundle and seed: the same metrics, tables and evidence (timings aside)."""
    _, first = hgb_default
    from trustaudit.bundle.loader import load_bundle
    from trustaudit.context import AuditContext

    again = AdversarialRobustnessCheck().run(AuditContext(load_bundle(SAMPLES / "adult-income-hgb"), seed=0),
                                             AdversarialParams())
    assert _dump(again.metrics) == _dump(first.metrics)
    assert [t.model_dump() for t in again.tables] == [t.model_dump() for t in first.tables]

    def strip(ev):
        return {k: v for k, v in ev.items() if not k.endswith("elapsed_s")}

    assert strip(again.evidence) == strip(first.evidence)


def _without_timings(report):
    data = report.model_dump(mode="json")
    out = []
    for c in data["checks"]:
        c.pop("duration_s", None)
        c["evidence"] = {k: v for k, v in (c.get("evidence") or {}).items() if not k.endswith("elapsed_s")}
        out.append(c)
    return out


def test_serial_and_local_executor_give_the_same_report():
    """The robustness checks on german-credit (every row attacked) in one process and with the local executor
    (two workers): identical results."""
    from trustaudit.api import audit

    checks = ["robustness.adversarial", "robustness.noise", "robustness.membership_inference"]
    serial = audit(SAMPLES / "german-credit", checks=checks, seed=3)
    local = audit(SAMPLES / "german-credit", checks=checks, seed=3, executor="local", workers=2)
    assert all(c.status.value != "error" for c in serial.checks), [c.error for c in serial.checks]
    assert _without_timings(local) == _without_timings(serial)


def test_search_finds_what_fgsm_finds_on_a_linear_model(adult):
    """The ONNX sample is the logistic regression exported, scored through ONNX Runtime: the black-box search on
    it breaks exactly the rows that white-box FGSM + PGD break on the scikit-learn model, at every budget (on a
    linear model the best corner of the box is the optimal L-infinity attack)."""
    p = AdversarialParams(n_samples=400, target_half_width=None)
    white = attack(adult("adult-income-logreg"), p)
    black = attack(adult("adult-income-logreg-onnx"), p)
    assert (white.method, black.method) == ("gradient", "search")
    assert np.array_equal(white.idx, black.idx) and np.array_equal(white.correct, black.correct)
    for b in p.budgets:
        assert np.array_equal(white.result.broken[b], black.result.broken[b]), b
    assert white.result.broken[1.0].sum() > 50
