"""The FastAPI application: REST API (``/v1``), health, metrics and the reviewer web pages.

``create_app(settings)`` builds the app; ``trustaudit serve`` runs it under uvicorn. On startup it migrates
the database, re-queues (or fails) jobs a stopped server left ``running`` and starts the worker pool.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustaudit.service import queue
from trustaudit.service.archive import ArchiveError, extract
from trustaudit.service.auth import allows, lookup
from trustaudit.service.config import Settings
from trustaudit.service.db import ApiToken, Job, MetricPoint, OpennessScore, as_utc, utcnow
from trustaudit.service.problems import PROBLEM_RESPONSES, ProblemError, install
from trustaudit.version import __version__

log = logging.getLogger("trustaudit.service")

REPORT_FILES: dict[str, tuple[str, str]] = {
    # name -> (format key, media type)
    "report.json": ("json", "application/json"),
    "report.html": ("html", "text/html; charset=utf-8"),
    "report.pdf": ("pdf", "application/pdf"),
    "report.md": ("md", "text/markdown; charset=utf-8"),
    "junit.xml": ("junit", "application/xml"),
    "report.sarif": ("sarif", "application/sarif+json"),
}
_MEDIA = {".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json", ".csv": "text/csv",
          ".html": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8", ".txt": "text/plain"}


# ---------------------------------------------------------------------------------------------- schemas


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


class ModelHistory(BaseModel):
    model: str
    versions: list[str]
    series: list[HistorySeries]


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


# ---------------------------------------------------------------------------------------------- helpers


def job_out(job: Job) -> AuditJob:
    links = {"self": f"/v1/audits/{job.id}"}
    if job.state == "done":
        for name in REPORT_FILES:
            links[name] = f"/v1/audits/{job.id}/{name}"
    return AuditJob(
        id=job.id, state=job.state, model=job.model_name, version=job.model_version,
        created_at=as_utc(job.created_at), started_at=as_utc(job.started_at),
        finished_at=as_utc(job.finished_at), verdict=job.verdict, counts=job.counts, error=job.error,
        attempts=job.attempts, progress=CheckProgress.model_validate(job.progress or {}),
        options=job.options or {}, duration_s=job.duration_s, notes=job.notes or [], links=links,
    )


def get_session(request: Request) -> Any:
    with request.app.state.sm() as s:
        yield s


SessionDep = Annotated[Session, Depends(get_session)]


def bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


def require(scope: str) -> Callable[..., ApiToken]:
    """Dependency: a valid token with at least ``scope``. A web session cookie counts for read-only GETs."""

    def dep(request: Request, s: SessionDep) -> ApiToken:
        token = bearer(request)
        row = lookup(s, token) if token else None
        if row is None and token is None and request.method in ("GET", "HEAD"):
            from trustaudit.service.web import session_token

            row = session_token(request, s)
        if row is None:
            raise ProblemError(401, "unauthorized",
                               "a valid API token is required (Authorization: Bearer <token>)",
                               headers={"WWW-Authenticate": "Bearer"})
        if not allows(row.scope, scope):
            raise ProblemError(403, "forbidden", f"this token has scope '{row.scope}'; this needs '{scope}'")
        return row

    return dep


def _job_or_404(s: Session, job_id: str) -> Job:
    job = s.get(Job, job_id) if len(job_id) <= 64 else None
    if job is None:
        raise ProblemError(404, "not-found", f"no audit with id '{job_id}'")
    return job


def _parse_params(raw: str | None) -> dict[str, dict[str, Any]]:
    if not raw:
        return {}
    try:
        val = json.loads(raw)
    except ValueError:
        raise ProblemError(422, "invalid-request", "params must be a JSON object: {check_id: {param: value}}") from None
    if not isinstance(val, dict) or not all(isinstance(k, str) and isinstance(v, dict) for k, v in val.items()):
        raise ProblemError(422, "invalid-request", "params must be a JSON object: {check_id: {param: value}}")
    return val


def validate_options(checks: list[str] | None, rubric: str | None, bundle_dir: Path | None) -> None:
    from trustaudit.checks import registry
    from trustaudit.errors import TrustAuditError
    from trustaudit.rubrics import load_rubric

    try:
        if checks and not registry.select(checks):
            raise ProblemError(422, "invalid-request", f"--checks {checks} selects no check")
        if rubric:
            if rubric.endswith((".yaml", ".yml")):
                if bundle_dir is None:
                    raise ProblemError(422, "invalid-request", "a rubric file must be inside the bundle")
                from trustaudit.bundle.loader import resolve_inside

                load_rubric(resolve_inside(bundle_dir, rubric, "rubric"))
            elif "/" in rubric or "\\" in rubric:
                raise ProblemError(422, "invalid-request",
                                   "rubric must be a packaged rubric name or a .yaml file inside the bundle")
            else:
                load_rubric(rubric)
    except TrustAuditError as exc:
        raise ProblemError(422, "invalid-options", exc.one_line()) from None


def validate_bundle(bundle_dir: Path, allow_unsafe_pickle: bool, trusted_types: tuple[str, ...] = ()) -> tuple[str, str]:
    """Check the extracted bundle without loading the model; refuse pickles unless allowed. -> (name, version)."""
    from trustaudit.bundle.loader import load_bundle
    from trustaudit.bundle.manifest import MANIFEST_NAME, load_manifest
    from trustaudit.errors import TrustAuditError

    if not (bundle_dir / MANIFEST_NAME).is_file():
        raise ProblemError(422, "invalid-bundle",
                           f"the archive holds no {MANIFEST_NAME} at its top level (or in one top folder)")
    try:
        manifest = load_manifest(bundle_dir)
        fmt = manifest.model.format if manifest.model is not None else None
        if fmt in ("joblib", "pickle") and not allow_unsafe_pickle:
            raise ProblemError(422, "unsafe-model",
                               f"the bundle's model is a {fmt} file, which runs code when loaded; this server "
                               "was not started with --allow-unsafe-pickle. Convert the model to skops or ONNX")
        load_bundle(bundle_dir, allow_unsafe_pickle=allow_unsafe_pickle, load_model=False)
        if fmt == "skops" and manifest.model is not None:
            # the schema only (no object is built): refuse a model with untrusted types before it is queued
            from trustaudit.bundle.loader import resolve_inside
            from trustaudit.bundle.models import check_skops_types

            check_skops_types(resolve_inside(bundle_dir, manifest.model.path, "model.path"), trusted_types,
                              manifest.model.trusted_types)
    except TrustAuditError as exc:
        raise ProblemError(422, "invalid-bundle", exc.one_line()) from None
    return manifest.name, manifest.version


def _copy_upload(upload: UploadFile, dest: Path, cap: int) -> int:
    n = 0
    with dest.open("wb") as out:
        while True:
            chunk = upload.file.read(1 << 20)
            if not chunk:
                break
            n += len(chunk)
            if n > cap:
                raise ProblemError(413, "upload-too-large", f"the upload exceeds the limit of {cap} bytes")
            out.write(chunk)
    return n


def accept_bundle(request: Request, s: Session, upload: UploadFile, *, checks: list[str] | None,
                  rubric: str | None, seed: int, params: dict[str, Any], token: ApiToken | None) -> Job:
    """Extract, validate and enqueue an uploaded bundle; the job row is committed before returning."""
    st: Settings = request.app.state.settings
    job_id = queue.new_job_id()
    job_dir = st.data_dir / "jobs" / job_id
    upload_path = st.data_dir / "uploads" / f"{job_id}.upload"
    try:
        _copy_upload(upload, upload_path, st.max_upload_bytes)
        if upload_path.stat().st_size == 0:
            raise ProblemError(422, "malformed-archive", "the uploaded bundle is empty")
        try:
            extract(upload_path, job_dir / "bundle", st.limits)
        except ArchiveError as exc:
            raise ProblemError(exc.status, exc.kind, exc.message) from None
        name, version = validate_bundle(job_dir / "bundle", st.allow_unsafe_pickle, st.trusted_types)
        validate_options(checks, rubric, job_dir / "bundle")
        job = Job(id=job_id, state="queued", created_at=utcnow(), submitted_by=token.id if token else None,
                  options={"checks": checks or None, "rubric": rubric, "seed": seed, "params": params},
                  model_name=name[:200], model_version=str(version)[:100], attempts=0,
                  max_attempts=st.max_attempts, progress={}, cancel_requested=False, artifacts=[], notes=[])
        s.add(job)
        s.commit()
        return job
    except BaseException:
        shutil.rmtree(job_dir, ignore_errors=True)
        raise
    finally:
        upload_path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------- renderings

_render_locks: dict[tuple[str, str], threading.Lock] = {}
_render_guard = threading.Lock()


def _out_dir(job: Job, data_dir: Path) -> Path | None:
    for a in job.artifacts or []:
        if a.endswith("/report.json"):
            return data_dir / "jobs" / job.id / a.rsplit("/", 1)[0]
    return None


def _gate_text(report: Any, fmt: str, out: Path) -> str | None:
    """JUnit XML / SARIF of the gate's decision on this report (trustaudit.gate); None when not installed."""
    import tempfile

    try:
        from trustaudit.gate import gate
    except ImportError:
        return None
    result = gate(report)
    if fmt == "sarif":
        from trustaudit.gate.sarif import to_sarif

        return json.dumps(to_sarif(result, report_path=out / "report.json"), indent=2)
    from trustaudit.gate.junit import write_junit

    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".junit-") as tmp:
        return write_junit(result, Path(tmp) / "junit.xml").read_text(encoding="utf-8")


