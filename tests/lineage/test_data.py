"""lineage.leakage and lineage.skew on the samples, on leaked copies and on synthetic shifts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from tests.lineage.conftest import metric, rewrite_csv_gz, run
from trustaudit.results import Status
from trustaudit.stats import newcombe, wilson

LEAK, SKEW = "lineage.leakage", "lineage.skew"


def _wilson_ref(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


@pytest.mark.parametrize(("k", "n"), [(0, 300), (30, 300), (2586, 16281), (300, 300)])
def test_wilson_matches_scipy(k, n):
    assert wilson(k, n) == pytest.approx(_wilson_ref(k, n), abs=1e-12)


def test_newcombe_by_hand():
    # Newcombe (1998) method 10, from the two Wilson intervals
    (l1, u1), (l2, u2) = _wilson_ref(56, 70), _wilson_ref(48, 80)
    p1, p2 = 56 / 70, 48 / 80
    lo = p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    assert newcombe(56, 70, 48, 80) == pytest.approx((lo, hi), abs=1e-12)
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)  # Newcombe's published example


def test_adult_natural_duplicates_are_not_leakage(samples_dir):
    b = samples_dir / "adult-income-hgb"
    res = run(b, [LEAK], load_model=False).check(LEAK)
    ev, tr = pd.read_csv(b / "data/eval.csv.gz"), pd.read_csv(b / "data/train.csv.gz")
    # independent count: a merge on every column (pandas matches NaN keys to NaN keys)
    hit = ev.merge(tr.drop_duplicates(), how="left", on=list(ev.columns), indicator=True)["_merge"] == "both"
    k = int(hit.sum())
    assert k == 2586
    m = metric(res, "leaked_row_rate")
    assert metric(res, "leaked_rows").value == k and m.n == len(ev) == 16281
    assert (m.ci.low, m.ci.high) == pytest.approx(_wilson_ref(k, len(ev)), abs=1e-12)
    kb = int(tr.duplicated(keep=False).sum())
    assert metric(res, "duplicate_baseline_rate").value == pytest.approx(kb / len(tr))
    ex = metric(res, "excess_leak_rate")
    assert ex.value == pytest.approx(k / len(ev) - kb / len(tr))
    assert ex.ci.high < 0.01  # 15.9% overlap, but training rows repeat each other 17.0% of the time
    assert res.status == Status.PASS


def test_leaked_rows_fail(german):
    ev = pd.read_csv(german / "data/eval.csv.gz")
    rewrite_csv_gz(german / "data/train.csv.gz", lambda tr: pd.concat([tr, ev.iloc[:30]], ignore_index=True))
    res = run(german, [LEAK], load_model=False).check(LEAK)
    m = metric(res, "leaked_row_rate")
    assert metric(res, "leaked_rows").value == 30 and m.value == pytest.approx(0.1)
    assert (m.ci.low, m.ci.high) == pytest.approx(_wilson_ref(30, 300), abs=1e-12)
    assert metric(res, "duplicate_baseline_rate").value == 0.0
    assert res.status == Status.FAIL  # excess 0.10, interval [0.07, 0.14] entirely above 0.01
    assert res.evidence["leaked_row_examples"] == list(range(10))


def test_label_conflicts_and_numeric_canonicalisation(german):
    ev = pd.read_csv(german / "data/eval.csv.gz")
    flipped = ev.iloc[:5].copy()
    flipped["credit"] = flipped["credit"].map({"good": "bad", "bad": "good"})
    floats = ev.iloc[5:8].copy()
    floats["age"] = floats["age"].astype(float)  # 33 and 33.0 are the same value

    def add(tr):
        out = pd.concat([tr, flipped, floats], ignore_index=True)
        return out

    rewrite_csv_gz(german / "data/train.csv.gz", add)
    res = run(german, [LEAK], load_model=False).check(LEAK)
    assert metric(res, "leaked_rows").value == 3
    # the 5 flipped rows occur in training only with the other label: they count in both rates
    assert metric(res, "label_conflict_rate").value == pytest.approx(5 / 300)
    assert metric(res, "other_label_only_rate").value == pytest.approx(5 / 300)


def test_label_conflict_with_and_without_the_same_label(german):
    """A row whose features occur in training with both labels conflicts, but not 'only with other labels'."""
    ev = pd.read_csv(german / "data/eval.csv.gz")
    same = ev.iloc[:4].copy()
    flipped = same.copy()
    flipped["credit"] = flipped["credit"].map({"good": "bad", "bad": "good"})
    rewrite_csv_gz(german / "data/train.csv.gz",
                   lambda tr: pd.concat([tr, same, flipped, flipped.iloc[:2]], ignore_index=True))
    res = run(german, [LEAK], load_model=False).check(LEAK)
    assert metric(res, "leaked_rows").value == 4
    assert metric(res, "label_conflict_rate").value == pytest.approx(4 / 300)
    assert metric(res, "other_label_only_rate").value == 0.0


def _label_conflicts_by_pandas(ev: pd.DataFrame, tr: pd.DataFrame, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Plain pandas: per eval row, the distinct training labels of its exact feature vector (missing == missing)."""
    feats = [c for c in ev.columns if c != label]
    pairs = tr[feats + [label]].drop_duplicates()
    n_labels = ev.merge(pairs.groupby(feats, dropna=False).size().rename("n").reset_index(), how="left",
                        on=feats)["n"].fillna(0).to_numpy()
    same = ev.merge(pairs.assign(_same=1), how="left", on=feats + [label])["_same"].fillna(0).to_numpy()
    return (n_labels - same) >= 1, (n_labels >= 1) & (same == 0)


