"""Row-parallel work inside an audit: ``audit(executor=...)`` splits the SHAP values of the sampled rows across
the executor's workers, and the report is the same as in one process."""

from __future__ import annotations

import numpy as np
import pytest

from tests.scale.conftest import SAMPLES
from trustaudit.api import audit
from trustaudit.scale import comparable

PARAMS = {"explainability.shap": {"rows": 600, "background": 100, "bootstrap": 100, "plots": False}}


@pytest.fixture(scope="module")
def serial_report():
    return audit(SAMPLES / "adult-income-hgb", checks=["explainability.shap"], params=PARAMS, seed=3)


def _values(report):
    res = report.checks[0]
    assert res.status.value in ("pass", "warn", "fail"), res.error
    return {(m.name, m.subject): m.value for m in res.metrics}


def test_shap_split_across_local_workers_equals_one_process(serial_report, monkeypatch):
    import trustaudit.executors as executors

    calls: list[int] = []
    real_map = executors.map_rows

    def spy(fn, rows, **kw):
        calls.append(len(rows))
        out = real_map(fn, rows, **kw)
        assert kw["chunk_rows"] == 300  # two workers, 600 rows
        return out

    monkeypatch.setattr(executors, "map_rows", spy)
    report = audit(SAMPLES / "adult-income-hgb", checks=["explainability.shap"], params=PARAMS, seed=3,
                   executor="local", workers=2)
    assert calls == [600]  # one split call: each explained row carries its own background draw
    assert comparable(report) == comparable(serial_report)
    assert _values(report) == _values(serial_report)
    assert any(np.isfinite(v) and v > 0 for v in _values(report).values())


def test_shap_split_on_dask_equals_one_process(serial_report, dask_spec):
    report = audit(SAMPLES / "adult-income-hgb", checks=["explainability.shap"], params=PARAMS, seed=3,
                   executor=dask_spec)
    assert comparable(report) == comparable(serial_report)


def test_small_samples_stay_in_process(monkeypatch):
    import trustaudit.executors as executors

    def fail(*a, **k):  # pragma: no cover - the assertion is that it is not called
        raise AssertionError("map_rows called for a small sample")

    monkeypatch.setattr(executors, "map_rows", fail)
    small = {"explainability.shap": {**PARAMS["explainability.shap"], "rows": 300}}
    report = audit(SAMPLES / "adult-income-hgb", checks=["explainability.shap"], params=small, seed=3,
                   executor="serial")
    assert report.checks[0].status.value != "error", report.checks[0].error


# -- black-box attack rows ----------------------------------------------------------------------------------------

ATTACK = {"robustness.adversarial": {"method": "blackbox", "n_blackbox": 80, "hsj_max_iter": 3,
                                     "max_queries": 400, "time_budget_s": 300}}


def test_blackbox_attack_split_across_local_workers_equals_one_process(monkeypatch):
    import trustaudit.executors as executors

    serial = audit(SAMPLES / "german-credit", checks=["robustness.adversarial"], params=ATTACK, seed=1)
    res = serial.checks[0]
    assert res.status.value != "error", res.error
    assert sum(res.evidence["row_status"].values()) >= 2 * 16  # enough rows to split
    calls: list[int] = []
    real_map = executors.map_rows

    def spy(fn, rows, **kw):
        calls.append(len(rows))
        return real_map(fn, rows, **kw)

    monkeypatch.setattr(executors, "map_rows", spy)
    split = audit(SAMPLES / "german-credit", checks=["robustness.adversarial"], params=ATTACK, seed=1,
                  executor="local", workers=2)
    assert calls == [80]
    assert comparable(split) == comparable(serial)
    assert res.evidence["queries_total"] > 0
