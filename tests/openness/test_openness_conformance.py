"""--strict-mot reproduces MOT on its own 27 conformance files: class and the three progress values."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from trustaudit.openness import load_mot_file, score_openness

HERE = Path(__file__).parent / "conformance"
FILES = sorted(HERE.glob("*.yml"))
CLASS = {0: "unclassified", 1: "I", 2: "II", 3: "III"}


def _expected() -> dict[str, dict]:
    text = (HERE / "expected_results.json").read_text(encoding="utf-8")
    data = json.loads(re.sub(r",(\s*[}\]])", r"\1", text))  # MOT's output has trailing commas
    return {m["release"]["name"]: m["classification"] for m in data["models"]}


EXPECTED = _expected()


def test_there_are_27_files_and_27_expectations() -> None:
    assert len(FILES) == 27
    assert len(EXPECTED) == 27
    names = {load_mot_file(f).release.name for f in FILES}
    assert names == set(EXPECTED)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem[:60])
def test_strict_mot_matches_expected(path: Path) -> None:
    decl = load_mot_file(path)
    want = EXPECTED[decl.release.name]
    result = score_openness(decl, strict_mot=True)
    assert result.mof_class == CLASS[want["class"]]
    assert result.class_label == want["label"]
    # exact float equality: MOT computes (total - invalid) / total * 100 in doubles, as we do
    assert result.progress["I"] == want["progress"]["1"]
    assert result.progress["II"] == want["progress"]["2"]
    assert result.progress["III"] == want["progress"]["3"]
    assert result.total_progress == pytest.approx(sum(want["progress"].values()) / 3)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem[:60])
def test_default_mode_agrees_on_clean_spdx_files(path: Path) -> None:
    # the conformance files use exact SPDX ids only, so the default mode grades them as MOT does; the one
    # documented extension they touch is CC-PDDC (a public-domain dedication) counted as open data
    decl = load_mot_file(path)
    strict = score_openness(decl, strict_mot=True)
    default = score_openness(decl)
    assert default.mof_class == strict.mof_class
    assert default.progress == strict.progress
    assert default.strict is not None and default.strict.progress == strict.progress
    for row in default.components:
        if row.differs_from_strict:
            assert row.license == "CC-PDDC" and row.difference


def test_result_is_json_serialisable() -> None:
    result = score_openness(load_mot_file(FILES[0]))
    again = type(result).model_validate_json(result.model_dump_json())
    assert again == result
