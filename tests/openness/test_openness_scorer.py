from __future__ import annotations

import pytest
from openness_helpers import CLASS_I, CLASS_II, CLASS_III, decl, full

from trustaudit.openness import score_openness
from trustaudit.openness.components import COMPONENT_NAMES


def test_license_resolution_order() -> None:
    d = decl(
        [
            {"name": "Model architecture", "license": "MIT"},  # own license wins
            {"name": "Training code"},  # code global
            {"name": "Model parameters (Final)"},  # data global
            {"name": "Model card"},  # no document global -> distribution
        ],
        distribution="Apache-2.0",
        code="BSD-3-Clause",
        data="CDLA-Permissive-2.0",
    )
    for strict in (True, False):
        r = score_openness(d, strict_mot=strict)
        got = {c.name: (c.license, c.source) for c in r.components if c.included}
        assert got == {
            "Model architecture": ("MIT", "component"),
            "Training code": ("BSD-3-Clause", "global-code"),
            "Model parameters (Final)": ("CDLA-Permissive-2.0", "global-data"),
            "Model card": ("Apache-2.0", "distribution"),
        }


def test_no_license_anywhere_is_unlicensed_and_unlisted_is_missing() -> None:
    r = score_openness(
        decl([{"name": "Model card"}, {"name": "Data card", "license": "unlicensed"}], distribution="MIT")
    )
    assert r.component("Model card").counted
    assert r.component("Data card").status == "unlicensed"  # explicit 'unlicensed' does not inherit
    assert r.component("Data card").source == "component"
    assert r.component("Datasets").status == "missing"
    r = score_openness(decl([{"name": "Model card"}]))
    assert r.component("Model card").status == "unlicensed"
    assert r.component("Model card").source == "none"


def test_class_iii_complete() -> None:
    r = score_openness(decl(full(CLASS_III)))
    assert r.mof_class == "III" and r.class_label == "Class III - Open Model" and r.class_rank == 1
    assert r.progress == {"I": 0.0, "II": 60.0, "III": 100.0}


def test_class_ii_and_i() -> None:
    r = score_openness(decl(full(CLASS_II, "Apache-2.0")))
    assert r.mof_class == "II"
    assert r.progress["I"] == 10 / 14 * 100
    r = score_openness(decl(full(CLASS_I, "OpenMDW-1.0")))
    assert r.mof_class == "I" and r.class_rank == 3
    assert r.progress == {"I": 100.0, "II": 100.0, "III": 100.0}
    assert r.total_progress == 100.0


def test_progress_gating() -> None:
    # everything of classes II and I, but Class III misses the model card: II and I are 0
    names = tuple(n for n in CLASS_I if n != "Model card")
    r = score_openness(decl(full(names)))
    assert r.progress == {"I": 0.0, "II": 0.0, "III": 5 / 6 * 100}
    assert r.mof_class == "unclassified"
    # Class III complete, Class II missing one: I is 0, II counts its bucket
    names = tuple(n for n in CLASS_I if n != "Evaluation data")
    r = score_openness(decl(full(names)))
    assert r.progress == {"I": 0.0, "II": 90.0, "III": 100.0}
    assert r.mof_class == "III"


def test_technical_report_substitution_by_research_paper() -> None:
    names = tuple(n for n in CLASS_II if n != "Technical report") + ("Research paper",)
    for strict in (True, False):
        r = score_openness(decl(full(names)), strict_mot=strict)
        assert r.technical_report_substituted
        assert r.component("Technical report").status == "missing"
        assert r.component("Technical report").substituted_by == "Research paper"
        assert r.mof_class == "II"
        assert r.progress["I"] == 10 / 13 * 100  # Class I total drops by one


def test_substitution_uses_the_papers_own_status() -> None:
    names = tuple(n for n in CLASS_III if n != "Technical report")
    comps = full(names) + [{"name": "Research paper", "license": "Proprietary-Foo"}]
    r = score_openness(decl(comps))
    assert r.technical_report_substituted
    assert r.progress["III"] == 5 / 6 * 100
    assert r.mof_class == "unclassified"


def test_no_substitution_when_report_counted() -> None:
    r = score_openness(decl(full(CLASS_III) + [{"name": "Research paper", "license": "MIT"}]))
    assert not r.technical_report_substituted
    assert r.progress == {"I": 0.0, "II": 60.0, "III": 100.0}


def test_optional_components_do_not_count() -> None:
    optional = [n for n in COMPONENT_NAMES if n not in CLASS_I]
    assert sorted(optional) == ["Model metadata", "Sample model outputs", "Supporting libraries and tools"]
    r = score_openness(decl(full(tuple(optional))))
    assert r.progress == {"I": 0.0, "II": 0.0, "III": 0.0}
    assert not r.component("Model metadata").required


def test_default_mode_normalises_and_explains_difference() -> None:
    comps = full(CLASS_III, "Apache 2.0")
    strict = score_openness(decl(comps), strict_mot=True)
    default = score_openness(decl(comps))
    assert strict.mof_class == "unclassified" and strict.component("Model card").status == "invalid"
    assert default.mof_class == "III"
    row = default.component("Model card")
    assert row.spdx == "Apache-2.0" and row.differs_from_strict and row.strict_status == "invalid"
    assert "normalised to 'Apache-2.0'" in (row.difference or "")
    assert default.strict is not None and default.strict.mof_class == "unclassified"
    assert any("--strict-mot" in w for w in default.warnings)


def test_restrictive_and_type_appropriateness_statuses() -> None:
    comps = full(CLASS_III, "CC-BY-4.0")
    comps[1] = {"name": "Model parameters (Final)", "license": "llama3.1"}
    comps[0] = {"name": "Model architecture", "license": "CC-BY-4.0"}  # open, but not a code license
    r = score_openness(decl(comps))
    w = r.component("Model parameters (Final)")
    assert w.status == "restrictive" and not w.counted and "700 million" in (w.reason or "")
    a = r.component("Model architecture")
    assert a.status == "not_type_appropriate" and a.counted
    assert any("not an open source software license" in x for x in a.warnings)
    assert not r.final_parameters_open
    assert r.art53.applies is False and "restricts use" in r.art53.reason


def test_art53_hint() -> None:
    r = score_openness(decl(full(CLASS_III)))
    assert r.art53.applies is True
    assert any("systemic risk" in c for c in r.art53.caveats)
    r = score_openness(decl([{"name": "Model parameters (Final)", "license": "Apache-2.0"}]))
    assert r.art53.applies is None
    r = score_openness(decl([{"name": "Model card", "license": "MIT"}]))
    assert r.art53.applies is False and "not declared public" in r.art53.reason
    r = score_openness(decl([]))
    assert r.art53.applies is None


def test_duplicate_component_warns() -> None:
    r = score_openness(
        decl([{"name": "Model card", "license": "MIT"}, {"name": "Model card", "license": "foo"}])
    )
    assert r.component("Model card").license == "MIT"
    assert any("listed twice" in w for w in r.warnings)


def test_accepts_a_mapping() -> None:
    r = score_openness({"release": {"components": full(CLASS_III)}})
    assert r.mof_class == "III"


@pytest.mark.parametrize("strict", [True, False])
def test_every_row_present(strict: bool) -> None:
    r = score_openness(decl([]), strict_mot=strict)
    assert [c.name for c in r.components] == list(COMPONENT_NAMES)
    assert all(c.status == "missing" for c in r.components)
