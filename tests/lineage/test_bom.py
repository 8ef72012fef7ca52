"""trustaudit bom: CycloneDX 1.6 ML-BOM, validated against the CycloneDX JSON schema."""

from __future__ import annotations

import hashlib
import json

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.lineage.conftest import edit_lineage, rewrite_csv_gz
from trustaudit.lineage.bom import BomError, bom_json, build_bom, validate_bom


def _validate(doc):
    err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc))
    assert err is None, str(err)[:2000]


@pytest.fixture(scope="module")
def german_bom(samples_dir):
    return build_bom(samples_dir / "german-credit")


def test_valid_cyclonedx_16(german_bom):
    _validate(german_bom)
    assert german_bom["bomFormat"] == "CycloneDX" and german_bom["specVersion"] == "1.6"
    assert german_bom["serialNumber"].startswith("urn:uuid:")


def test_model_component(german_bom, samples_dir):
    model = german_bom["metadata"]["component"]
    assert model["type"] == "machine-learning-model" and model["name"] == "german-credit"
    assert model["version"] == "1.0.0"
    want = hashlib.sha256((samples_dir / "german-credit/model.skops").read_bytes()).hexdigest()
    assert model["hashes"] == [{"alg": "SHA-256", "content": want}]
    assert model["licenses"] == [{"license": {"id": "CC-BY-4.0"}}]
    card = model["modelCard"]["modelParameters"]
    assert card["modelArchitecture"] == "sklearn.ensemble.RandomForestClassifier"
    assert card["architectureFamily"] == "decision-tree ensemble"
    assert card["approach"] == {"type": "supervised"} and card["task"] == "binary-classification"
    props = {p["name"]: p["value"] for p in model["properties"]}
    assert props["trustaudit:training.param.n_estimators"] == "200"
    assert props["trustaudit:code.placeholder"] == "true"
    (vcs,) = model["externalReferences"]
    assert vcs["type"] == "vcs" and "PLACEHOLDER" in vcs["comment"]
    assert model["authors"] == [{"name": "trustaudit sample_models/build.py"}]


def test_dataset_components(german_bom, samples_dir):
    comps = {c["bom-ref"]: c for c in german_bom["components"]}
    assert set(comps) == {"data-training-0", "data-evaluation"}
    train = comps["data-training-0"]
    want = hashlib.sha256((samples_dir / "german-credit/data/train.csv.gz").read_bytes()).hexdigest()
    assert train["type"] == "data" and train["hashes"][0]["content"] == want
    assert train["data"][0]["type"] == "dataset" and "700 rows" in train["data"][0]["description"]
    assert train["licenses"] == [{"license": {"id": "CC-BY-4.0"}}]
    refs = [d["ref"] for d in german_bom["metadata"]["component"]["modelCard"]["modelParameters"]["datasets"]]
    assert sorted(refs) == sorted(comps)  # every model-card dataset reference resolves to a component
    deps = {d["ref"]: d.get("dependsOn", []) for d in german_bom["dependencies"]}
    assert sorted(deps["model"]) == sorted(comps)


def test_base_model_pedigree_and_report_metrics(copy_bundle, tmp_path):
    from trustaudit.api import audit
    from trustaudit.bundle import load_bundle

    b = copy_bundle("german-credit")
    edit_lineage(b, lambda lin: lin.update({"base_model": {
        "name": "credit-base", "version": "3", "uri": "https://example.org/models/credit-base",
        "digest": "sha256:" + "ab" * 32, "license": "Apache-2.0"}}))
    bundle = load_bundle(b, load_model=False)
    report = audit(bundle, checks=["lineage.completeness", "lineage.leakage"])
    doc = build_bom(bundle, report=report)
    _validate(doc)
    (anc,) = doc["metadata"]["component"]["pedigree"]["ancestors"]
    assert (anc["name"], anc["version"], anc["type"]) == ("credit-base", "3", "machine-learning-model")
    assert anc["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    assert anc["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    # lineage counts and rates are not measures of the model's performance: no quantitative analysis from them
    # (tests/attest/test_verify_doc.py checks the fairness and accuracy metrics on adult-income-hgb)
    assert "quantitativeAnalysis" not in doc["metadata"]["component"]["modelCard"]
    assert "considerations" not in doc["metadata"]["component"]["modelCard"]


def test_report_must_be_of_these_files(copy_bundle):
    from trustaudit.api import audit
    from trustaudit.bundle import load_bundle
    b = copy_bundle("german-credit")
    report = audit(load_bundle(b, load_model=False), checks=["lineage.completeness"])
    other = copy_bundle("adult-income-predictions")
    with pytest.raises(BomError, match="is an audit of 'german-credit'"):
        build_bom(other, report=report)
    text = (b / "trustaudit.yaml").read_text()  # the same files, another favourable label: the manifest changed
    (b / "trustaudit.yaml").write_text(text.replace("favorable_label: good", "favorable_label: bad", 1))
    with pytest.raises(BomError, match=r"^trustaudit.yaml changed since the audit"):
        build_bom(b, report=report)
    (b / "trustaudit.yaml").write_text(text)
    rewrite_csv_gz(b / "data/eval.csv.gz", lambda df: df.iloc[:-1])
    with pytest.raises(BomError, match=r"data/eval.csv.gz changed since the audit"):
        build_bom(b, report=report)


def test_reproducible_with_source_date_epoch(samples_dir, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    a = bom_json(build_bom(samples_dir / "adult-income-predictions"))
    b = bom_json(build_bom(samples_dir / "adult-income-predictions"))
    assert a == b
    doc = json.loads(a)
    assert doc["metadata"]["timestamp"].startswith("2026-01-01T00:00:00")
    assert "hashes" not in doc["metadata"]["component"]  # a predictions-only bundle has no model file
    _validate(doc)
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert json.loads(bom_json(build_bom(samples_dir / "adult-income-predictions")))["serialNumber"] != \
        doc["serialNumber"]


def test_validate_bom_rejects_invalid(german_bom):
    doc = json.loads(json.dumps(german_bom))
    doc["metadata"]["component"]["modelCard"]["modelParameters"]["approach"] = {"type": "guesswork"}
    with pytest.raises(BomError, match="does not validate against CycloneDX 1.6"):
        validate_bom(json.dumps(doc))


def test_cli_bom(samples_dir, tmp_path):
    from typer.testing import CliRunner

    from trustaudit.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["bom", str(samples_dir / "adult-income-logreg-onnx")])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    _validate(doc)
    assert doc["metadata"]["component"]["properties"][0]["name"].startswith("trustaudit:")
    out = tmp_path / "x" / "bom.cdx.json"
    res = runner.invoke(app, ["bom", str(samples_dir / "german-credit"), "--out", str(out), "--no-validate"])
    assert res.exit_code == 0 and json.loads(out.read_text())["specVersion"] == "1.6"
    res = runner.invoke(app, ["bom", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_bad_lineage_is_a_clear_error(copy_bundle):
    from typer.testing import CliRunner

    from trustaudit.cli import app

    b = copy_bundle("german-credit")
    edit_lineage(b, lambda lin: lin.update({"base_model": {"name": "x", "digest": "md4:00"}}))
    res = CliRunner().invoke(app, ["bom", str(b)])
    assert res.exit_code == 2
    assert 'lineage.base_model.digest: unknown digest algorithm "md4"' in res.output
