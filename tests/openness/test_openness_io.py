from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from trustaudit.errors import TrustAuditError
from trustaudit.openness import (
    OpennessInputError,
    declaration_from_manifest,
    dump_mot,
    load_hf_card,
    load_mot_file,
    load_mot_text,
    load_path,
    score_openness,
)

CONF = Path(__file__).parent / "conformance"


def _err(text: str) -> str:
    with pytest.raises(OpennessInputError) as info:
        load_mot_text(text, source="model.yml")
    msg = info.value.one_line()
    assert "\n" not in msg
    return msg


def test_error_is_a_trustaudit_error() -> None:
    assert issubclass(OpennessInputError, TrustAuditError)


def test_invalid_yaml() -> None:
    msg = _err("release:\n  components: [\n")
    assert msg.startswith("model.yml is not valid YAML at line")


def test_empty_file(tmp_path: Path) -> None:
    assert "is empty" in _err("")
    assert "is empty" in _err("   \n# only a comment\n")
    p = tmp_path / "model.yml"
    p.write_text("")
    with pytest.raises(OpennessInputError, match="is empty"):
        load_mot_file(p)
    with pytest.raises(OpennessInputError, match="is empty"):
        load_path(p)


def test_unknown_component_names_the_closest() -> None:
    msg = _err("release:\n  components:\n    - name: Model parameter (final)\n      license: MIT\n")
    assert "unknown component 'Model parameter (final)'" in msg
    assert "did you mean 'Model parameters (Final)'?" in msg
    assert "did you mean 'Model card'?" in _err("release:\n  components:\n    - name: model-card\n")


def test_wrong_types() -> None:
    msg = _err("release:\n  components: 12\n")
    assert "release.components" in msg
    msg = _err("release:\n  components:\n    - name: Model card\n      license: [MIT, Apache-2.0]\n")
    assert "release.components.0.license" in msg and "SPDX expression" in msg
    assert "must be a mapping" in _err("release:\n  components:\n    - Model card\n")
    assert "must be a YAML mapping" in _err("- a\n- b\n")
    assert "no 'release' section" in _err("foo: 1\n")
    msg = _err("release:\n  license:\n    distribution: [5]\n")
    assert "release.license.distribution" in msg


def test_unknown_license_is_a_warning_not_an_error() -> None:
    d = load_mot_text("release:\n  components:\n    - name: Model card\n      license: Foo Corp License\n")
    r = score_openness(d)
    row = r.component("Model card")
    assert row.status == "invalid"
    assert any("unknown license 'Foo Corp License'" in w for w in r.warnings)


def test_unknown_component_key_is_noted() -> None:
    d = load_mot_text("release:\n  components:\n    - name: Model card\n      licence: MIT\n")
    assert any("did you mean 'license'" in n for n in d.notes)
    assert any("did you mean 'license'" in w for w in score_openness(d).warnings)


def test_yaml_scalars_are_accepted() -> None:
    d = load_mot_text(
        "framework: {name: Model Openness Framework, version: 1.0, date: 2024-12-15}\nrelease: {}\n"
    )
    assert d.framework.version == "1.0" and d.framework.date == "2024-12-15"
    d = load_mot_text("release:\n  license: []\n  components:\n")
    assert d.release.components == []


def test_export_round_trip() -> None:
    for path in sorted(CONF.glob("*.yml"))[:5]:
        d = load_mot_file(path)
        again = load_mot_text(dump_mot(d))
        assert score_openness(again, strict_mot=True) == score_openness(d, strict_mot=True).model_copy(
            update={"source": "<text>"}
        )


def test_export_normalises_spellings() -> None:
    d = load_mot_text(
        "release:\n  name: x\n  license: {distribution: {name: Apache 2.0}}\n"
        "  components:\n    - {name: Model card, license: cc-by-4.0}\n"
    )
    text = dump_mot(d)
    data = yaml.safe_load(text)
    assert data["release"]["license"]["distribution"]["name"] == "Apache-2.0"
    assert data["release"]["components"][0]["license"] == "CC-BY-4.0"
    assert data["framework"]["name"] == "Model Openness Framework"
    assert score_openness(load_mot_text(text), strict_mot=True).component("Model card").counted


