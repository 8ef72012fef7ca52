"""Operations: ``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics`` (Prometheus), without a token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import select

from trustaudit.service import queue
from trustaudit.service.config import Settings
from trustaudit.service.db import Job
from trustaudit.service.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health, "description": "Not ready"}})
def readyz(request: Request) -> Any:
    """Readiness: database reachable and migrated, data directory writable, workers alive (with a Dask
    executor: the scheduler answers and has at least one worker)."""
    from sqlalchemy import text

    from trustaudit.service.db import current_revision

    st: Settings = request.app.state.settings
    checks: dict[str, str] = {}
    ok = True
    try:
        with request.app.state.sm() as s:
            s.execute(text("SELECT 1"))
        rev = current_revision(request.app.state.engine)
        checks["database"] = f"ok (revision {rev})"
        if rev != request.app.state.head:
            checks["database"] = f"schema at {rev}, expected {request.app.state.head}"
            ok = False
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
        ok = False
    probe = st.data_dir / ".ready-probe"
    try:
        probe.write_text("ok")
        probe.unlink()
        checks["data_dir"] = "ok"
    except OSError as exc:
        checks["data_dir"] = f"not writable: {exc.strerror}"
        ok = False
    pool = request.app.state.pool
    if pool is not None and hasattr(pool, "health"):  # a Dask cluster: the scheduler answers, with workers
        ready, checks["workers"] = pool.health()
        ok = ok and ready
    elif pool is not None:
        alive = pool.alive()
        checks["workers"] = f"{alive}/{pool.n} alive"
        ok = ok and alive > 0
    else:
        checks["workers"] = "disabled"
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
def metrics(request: Request) -> Response:
    """Prometheus metrics: jobs by state, audit durations, HTTP requests."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)


class JobCollector:
    """Reads job counts and durations from the database at scrape time (workers are other processes)."""

    BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)

    def __init__(self, sm: Any) -> None:
        self.sm = sm

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

        with self.sm() as s:
            counts = queue.counts_by_state(s)
            durations = [float(d) for d in s.scalars(select(Job.duration_s).where(Job.state == "done",
                                                                                  Job.duration_s.is_not(None)))]
        g = GaugeMetricFamily("trustaudit_jobs", "Audit jobs by state", labels=["state"])
        for st in ("queued", "running", "done", "failed", "cancelled"):
            g.add_metric([st], counts.get(st, 0))
        yield g
        buckets = [(str(b), sum(1 for d in durations if d <= b)) for b in self.BUCKETS]
        buckets.append(("+Inf", len(durations)))
        yield HistogramMetricFamily("trustaudit_audit_duration_seconds", "Duration of finished audits",
                                    buckets=buckets, sum_value=sum(durations))
