"""trustaudit: audit ML models for trustworthiness and grade how open their release is.

Public API (imported lazily so that ``import trustaudit`` and ``trustaudit --help`` stay fast)::

    from trustaudit import audit, load_bundle, AuditReport, Status
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trustaudit.version import __version__

__all__ = [
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
    "load_bundle",
    "load_report",
    "load_rubric",
    "openness_many",
    "run_audit",
    "score_openness",
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
}

if TYPE_CHECKING:  # pragma: no cover
    from trustaudit.api import audit
    from trustaudit.bundle import Bundle, load_bundle
    from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec
    from trustaudit.errors import SkipCheck
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
