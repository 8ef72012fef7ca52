"""Model Openness Framework (MOF) scorer: grade how open a model's release is.

``score_openness(declaration)`` is a pure function; the loaders read MOT ``model.yml`` files, bundle manifests
(``openness:`` section) and Hugging Face model cards. See docs/openness.md.
"""

from trustaudit.openness.errors import OpennessInputError
from trustaudit.openness.io import (
    declaration_from_manifest,
    declaration_from_mapping,
    dump_mot,
    load_hf_card,
    load_mot_file,
    load_mot_text,
    load_path,
)
from trustaudit.openness.models import (
    Art53Hint,
    ComponentDecl,
    ComponentRow,
    Declaration,
    EvidenceFinding,
    GlobalLicense,
    GlobalLicenses,
    OpennessResult,
    Release,
    StrictSummary,
)
from trustaudit.openness.scorer import score_openness

__all__ = [
    "Art53Hint",
    "ComponentDecl",
    "ComponentRow",
    "Declaration",
    "EvidenceFinding",
    "GlobalLicense",
    "GlobalLicenses",
    "OpennessInputError",
    "OpennessResult",
    "Release",
    "StrictSummary",
    "declaration_from_manifest",
    "declaration_from_mapping",
    "dump_mot",
    "load_hf_card",
    "load_mot_file",
    "load_mot_text",
    "load_path",
    "score_openness",
]
