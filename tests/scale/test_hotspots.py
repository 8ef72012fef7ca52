"""The hot-spot fixes give exactly the numbers of the code they replaced.

* fairness: aif360 on one weighted row per cell == aif360 on every row (exact float equality);
* predictions in chunks == one call;
* label/protected encoding once per distinct value == the per-row mapping.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.scale.conftest import SAMPLES
from trustaudit.bundle.loader import _value_matches, encode_labels, load_bundle
from trustaudit.checks.fairness import (
    CellTable,
    _cells,
    _import_aif360,
    build_comparisons,
    text_codes,
)
from trustaudit.context import AuditContext, predict_proba_chunked


@pytest.fixture(scope="module")
def german_ctx():
    return AuditContext(load_bundle(SAMPLES / "german-credit"))


def _full_row_metrics(comps, y, yhat):
    """The previous implementation: aif360 metric objects over a dataset with one row per evaluation row."""
    aif360 = _import_aif360()
    frame = pd.DataFrame({**{f"g{i}": c.codes.astype(np.float64) for i, c in enumerate(comps)},
                          "label": y.astype(np.float64)})
    ds = aif360.datasets.BinaryLabelDataset(df=frame, favorable_label=1.0, unfavorable_label=0.0,
                                            label_names=["label"],
                                            protected_attribute_names=[f"g{i}" for i in range(len(comps))])
    ds_pred = ds.copy(deepcopy=False)
    ds_pred.labels = yhat.astype(np.float64).reshape(-1, 1)
    out = {}
    for i, c in enumerate(comps):
        cm = aif360.metrics.ClassificationMetric(ds, ds_pred, unprivileged_groups=[{f"g{i}": 0.0}],
                                                 privileged_groups=[{f"g{i}": 1.0}])
        out[c.subject] = {
            "n": (cm.num_instances(privileged=False), cm.num_instances(privileged=True)),
            "tpr": (cm.true_positive_rate(privileged=False), cm.true_positive_rate(privileged=True)),
            "precision": cm.positive_predictive_value(privileged=False),
            "statistical_parity_difference": cm.statistical_parity_difference(),
            "disparate_impact": cm.disparate_impact(),
            "average_odds_difference": cm.average_odds_difference(),
            "error_rate_difference": cm.error_rate_difference(),
            "theil_index": cm.theil_index(),
        }
        if c.kind == "binary" and (c.codes >= 0).all():
            out[c.subject]["between_group_theil_index"] = cm.between_group_theil_index()
    return out


def _metric(report, name, subject):
    return next(m.value for m in report.check("fairness.model").metrics if m.name == name and m.subject == subject)


def test_weighted_cells_give_exactly_the_full_row_numbers(german_ctx):
    from trustaudit.api import audit

    ctx = german_ctx
    comps = build_comparisons(ctx, True, True, 12)
    expected = _full_row_metrics(comps, ctx.y_true, ctx.y_pred)
    report = audit(ctx.bundle, checks=["fairness.model"], params={"fairness.model": {"bootstrap": 20}})
    for subject, exp in expected.items():
        for name in ("statistical_parity_difference", "disparate_impact", "average_odds_difference",
                     "error_rate_difference", "between_group_theil_index"):
            if name in exp:
                assert _metric(report, name, subject) == exp[name], (subject, name)  # exact, not approx
    first = comps[0]
    assert _metric(report, "theil_index", "all rows") == expected[first.subject]["theil_index"]
    group = next(m for m in report.check("fairness.model").metrics
                 if m.name == "tpr" and m.subject == f"{first.attribute}={first.group}")
    assert group.value == expected[first.subject]["tpr"][0]
    assert group.n == expected[first.subject]["n"][0]


def test_cell_table_counts_equal_row_counts():
    rng = np.random.default_rng(0)
    n = 5000
    codes = [rng.integers(-1, 2, n).astype(np.int8) for _ in range(30)]  # 30 comparisons: key compaction runs

    class C:  # the part of Comparison that CellTable reads
        def __init__(self, c):
            self.codes = c

    y = rng.integers(0, 2, n).astype(np.int8)
    yhat = rng.integers(0, 2, n).astype(np.int8)
    table = CellTable.build([C(c) for c in codes], y, yhat)
    assert table.weights.sum() == n
    assert len(table.weights) == len({tuple(r) for r in np.column_stack([*codes, y, yhat]).tolist()})
    for i, c in enumerate(codes):
        np.testing.assert_array_equal(table.cells(i), _cells(c, y, yhat))
        np.testing.assert_array_equal(table.cells(i, table.y_true), _cells(c, y, y))
    labels_only = CellTable.build([C(codes[0])], y, None)
    assert labels_only.y_pred is None and labels_only.codes.shape[1] == 1
    np.testing.assert_array_equal(labels_only.cells(0, labels_only.y_true), _cells(codes[0], y, y))


@pytest.mark.parametrize("name", ["adult-income-hgb", "adult-income-logreg", "adult-income-logreg-onnx"])
def test_chunked_predictions_equal_one_call(name):
    b = load_bundle(SAMPLES / name)
    X = b.data[b.feature_columns()].iloc[:3000]
    whole = b.model.predict_proba(X)
    chunked = predict_proba_chunked(b.model, X, chunk_rows=700)
    np.testing.assert_array_equal(whole, chunked)


def _old_value_matches(series, values):
    as_str = series.astype(object).where(series.notna(), None).map(lambda v: None if v is None else str(v))
    return as_str.isin({str(v) for v in values}).to_numpy()


SERIES = [
    pd.Series(["Male", "Female", None, "Male"], dtype="str"),
    pd.Series([1.0, 2.5, np.nan, 25.0]),
    pd.Series([25, 30, 25, 99], dtype="int64"),
    pd.Series(pd.array([1, None, 3, 1], dtype="Int64")),
    pd.Series(pd.Categorical(["a", "b", "a", None])),
    pd.Series([True, False, True, True]),
    pd.Series([True, 1, "1", None], dtype=object),  # object: True and 1 hash alike, print differently
]


@pytest.mark.parametrize("series", SERIES, ids=lambda s: str(s.dtype))
def test_value_matching_once_per_distinct_value_equals_per_row(series):
    for values in (["Male"], [1, "a"], [25], ["True"], ["1"], [2.5, "25.0"], [True]):
        np.testing.assert_array_equal(_value_matches(series, values), _old_value_matches(series, values))


@pytest.mark.parametrize("series", [s.dropna() for s in SERIES], ids=lambda s: str(s.dtype))
def test_label_encoding_once_per_distinct_value_equals_per_row(series):
    from trustaudit.bundle.loader import label_text

    text = series.map(label_text)
    for fav in {label_text(v) for v in series}:
        np.testing.assert_array_equal(encode_labels(series, fav, "x"), (text == fav).to_numpy().astype(np.int8))


@pytest.mark.parametrize("series", SERIES, ids=lambda s: str(s.dtype))
def test_text_codes_equal_per_row_text(series):
    codes, texts = text_codes(series)
    rebuilt = [texts[c] if c >= 0 else None for c in codes]
    try:
        old = series.astype(object).map(lambda v: None if v is None or v != v else str(v))
    except TypeError:  # the per-row lambda failed on pd.NA ("boolean value of NA is ambiguous")
        assert str(series.dtype) == "Int64" and rebuilt == ["1", None, "3", "1"]
        return
    assert rebuilt == [None if v is None or v != v else v for v in old]  # missing: None or NaN there
