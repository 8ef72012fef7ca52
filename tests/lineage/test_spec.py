"""The typed lineage section: every sample manifest parses; bad input gets one line naming the key."""

from __future__ import annotations

import hashlib

import pytest

from tests.lineage.conftest import read_manifest
from trustaudit.bundle.manifest import load_manifest
from trustaudit.errors import BundleError
from trustaudit.lineage import LineageSpec, format_digest, lineage_from_mapping, parse_digest, parse_lineage

SAMPLES = ["adult-income-hgb", "adult-income-logreg", "adult-income-logreg-onnx", "adult-income-predictions",
           "german-credit"]
HEX = "ab" * 32


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_manifests_parse(samples_dir, name):
    spec = parse_lineage(load_manifest(samples_dir / name))
    assert spec.license == "CC-BY-4.0"
    assert spec.code is not None and spec.code.is_placeholder  # the samples' code reference is a placeholder
    assert spec.declared("base_model") and spec.base_model is None  # explicit: not fine-tuned
    assert spec.created is not None and spec.created.year == 2026
    (train,) = spec.training_data
    assert train.path == "data/train.csv.gz"
    # the declared digest is the file's sha256, computed here independently
    want = hashlib.sha256((samples_dir / name / "data/train.csv.gz").read_bytes()).hexdigest()
    assert train.digest == {"sha256": want}
    assert spec.training is not None and spec.training.params.get("random_state") == 0


def test_absent_section_is_empty():
    class M:
        lineage = None

    spec = parse_lineage(M())
    assert spec == LineageSpec() and not spec.declared("base_model") and spec.all_digests() == []


def test_digest_forms():
    assert parse_digest(f"sha256:{HEX.upper()}") == {"sha256": HEX}
    assert parse_digest({"SHA-256": HEX, "sha512": "cd" * 64}) == {"sha256": HEX, "sha512": "cd" * 64}
    assert format_digest({"sha512": "cd" * 64, "sha256": HEX}) == f"sha256:{HEX}"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"files": {"model.skops": "md4:" + "0" * 32}},
         'lineage.files["model.skops"]: unknown digest algorithm "md4" (supported: sha256'),
        ({"files": {"model.skops": "md5:" + "0" * 32}}, 'digest algorithm "md5" is not accepted: it is collision-prone'),
        ({"files": {"model.skops": "sha256:abc"}}, "the sha256 digest must be 64 hex characters (got 3"),
        ({"files": {"model.skops": HEX}}, "a digest is written 'sha256:<hex>'"),
        ({"training_data": [{"path": "t.csv", "digest": "sha1:" + "0" * 40}]},
         'lineage.training_data[0].digest: digest algorithm "sha1" is not accepted'),
        ({"code": {"repository": "https://x", "comit": "abc"}}, "unknown key 'lineage.code.comit' (did you mean 'commit'?)"),
        ({"licence": "MIT"}, "unknown key 'lineage.licence' (did you mean 'license'?)"),
        ({"training_data": {"path": "/etc/passwd"}}, "lineage.training_data[0].path: path '/etc/passwd' is absolute"),
        ({"files": {"../secret": f"sha256:{HEX}"}}, "climbs out of the bundle"),
        ({"training_data": [{"rows": 3}]}, "give at least one of path (inside the bundle), uri or name"),
        ({"code": {"commit": "abc"}}, "required key 'lineage.code.repository' is missing"),
        ({"created": "yesterday"}, "lineage.created: Input should be a valid datetime"),
        ("just text", "'lineage' must be a mapping"),
    ],
)
def test_bad_lineage_one_line(raw, message):
    with pytest.raises(BundleError) as info:
        lineage_from_mapping(raw)
    text = info.value.one_line()
    assert message in text, text
    assert "\n" not in str(info.value)


def test_conveniences():
    spec = lineage_from_mapping({
        "training_data": {"name": "adult", "uri": "https://doi.org/10.24432/C5XW20"},  # one mapping -> list
        "producer": "Jane Doe",  # a string -> Producer(name=...)
        "created": "2026-03-04",
        "code": {"repository": "https://example.org/x.git", "commit": "0000000"},  # all zeros -> placeholder
        "training": {"framework_version": 1.5},
    })
    assert [r.name for r in spec.training_data] == ["adult"]
    assert spec.producer is not None and spec.producer.name == "Jane Doe"
    assert spec.code is not None and spec.code.is_placeholder and not spec.code.placeholder
    assert spec.training is not None and spec.training.framework_version == "1.5"
    assert not spec.declared("base_model")


def test_validate_command_reports_lineage_errors(copy_bundle):
    from typer.testing import CliRunner

    from tests.lineage.conftest import write_manifest
    from trustaudit.cli import app

    b = copy_bundle("german-credit")
    data = read_manifest(b)
    data["lineage"]["files"]["model.skops"] = "md4:" + "0" * 32
    write_manifest(b, data)
    res = CliRunner().invoke(app, ["validate", str(b)])
    assert res.exit_code == 2
    assert 'lineage.files["model.skops"]: unknown digest algorithm "md4"' in res.output