def materialize(job: Job, name: str, data_dir: Path) -> Path | None:
    """The file for report rendering ``name``, rendering it (atomically, once) on first request.

    None when this build cannot produce that format. Renderings are written to a private folder and moved
    into place, so a half-written file is never served.
    """
    out = _out_dir(job, data_dir)
    if out is None:
        return None
    target = out / name
    if name == "report.json" or target.is_file():
        return target if target.is_file() else None
    fmt = REPORT_FILES[name][0]
    with _render_guard:
        lock = _render_locks.setdefault((job.id, name), threading.Lock())
    with lock:
        if target.is_file():
            return target
        from trustaudit.results.io import atomic_write, load_report

        report = load_report(out / "report.json")
        if fmt in ("junit", "sarif"):
            text = _gate_text(report, fmt, out)
            if text is None:
                return None
            atomic_write(target, text)
            return target
        try:
            data = _render_via_dir(report, fmt, out, name)
        except _Unavailable:
            return None
        if data is None:
            return None
        atomic_write(target, data)
        return target


class _Unavailable(Exception):
    pass


def _render_via_dir(report: Any, fmt: str, out: Path, name: str) -> Any:
    """Render from the job's own output directory (artefacts are read in place, never copied); None when the
    renderer does not know the format."""
    import importlib

    try:
        mod = importlib.import_module("trustaudit.render")
    except ImportError:
        raise _Unavailable() from None
    try:
        data = mod.render(report, fmt, report_dir=out)
    except Exception as exc:
        if "unknown" in str(exc).lower() or "not available" in str(exc).lower() or isinstance(exc, KeyError):
            raise _Unavailable() from None
        raise
    return data.encode("utf-8") if isinstance(data, str) else data


