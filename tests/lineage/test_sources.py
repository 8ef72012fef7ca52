"""Parsers for MLmodel, Hugging Face card front matter and CycloneDX: good files and clear errors."""

from __future__ import annotations

import json

import pytest

from trustaudit.errors import BundleError
from trustaudit.lineage.sources import parse_cyclonedx, parse_mlmodel, parse_model_card

MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.7
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.9.1
mlflow_version: 2.19.0
model_uuid: 4c3f1d9b0e2a4d8f9a7b6c5d4e3f2a1b
run_id: 0a1b2c3d4e5f
signature:
  inputs: '[{"type": "long", "name": "age", "required": true}, {"type": "string", "name": "sex", "required": true}]'
  outputs: '[{"type": "string", "required": true}]'
  params: null
utc_time_created: '2026-01-02 03:04:05.123456'
"""


def test_mlmodel(tmp_path):
    p = tmp_path / "MLmodel"
    p.write_text(MLMODEL)
    info = parse_mlmodel(p)
    assert info.run_id == "0a1b2c3d4e5f" and info.model_uuid == "4c3f1d9b0e2a4d8f9a7b6c5d4e3f2a1b"
    assert [(c.name, c.type) for c in info.inputs or []] == [("age", "long"), ("sex", "string")]
    assert info.framework_version("scikit-learn") == "1.9.1"
    assert info.created is not None and (info.created.year, info.created.hour) == (2026, 3)
    assert info.outputs is not None and info.outputs[0].name is None


def test_mlmodel_tensor_signature(tmp_path):
    p = tmp_path / "MLmodel"
    p.write_text("flavors: {onnx: {data: model.onnx}}\nsignature:\n  inputs: "
                 "'[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float32\", \"shape\": [-1, 4]}}]'\n")
    info = parse_mlmodel(p)
    assert info.inputs is None and info.tensor_inputs == [{"name": None, "dtype": "float32", "shape": [-1, 4]}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("flavors: {sklearn: {}\nrun_id: x\n", "is not valid YAML at line"),
        ("- a\n- b\n", "must be a YAML mapping (with 'flavors'), not list"),
        ("run_id: abc\n", "has no 'flavors' mapping"),
        ("flavors: {sklearn: {}}\nsignature:\n  inputs: '[{\"type\": \"long\", \"name\": \"age\"'\n",
         "signature.inputs is not valid JSON (line 1"),
        ("flavors: {sklearn: {}}\nsignature:\n  inputs: '[{\"type\": \"int128\", \"name\": \"age\"}]'\n",
         "signature.inputs[0] has unknown type 'int128'"),
        ("flavors: {sklearn: {}}\nsignature:\n  inputs: '{\"type\": \"long\"}'\n", "must be a JSON list"),
        ("flavors: {sklearn: {}}\nsignature: [1, 2]\n", "'signature' must be a mapping"),
        ("flavors: {sklearn: {}}\nrun_id: [1, 2]\n", "'run_id' must be a string"),
    ],
)
def test_malformed_mlmodel(tmp_path, text, message):
    p = tmp_path / "MLmodel"
    p.write_text(text)
    with pytest.raises(BundleError) as info:
        parse_mlmodel(p)
    assert message in str(info.value) and str(p) in str(info.value)


def test_model_card(tmp_path):
    p = tmp_path / "README.md"
    p.write_text("---\nlicense: apache-2.0\ndatasets:\n- scikit-learn/adult-census-income\n"
                 "base_model: bert-base-uncased\nlibrary_name: sklearn\n---\n# Title\n")
    card = parse_model_card(p)
    assert card is not None
    assert (card.license, card.datasets, card.base_model, card.library_name) == (
        "apache-2.0", ["scikit-learn/adult-census-income"], ["bert-base-uncased"], "sklearn")


def test_model_card_other_license_and_no_front_matter(tmp_path):
    p = tmp_path / "README.md"
    p.write_text("---\nlicense: other\nlicense_name: my-license\n---\n")
    card = parse_model_card(p)
    assert card is not None and card.license == "my-license"
    p.write_text("# just a readme\n")
    assert parse_model_card(p, required=False) is None
    with pytest.raises(BundleError, match="has no YAML front matter"):
        parse_model_card(p)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\nlicense: mit\ndatasets: [a, b\n---\n", "(front matter) is not valid YAML at line 3"),
        ("---\n- a\n---\n", "the front matter must be a YAML mapping, not list"),
        ("---\nlicense: {id: mit}\n---\n", "'license' must be a string, not dict"),
        ("---\ndatasets: {a: 1}\n---\n", "'datasets' must be a string or a list of strings"),
    ],
)
def test_malformed_card(tmp_path, text, message):
    p = tmp_path / "README.md"
    p.write_text(text)
    with pytest.raises(BundleError) as info:
        parse_model_card(p)
    assert message in str(info.value), str(info.value)


def test_cyclonedx(tmp_path):
    doc = {
        "bomFormat": "CycloneDX", "specVersion": "1.6",
        "metadata": {"component": {"type": "machine-learning-model", "name": "m", "version": "2",
                                   "bom-ref": "m", "hashes": [{"alg": "SHA-256", "content": "AB" * 32}],
                                   "licenses": [{"license": {"id": "MIT"}}, {"expression": "Apache-2.0 OR MIT"}],
                                   "pedigree": {"ancestors": [{"type": "machine-learning-model", "name": "base"}]},
                                   "modelCard": {"modelParameters": {"datasets": [{"ref": "d"}]}}}},
        "components": [{"type": "data", "name": "train", "bom-ref": "d",
                        "hashes": [{"alg": "MD5", "content": "00"}, {"alg": "SHA-256", "content": "cd" * 32}],
                        "components": [{"type": "data", "name": "nested"}]},
                       {"type": "library", "name": "numpy"}],
    }
    p = tmp_path / "bom.cdx.json"
    p.write_text(json.dumps(doc))
    info = parse_cyclonedx(p)
    (m,) = info.models
    assert (m.name, m.version, m.hashes, m.licenses, m.ancestors, m.datasets) == (
        "m", "2", {"sha256": "ab" * 32}, ["MIT", "Apache-2.0 OR MIT"], ["base"], ["d"])
    assert [d.name for d in info.datasets] == ["train", "nested"]
    assert info.datasets[0].hashes == {"sha256": "cd" * 32}  # MD5 ignored
    assert info.by_ref("d") is info.datasets[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"bomFormat": "CycloneDX",', "is not valid JSON (line 1"),
        ('{"bomFormat": "SPDX"}', "is not a CycloneDX BOM"),
        ('{"bomFormat": "CycloneDX", "components": {"a": 1}}', "'components' must be a list"),
        ('{"bomFormat": "CycloneDX", "components": [{"name": "x"}]}', "components[0] needs 'type' and 'name'"),
        ('{"bomFormat": "CycloneDX", "components": [{"type": "data", "name": "x", "hashes": [{"alg": "SHA-256"}]}]}',
         "components[0].hashes entries need 'alg' and 'content'"),
    ],
)
def test_malformed_cyclonedx(tmp_path, text, message):
    p = tmp_path / "bom.cdx.json"
    p.write_text(text)
    with pytest.raises(BundleError) as info:
        parse_cyclonedx(p)
    assert message in str(info.value), str(info.value)
