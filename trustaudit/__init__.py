"""trustaudit: audit ML models for trustworthiness and grade how open their release is.

Public API (imported lazily so that ``import trustaudit`` and ``trustaudit --help`` stay fast)::

    from trustaudit import audit, load_bundle, AuditReport, Status
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trustaudit.version import __version__

__all__ = [
    "MITIGATED_TYPES",
    "AuditReport",
    "Bundle",
    "Check",
    "CheckOutput",
    "CheckParams",
    "MetricSpec",
    "SkipCheck",
    "Status",
    "__version__",
    "audit",
    "audit_many",
    "check_attestation",
    "load_bundle",
    "load_report",
    "load_rubric",
    "mitigate",
    "openness_many",
    "run_audit",
    "save_mitigated",
    "score_openness",
    "sign_attestation",
    "verify_attestation",
    "write_bom",
    "write_report",
]

_LAZY = {
    "audit": "trustaudit.api",
    "audit_many": "trustaudit.scale",
    "openness_many": "trustaudit.scale",
    "write_report": "trustaudit.results.io",
    "load_report": "trustaudit.results.io",
    "run_audit": "trustaudit.pipeline",
    "AuditReport": "trustaudit.results",
    "Status": "trustaudit.results",
    "Bundle": "trustaudit.bundle",
    "load_bundle": "trustaudit.bundle",
    "Check": "trustaudit.checks.base",
    "CheckOutput": "trustaudit.checks.base",
    "CheckParams": "trustaudit.checks.base",
    "MetricSpec": "trustaudit.checks.base",
    "SkipCheck": "trustaudit.errors",
    "load_rubric": "trustaudit.rubrics",
    "score_openness": "trustaudit.openness",
    "mitigate": "trustaudit.mitigation",
    "save_mitigated": "trustaudit.mitigation",
    "MITIGATED_TYPES": "trustaudit.mitigation",
    "check_attestation": "trustaudit.lineage.attestation",
    "verify_attestation": "trustaudit.lineage.attestation",
    "sign_attestation": "trustaudit.lineage.attestation",
    "write_bom": "trustaudit.lineage.bom",
}

if TYPE_CHECKING:  # pragma: no cover
    from trustaudit.api import audit
    from trustaudit.bundle import Bundle, load_bundle
    from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec
    from trustaudit.errors import SkipCheck
    from trustaudit.lineage.attestation import check_attestation, sign_attestation, verify_attestation
    from trustaudit.lineage.bom import write_bom
    from trustaudit.mitigation import MITIGATED_TYPES, mitigate, save_mitigated
    from trustaudit.pipeline import run_audit
    from trustaudit.results import AuditReport, Status
    from trustaudit.results.io import load_report, write_report
    from trustaudit.rubrics import load_rubric
    from trustaudit.scale import audit_many, openness_many


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trustaudit' has no attribute {name!r}")