MANIFEST = {
    "trustaudit": 1,
    "name": "credit",
    "version": "2.1",
    "openness": {
        "license": {"distribution": {"name": "Apache-2.0"}},
        "components": [
            {"name": "Model architecture", "license": "Apache-2.0", "component_path": "model.skops"}
        ],
    },
}


def test_manifest_section() -> None:
    d = declaration_from_manifest(MANIFEST)
    assert d.release.name == "credit" and d.release.version == "2.1"
    assert d.release.license.distribution is not None and d.release.license.distribution.name == "Apache-2.0"
    assert [c.name for c in d.release.components] == ["Model architecture"]
    # the section alone works too
    d = declaration_from_manifest(MANIFEST["openness"])
    assert d.release.components[0].component_path == "model.skops"
    with pytest.raises(OpennessInputError, match="unknown component"):
        declaration_from_manifest({"openness": {"components": [{"name": "Weights"}]}})
    with pytest.raises(OpennessInputError, match="must be a mapping"):
        declaration_from_manifest({"openness": ["x"]})


def test_bundle_dir_and_manifest_file(tmp_path: Path) -> None:
    (tmp_path / "trustaudit.yaml").write_text(yaml.safe_dump(MANIFEST))
    d, root = load_path(tmp_path)
    assert root == tmp_path and d.release.name == "credit"
    d, root = load_path(tmp_path / "trustaudit.yaml")
    assert root == tmp_path
    (tmp_path / "trustaudit.yaml").write_text("trustaudit: 1\nname: x\n")
    with pytest.raises(OpennessInputError, match="no 'openness' section"):
        load_path(tmp_path)


CARD = """---
license: llama3.1
datasets:
  - HuggingFaceFW/fineweb
base_model: meta-llama/Llama-3.1-8B
---
# My model
"""


def test_hf_card(tmp_path: Path) -> None:
    p = tmp_path / "README.md"
    p.write_text(CARD)
    d = load_hf_card(p)
    assert d.release.license.distribution is not None
    assert d.release.license.distribution.name == "llama3.1"
    names = [c.name for c in d.release.components]
    assert names == ["Model parameters (Final)", "Model card"]
    r = score_openness(d)
    w = r.component("Model parameters (Final)")
    assert w.status == "restrictive" and w.source == "distribution"
    assert any("fineweb" in x for x in r.warnings)
    assert any("base model meta-llama/Llama-3.1-8B" in x for x in r.warnings)
    assert r.art53.applies is False
    d2, root = load_path(p)
    assert root is None and d2.release.license == d.release.license


def test_hf_card_other_and_errors(tmp_path: Path) -> None:
    p = tmp_path / "README.md"
    p.write_text("---\nlicense: other\nlicense_name: gemma-terms-of-use\n---\n")
    r = score_openness(load_hf_card(p))
    assert r.component("Model parameters (Final)").status == "restrictive"
    p.write_text("# no front matter\n")
    with pytest.raises(OpennessInputError, match="no YAML front matter"):
        load_hf_card(p)
    p.write_text("---\nlicense: [unclosed\n---\n")
    with pytest.raises(OpennessInputError, match="not valid YAML"):
        load_hf_card(p)
    p.write_text("")
    with pytest.raises(OpennessInputError, match="is empty"):
        load_hf_card(p)
    p.write_text("---\nlicense: apache-2.0\n---\n")
    r = score_openness(load_hf_card(p))
    assert r.component("Model parameters (Final)").spdx == "Apache-2.0"


def test_missing_path() -> None:
    with pytest.raises(OpennessInputError, match="does not exist"):
        load_path("/nonexistent/model.yml")
