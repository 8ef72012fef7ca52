"""The REST API's response models (the ``components.schemas`` of docs/openapi.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class CheckProgress(BaseModel):
    done: int = 0
    total: int | None = None
    current: str | None = None
    checks: dict[str, str] = Field(default_factory=dict, description="check id -> running | done | final status")


class AuditJob(BaseModel):
    id: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    model: str
    version: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    verdict: str | None = Field(None, description="pass | warn | fail | error once done")
    counts: dict[str, int] | None = None
    error: str | None = Field(None, description="Why the job failed or was cancelled")
    attempts: int
    progress: CheckProgress
    options: dict[str, Any]
    duration_s: float | None = None
    notes: list[str] = Field(default_factory=list)
    links: dict[str, str] = Field(default_factory=dict)


class AuditPage(BaseModel):
    items: list[AuditJob]
    total: int
    limit: int
    offset: int


class HistoryPoint(BaseModel):
    version: str
    audit_id: str
    created_at: datetime
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    status: str
    bound_low: float | None = Field(None, description="Lower bound of the condition this audit was judged with")
    bound_high: float | None = Field(None, description="Upper bound of the condition this audit was judged with")


class HistorySeries(BaseModel):
    check_id: str
    metric: str
    subject: str
    points: list[HistoryPoint]


class VersionAudit(BaseModel):
    """The audit a version's points come from (its latest finished audit), with its verdict."""

    version: str
    audit_id: str
    verdict: str | None = Field(None, description="pass | warn | fail | error")
    finished_at: datetime | None = None
    points: int = Field(0, description="Metric points this audit recorded for the history (rubric-judged metrics)")


class ModelHistory(BaseModel):
    model: str
    versions: list[str]
    series: list[HistorySeries]
    audits: list[VersionAudit] = Field(
        default_factory=list, description="Per version in release order: the audit its points come from, with its verdict"
    )


class OpennessEntry(BaseModel):
    id: int
    model: str
    version: str
    mof_class: str
    class_label: str
    class_rank: int
    total_progress: float
    progress: dict[str, float]
    source: str
    created_at: datetime
    badge: str


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
