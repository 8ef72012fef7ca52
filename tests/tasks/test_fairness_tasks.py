"""fairness.regression and fairness.multiclass on the two sample bundles, every number recomputed with pandas.

The groups are rebuilt here from their labels with plain pandas masks on the evaluation data (not from
trustaudit.groups), and every per-group value, difference and ratio is recomputed with pandas / numpy.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trustaudit import api

ROOT = Path(__file__).resolve().parents[2]
REG = ROOT / "sample_models" / "adult-hours-regressor"
MC = ROOT / "sample_models" / "adult-hours-band"


def _mask(df: pd.DataFrame, attribute: str, group: str) -> pd.Series:
    """The rows of a group label as the reports write them, rebuilt with pandas."""
    if "*" in attribute:
        (a, b), (ga, gb) = attribute.split("*"), group.split(" & ")
        return _mask(df, a, ga) & _mask(df, b, gb)
    if attribute == "age":
        return df["age"] >= 25 if group == "age >= 25" else df["age"] < 25
    if group.startswith("not "):
        return df[attribute].notna() & (df[attribute] != group[4:])
    return df[attribute] == group


def _audit(bundle: Path, check: str, out: Path) -> tuple[pd.DataFrame, list]:
    report = api.audit(bundle, checks=[check], out_dir=out)
    (res,) = report.checks
    assert res.status.value in ("pass", "warn", "fail"), res.error
    return pd.read_csv(bundle / "data" / "eval.csv.gz"), res


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    import skops.io as sio

    df, res = _audit(REG, "fairness.regression", tmp_path_factory.mktemp("reg"))
    path = REG / "model.skops"
    model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    features = [c for c in df.columns if c != "hours-per-week"]
    df["pred"] = model.predict(df[features])  # independently of trustaudit's adapter
    return df, res


@pytest.fixture(scope="module")
def multiclass(tmp_path_factory):
    import skops.io as sio

    df, res = _audit(MC, "fairness.multiclass", tmp_path_factory.mktemp("mc"))
    path = MC / "model.skops"
    model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    df["pred"] = model.predict(df[[c for c in df.columns if c != "hours_band"]])
    return df, res


def _close(a: float | None, b: float, tol: float = 1e-9) -> bool:
    if a is None:
        return not math.isfinite(b)
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def _reg_stats(g: pd.DataFrame, threshold: float) -> dict[str, float]:
    err = g["pred"] - g["hours-per-week"]
    return {"mean_prediction": g["pred"].mean(), "mean_outcome": g["hours-per-week"].mean(),
            "mae": err.abs().mean(), "rmse": math.sqrt((err ** 2).mean()), "mean_signed_error": err.mean(),
            "share_above": (g["pred"] >= threshold).mean(), "group_size": float(len(g))}


def test_regression_every_number_matches_pandas(regression) -> None:
    df, res = regression
    threshold = res.evidence["threshold"]
    assert threshold == df["hours-per-week"].median() == 40.0
    checked = 0
    cache: dict[tuple[str, str], dict[str, float]] = {}

    def group_stats(attribute: str, group: str) -> dict[str, float]:
        if (attribute, group) not in cache:
            cache[attribute, group] = _reg_stats(df[_mask(df, attribute, group)], threshold)
        return cache[attribute, group]

    for m in res.metrics:
        if m.attribute is None:
            continue
        g = group_stats(m.attribute, m.group)
        if m.reference is None:
            assert _close(m.value, g[m.name]), (m.name, m.subject, m.value, g[m.name])
            assert m.n == g["group_size"]
        else:
            ref = group_stats(m.attribute, m.reference)
            base, kind = m.name.rsplit("_", 1)
            want = g[base] - ref[base] if kind == "difference" else (
                g[base] / ref[base] if ref[base] > 0 else math.nan)
            assert _close(m.value, want), (m.name, m.subject, m.value, want)
            assert m.n == g["group_size"] + ref["group_size"]
        if m.ci is not None and m.value is not None:
            assert m.ci.low - 1e-12 <= m.value <= m.ci.high + 1e-12
        checked += 1
    assert checked > 300
    overall = {m.name: m.value for m in res.metrics if m.attribute is None}
    err = df["pred"] - df["hours-per-week"]
    assert overall["overall_mae"] == pytest.approx(err.abs().mean(), rel=1e-12)
    assert overall["overall_rmse"] == pytest.approx(math.sqrt((err ** 2).mean()), rel=1e-12)
    ss = ((df["hours-per-week"] - df["hours-per-week"].mean()) ** 2).sum()
    assert overall["r2"] == pytest.approx(1 - (err ** 2).sum() / ss, rel=1e-12)


def test_regression_intervals_are_the_textbook_ones(regression) -> None:
    """The t interval of a group mean and the Wilson interval of a share, recomputed with scipy/statsmodels-free
    formulas: the female group's mean prediction and share above the threshold."""
    from scipy import stats

    df, res = regression
    g = df[df["sex"] == "Female"]
    m = next(m for m in res.metrics if m.name == "mean_prediction" and m.subject == "sex=Female")
    half = stats.t.ppf(0.975, len(g) - 1) * g["pred"].std(ddof=1) / math.sqrt(len(g))
    assert m.ci is not None and m.ci.low == pytest.approx(g["pred"].mean() - half, rel=1e-9)
    assert m.ci.high == pytest.approx(g["pred"].mean() + half, rel=1e-9)
    s = next(m for m in res.metrics if m.name == "share_above" and m.subject == "sex=Female")
    k, n, z = int((g["pred"] >= 40).sum()), len(g), stats.norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half_w = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert s.ci is not None and s.ci.low == pytest.approx(centre - half_w, rel=1e-9)
    assert s.ci.high == pytest.approx(centre + half_w, rel=1e-9)


