"""Audit jobs as the API and the web pages see them: accept an uploaded bundle (extract, validate, enqueue),
query jobs, and their JSON representation."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request, UploadFile
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustaudit.service import queue
from trustaudit.service.archive import ArchiveError, extract
from trustaudit.service.config import Settings
from trustaudit.service.db import ApiToken, Job, as_utc, utcnow
from trustaudit.service.problems import ProblemError
from trustaudit.service.rendering import REPORT_FILES
from trustaudit.service.schemas import AuditJob, CheckProgress


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


def job_or_404(s: Session, job_id: str) -> Job:
    job = s.get(Job, job_id) if len(job_id) <= 64 else None
    if job is None:
        raise ProblemError(404, "not-found", f"no audit with id '{job_id}'")
    return job


def parse_params(raw: str | None) -> dict[str, dict[str, Any]]:
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
