"""Every model format loads and predicts the same as the native library."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from trustaudit.bundle import load_bundle
from trustaudit.context import AuditContext

from ..conftest import make_synthetic


def _bundle(tmp_path, model_spec: dict, df: pd.DataFrame, **data_extra):
    (tmp_path / "data").mkdir(exist_ok=True)
    df.to_csv(tmp_path / "data" / "eval.csv", index=False)
    manifest = {"trustaudit": 1, "name": "m", "version": "1", "task": "binary-classification",
                "data": {"path": "data/eval.csv", "label": "y", "favorable_label": 1, **data_extra},
                "protected": {"sex": {"privileged": [1]}}}
    if model_spec:
        manifest["model"] = model_spec
    (tmp_path / "trustaudit.yaml").write_text(yaml.safe_dump(manifest))
    return tmp_path


@pytest.fixture
def numeric_df():
    df = make_synthetic(600)
    return pd.DataFrame({"income": df["income"], "debt": df["debt"], "age": df["age"].astype(float),
                         "sex": (df["sex"] == "male").astype(int), "y": (df["approved"] == "yes").astype(int)})


def test_xgboost_native(tmp_path, numeric_df):
    xgb = pytest.importorskip("xgboost")
    X, y = numeric_df.drop(columns="y"), numeric_df["y"]
    clf = xgb.XGBClassifier(n_estimators=20, max_depth=3, random_state=0, n_jobs=1).fit(X, y)
    clf.save_model(tmp_path / "model.json")
    b = load_bundle(_bundle(tmp_path, {"path": "model.json", "format": "xgboost"}, numeric_df))
    ctx = AuditContext(b)
    np.testing.assert_allclose(ctx.scores, clf.predict_proba(X)[:, 1], rtol=1e-6)
    assert (ctx.y_pred == clf.predict(X)).all()


def test_lightgbm_native(tmp_path, numeric_df):
    lgb = pytest.importorskip("lightgbm")
    X, y = numeric_df.drop(columns="y"), numeric_df["y"]
    clf = lgb.LGBMClassifier(n_estimators=20, random_state=0, verbose=-1, n_jobs=1).fit(X, y)
    clf.booster_.save_model(str(tmp_path / "model.txt"))
    b = load_bundle(_bundle(tmp_path, {"path": "model.txt", "format": "lightgbm"}, numeric_df))
    np.testing.assert_allclose(AuditContext(b).scores, clf.predict_proba(X)[:, 1], rtol=1e-6)


def test_mlflow_directory_skops_and_onnx_flavours(tmp_path, numeric_df, samples_dir):
    import shutil

    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    X, y = numeric_df.drop(columns="y"), numeric_df["y"]
    clf = LogisticRegression(random_state=0).fit(X, y)
    mdir = tmp_path / "mlmodel"
    mdir.mkdir()
    sio.dump(clf, mdir / "model.skops")
    (mdir / "MLmodel").write_text(yaml.safe_dump({
        "flavors": {"sklearn": {"pickled_model": "model.skops", "serialization_format": "skops"}},
        "run_id": "abc"}))
    b = load_bundle(_bundle(tmp_path, {"path": "mlmodel", "format": "mlflow"}, numeric_df))
    np.testing.assert_allclose(AuditContext(b).scores, clf.predict_proba(X)[:, 1])
    # a pickled sklearn flavour is refused without the opt-in
    (mdir / "MLmodel").write_text(yaml.safe_dump({"flavors": {"sklearn": {"pickled_model": "model.pkl"}}}))
    from trustaudit.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="refusing to load"):
        load_bundle(tmp_path)
    # a path inside MLmodel that leaves the bundle is refused
    (mdir / "MLmodel").write_text(yaml.safe_dump({"flavors": {"onnx": {"data": "../../x.onnx"}}}))
    from trustaudit.errors import BundleError

    with pytest.raises(BundleError, match="outside the bundle"):
        load_bundle(tmp_path)
    # onnx flavour
    shutil.copy(samples_dir / "adult-income-logreg-onnx" / "model.onnx", mdir / "model.onnx")
    (mdir / "MLmodel").write_text(yaml.safe_dump({"flavors": {"onnx": {"data": "model.onnx"}}}))
    onnx_bundle = tmp_path / "onnx"
    shutil.copytree(samples_dir / "adult-income-logreg-onnx", onnx_bundle)
    shutil.copytree(mdir, onnx_bundle / "mlmodel")
    m = yaml.safe_load((onnx_bundle / "trustaudit.yaml").read_text())
    m["model"] = {"path": "mlmodel", "format": "mlflow"}
    (onnx_bundle / "trustaudit.yaml").write_text(yaml.safe_dump(m))
    assert load_bundle(onnx_bundle).model.format == "onnx"


def test_onnx_matches_skops(samples_dir):
    a = AuditContext(load_bundle(samples_dir / "adult-income-logreg"))
    b = AuditContext(load_bundle(samples_dir / "adult-income-logreg-onnx"))
    assert b.model.classes == ["<=50K", ">50K"]
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    assert (a.y_pred == b.y_pred).mean() > 0.9999


def test_predictions_only_bundle(samples_dir):
    from trustaudit.api import audit

    pred = audit(samples_dir / "adult-income-predictions", checks=["fairness.model"],
                 params={"fairness.model": {"bootstrap": 50}})
    hgb = audit(samples_dir / "adult-income-hgb", checks=["fairness.model"],
                params={"fairness.model": {"bootstrap": 50}})
    assert pred.bundle.model_format is None
    va = {(m.name, m.subject): m.value for m in pred.check("fairness.model").metrics}
    vb = {(m.name, m.subject): m.value for m in hgb.check("fairness.model").metrics}
    assert va == vb
