"""lineage.reproducibility: reload twice; refit a clone with fixed random_state on the training data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.lineage.conftest import metric, run
from trustaudit.results import Status

CHECK = "lineage.reproducibility"


@pytest.fixture(scope="module")
def german_report(samples_dir):
    return run(samples_dir / "german-credit", [CHECK])


def test_german_reloads_and_refits_identically(german_report, samples_dir):
    res = german_report.check(CHECK)
    assert res.status == Status.PASS, res.summary
    reload = metric(res, "reload_label_agreement")
    assert reload.value == 1.0 and reload.n == 300 and metric(res, "reload_max_abs_diff").value == 0.0
    refit = metric(res, "refit_label_agreement")
    assert refit.value == 1.0 and refit.n == 300 and metric(res, "refit_max_abs_diff").value == 0.0
    assert refit.ci is not None and refit.ci.method == "wilson" and refit.ci.low == pytest.approx(1 - 0.0126, abs=1e-3)


def test_refit_by_hand_agrees(samples_dir):
    """What the check does, done directly: clone + fit on train.csv.gz reproduces predict_proba exactly."""
    import skops.io as sio
    from sklearn.base import clone

    b = samples_dir / "german-credit"
    model = sio.load(b / "model.skops", trusted=sio.get_untrusted_types(file=b / "model.skops"))
    tr, ev = pd.read_csv(b / "data/train.csv.gz"), pd.read_csv(b / "data/eval.csv.gz")
    refit = clone(model).fit(tr.drop(columns="credit"), tr["credit"])
    X = ev.drop(columns="credit")
    assert np.array_equal(refit.predict_proba(X), model.predict_proba(X))


def test_refit_skipped_without_fixed_random_state():
    from sklearn.ensemble import RandomForestClassifier

    from tests.conftest import make_synthetic
    from trustaudit.api import in_memory_bundle

    df = make_synthetic(400, seed=3)
    X = df[["income", "debt", "age"]]
    clf = RandomForestClassifier(n_estimators=10, random_state=None).fit(X, df["approved"])
    data = df[["income", "debt", "age", "approved"]]
    b = in_memory_bundle(clf, data, label="approved", favorable_label="yes", protected={},
                         features=["income", "debt", "age"], training_data=data)
    res = run(b, [CHECK]).check(CHECK)
    assert "random_state is not fixed (random_state=None)" in res.evidence["refit"]["skipped"]
    assert metric(res, "reload_label_agreement").value == 1.0  # in memory: predicted twice
    assert [c.status for c in res.conditions if c.metric == "refit_label_agreement"] == [Status.SKIPPED]


def test_refit_decided_by_work_not_by_the_clock(samples_dir):
    """Over refit_max_work the refit is skipped with the count as the reason; the same on every run."""
    from trustaudit.checks.lineage.reproducibility import refit_work

    # german-credit: RandomForest(n_estimators=200) on 700 training rows x 21 input columns
    params = {CHECK: {"refit_max_work": 1e6, "sample_size": 50}}
    res = run(samples_dir / "german-credit", [CHECK], params=params).check(CHECK)
    reason = res.evidence["refit"]["skipped"]
    assert reason == "refit work 700 rows x 21 columns x 200 iterations = 2.94e+06 is over refit_max_work = 1e+06"
    m = metric(res, "refit_label_agreement")
    assert m.value is None and not m.judged and m.note == f"refit skipped: {reason}"
    assert [c.status for c in res.conditions if c.metric == "refit_label_agreement"] == [Status.SKIPPED]

    class Iters:
        def get_params(self, deep=True):
            return {"clf__max_iter": 300, "clf__n_estimators": 50, "scaler__copy": True, "verbose": 0}

    assert refit_work(Iters(), 1000, 10) == (1000 * 10 * 300, 300)


def test_refit_past_the_safety_stop_is_not_judged(samples_dir):
    """The wall-clock cap decides nothing: a refit that ran past it is reported, every refit metric not judged."""
    res = run(samples_dir / "german-credit", [CHECK],
              params={CHECK: {"refit_time_budget_s": 1e-6, "sample_size": 50}}).check(CHECK)
    ev = res.evidence["refit"]
    assert ev["stopped_early"] and ev["rows_compared"] == 300 and ev["fit_elapsed_s"] >= 0
    for name in ("refit_label_agreement", "refit_max_abs_diff"):
        m = metric(res, name)
        assert m.value is not None and not m.judged
        assert m.note.startswith("not judged: stopped early after ") and "refit_time_budget_s" in m.note
    assert any("safety stop" in w for w in res.warnings)
    assert metric(res, "reload_label_agreement").judged
    # only timings are wall-clock figures
    assert [k for k in ev if k.endswith("_s")] == ["fit_elapsed_s"]


def test_onnx_reloads_but_is_not_refitted(samples_dir):
    res = run(samples_dir / "adult-income-logreg-onnx", [CHECK], params={CHECK: {"sample_size": 200}}).check(CHECK)
    assert metric(res, "reload_max_abs_diff").value == 0.0
    assert "not a scikit-learn estimator" in res.evidence["refit"]["skipped"]
    assert res.status == Status.PASS


def test_predictions_only_is_skipped(samples_dir):
    res = run(samples_dir / "adult-income-predictions", [CHECK], load_model=False).check(CHECK)
    assert res.status == Status.SKIPPED
