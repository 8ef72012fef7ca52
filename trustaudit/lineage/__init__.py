"""Lineage and provenance: the typed ``lineage:`` manifest section, parsers for the places a model describes
itself (MLflow ``MLmodel``, Hugging Face card front matter, CycloneDX), the CycloneDX ML-BOM writer
(:mod:`trustaudit.lineage.bom`) and the in-toto attestation writer (:mod:`trustaudit.lineage.attestation`).

Importing this package is light (pydantic and PyYAML); the BOM writer imports cyclonedx-python-lib lazily.
"""

from __future__ import annotations

from typing import Any

from trustaudit.lineage.spec import (
    ALGORITHMS,
    BaseModelRef,
    CodeRef,
    DataRef,
    LineageSpec,
    Producer,
    Sources,
    TrainingSpec,
    format_digest,
    lineage_from_mapping,
    parse_digest,
    parse_lineage,
)

__all__ = [
    "ALGORITHMS",
    "BaseModelRef",
    "CodeRef",
    "DataRef",
    "LineageSpec",
    "Producer",
    "Sources",
    "TrainingSpec",
    "format_digest",
    "lineage_from_mapping",
    "parse_digest",
    "parse_lineage",
    "validate_lineage",
]


def validate_lineage(bundle: Any) -> Any:
    """Validate a loaded bundle's lineage section and the MLmodel / model card / BOM it has; return the bundle.

    Raises :class:`trustaudit.errors.BundleError` with one line naming the key or file. Used by
    ``trustaudit validate``; the lineage checks do the same and record the error on the check.
    """
    from trustaudit.lineage.sources import discover

    spec = parse_lineage(bundle.manifest)
    discover(bundle, spec)
    return bundle
