"""A model's history: each headline metric across its audited versions, versions in release order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustaudit.service.db import Job, MetricPoint, as_utc
from trustaudit.service.problems import ProblemError
from trustaudit.service.schemas import HistoryPoint, HistorySeries, ModelHistory, VersionAudit


def history(s: Session, name: str) -> ModelHistory:
    jobs = list(s.scalars(select(Job).where(Job.model_name == name, Job.state == "done")
                          .order_by(Job.finished_at, Job.id)))
    latest: dict[str, Job] = {}
    for j in jobs:
        latest[j.model_version] = j  # later finished wins
    if not jobs:
        raise ProblemError(404, "not-found", f"no finished audit of model '{name}'")
    first_seen: dict[str, Any] = {}
    for j in jobs:
        first_seen.setdefault(j.model_version, as_utc(j.created_at))
    order = sorted(latest.values(), key=lambda j: _version_key(j.model_version, first_seen[j.model_version]))
    versions = [j.model_version for j in order]
    ids = {j.id: j for j in order}
    pts = list(s.scalars(select(MetricPoint).where(MetricPoint.job_id.in_(list(ids)))))
    series: dict[tuple[str, str, str], list[HistoryPoint]] = {}
    for p in pts:
        j = ids[p.job_id]
        series.setdefault((p.check_id, p.metric, p.subject), []).append(HistoryPoint(
            version=p.model_version, audit_id=p.job_id, created_at=as_utc(j.finished_at) or as_utc(j.created_at),
            value=p.value, ci_low=p.ci_low, ci_high=p.ci_high, n=p.n, status=p.status,
            bound_low=p.bound_low, bound_high=p.bound_high))
    rank = {v: i for i, v in enumerate(versions)}
    out = [HistorySeries(check_id=k[0], metric=k[1], subject=k[2], points=sorted(v, key=lambda x: rank[x.version]))
           for k, v in sorted(series.items())]
    counted: dict[str, int] = {}
    for p in pts:
        counted[p.job_id] = counted.get(p.job_id, 0) + 1
    audits = [VersionAudit(version=j.model_version, audit_id=j.id, verdict=j.verdict,
                           finished_at=as_utc(j.finished_at), points=counted.get(j.id, 0)) for j in order]
    return ModelHistory(model=name, versions=versions, series=out, audits=audits)


def _version_key(version: str, first_seen: Any) -> tuple[Any, ...]:
    """Release order: PEP 440 versions by value (then the rest by when first audited)."""
    try:
        from packaging.version import InvalidVersion, Version

        try:
            return (0, Version(version), first_seen)
        except InvalidVersion:
            pass
    except ImportError:
        pass
    return (1, first_seen, version)
