from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from trustaudit.cli_openness import register
from trustaudit.openness import load_path, score_openness
from trustaudit.openness.badge import badge_svg
from trustaudit.openness.evidence import _fallback_identify, identify_license_text

CONF = Path(__file__).parent / "conformance"
MIT_TEXT = (CONF / "LICENSE-MOT").read_text(encoding="utf-8")


def _bundle(tmp_path: Path, components: list[dict], **license_: str) -> Path:
    manifest = {
        "trustaudit": 1,
        "name": "credit",
        "version": "1",
        "openness": {"license": {k: {"name": v} for k, v in license_.items()}, "components": components},
    }
    (tmp_path / "trustaudit.yaml").write_text(yaml.safe_dump(manifest))
    return tmp_path


def _kinds(result, component: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.kind for f in result.evidence if f.component == component]


def test_evidence_paths_and_license_text(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "LICENSE").write_text(MIT_TEXT)
    (tmp_path / "model.skops").write_bytes(b"x")
    (tmp_path / "LICENSE").write_text(MIT_TEXT)
    root = _bundle(
        tmp_path,
        [
            {"name": "Model architecture", "license": "MIT", "component_path": "code"},
            {"name": "Training code", "license": "Apache-2.0", "component_path": "code"},
            {"name": "Model parameters (Final)", "license": "MIT", "component_path": "model.skops"},
            {"name": "Model card", "component_path": "../outside.md"},
            {"name": "Data card", "component_path": "/etc/passwd"},
            {"name": "Evaluation results", "component_path": "results/missing.json"},
            {"name": "Datasets", "component_path": "https://example.com/data"},
            {"name": "Research paper", "license": "MIT", "license_path": "../LICENSE"},
        ],
        distribution="MIT",
    )
    decl, bundle_root = load_path(root)
    r = score_openness(decl, bundle_root=bundle_root)
    assert _kinds(r, "Model architecture") == ["path_ok", "license_match"]
    assert _kinds(r, "Training code") == ["path_ok", "license_mismatch"]
    assert _kinds(r, "Model parameters (Final)") == ["path_ok", "license_match"]  # root LICENSE, walking up
    assert _kinds(r, "Model card") == ["path_escapes_bundle"]
    assert _kinds(r, "Data card") == ["path_escapes_bundle"]
    assert _kinds(r, "Evaluation results") == ["path_missing"]
    assert _kinds(r, "Datasets") == ["path_remote"]
    assert _kinds(r, "Research paper") == ["no_path", "path_escapes_bundle"]
    mismatch = next(f for f in r.evidence if f.kind == "license_mismatch")
    assert mismatch.identified == ["MIT"] and mismatch.level == "error"


def test_no_evidence_without_bundle_root() -> None:
    decl, root = load_path(sorted(CONF.glob("*.yml"))[0])
    assert root is None
    assert score_openness(decl).evidence == []


def test_license_fallback() -> None:
    assert _fallback_identify(MIT_TEXT) == ["MIT"]
    assert _fallback_identify("// SPDX-License-Identifier: Apache-2.0\n") == ["Apache-2.0"]
    assert _fallback_identify("                    Apache License\n  Version 2.0, January 2004\n") == [
        "Apache-2.0"
    ]
    assert _fallback_identify("Zope Public License 2.1\nblah") == ["ZPL-2.1"]
    assert _fallback_identify("hello world") == []


def test_license_classifier() -> None:
    pytest.importorskip("licenseclassifier")
    ids, method = identify_license_text(MIT_TEXT)
    assert ids == ["MIT"] and method == "licenseclassifier"
    assert identify_license_text("hello world")[0] == []


# ------------------------------------------------------------------------------------------------ CLI


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _main() -> None:  # keep 'openness' a subcommand
        pass

    return app


def test_cli_table(app: typer.Typer) -> None:
    path = next(CONF.glob("Class2R*.yml"))
    res = CliRunner().invoke(app, ["openness", str(path)])
    assert res.exit_code == 0, res.output
    assert "Class II - Open Tooling Model" in res.output
    assert "Model parameters (Final)" in res.output and "Source" in res.output
    assert "Art. 53(2)" in res.output


def test_cli_json_strict_and_many(app: typer.Typer) -> None:
    paths = sorted(CONF.glob("Class*.yml"))
    res = CliRunner().invoke(app, ["openness", str(paths[0]), "--format", "json", "--strict-mot"])
    assert res.exit_code == 0
    data = json.loads(res.output)
    assert data["mode"] == "strict-mot" and data["mof_class"] == "I" and len(data["components"]) == 17
    res = CliRunner().invoke(app, ["openness", *map(str, paths), "--format", "json"])
    assert res.exit_code == 0
    assert [d["mof_class"] for d in json.loads(res.output)] == ["I", "II", "II", "III", "III"]


def test_cli_export_and_badge(app: typer.Typer, tmp_path: Path) -> None:
    path = next(CONF.glob("Class1*.yml"))
    out, svg = tmp_path / "model.yml", tmp_path / "badge.svg"
    res = CliRunner().invoke(app, ["openness", str(path), "--export-mot", str(out), "--badge", str(svg)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["openness", str(out), "--strict-mot", "--format", "json"])
    assert json.loads(res.output)["mof_class"] == "I"
    assert svg.read_text().startswith("<svg") and "Class I - Open Science" in svg.read_text()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "is empty"),
        ("release: [\n", "not valid YAML"),
        ("release:\n  components:\n    - name: Weights\n", "unknown component 'Weights'"),
        ("release:\n  components: 3\n", "release.components"),
    ],
)
def test_cli_bad_input_exits_2(app: typer.Typer, tmp_path: Path, content: str, fragment: str) -> None:
    p = tmp_path / "model.yml"
    p.write_text(content)
    res = CliRunner().invoke(app, ["openness", str(p)])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]


def test_cli_usage_errors(app: typer.Typer) -> None:
    path = str(next(CONF.glob("Class1*.yml")))
    res = CliRunner().invoke(app, ["openness", path, "--format", "xml"])
    assert res.exit_code == 2 and "unknown --format" in res.output
    res = CliRunner().invoke(app, ["openness", path, path, "--badge", "b.svg"])
    assert res.exit_code == 2


def test_cli_module_imports_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, trustaudit.cli_openness;"
        "bad=[m for m in ('pydantic','rich','yaml','license_expression','trustaudit.openness') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


# ---------------------------------------------------------------------------------------------- badge


def test_badge_deterministic_and_escaped() -> None:
    a, b = badge_svg("III"), badge_svg("III")
    assert a == b and "Class III - Open Model" in a
    evil = badge_svg("I", label="<x&y>")
    assert "<x&y>" not in evil and "&lt;x&amp;y&gt;" in evil
    assert "Unclassified (33%)" in badge_svg("unclassified", progress=33.3)
    with pytest.raises(ValueError):
        badge_svg("IV")