# ---------------------------------------------------------------------------------------------- routes

api = APIRouter(prefix="/v1", responses={**PROBLEM_RESPONSES})


@api.post("/audits", status_code=202, response_model=AuditJob, tags=["audits"],
          responses={413: PROBLEM_RESPONSES[422] | {"description": "Upload or archive too large"}})
def submit_audit(
    request: Request,
    s: SessionDep,
    token: Annotated[ApiToken, Depends(require("submit"))],
    bundle: Annotated[UploadFile, File(description="The bundle as a .tar.gz or .zip archive")],
    checks: Annotated[list[str] | None, Form(description="Check ids or patterns (fairness.*)")] = None,
    rubric: Annotated[str | None, Form(max_length=200, description="Packaged rubric name or a .yaml path inside the bundle")] = None,
    seed: Annotated[int, Form(ge=0, le=2**31 - 1)] = 0,
    params: Annotated[str | None, Form(max_length=100_000, description='JSON: {"fairness.model": {"bootstrap": 200}}')] = None,
) -> JSONResponse:
    """Submit a bundle for audit. Answers 202 once the job is committed to the database."""
    job = accept_bundle(request, s, bundle, checks=[c for c in (checks or []) if c] or None, rubric=rubric or None,
                        seed=seed, params=_parse_params(params), token=token)
    return JSONResponse(job_out(job).model_dump(mode="json"), status_code=202,
                        headers={"Location": f"/v1/audits/{job.id}"})


