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


def test_refit_skipped_over_time_budget(samples_dir):
    res = run(samples_dir / "german-credit", [CHECK],
              params={CHECK: {"refit_time_budget_s": 1e-6, "pilot_rows": 100, "sample_size": 50}}).check(CHECK)
    reason = res.evidence["refit"]["skipped"]
    assert reason.startswith("a pilot fit on 100 rows projects") and "refit_time_budget_s" in reason


def test_onnx_reloads_but_is_not_refitted(samples_dir):
    res = run(samples_dir / "adult-income-logreg-onnx", [CHECK], params={CHECK: {"sample_size": 200}}).check(CHECK)
    assert metric(res, "reload_max_abs_diff").value == 0.0
    assert "not a scikit-learn estimator" in res.evidence["refit"]["skipped"]
    assert res.status == Status.PASS


def test_predictions_only_is_skipped(samples_dir):
    res = run(samples_dir / "adult-income-predictions", [CHECK], load_model=False).check(CHECK)
    assert res.status == Status.SKIPPED