def test_regression_finding_on_the_sample(regression) -> None:
    """The finding the closing note quotes: women are predicted fewer hours than men, about as much as they work."""
    df, res = regression
    by = {m.name: m for m in res.metrics if m.subject == "sex: Female vs Male"}
    women, men = df[df["sex"] == "Female"], df[df["sex"] == "Male"]
    gap = women["pred"].mean() - men["pred"].mean()
    assert by["mean_prediction_difference"].value == pytest.approx(gap, rel=1e-12)
    assert gap < -4  # hours per week
    assert by["mean_outcome_difference"].value == pytest.approx(
        women["hours-per-week"].mean() - men["hours-per-week"].mean(), rel=1e-12)
    assert by["mean_prediction_difference"].ci.high < 0  # the whole interval is below 0


def _mc_stats(g: pd.DataFrame, cls: str) -> dict[str, float]:
    y, f = g["hours_band"], g["pred"]
    pos = y == cls
    return {"selection_rate": (f == cls).mean() if len(g) else math.nan,
            "tpr": (f[pos] == cls).mean() if pos.any() else math.nan,
            "fpr": (f[~pos] == cls).mean() if (~pos).any() else math.nan}


def test_multiclass_every_number_matches_pandas(multiclass) -> None:
    df, res = multiclass
    assert res.evidence["classes"] == ["full-time", "overtime", "part-time"]
    checked = 0
    frames: dict[tuple[str, str], pd.DataFrame] = {}
    rates: dict[tuple[str, str, str], dict[str, float]] = {}

    def rows(attribute: str, group: str) -> pd.DataFrame:
        if (attribute, group) not in frames:
            frames[attribute, group] = df[_mask(df, attribute, group)]
        return frames[attribute, group]

    def _mc(attribute: str, group: str, cls: str) -> dict[str, float]:
        if (attribute, group, cls) not in rates:
            rates[attribute, group, cls] = _mc_stats(rows(attribute, group), cls)
        return rates[attribute, group, cls]

    for m in res.metrics:
        if m.attribute is None:
            assert m.name == "accuracy" and m.value == pytest.approx((df["hours_band"] == df["pred"]).mean())
            continue
        g = rows(m.attribute, m.group)
        if m.name == "group_size":
            assert m.value == len(g)
        elif m.name == "accuracy":
            assert _close(m.value, (g["hours_band"] == g["pred"]).mean())
        elif m.name == "accuracy_difference":
            r = rows(m.attribute, m.reference)
            assert _close(m.value, (g["hours_band"] == g["pred"]).mean() - (r["hours_band"] == r["pred"]).mean())
        elif m.reference is None:
            assert _close(m.value, _mc(m.attribute, m.group, m.class_label)[m.name]), (m.name, m.subject)
        else:
            base, kind = m.name.rsplit("_", 1)
            a, b = _mc(m.attribute, m.group, m.class_label)[base], _mc(m.attribute, m.reference, m.class_label)[base]
            want = a - b if kind == "difference" else (a / b if b > 0 else math.nan)
            assert _close(m.value, want), (m.name, m.subject, m.value, want)
        if m.ci is not None and m.value is not None:
            assert m.ci.low - 1e-12 <= m.value <= m.ci.high + 1e-12
        checked += 1
    assert checked > 500


def test_multiclass_confusion_matrices_match_pandas(multiclass) -> None:
    df, res = multiclass
    classes = res.evidence["classes"]
    mats = res.evidence["confusion_matrices"]
    for key, (attr, group) in {"sex=Female": ("sex", "Female"), "race=Black": ("race", "Black"),
                               "sex*age=Female & age < 25": ("sex*age", "Female & age < 25")}.items():
        g = df[_mask(df, attr, group)]
        want = pd.crosstab(g["hours_band"], g["pred"]).reindex(index=classes, columns=classes, fill_value=0)
        assert mats[key]["matrix"] == want.to_numpy().tolist()
    assert np.array(mats["all rows"]["matrix"]).sum() == len(df)
    titles = [t.title for t in res.tables]
    assert "Confusion matrix, sex=Female (rows: true class, columns: predicted)" in titles


def test_multiclass_finding_on_the_sample(multiclass) -> None:
    """The finding the closing note quotes: women are predicted part-time far more often than men."""
    df, res = multiclass
    m = next(m for m in res.metrics if m.name == "selection_rate_difference" and m.subject ==
             "sex: Female vs Male [class part-time]")
    f, mm = df[df["sex"] == "Female"], df[df["sex"] == "Male"]
    want = (f["pred"] == "part-time").mean() - (mm["pred"] == "part-time").mean()
    assert m.value == pytest.approx(want, rel=1e-12) and want > 0.1
    assert m.ci is not None and m.ci.low > 0.05  # 11.3 points [9.4, 13.3]: the rubric (0.1) warns, uncertain
    assert m.class_label == "part-time"


def test_fairlearn_metricframe_agrees_on_a_comparison(multiclass) -> None:
    """The group values come from fairlearn's MetricFrame: the same frame built by hand gives the same numbers."""
    from fairlearn.metrics import MetricFrame, selection_rate

    df, res = multiclass
    mf = MetricFrame(metrics=selection_rate, y_true=(df["hours_band"] == "overtime"),
                     y_pred=(df["pred"] == "overtime"), sensitive_features=df["sex"])
    m = next(m for m in res.metrics if m.name == "selection_rate" and m.subject == "sex=Female [class overtime]")
    assert m.value == pytest.approx(float(mf.by_group["Female"]), rel=1e-12)
