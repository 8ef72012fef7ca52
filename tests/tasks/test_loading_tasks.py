"""Manifest, loading and task inference for multiclass classifiers and regressors (issue 17, step 1)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trustaudit import api
from trustaudit.bundle.loader import load_bundle
from trustaudit.bundle.manifest import parse_manifest
from trustaudit.context import AuditContext
from trustaudit.errors import BundleError, ModelLoadError

ROOT = Path(__file__).resolve().parents[2]
REG = ROOT / "sample_models" / "adult-hours-regressor"
MC = ROOT / "sample_models" / "adult-hours-band"


def _frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["male", "female"], size=n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = 2.0 * x1 - x2 + (sex == "male") * 0.5 + rng.normal(scale=0.3, size=n)
    klass = np.where(y > 1, "high", np.where(y < -1, "low", "mid"))
    return pd.DataFrame({"x1": x1, "x2": x2, "sex": sex, "y": y, "klass": klass})


def _bundle(tmp: Path, df: pd.DataFrame, body: str) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "data").mkdir(exist_ok=True)
    df.to_csv(tmp / "data" / "eval.csv", index=False)
    (tmp / "trustaudit.yaml").write_text("trustaudit: 1\nname: t\nversion: '1'\n" + textwrap.dedent(body))
    return tmp


def test_manifest_task_keys() -> None:
    m = parse_manifest("trustaudit: 1\nname: a\nversion: '1'\ntask: regression\ndata: {path: d.csv, label: y}\n")
    assert m.task == "regression" and m.data.favorable_label is None
    with pytest.raises(BundleError, match="favorable_label is required for task binary-classification"):
        parse_manifest("trustaudit: 1\nname: a\nversion: '1'\ndata: {path: d.csv, label: y}\n")
    with pytest.raises(BundleError, match="data.probabilities is for task multiclass"):
        parse_manifest("trustaudit: 1\nname: a\nversion: '1'\ndata: {path: d.csv, label: y, favorable_label: 1, "
                       "probabilities: {a: pa}}\n")


def test_sample_bundles_load_with_their_task() -> None:
    reg, mc = load_bundle(REG), load_bundle(MC)
    assert reg.manifest.task == reg.model.task == "regression"
    assert mc.manifest.task == mc.model.task == "multiclass-classification"
    assert mc.model.classes == ["full-time", "overtime", "part-time"]
    ctx = AuditContext(mc)
    assert ctx.class_proba.shape == (5000, 3) and set(ctx.prediction) <= set(ctx.classes)
    assert len(ctx.sample(500, "t")) == 500  # stratified by group x class


def test_task_mismatches_are_one_line_errors(tmp_path: Path, copy_bundle) -> None:
    b = copy_bundle("adult-hours-band")
    text = (b / "trustaudit.yaml").read_text()
    (b / "trustaudit.yaml").write_text(text.replace("task: multiclass-classification", "task: regression"))
    with pytest.raises(BundleError, match="label column 'hours_band' holds non-numeric values such as "
                                          "'part-time'; task regression needs a numeric target"):
        load_bundle(b)
    (b / "trustaudit.yaml").write_text(text.replace("task: multiclass-classification", "task: regression")
                                       .replace("label: hours_band", "label: education-num"))
    with pytest.raises(ModelLoadError, match="is a classifier .* but task is regression"):
        load_bundle(b)
    (b / "trustaudit.yaml").write_text(text.replace("task: multiclass-classification",
                                                    "task: binary-classification")
                                       .replace("label: hours_band", "label: hours_band\n  favorable_label: overtime"))
    with pytest.raises(BundleError, match="3 distinct values but task is binary-classification; set task: "
                                          "multiclass-classification"):
        load_bundle(b)
    r = copy_bundle("adult-hours-regressor")
    text = (r / "trustaudit.yaml").read_text()
    (r / "trustaudit.yaml").write_text(text.replace("task: regression", "task: multiclass-classification"))
    with pytest.raises(BundleError, match="more than the 50 classes"):
        load_bundle(r)


def test_predictions_only_regression_and_multiclass(tmp_path: Path) -> None:
    df = _frame()
    df["pred_y"] = df["y"] + 0.1
    b = _bundle(tmp_path / "reg", df, """\
        task: regression
        data: {path: data/eval.csv, label: y, prediction: pred_y}
        protected: {sex: {privileged: [male]}}
        """)
    rep = api.audit(b, checks=["fairness.regression", "fairness.model"], out_dir=tmp_path / "o1")
    res = {c.check_id: c for c in rep.checks}
    assert res["fairness.model"].status.value == "skipped"
    assert "not applicable to regression" in (res["fairness.model"].skipped_reason or "")
    mse = {m.subject: m.value for m in res["fairness.regression"].metrics if m.name == "mean_signed_error"}
    assert mse["sex=female"] == pytest.approx(0.1)

    df2 = _frame()
    order = ["high", "low", "mid"]
    proba = np.full((len(df2), 3), 0.1)
    proba[np.arange(len(df2)), [order.index(k) for k in df2["klass"]]] = 0.8
    df2["pred_k"] = df2["klass"].where(np.arange(len(df2)) % 5 != 0, "mid")
    for j, k in enumerate(order):
        df2[f"p_{k}"] = proba[:, j]
    b2 = _bundle(tmp_path / "mc", df2, """\
        task: multiclass-classification
        data: {path: data/eval.csv, label: klass, prediction: pred_k,
               probabilities: {high: p_high, low: p_low, mid: p_mid}}
        protected: {sex: {privileged: [male]}}
        """)
    bundle = load_bundle(b2)
    ctx = AuditContext(bundle)
    assert ctx.classes == order and ctx.class_proba[0].sum() == pytest.approx(1.0)
    rep = api.audit(b2, checks=["fairness.multiclass"], out_dir=tmp_path / "o2")
    acc = next(m for m in rep.checks[0].metrics if m.name == "accuracy" and m.attribute is None)
    assert acc.value == pytest.approx((df2["klass"] == df2["pred_k"]).mean())
    # probabilities that do not sum to 1: refused with one line
    df2["p_mid"] = 0.5
    df2.to_csv(b2 / "data" / "eval.csv", index=False)
    with pytest.raises(BundleError, match="must sum to 1"):
        load_bundle(b2)


@pytest.mark.parametrize("fmt", ["onnx", "xgboost", "lightgbm"])
def test_other_formats_load_for_both_tasks(tmp_path: Path, fmt: str) -> None:
    """ONNX (skl2onnx), XGBoost and LightGBM native regressors and 3-class classifiers load and predict the same
    as the library that trained them."""
    df = _frame()
    X = df[["x1", "x2"]]
    codes = pd.Series(df["klass"]).map({"high": 0, "low": 1, "mid": 2}).to_numpy()
    for task, target in (("regression", df["y"].to_numpy()), ("multiclass-classification", codes)):
        d = tmp_path / f"{fmt}-{task}"
        d.mkdir()
        if fmt == "onnx":
            from skl2onnx import to_onnx
            from sklearn.linear_model import LinearRegression, LogisticRegression

            est = LinearRegression() if task == "regression" else LogisticRegression(max_iter=500)
            est.fit(X.to_numpy(dtype=np.float32), target)
            opts = {id(est): {"zipmap": False}} if task != "regression" else None
            (d / "model.onnx").write_bytes(to_onnx(est, X.to_numpy(dtype=np.float32)[:1], options=opts)
                                           .SerializeToString())
            ref = est.predict(X.to_numpy(dtype=np.float32)) if task == "regression" else \
                est.predict_proba(X.to_numpy(dtype=np.float32))
            path = "model.onnx"
        elif fmt == "xgboost":
            import xgboost as xgb

            params = {"objective": "reg:squarederror"} if task == "regression" else \
                {"objective": "multi:softprob", "num_class": 3}
            booster = xgb.train({**params, "nthread": 1}, xgb.DMatrix(X, label=target), 5)
            booster.save_model(str(d / "model.json"))
            ref, path = booster.predict(xgb.DMatrix(X)), "model.json"
        else:
            import lightgbm as lgb

            params = {"objective": "regression"} if task == "regression" else \
                {"objective": "multiclass", "num_class": 3}
            booster = lgb.train({**params, "verbose": -1, "num_threads": 1}, lgb.Dataset(X, label=target), 5)
            booster.save_model(str(d / "model.txt"))
            ref, path = booster.predict(X), "model.txt"
        frame = X.assign(sex=df["sex"], target=target)
        _bundle(d, frame, f"""\
            task: {task}
            model: {{path: {path}, format: {fmt}}}
            data: {{path: data/eval.csv, label: target, features: [x1, x2]}}
            protected: {{sex: {{privileged: [male]}}}}
            """)
        b = load_bundle(d)
        assert b.model.task == task
        ctx = AuditContext(b)
        if task == "regression":
            np.testing.assert_allclose(ctx.prediction, np.asarray(ref).ravel(), rtol=1e-5, atol=1e-5)
        else:
            assert len(ctx.classes) == 3
            np.testing.assert_allclose(ctx.class_proba, ref, rtol=1e-4, atol=1e-5)


def test_init_infers_the_task(tmp_path: Path) -> None:
    from trustaudit.scaffold import scaffold

    for sample, task, label in ((REG, "regression", "hours-per-week"),
                                (MC, "multiclass-classification", "hours_band")):
        res = scaffold(sample / "model.skops", sample / "data" / "eval.csv.gz", tmp_path / sample.name,
                       find_training=False)
        m = parse_manifest(res.manifest.read_text() if hasattr(res, "manifest") else
                           (tmp_path / sample.name / "trustaudit.yaml").read_text())
        assert (m.task, m.data.label, m.data.favorable_label) == (task, label, None)
        load_bundle(tmp_path / sample.name)
    # predictions-only: the task from the label column's values
    df = _frame()
    df["prediction"] = df["y"]
    df[["x1", "sex", "y", "prediction"]].to_csv(tmp_path / "p.csv", index=False)
    scaffold(None, tmp_path / "p.csv", tmp_path / "p", label="y", find_training=False)
    assert parse_manifest((tmp_path / "p" / "trustaudit.yaml").read_text()).task == "regression"


def test_cli_bad_task_exits_2(tmp_path: Path, copy_bundle) -> None:
    from typer.testing import CliRunner

    from trustaudit.cli import app

    b = copy_bundle("adult-hours-band")
    text = (b / "trustaudit.yaml").read_text()
    (b / "trustaudit.yaml").write_text(text.replace("task: multiclass-classification", "task: regression"))
    out = CliRunner().invoke(app, ["validate", str(b)])
    assert out.exit_code == 2
    assert "task regression needs a numeric target" in out.output and "Traceback" not in out.output


def test_python_api_in_memory_regressor_and_classifier(tmp_path: Path) -> None:
    """audit(model, df, task=...) for in-memory estimators: the task's default rubric, a mismatch refused."""
    from sklearn.linear_model import LinearRegression, LogisticRegression

    df = _frame(400)
    reg = LinearRegression().fit(df[["x1", "x2"]], df["y"])
    rep = api.audit(reg, df, label="y", task="regression", protected={"sex": ["male"]}, features=["x1", "x2"],
                    checks=["fairness.regression"], out_dir=tmp_path / "a")
    assert rep.rubric.name == "default-regression" and rep.checks[0].status.value in ("pass", "warn", "fail")
    mae = next(m for m in rep.checks[0].metrics if m.name == "overall_mae")
    assert mae.value == pytest.approx(np.abs(reg.predict(df[["x1", "x2"]]) - df["y"]).mean(), rel=1e-12)
    clf = LogisticRegression().fit(df[["x1", "x2"]], df["klass"])
    with pytest.raises(ModelLoadError, match="but task is regression"):
        api.audit(clf, df, label="y", task="regression", protected={"sex": ["male"]}, features=["x1", "x2"],
                  checks=["fairness.regression"], out_dir=tmp_path / "b")
    rep = api.audit(clf, df.drop(columns=["y"]), label="klass", task="multiclass-classification",
                    protected={"sex": ["male"]}, features=["x1", "x2"], checks=["fairness.multiclass"],
                    out_dir=tmp_path / "c")
    assert rep.rubric.name == "default-multiclass"
    assert rep.checks[0].evidence["classes"] == ["high", "low", "mid"]