def test_adult_label_conflicts_match_pandas(samples_dir):
    """The metric computes what its description says: rows whose features occur in training with another label
    (6.2% of Adult's evaluation rows), and separately with other labels only (2.4%)."""
    b = samples_dir / "adult-income-hgb"
    ev, tr = pd.read_csv(b / "data/eval.csv.gz"), pd.read_csv(b / "data/train.csv.gz")
    assert ev.isna().any().any()  # missing values are part of the feature vectors compared
    conflict, only_other = _label_conflicts_by_pandas(ev, tr, "income")
    res = run(b, [LEAK], load_model=False).check(LEAK)
    m, o = metric(res, "label_conflict_rate"), metric(res, "other_label_only_rate")
    assert m.n == o.n == len(ev) == 16281
    assert m.value == pytest.approx(conflict.mean(), abs=1e-12) and round(m.value, 4) == 0.0616
    assert o.value == pytest.approx(only_other.mean(), abs=1e-12) and round(o.value, 4) == 0.0241
    assert (m.ci.low, m.ci.high) == pytest.approx(_wilson_ref(int(conflict.sum()), len(ev)), abs=1e-12)
    assert "with a different label" in m.note and "only with other labels" in o.note


def test_skew_samples(samples_dir):
    res = run(samples_dir / "german-credit", [SKEW], load_model=False).check(SKEW)
    assert res.status == Status.PASS
    assert metric(res, "missing_columns").value == 0 and metric(res, "dtype_mismatches").value == 0
    b = samples_dir / "german-credit"
    ev, tr = pd.read_csv(b / "data/eval.csv.gz"), pd.read_csv(b / "data/train.csv.gz")
    # PSI of the label by hand: two categories, training proportions are the expected ones
    pt, pe = tr["credit"].value_counts(normalize=True), ev["credit"].value_counts(normalize=True)
    want = sum((pe[c] - pt[c]) * math.log(pe[c] / pt[c]) for c in pt.index)
    assert metric(res, "psi", "credit (label)").value == pytest.approx(want, abs=1e-12)
    # out-of-range share of a numeric column by hand
    out = ((ev["duration"] < tr["duration"].min()) | (ev["duration"] > tr["duration"].max())).sum()
    assert metric(res, "out_of_range_rate", "duration").value == pytest.approx(out / len(ev))


def _skew_bundle(train, evald):
    from trustaudit.api import in_memory_bundle

    return in_memory_bundle(None, evald, label="y", favorable_label=1, protected={}, prediction="p",
                            training_data=train)


def test_skew_synthetic_shifts():
    rng = np.random.default_rng(0)
    n = 1000
    train = pd.DataFrame({"x": rng.normal(0, 1, n), "c": np.where(np.arange(n) % 2 == 0, "a", "b"),
                          "k": rng.integers(0, 5, n), "y": rng.integers(0, 2, n)})
    evald = pd.DataFrame({"x": rng.normal(0, 1, n), "c": np.where(np.arange(n) % 5 < 4, "a", "b"),
                          "k": rng.integers(0, 5, n).astype(str), "z": 1.0, "y": rng.integers(0, 2, n)})
    evald.loc[:49, "x"] = 100.0  # 50 values far outside the training range
    evald.loc[50:59, "c"] = "new"  # 10 rows with a category never seen in training
    evald["p"] = evald["y"]
    report = run(_skew_bundle(train, evald), [SKEW])
    res = report.check(SKEW)
    assert metric(res, "missing_columns").value == 1 and metric(res, "missing_columns").subject == "z"
    mism = metric(res, "dtype_mismatches")
    assert mism.value == 1 and mism.subject == "k (integer in training, string in eval)"
    oor = metric(res, "out_of_range_rate", "x")
    assert oor.value == pytest.approx(50 / n) and oor.n == n
    unseen = metric(res, "unseen_category_rate", "c")
    assert unseen.value == pytest.approx(10 / n) and "new" in (unseen.note or "")
    # PSI of c by hand: training a/b = 0.5/0.5; in eval rows 50-59 (8 a, 2 b) became 'new' (pooled as
    # 'other'), so a = 0.792, b = 0.198; the 'other' bin is empty in training (floored at 1e-4)
    e = {"a": (800 - 8) / n, "b": (200 - 2) / n, "other": 10 / n}
    t = {"a": 0.5, "b": 0.5, "other": 1e-4}
    want = sum((e[k] - t[k]) * math.log(e[k] / t[k]) for k in e)
    assert metric(res, "psi", "c").value == pytest.approx(want, rel=1e-9)
    statuses = {(c.metric, c.subject): c.status for c in res.conditions}
    assert statuses[("missing_columns", "z")] == Status.FAIL
    assert statuses[("out_of_range_rate", "x")] == Status.WARN
    assert res.status == Status.FAIL


def test_leakage_and_skew_skip_without_training_data(synthetic_bundle):
    report = run(synthetic_bundle(200), [LEAK, SKEW], load_model=False)
    for cid in (LEAK, SKEW):
        assert report.check(cid).status == Status.SKIPPED