def query_jobs(s: Session, *, model: str | None = None, version: str | None = None, verdict: str | None = None,
               state: str | None = None, since: datetime | None = None, limit: int = 50,
               offset: int = 0) -> tuple[list[Job], int]:
    q = select(Job)
    if model:
        q = q.where(Job.model_name == model)
    if version:
        q = q.where(Job.model_version == version)
    if verdict:
        q = q.where(Job.verdict == verdict)
    if state:
        q = q.where(Job.state == state)
    if since:
        q = q.where(Job.created_at >= since)
    total = int(s.scalar(select(func.count()).select_from(q.subquery())) or 0)
    rows = list(s.scalars(q.order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)))
    return rows, total


@api.get("/audits", response_model=AuditPage, tags=["audits"])
def list_audits(
    s: SessionDep,
    _t: Annotated[ApiToken, Depends(require("read"))],
    model: Annotated[str | None, Query(max_length=200)] = None,
    version: Annotated[str | None, Query(max_length=100)] = None,
    verdict: Literal["pass", "warn", "fail", "error"] | None = None,
    state: Literal["queued", "running", "done", "failed", "cancelled"] | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> AuditPage:
    """Audits, newest first, filtered by model, version, verdict, state and creation time."""
    rows, total = query_jobs(s, model=model, version=version, verdict=verdict, state=state, since=since,
                             limit=limit, offset=offset)
    return AuditPage(items=[job_out(j) for j in rows], total=total, limit=limit, offset=offset)


@api.get("/audits/{audit_id}", response_model=AuditJob, tags=["audits"])
def get_audit(audit_id: str, s: SessionDep, _t: Annotated[ApiToken, Depends(require("read"))]) -> AuditJob:
    """State, progress per check and verdict of one audit."""
    return job_out(_job_or_404(s, audit_id))


@api.delete("/audits/{audit_id}", response_model=AuditJob, tags=["audits"],
            responses={409: PROBLEM_RESPONSES[422] | {"description": "The audit already finished"}})
def cancel_audit(audit_id: str, s: SessionDep, _t: Annotated[ApiToken, Depends(require("submit"))]) -> Any:
    """Cancel a queued audit, or ask a running one to stop before its next check (answers 202 then)."""
    job = _job_or_404(s, audit_id)
    if job.state in ("done", "failed", "cancelled"):
        raise ProblemError(409, "conflict", f"audit {audit_id} is already {job.state}")
    state = queue.cancel(s, job)
    s.refresh(job)
    return JSONResponse(job_out(job).model_dump(mode="json"), status_code=200 if state == "cancelled" else 202)


@api.get("/audits/{audit_id}/{name:path}", tags=["audits"],
         responses={200: {"description": "The file", "content": {
             "application/json": {}, "text/html": {}, "application/pdf": {}, "text/markdown": {},
             "application/xml": {}, "image/svg+xml": {}}},
             409: PROBLEM_RESPONSES[422] | {"description": "The audit is not done"}})
def get_audit_file(audit_id: str, name: str, request: Request, s: SessionDep,
                   _t: Annotated[ApiToken, Depends(require("read"))]) -> Response:
    """A rendering of a finished audit (report.json, report.html, report.pdf, report.md, junit.xml,
    report.sarif) or an artefact it wrote (e.g. an SVG plot). Renderings are produced on first request."""
    job = _job_or_404(s, audit_id)
    if job.state != "done":
        raise ProblemError(409, "not-ready", f"audit {audit_id} is {job.state}; files exist once it is done")
    data_dir: Path = request.app.state.settings.data_dir
    if name in REPORT_FILES:
        path = materialize(job, name, data_dir)
        if path is None:
            raise ProblemError(404, "format-unavailable",
                               f"{name} cannot be produced by this build (the renderer is not installed)")
        media = REPORT_FILES[name][1]
        return FileResponse(path, media_type=media, filename=f"{job.model_name}-{job.model_version}-{name}",
                            content_disposition_type="inline" if name != "report.pdf" else "attachment")
    out = _out_dir(job, data_dir)
    rel = [a.split("/", 1)[1] for a in (job.artifacts or []) if "/" in a]
    if out is None or name not in rel:
        raise ProblemError(404, "not-found", f"audit {audit_id} has no file '{name}'")
    return FileResponse(out / name, media_type=_MEDIA.get(Path(name).suffix.lower(), "application/octet-stream"))


@api.get("/models/{name}/history", response_model=ModelHistory, tags=["models"])
def model_history(name: str, s: SessionDep, _t: Annotated[ApiToken, Depends(require("read"))]) -> ModelHistory:
    """Each headline metric (every rubric-judged metric and subject) across the model's versions, with its
    interval, versions in release order. When a version was audited several times, its latest audit counts."""
    return history(s, name)


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
    return ModelHistory(model=name, versions=versions, series=out)


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


def openness_out(row: OpennessScore) -> OpennessEntry:
    return OpennessEntry(id=row.id, model=row.model_name, version=row.model_version, mof_class=row.mof_class,
                         class_label=row.class_label, class_rank=row.class_rank,
                         total_progress=row.total_progress, progress=row.progress, source=row.source,
                         created_at=as_utc(row.created_at), badge=f"/v1/openness/{row.id}/badge.svg")


@api.post("/openness", status_code=201, response_model=OpennessEntry, tags=["openness"])
def post_openness(
    request: Request,
    s: SessionDep,
    _t: Annotated[ApiToken, Depends(require("submit"))],
    file: Annotated[UploadFile, File(description="A MOT model.yml or a Hugging Face model card (README.md)")],
    name: Annotated[str | None, Form(max_length=200)] = None,
    version: Annotated[str | None, Form(max_length=100)] = None,
) -> OpennessEntry:
    """Score a model release against the Model Openness Framework and add it to the catalog."""
    return openness_from_upload(s, file, name=name, version=version,
                                cap=min(request.app.state.settings.max_upload_bytes, 2 * 1024 * 1024))


def openness_from_upload(s: Session, file: UploadFile, *, name: str | None, version: str | None,
                         cap: int) -> OpennessEntry:
    from trustaudit.errors import TrustAuditError
    from trustaudit.service.openness import score_upload, store_result

    raw = file.file.read(cap + 1)
    if len(raw) > cap:
        raise ProblemError(413, "upload-too-large", f"the declaration exceeds {cap} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProblemError(422, "invalid-declaration", "the file is not UTF-8 text") from None
    try:
        result = score_upload(text, file.filename or "model.yml")
    except TrustAuditError as exc:
        raise ProblemError(422, "invalid-declaration", exc.one_line()) from None
    return openness_out(store_result(s, result, name=name or None, version=version or None))


@api.get("/openness", response_model=list[OpennessEntry], tags=["openness"])
def list_openness(s: SessionDep, _t: Annotated[ApiToken, Depends(require("read"))],
                  latest: bool = True) -> list[OpennessEntry]:
    """The openness catalog: the latest score of every model (``latest=false``: every score)."""
    return [openness_out(r) for r in catalog(s, latest)]


def catalog(s: Session, latest: bool = True) -> list[OpennessScore]:
    rows = list(s.scalars(select(OpennessScore).order_by(OpennessScore.created_at.desc(), OpennessScore.id.desc())))
    if not latest:
        return rows
    seen: dict[tuple[str, str], OpennessScore] = {}
    for r in rows:
        seen.setdefault((r.model_name, r.model_version), r)
    return list(seen.values())


@api.get("/openness/{score_id}/badge.svg", tags=["openness"],
         responses={200: {"content": {"image/svg+xml": {}}, "description": "SVG badge"}})
def openness_badge(score_id: int, s: SessionDep, _t: Annotated[ApiToken, Depends(require("read"))]) -> Response:
    """A shields-style SVG badge of the model's MOF class."""
    from trustaudit.openness.badge import badge_svg

    row = s.get(OpennessScore, score_id) if 0 <= score_id < 2**62 else None
    if row is None:
        raise ProblemError(404, "not-found", f"no openness score {score_id}")
    return Response(badge_svg(row.mof_class, progress=row.total_progress), media_type="image/svg+xml")


ops = APIRouter(tags=["operations"])


@ops.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@ops.get("/readyz", response_model=Health, responses={503: {"model": Health, "description": "Not ready"}})
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


@ops.get("/metrics", response_class=PlainTextResponse,
         responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
def metrics(request: Request) -> Response:
    """Prometheus metrics: jobs by state, audit durations, HTTP requests."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)


class _JobCollector:
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


# ---------------------------------------------------------------------------------------------- app


class BodyLimit:
    """ASGI middleware: refuse request bodies over the cap before they are spooled to disk."""

    def __init__(self, app: Any, cap: int) -> None:
        self.app = app
        self.cap = cap

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        cl = headers.get(b"content-length")
        if cl is not None and cl.isdigit() and int(cl) > self.cap:
            from trustaudit.service.problems import problem_response

            resp = problem_response(413, "upload-too-large",
                                    f"the request body is {int(cl)} bytes; the limit is {self.cap}")
            await resp(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.cap:
                    raise ProblemError(413, "upload-too-large", f"the request body exceeds {self.cap} bytes")
            return msg

        await self.app(scope, limited, send)


def create_app(settings: Settings) -> FastAPI:
    from prometheus_client import CollectorRegistry, Counter

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from trustaudit.service.db import head_revision, make_engine, make_sessionmaker, migrate
        from trustaudit.service.worker import WorkerPool

        settings.prepare()
        migrate(settings.database_url)
        app.state.head = head_revision(settings.database_url)
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.sm = make_sessionmaker(engine)
        rec = queue.recover(app.state.sm)
        if any(rec.values()):
            log.warning("recovered jobs left by a stopped server: %s", rec)
        app.state.registry.register(_JobCollector(app.state.sm))
        pool: Any = None
        if settings.start_workers and settings.workers > 0 and settings.executor != "local":
            from trustaudit.service.dask_pool import DaskPool

            pool = DaskPool(settings.executor, settings.data_dir, settings.allow_unsafe_pickle, app.state.sm,
                            limits=settings.limits, connect_timeout=settings.connect_timeout_s,
                            trusted_types=settings.trusted_types)
            pool.start()
        elif settings.start_workers and settings.workers > 0:
            pool = WorkerPool(settings.workers, settings.database_url, settings.data_dir,
                              settings.allow_unsafe_pickle, app.state.sm, trusted_types=settings.trusted_types)
            pool.start()
        app.state.pool = pool
        try:
            yield
        finally:
            if pool is not None:
                pool.stop()
            engine.dispose()

    app = FastAPI(
        title="trustaudit service",
        version=__version__,
        description="Submit model bundles for audit, follow jobs, download reports, browse model history and "
                    "the openness catalog. Every endpoint except /healthz, /readyz and /metrics needs a token "
                    "(`Authorization: Bearer <token>`, created with `trustaudit token create`).",
        lifespan=lifespan,
        openapi_tags=[{"name": "audits"}, {"name": "models"}, {"name": "openness"}, {"name": "operations"}],
    )
    app.state.settings = settings
    app.state.pool = None
    app.state.registry = CollectorRegistry()
    requests_total = Counter("trustaudit_http_requests", "HTTP requests", ["method", "status"],
                             registry=app.state.registry)
    install(app)
    app.include_router(api)
    app.include_router(ops)
    from trustaudit.service.web import install_login_redirect, static_app
    from trustaudit.service.web import router as web_router

    install_login_redirect(app)
    app.include_router(web_router)
    app.mount("/static", static_app(), name="static")

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        t0 = time.perf_counter()
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
        requests_total.labels(request.method, str(response.status_code)).inc()
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - t0) * 1000:.1f}"
        return response

    app.add_middleware(BodyLimit, cap=settings.max_upload_bytes + 64 * 1024)
    return app
