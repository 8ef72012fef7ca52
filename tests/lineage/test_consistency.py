"""lineage.consistency: manifest vs the model, MLmodel, Hugging Face card and CycloneDX BOM."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.lineage.conftest import edit_lineage, metric, run
from trustaudit.lineage.sources import dtype_kind
from trustaudit.results import Status

CHECK = "lineage.consistency"
FEATURES = ["age", "workclass", "education", "education-num", "marital-status", "occupation", "relationship",
            "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country"]


@pytest.fixture
def logreg(copy_bundle):
    return copy_bundle("adult-income-logreg")


def _findings(res):
    return {(r[0], r[1]): r[4] for r in res.tables[0].rows}


def test_sample_agrees(samples_dir):
    res = run(samples_dir / "adult-income-logreg", [CHECK]).check(CHECK)
    assert res.status == Status.PASS, res.summary
    assert metric(res, "contradictions").value == 0
    assert res.evidence["sources"] == ["model", "model card"]
    f = _findings(res)
    # the declared estimator and all its declared get_params() values equal the loaded model's
    assert f[("model", "training.estimator")] == "agree" and f[("model", "params")] == "agree"
    assert f[("model card", "license")] == "agree" and f[("model card", "library_name")] == "agree"
    params_row = next(r for r in res.tables[0].rows if r[1] == "params")
    n_declared = len(__import__("yaml").safe_load(
        (samples_dir / "adult-income-logreg/trustaudit.yaml").read_text())["lineage"]["training"]["params"])
    assert params_row[3] == f"{n_declared} equal"


def test_contradicting_card(logreg):
    readme = logreg / "README.md"
    text = readme.read_text()
    body = text.split("---\n", 2)[2]
    readme.write_text("---\nlicense: mit\nlibrary_name: sklearn\nbase_model: bert-base-uncased\n"
                      "datasets:\n- imdb\n---\n" + body)
    res = run(logreg, [CHECK]).check(CHECK)
    assert res.status == Status.FAIL
    m = metric(res, "contradictions")
    assert m.value == 3
    f = _findings(res)
    assert f[("model card", "license")] == "contradiction"
    assert f[("model card", "base_model")] == "contradiction"  # the manifest says base_model: null
    assert f[("model card", "datasets")] == "contradiction"
    assert "model card: license (manifest CC-BY-4.0, model card mit)" in res.summary


def test_declared_params_contradict_the_model(logreg):
    def change(lin):
        lin["training"]["params"]["C"] = 0.5  # the model has C=1.0
        lin["training"]["params"]["n_estimators"] = 100  # LogisticRegression has no such parameter
        lin["training"]["estimator"] = "sklearn.ensemble.RandomForestClassifier"

    edit_lineage(logreg, change)
    res = run(logreg, [CHECK]).check(CHECK)
    f = _findings(res)
    assert f[("model", "params.C")] == "contradiction"
    assert f[("model", "params.n_estimators")] == "contradiction"
    assert f[("model", "training.estimator")] == "contradiction"
    assert metric(res, "contradictions").value == 3 and res.status == Status.FAIL


MLTYPE = {"integer": "long", "float": "double", "string": "string", "bool": "boolean"}


def _write_mlmodel(bundle, *, run_id="run-1", uuid="uuid-1", override=None, extra=None):
    df = pd.read_csv(bundle / "data/eval.csv.gz", nrows=200)
    cols = [{"type": MLTYPE[dtype_kind(df[c])], "name": c, "required": True} for c in FEATURES]
    for c in cols:
        if override and c["name"] in override:
            c["type"] = override[c["name"]]
    cols += extra or []
    (bundle / "MLmodel").write_text(
        "flavors:\n  sklearn: {sklearn_version: 1.9.1, pickled_model: model.pkl}\n"
        f"run_id: {run_id}\nmodel_uuid: {uuid}\n"
        f"signature:\n  inputs: '{json.dumps(cols)}'\n")


def test_mlmodel_agrees(logreg):
    edit_lineage(logreg, lambda lin: (lin["training"].update({"run_id": "run-1", "framework_version": "1.9.1"}),
                                      lin.update({"model_uuid": "uuid-1"})))
    _write_mlmodel(logreg)
    res = run(logreg, [CHECK]).check(CHECK)
    assert res.status == Status.PASS, res.summary
    assert metric(res, "signature_mismatches").value == 0
    f = _findings(res)
    assert f[("MLmodel", "run_id")] == f[("MLmodel", "model_uuid")] == "agree"
    assert f[("MLmodel", "scikit-learn version")] == "agree"


def test_mlmodel_contradicts(logreg):
    edit_lineage(logreg, lambda lin: (lin["training"].update({"run_id": "run-1"}), lin.update({"model_uuid": "u-2"})))
    _write_mlmodel(logreg, run_id="run-9", override={"age": "string", "sex": "long"},
                   extra=[{"type": "string", "name": "zip", "required": True}])
    res = run(logreg, [CHECK]).check(CHECK)
    assert res.status == Status.FAIL
    f = _findings(res)
    assert f[("MLmodel", "run_id")] == "contradiction" and f[("MLmodel", "model_uuid")] == "contradiction"
    sig = res.evidence["signature"]
    assert metric(res, "signature_mismatches").value == 3
    assert "column 'age' is integer (int64) but the signature says string" in sig
    assert any("'sex'" in s and "says long" in s for s in sig)
    assert "signature input 'zip' (string) is not a column of the data" in sig


def test_malformed_mlmodel_is_an_error(logreg):
    (logreg / "MLmodel").write_text("flavors: {sklearn: {}\n")
    res = run(logreg, [CHECK]).check(CHECK)
    assert res.status == Status.ERROR
    assert "MLmodel file" in (res.error or "") and "is not valid YAML at line" in (res.error or "")


def test_declared_card_missing_is_an_error(logreg):
    edit_lineage(logreg, lambda lin: lin.update({"sources": {"model_card": "CARD.md"}}))
    res = run(logreg, [CHECK]).check(CHECK)
    assert res.status == Status.ERROR and "model card" in (res.error or "") and "CARD.md does not exist" in res.error


def test_bom_round_trip_and_contradiction(logreg):
    from trustaudit.lineage.bom import write_bom

    write_bom(logreg, logreg / "bom.cdx.json")
    res = run(logreg, [CHECK]).check(CHECK)
    assert res.status == Status.PASS, res.summary
    assert "CycloneDX BOM" in res.evidence["sources"]
    f = _findings(res)
    assert f[("CycloneDX BOM", "model sha256")] == "agree"
    assert f[("CycloneDX BOM", "license")] == "agree"
    assert f[("CycloneDX BOM", "dataset UCI Adult: adult.data")] == "agree"

    doc = json.loads((logreg / "bom.cdx.json").read_text())
    doc["metadata"]["component"]["licenses"] = [{"license": {"id": "MIT"}}]
    doc["metadata"]["component"]["hashes"][0]["content"] = "0" * 64
    doc["components"][0]["hashes"][0]["content"] = "1" * 64
    (logreg / "bom.cdx.json").write_text(json.dumps(doc))
    res = run(logreg, [CHECK]).check(CHECK)
    f = _findings(res)
    assert f[("CycloneDX BOM", "license")] == "contradiction"
    assert f[("CycloneDX BOM", "model sha256")] == "contradiction"
    assert f[("CycloneDX BOM", "dataset UCI Adult: adult.data")] == "contradiction"
    assert metric(res, "contradictions").value == 3 and res.status == Status.FAIL


def test_skipped_when_nothing_to_compare(synthetic_bundle):
    res = run(synthetic_bundle(200), [CHECK]).check(CHECK)
    assert res.status == Status.SKIPPED and "nothing to compare" in (res.skipped_reason or "")


def test_mlflow_model_directory(logreg):
    """An MLflow model directory: its MLmodel is found beside the model, and its directory digest verifies."""
    import shutil

    from tests.lineage.conftest import read_manifest, write_manifest
    from trustaudit.lineage.digests import hash_path

    d = logreg / "mlflow_model"
    d.mkdir()
    shutil.move(str(logreg / "model.skops"), d / "model.skops")
    _write_mlmodel(logreg, run_id="run-1")
    (logreg / "MLmodel").rename(d / "MLmodel")
    text = (d / "MLmodel").read_text().replace("pickled_model: model.pkl", "pickled_model: model.skops, "
                                                                            "serialization_format: skops")
    (d / "MLmodel").write_text(text)
    data = read_manifest(logreg)
    data["model"] = {"path": "mlflow_model", "format": "mlflow"}
    lin = data["lineage"]
    del lin["files"]["model.skops"]
    lin["files"]["mlflow_model"] = f"sha256:{hash_path(d)}"
    lin["training"]["run_id"] = "run-1"
    write_manifest(logreg, data)
    report = run(logreg, [CHECK, "lineage.integrity"])
    res = report.check(CHECK)
    assert res.status == Status.PASS, res.summary
    assert "MLmodel" in res.evidence["sources"] and _findings(res)[("MLmodel", "run_id")] == "agree"
    integ = report.check("lineage.integrity")
    assert integ.status == Status.PASS and metric(integ, "digest_mismatches").value == 0
    assert metric(integ, "digests_verified").value == 4  # the directory, model.onnx, eval and training data
