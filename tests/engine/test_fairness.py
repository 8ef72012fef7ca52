"""Fairness metrics: aif360 point estimates cross-checked against fairlearn and hand computation; their intervals
against trustaudit.stats on the same counts."""

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

from trustaudit import stats
from trustaudit.bundle import load_bundle
from trustaudit.checks.fairness import (
    GROUP_METRICS,
    _cells,
    _mean_benefit_gap,
    bgti_of_gap,
    group_counts,
    theil_from_cells,
)
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


def test_cell_counts_give_the_point_estimates_and_their_intervals(hgb_report, hgb_ctx):
    """The (k, n) behind each metric reproduce aif360's number, and its interval is trustaudit.stats' on them."""
    y, yhat = hgb_ctx.y_true, hgb_ctx.y_pred
    codes = np.where(hgb_ctx.protected["sex"].privileged, 1, 0).astype(np.int8)
    c = _cells(codes, y, yhat)
    u, p = group_counts(c, False), group_counts(c, True)
    subject = "sex: Female vs Male"
    for kn, group in ((u, "Female"), (p, "Male")):
        for name in GROUP_METRICS:
            m = _metric(hgb_report, "fairness.model", name, f"sex={group}")
            k, n = kn[name]
            assert m.value == pytest.approx(k / n, abs=1e-15)
            assert (m.ci.low, m.ci.high, m.ci.method) == (*stats.wilson(k, n), "wilson")
    for name, key in (("statistical_parity_difference", "selection_rate"), ("equal_opportunity_difference", "tpr"),
                      ("error_rate_difference", "error_rate")):
        m = _metric(hgb_report, "fairness.model", name, subject)
        assert m.value == pytest.approx(u[key][0] / u[key][1] - p[key][0] / p[key][1], abs=1e-15)
        assert (m.ci.low, m.ci.high) == pytest.approx(stats.newcombe(*u[key], *p[key]), abs=1e-15)
    di = _metric(hgb_report, "fairness.model", "disparate_impact", subject)
    assert (di.ci.low, di.ci.high) == pytest.approx(stats.ratio_interval(*u["selection_rate"], *p["selection_rate"]))
    aod = _metric(hgb_report, "fairness.model", "average_odds_difference", subject)
    f = [k / n for k, n in (u["fpr"], p["fpr"])]
    t = [k / n for k, n in (u["tpr"], p["tpr"])]
    lo, hi = stats.mover_sum(f[0] - f[1], stats.newcombe(*u["fpr"], *p["fpr"]), t[0] - t[1],
                             stats.newcombe(*u["tpr"], *p["tpr"]))
    assert aod.value == pytest.approx((f[0] - f[1] + t[0] - t[1]) / 2, abs=1e-15)
    assert (aod.ci.low, aod.ci.high) == pytest.approx((lo / 2, hi / 2), abs=1e-15)
    conf = np.array([c[1] + c[5], c[2] + c[6], c[3] + c[7], c[4] + c[8]])
    assert float(theil_from_cells(*(conf[j : j + 1] for j in range(4)))[0]) == pytest.approx(
        _metric(hgb_report, "fairness.model", "theil_index", "all rows").value, abs=1e-12)
    # the between-group index as a function of the mean-benefit gap gives aif360's value at the observed gap
    bgti = _metric(hgb_report, "fairness.model", "between_group_theil_index", subject)
    n_u, n_p = int(c[1:5].sum()), int(c[5:9].sum())
    mu = float((yhat.astype(float) - y + 1).mean())
    gap = float(_mean_benefit_gap(c.reshape(1, -1))[0])
    assert float(bgti_of_gap(np.array([gap]), n_u, n_p, mu)[0]) == pytest.approx(bgti.value, rel=1e-9)
    assert float(bgti_of_gap(np.array([0.0]), n_u, n_p, mu)[0]) == 0.0


