"""The durable job queue: rows in the ``jobs`` table, claimed with one conditional UPDATE.

A job moves queued -> running -> done | failed | cancelled. A worker owns a running job through its ``claim``
token; every later write is conditional on that token, so a worker that lost its claim (the server restarted and
re-queued the job) can never overwrite the newer attempt.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from trustaudit.service.db import Job, MetricPoint, utcnow


def new_job_id() -> str:
    return uuid.uuid4().hex


def claim_next(sm: sessionmaker[Any], worker: str) -> Job | None:
    """Atomically take the oldest queued job; None when the queue is empty."""
    for _ in range(20):
        claim = f"{worker}:{uuid.uuid4().hex[:12]}"
        with sm() as s:
            sub = select(Job.id).where(Job.state == "queued").order_by(Job.created_at, Job.id).limit(1)
            if s.get_bind().dialect.name == "postgresql":
                sub = sub.with_for_update(skip_locked=True)
            job_id = s.scalars(sub).first()
            if job_id is None:
                s.rollback()
                return None
            res = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.state == "queued")
                .values(state="running", claim=claim, started_at=utcnow(), attempts=Job.attempts + 1,
                        progress={"done": 0, "total": None, "current": None, "checks": {}})
            )
            s.commit()
            if res.rowcount == 1:
                return s.get(Job, job_id)
        # another worker won the race for that row: try the next one
    return None


def _owned(s: Session, job_id: str, owner: str, **values: Any) -> bool:
    res = s.execute(update(Job).where(Job.id == job_id, Job.claim == owner, Job.state == "running").values(**values))
    return bool(res.rowcount == 1)  # type: ignore[attr-defined]


def set_progress(sm: sessionmaker[Any], job_id: str, claim: str, progress: dict[str, Any]) -> bool:
    """Record progress; returns False when the job was cancelled or the claim was lost (the worker stops)."""
    with sm() as s:
        ok = _owned(s, job_id, claim, progress=progress)
        s.commit()
        if not ok:
            return False
        return not bool(s.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


def finish(sm: sessionmaker[Any], job_id: str, claim: str, *, verdict: str, counts: dict[str, int],
           duration_s: float, artifacts: list[str], progress: dict[str, Any],
           points: list[dict[str, Any]], model_name: str, model_version: str) -> bool:
    with sm() as s:
        ok = _owned(s, job_id, claim, state="done", verdict=verdict, counts=counts, duration_s=duration_s,
                    artifacts=artifacts, finished_at=utcnow(), progress=progress, claim=None,
                    model_name=model_name, model_version=model_version)
        if not ok:
            s.rollback()
            return False
        now = utcnow()
        s.add_all(MetricPoint(job_id=job_id, model_name=model_name, model_version=model_version, created_at=now,
                              **p) for p in points)
        s.commit()
        return True


def fail(sm: sessionmaker[Any], job_id: str, claim: str, reason: str, state: str = "failed") -> bool:
    with sm() as s:
        ok = _owned(s, job_id, claim, state=state, error=reason[:2000], finished_at=utcnow(), claim=None)
        s.commit()
        return ok


def release(sm: sessionmaker[Any], job: Job, claim: str, note: str) -> str:
    """Give back a running job whose attempt the executor lost (a Dask scheduler that went away): re-queued while
    attempts remain, failed with ``note`` once out of them, cancelled when a cancel was asked. Conditional on the
    claim; returns the new state, or ``"lost"`` when the claim was no longer ours."""
    with sm() as s:
        asked = bool(s.scalar(select(Job.cancel_requested).where(Job.id == job.id)))
        if asked:
            values: dict[str, Any] = {"state": "cancelled", "error": "cancelled while running",
                                      "finished_at": utcnow()}
        elif job.attempts < job.max_attempts:
            values = {"state": "queued"}
        else:
            values = {"state": "failed", "error": f"{note}; gave up after {job.attempts} attempt(s)"[:2000],
                      "finished_at": utcnow()}
        ok = _owned(s, job.id, claim, claim=None, notes=[*(job.notes or []), note], **values)
        s.commit()
        return str(values["state"]) if ok else "lost"


def cancel(s: Session, job: Job) -> str:
    """Cancel a queued job at once; ask a running one to stop at its next check. Returns the new state."""
    if job.state == "queued":
        res = s.execute(update(Job).where(Job.id == job.id, Job.state == "queued")
                        .values(state="cancelled", finished_at=utcnow(), error="cancelled before it started",
                                cancel_requested=True))
        s.commit()
        if res.rowcount == 1:  # type: ignore[attr-defined]
            return "cancelled"
        s.refresh(job)
    if job.state == "running":
        s.execute(update(Job).where(Job.id == job.id).values(cancel_requested=True))
        s.commit()
        return "running"
    return job.state


def recover(sm: sessionmaker[Any]) -> dict[str, int]:
    """At startup: jobs left ``running`` by a stopped server are re-queued, or failed once out of attempts."""
    out = {"requeued": 0, "failed": 0, "cancelled": 0}
    with sm() as s:
        stale = list(s.scalars(select(Job).where(Job.state == "running")))
        for job in stale:
            note = f"attempt {job.attempts} was interrupted (the server stopped while it ran)"
            if job.cancel_requested:
                job.state, job.error, job.finished_at = "cancelled", "cancelled while running", utcnow()
                out["cancelled"] += 1
            elif job.attempts < job.max_attempts:
                job.state = "queued"
                out["requeued"] += 1
            else:
                job.state = "failed"
                job.error = f"{note}; gave up after {job.attempts} attempt(s)"
                job.finished_at = utcnow()
                out["failed"] += 1
            job.claim = None
            job.notes = [*(job.notes or []), note]
        s.commit()
    return out


def counts_by_state(s: Session) -> dict[str, int]:
    rows = s.execute(select(Job.state, func.count()).group_by(Job.state)).all()
    return {str(k): int(v) for k, v in rows}
