"""lineage.completeness: scored against the documented field list."""

from __future__ import annotations

import pytest

from tests.lineage.conftest import edit_lineage, metric, run
from trustaudit.checks.lineage.completeness import FIELDS
from trustaudit.results import Status

CHECK = "lineage.completeness"


def test_field_list_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "lineage.md").read_text(encoding="utf-8")
    for f in FIELDS:
        assert f"`{f.key}`" in doc, f.key


@pytest.mark.parametrize(("name", "declared", "applicable"),
                         [("german-credit", 12, 14), ("adult-income-predictions", 11, 13)])
def test_samples(samples_dir, name, declared, applicable):
    res = run(samples_dir / name, [CHECK], load_model=False).check(CHECK)
    m = metric(res, "completeness")
    assert m.value == pytest.approx(declared / applicable) and m.n == applicable
    # the only gaps are the placeholder code reference (a predictions bundle has no model file to digest)
    assert res.evidence["placeholder"] == ["code_repository", "code_commit"] and res.evidence["missing"] == []
    assert res.status == Status.PASS  # 12/14 = 0.857 >= 0.75


def test_missing_fields_lower_the_score(german):
    def strip(lin):
        for key in ("code", "producer", "created", "license", "base_model"):
            lin.pop(key)
        for ref in lin["training_data"]:
            ref.pop("license")

    edit_lineage(german, strip)
    res = run(german, [CHECK], load_model=False).check(CHECK)
    assert metric(res, "completeness").value == pytest.approx(7 / 14)
    assert set(res.evidence["missing"]) == {"code_repository", "code_commit", "producer", "created", "license",
                                            "base_model", "training_data_license"}
    assert res.status == Status.WARN  # below the default 0.75


def test_no_lineage_section_scores_zero(synthetic_bundle):
    res = run(synthetic_bundle(200), [CHECK], load_model=False).check(CHECK)
    assert metric(res, "completeness").value == 0.0
    assert "no lineage section" in res.summary and res.status == Status.WARN
