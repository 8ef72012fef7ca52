"""Typed audit results (pydantic v2) and their JSON Schema."""

from trustaudit.results.models import (
    SCHEMA_VERSION,
    Artifact,
    AuditReport,
    BundleIdentity,
    CheckResult,
    ConditionResult,
    ConditionSpec,
    FileDigest,
    Interval,
    Metric,
    RubricRef,
    Status,
    Table,
    ToolInfo,
)

__all__ = [
    "SCHEMA_VERSION",
    "Artifact",
    "AuditReport",
    "BundleIdentity",
    "CheckResult",
    "ConditionResult",
    "ConditionSpec",
    "FileDigest",
    "Interval",
    "Metric",
    "RubricRef",
    "Status",
    "Table",
    "ToolInfo",
]
