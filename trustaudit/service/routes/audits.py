"""``/v1/audits``: submit a bundle, list and follow audits, cancel one, download its renderings and files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response

from trustaudit.service import queue
from trustaudit.service.db import ApiToken
from trustaudit.service.deps import SessionDep, require
from trustaudit.service.jobs import accept_bundle, job_or_404, job_out, parse_params, query_jobs
from trustaudit.service.problems import PROBLEM_RESPONSES, ProblemError
from trustaudit.service.rendering import MEDIA_TYPES, REPORT_FILES, materialize, out_dir
from trustaudit.service.schemas import AuditJob, AuditPage

router = APIRouter()


@router.post("/audits", status_code=202, response_model=AuditJob, tags=["audits"],
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
                        seed=seed, params=parse_params(params), token=token)
    return JSONResponse(job_out(job).model_dump(mode="json"), status_code=202,
                        headers={"Location": f"/v1/audits/{job.id}"})


@router.get("/audits", response_model=AuditPage, tags=["audits"])
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


@router.get("/audits/{audit_id}", response_model=AuditJob, tags=["audits"])
def get_audit(audit_id: str, s: SessionDep, _t: Annotated[ApiToken, Depends(require("read"))]) -> AuditJob:
    """State, progress per check and verdict of one audit."""
    return job_out(job_or_404(s, audit_id))


@router.delete("/audits/{audit_id}", response_model=AuditJob, tags=["audits"],
               responses={409: PROBLEM_RESPONSES[422] | {"description": "The audit already finished"}})
def cancel_audit(audit_id: str, s: SessionDep, _t: Annotated[ApiToken, Depends(require("submit"))]) -> Any:
    """Cancel a queued audit, or ask a running one to stop before its next check (answers 202 then)."""
    job = job_or_404(s, audit_id)
    if job.state in ("done", "failed", "cancelled"):
        raise ProblemError(409, "conflict", f"audit {audit_id} is already {job.state}")
    state = queue.cancel(s, job)
    s.refresh(job)
    return JSONResponse(job_out(job).model_dump(mode="json"), status_code=200 if state == "cancelled" else 202)


@router.get("/audits/{audit_id}/{name:path}", tags=["audits"],
            responses={200: {"description": "The file", "content": {
                "application/json": {}, "text/html": {}, "application/pdf": {}, "text/markdown": {},
                "application/xml": {}, "image/svg+xml": {}}},
                409: PROBLEM_RESPONSES[422] | {"description": "The audit is not done"}})
def get_audit_file(audit_id: str, name: str, request: Request, s: SessionDep,
                   _t: Annotated[ApiToken, Depends(require("read"))]) -> Response:
    """A rendering of a finished audit (report.json, report.html, report.pdf, report.md, junit.xml,
    report.sarif) or an artefact it wrote (e.g. an SVG plot). Renderings are produced on first request."""
    job = job_or_404(s, audit_id)
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
    out = out_dir(job, data_dir)
    rel = [a.split("/", 1)[1] for a in (job.artifacts or []) if "/" in a]
    if out is None or name not in rel:
        raise ProblemError(404, "not-found", f"audit {audit_id} has no file '{name}'")
    return FileResponse(out / name, media_type=MEDIA_TYPES.get(Path(name).suffix.lower(), "application/octet-stream"))
