"""The compliance map (packaged YAML): complete, consistent, and looked up in the documented order."""

from __future__ import annotations

from trustaudit.render.compliance import FRAMEWORKS, load_map


def test_every_code_is_defined_and_every_entry_covers_all_frameworks():
    cmap = load_map()
    assert cmap.undefined_codes() == []
    entries = [*cmap.sections.values(), *cmap.checks.values(), *cmap.keywords, *cmap.categories.values(),
               cmap.default]
    for e in entries:
        for fw in FRAMEWORKS:
            assert e.get(fw), (e, fw)
    for cat in ("fairness", "robustness", "explainability", "lineage", "openness"):
        assert cat in cmap.categories
    for fw in FRAMEWORKS:
        assert cmap.frameworks[fw]["title"] and cmap.frameworks[fw]["column"]


def test_lookup_order():
    cmap = load_map()
    assert cmap.for_check("fairness.dataset", "fairness").matched_by == "check fairness.dataset"
    assert "Art. 10(2)(f)-(g)" in cmap.for_check("fairness.dataset", "fairness").refs["eu_ai_act"]
    m = cmap.for_check("robustness.membership_inference", "robustness")
    assert m.matched_by == "keyword 'membership'" and "MEASURE 2.10" in m.refs["nist_ai_rmf"]
    assert cmap.for_check("lineage.leakage", "lineage").refs["iso_42001"] == ["A.7.4", "A.7.6"]
    assert cmap.for_check("fairness.model", "fairness").refs["nist_ai_rmf"] == ["MEASURE 2.11"]
    assert cmap.for_check("openness.x", "weird").matched_by == "family openness"
    assert cmap.for_check("acme.calibration", "calibration").matched_by == "default"
    assert cmap.for_section("verdict").refs["nist_ai_rmf"][0] == "MANAGE 1.1"
    assert cmap.describe("iso_42001", "A.7.5") == "Data provenance."
