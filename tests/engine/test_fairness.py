"""Fairness metrics: aif360 point estimates cross-checked against fairlearn and hand computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

from trustaudit.bundle import load_bundle
from trustaudit.checks.fairness import _bgti, _cells, differences, rates, theil_from_cells
from trustaudit.context import AuditContext
from trustaudit.results import Status


def _metric(report, check, name, subject):
    for m in report.check(check).metrics:
        if m.name == name and m.subject == subject:
            return m
    raise KeyError((name, subject))


@pytest.fixture(scope="module")
def hgb_ctx(samples_dir):
    return AuditContext(load_bundle(samples_dir / "adult-income-hgb"))


def test_sex_metrics_match_fairlearn(hgb_report, hgb_ctx):
    y, yhat = hgb_ctx.y_true, hgb_ctx.y_pred
    sex = hgb_ctx.data["sex"].astype(str).to_numpy()
    dpd = demographic_parity_difference(y, yhat, sensitive_features=sex)
    dpr = demographic_parity_ratio(y, yhat, sensitive_features=sex)
    eod = equal_opportunity_difference(y, yhat, sensitive_features=sex)
    subject = "sex: Female vs Male"
    spd = _metric(hgb_report, "fairness.model", "statistical_parity_difference", subject)
    di = _metric(hgb_report, "fairness.model", "disparate_impact", subject)
    eo = _metric(hgb_report, "fairness.model", "equal_opportunity_difference", subject)
    # fairlearn reports absolute differences / min-over-max ratios; ours are signed unpriv - priv
    assert abs(spd.value) == pytest.approx(dpd, abs=1e-12)
    assert di.value == pytest.approx(dpr, abs=1e-12)
    assert abs(eo.value) == pytest.approx(eod, abs=1e-12)
    assert spd.value < 0  # women are selected less often by this model
    mf = MetricFrame(metrics={"sr": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
                     y_true=y, y_pred=yhat, sensitive_features=sex)
    for group in ("Male", "Female"):
        for ours, theirs in (("selection_rate", "sr"), ("tpr", "tpr"), ("fpr", "fpr")):
            m = _metric(hgb_report, "fairness.model", ours, f"sex={group}")
            assert m.value == pytest.approx(mf.by_group.loc[group, theirs], abs=1e-12)
            assert m.ci is not None and m.ci.low <= m.value <= m.ci.high


def test_threshold_attribute_and_group_sizes(hgb_report, hgb_ctx):
    age = hgb_ctx.data["age"].to_numpy()
    young = _metric(hgb_report, "fairness.model", "group_size", "age=age < 25")
    old = _metric(hgb_report, "fairness.model", "group_size", "age=age >= 25")
    assert young.value == (age < 25).sum() and old.value == (age >= 25).sum()
    sr = _metric(hgb_report, "fairness.model", "selection_rate", "age=age < 25")
    assert sr.value == pytest.approx(hgb_ctx.y_pred[age < 25].mean(), abs=1e-12)


def test_intersections_and_per_value_groups(hgb_report, hgb_ctx):
    d = hgb_ctx.data
    mask_u = (d["sex"] == "Female").to_numpy() & (d["race"] != "White").to_numpy()
    mask_p = (d["sex"] == "Male").to_numpy() & (d["race"] == "White").to_numpy()
    yhat = hgb_ctx.y_pred
    m = _metric(hgb_report, "fairness.model", "disparate_impact", "sex*race: Female & not White vs Male & White")
    assert m.value == pytest.approx(yhat[mask_u].mean() / yhat[mask_p].mean(), abs=1e-12)
    black = _metric(hgb_report, "fairness.model", "selection_rate", "race=Black")
    assert black.value == pytest.approx(yhat[(d["race"] == "Black").to_numpy()].mean(), abs=1e-12)


def test_dataset_level_base_rates(hgb_report, hgb_ctx):
    y = hgb_ctx.y_true
    female = (hgb_ctx.data["sex"] == "Female").to_numpy()
    m = _metric(hgb_report, "fairness.dataset", "base_rate", "sex=Female")
    assert m.value == pytest.approx(y[female].mean(), abs=1e-12)
    di = _metric(hgb_report, "fairness.dataset", "label_disparate_impact", "sex: Female vs Male")
    assert di.value == pytest.approx(y[female].mean() / y[~female].mean(), abs=1e-12)


def test_theil_index_matches_hand_computation(hgb_report, hgb_ctx):
    b = hgb_ctx.y_pred.astype(float) - hgb_ctx.y_true + 1
    mu = b.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(b > 0, (b / mu) * np.log(b / mu), 0.0)
    expected = terms.mean()
    m = _metric(hgb_report, "fairness.model", "theil_index", "all rows")
    assert m.value == pytest.approx(expected, abs=1e-12)


def test_cell_formulas_agree_with_point_estimates(hgb_report, hgb_ctx):
    """The bootstrap's count-based formulas give aif360's numbers on the observed counts."""
    y, yhat = hgb_ctx.y_true, hgb_ctx.y_pred
    codes = np.where(hgb_ctx.protected["sex"].privileged, 1, 0).astype(np.int8)
    c = _cells(codes, y, yhat)
    u = rates(*(c[1 + j : 2 + j] for j in range(4)))
    p = rates(*(c[5 + j : 6 + j] for j in range(4)))
    d = differences(u, p)
    for name, arr in d.items():
        assert _metric(hgb_report, "fairness.model", name, "sex: Female vs Male").value == pytest.approx(
            float(arr[0]), abs=1e-12)
    conf = np.array([c[1] + c[5], c[2] + c[6], c[3] + c[7], c[4] + c[8]])
    assert float(theil_from_cells(*(conf[j : j + 1] for j in range(4)))[0]) == pytest.approx(
        _metric(hgb_report, "fairness.model", "theil_index", "all rows").value, abs=1e-12)
    bgti = _metric(hgb_report, "fairness.model", "between_group_theil_index", "sex: Female vs Male")
    assert float(_bgti(c.reshape(1, -1))[0]) == pytest.approx(bgti.value, abs=1e-12)


def test_bootstrap_multinomial_equals_row_resampling():
    """Drawing cell counts from a multinomial is the row bootstrap: compare the two distributions."""
    rng = np.random.default_rng(1)
    n = 3000
    codes = rng.integers(0, 2, n).astype(np.int8)
    y = rng.integers(0, 2, n)
    yhat = (rng.random(n) < 0.3 + 0.2 * codes).astype(int)
    counts = _cells(codes, y, yhat)
    draws = rng.multinomial(n, counts / n, size=4000)
    u = rates(*(draws[:, 1 + j] for j in range(4)))
    p = rates(*(draws[:, 5 + j] for j in range(4)))
    spd_fast = u["selection_rate"] - p["selection_rate"]
    spd_rows = []
    for _ in range(4000):
        idx = rng.integers(0, n, n)
        cc, yy = codes[idx], yhat[idx]
        spd_rows.append(yy[cc == 0].mean() - yy[cc == 1].mean())
    assert np.std(spd_fast) == pytest.approx(np.std(spd_rows), rel=0.08)
    assert np.mean(spd_fast) == pytest.approx(np.mean(spd_rows), abs=0.002)


def test_small_groups_are_reported_not_judged(synthetic_bundle):
    from trustaudit.api import audit

    d = synthetic_bundle(n=400)
    df = pd.read_csv(d / "data" / "eval.csv")
    young = int((df["age"] < 25).sum())
    report = audit(d, checks=["fairness.model"], params={"fairness.model": {"min_group_size": young + 1,
                                                                            "bootstrap": 100}})
    m = _metric(report, "fairness.model", "disparate_impact", "age: age < 25 vs age >= 25")
    assert not m.judged
    conds = [c for c in report.check("fairness.model").conditions if c.subject == m.subject]
    assert conds and all(c.status == Status.SKIPPED for c in conds)


def test_same_seed_same_numbers_and_different_seed_different_intervals(synthetic_bundle):
    from trustaudit.api import audit

    d = synthetic_bundle(n=800)
    params = {"fairness.model": {"bootstrap": 300}}
    a = audit(d, checks=["fairness.model"], params=params, seed=1)
    b = audit(d, checks=["fairness.model"], params=params, seed=1)
    c = audit(d, checks=["fairness.model"], params=params, seed=2)
    ma, mb, mc = (r.check("fairness.model").metrics for r in (a, b, c))
    assert [m.model_dump() for m in ma] == [m.model_dump() for m in mb]
    assert [m.value for m in ma] == [m.value for m in mc]
    assert any(x.ci != y.ci for x, y in zip(ma, mc) if x.ci is not None)


def test_metric_without_a_defined_interval_is_not_judged():
    """A difference whose bootstrap is undefined in >10% of resamples is reported, not judged on its point."""
    from sklearn.linear_model import LogisticRegression

    from tests.conftest import make_synthetic
    from trustaudit.api import audit

    df = make_synthetic(600, seed=4)
    df["group"] = "a"
    df.loc[:2, "group"] = "b"  # three rows: TPR of group b is undefined in most resamples
    df.loc[:2, "approved"] = ["yes", "no", "no"]
    X = df[["income", "debt", "age"]]
    clf = LogisticRegression().fit(X, df["approved"])
    report = audit(clf, df, label="approved", favorable_label="yes", protected={"group": ["a"]},
                   checks=["fairness.model"], params={"fairness.model": {"min_group_size": 1, "bootstrap": 200}})
    eod = next(m for m in report.check("fairness.model").metrics
               if m.name == "equal_opportunity_difference" and m.attribute == "group")
    assert eod.value is not None and eod.ci is None
    assert not eod.judged and "bootstrap" in eod.note
    cond = next(c for c in report.check("fairness.model").conditions
                if c.metric == "equal_opportunity_difference" and c.subject == eod.subject)
    assert cond.status == Status.SKIPPED