def test_between_group_theil_interval_contains_its_estimate_near_zero(hgb_report):
    """Issue 15: race's index 7.4e-9 had the percentile interval [7.6e-9, 1.5e-5], which excludes it."""
    m = _metric(hgb_report, "fairness.model", "between_group_theil_index", "race: not White vs White")
    assert m.value == pytest.approx(7.415e-9, rel=1e-3)
    assert m.ci.low == 0.0 <= m.value <= m.ci.high < 1e-4
    assert m.ci.method.startswith("bootstrap-bca (") and "of the mean-benefit gap" in m.ci.method
    for subject in ("sex: Female vs Male", "age: age < 25 vs age >= 25"):  # clearly non-zero: bounded away
        m = _metric(hgb_report, "fairness.model", "between_group_theil_index", subject)
        assert 0.0 < m.ci.low <= m.value <= m.ci.high


def test_bootstrap_multinomial_equals_row_resampling():
    """Drawing cell counts from a multinomial is the row bootstrap: compare the two distributions."""
    rng = np.random.default_rng(1)
    n = 3000
    codes = rng.integers(0, 2, n).astype(np.int8)
    y = rng.integers(0, 2, n)
    yhat = (rng.random(n) < 0.3 + 0.2 * codes).astype(int)
    counts = _cells(codes, y, yhat)
    draws = stats.multinomial_bootstrap(counts, 4000, rng)

    def sel(d, off):
        return (d[:, off] + d[:, off + 1]) / d[:, off : off + 4].sum(axis=1)

    spd_fast = sel(draws, 1) - sel(draws, 5)
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


def test_closed_form_intervals_do_not_depend_on_the_seed(synthetic_bundle):
    from trustaudit.api import audit

    d = synthetic_bundle(n=800)
    params = {"fairness.model": {"bootstrap": 300}}
    a = audit(d, checks=["fairness.model"], params=params, seed=1)
    b = audit(d, checks=["fairness.model"], params=params, seed=1)
    c = audit(d, checks=["fairness.model"], params=params, seed=2)
    ma, mb, mc = (r.check("fairness.model").metrics for r in (a, b, c))
    assert [m.model_dump() for m in ma] == [m.model_dump() for m in mb]
    assert [m.value for m in ma] == [m.value for m in mc]
    theil = ("theil_index", "between_group_theil_index")
    assert [m.model_dump() for m in ma if m.name not in theil] == [m.model_dump() for m in mc if m.name not in theil]
    assert any(x.ci != y.ci for x, y in zip(ma, mc) if x.name in theil and x.ci is not None)
    assert [c.status for c in a.check("fairness.model").conditions] == \
        [c.status for c in c.check("fairness.model").conditions]


def _tiny_group_report(labels_b):
    from sklearn.linear_model import LogisticRegression

    from tests.conftest import make_synthetic
    from trustaudit.api import audit

    df = make_synthetic(600, seed=4)
    df["group"] = "a"
    df.loc[:2, "group"] = "b"  # three rows
    df.loc[:2, "approved"] = labels_b
    X = df[["income", "debt", "age"]]
    clf = LogisticRegression().fit(X, df["approved"])
    report = audit(clf, df, label="approved", favorable_label="yes", protected={"group": ["a"]},
                   checks=["fairness.model"], params={"fairness.model": {"min_group_size": 1, "bootstrap": 200}})
    eod = next(m for m in report.check("fairness.model").metrics
               if m.name == "equal_opportunity_difference" and m.attribute == "group")
    cond = next(c for c in report.check("fairness.model").conditions
                if c.metric == "equal_opportunity_difference" and c.subject == eod.subject)
    return eod, cond


def test_tiny_group_gets_a_wide_interval_and_is_not_failed_on_its_point():
    """One positive in a group of three: the TPR difference is defined, its Newcombe interval spans most of
    [-1, 1], so an |EOD| <= 0.1 condition is uncertain (warn), not failed on the point estimate."""
    eod, cond = _tiny_group_report(["yes", "no", "no"])
    assert eod.value is not None and eod.judged
    assert eod.ci.method == "newcombe-wilson" and eod.ci.low <= eod.value <= eod.ci.high
    assert eod.ci.high - eod.ci.low > 0.8
    assert cond.status in (Status.WARN, Status.PASS)


def test_undefined_metric_is_not_judged():
    """No positives in a group: its TPR, and the EOD, are undefined: value None, no interval, not judged."""
    eod, cond = _tiny_group_report(["no", "no", "no"])
    assert eod.value is None and eod.ci is None and not eod.judged and "undefined" in eod.note
    assert cond.status == Status.SKIPPED
