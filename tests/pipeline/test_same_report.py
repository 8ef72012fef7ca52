"""One report per bundle and seed (issue 15): the same bundle and seed give the same report.json, apart from
report_id, timestamps and durations, run after run, with the clock made slow, serial or on a local process pool.
(Dask and the service are compared with a local audit in tests/service/test_dask_executor.py and
tests/pipeline/test_entry_points.py.)"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from trustaudit.api import audit
from trustaudit.scale import comparable

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "sample_models" / "german-credit"
# every default check, a smaller SHAP sample to keep the test short (the sizes are parameters, not clocks)
PARAMS = {"explainability.shap": {"rows": 120}, "explainability.protected_reliance": {"rows": 120}}


@pytest.fixture(scope="module")
def reference():
    return audit(BUNDLE, seed=0, params=PARAMS)


def _same(a, b) -> None:
    ca, cb = comparable(a), comparable(b)
    for x, y in zip(ca["checks"], cb["checks"]):
        assert x == y, f"{x['check_id']} differs"
    assert ca == cb


def test_every_default_check_ran(reference):
    assert {c.check_id for c in reference.checks} >= {
        "fairness.model", "robustness.adversarial", "robustness.noise", "explainability.shap",
        "lineage.reproducibility"}
    assert all(c.status.value != "error" for c in reference.checks), [c.error for c in reference.checks if c.error]


def test_twice_in_a_row(reference):
    _same(audit(BUNDLE, seed=0, params=PARAMS), reference)


def test_with_the_clock_made_slow(reference, monkeypatch):
    """Every clock the checks can read runs 8x fast: an audit of ~1 minute looks like ~8 minutes to them, so any
    decision taken on elapsed time (a pilot fit's projection, a per-check time budget below the 600 s safety stop)
    would change what is computed. Nothing may change."""
    real_perf, real_mono, real_time = time.perf_counter, time.monotonic, time.time
    t0p, t0m, t0t = real_perf(), real_mono(), real_time()
    monkeypatch.setattr(time, "perf_counter", lambda: t0p + 8 * (real_perf() - t0p))
    monkeypatch.setattr(time, "monotonic", lambda: t0m + 8 * (real_mono() - t0m))
    monkeypatch.setattr(time, "time", lambda: t0t + 8 * (real_time() - t0t))
    slow = audit(BUNDLE, seed=0, params=PARAMS)
    monkeypatch.undo()
    _same(slow, reference)


def test_on_a_local_process_pool(reference):
    _same(audit(BUNDLE, seed=0, params=PARAMS, executor="local", workers=2), reference)
