"""Local worker pool: N processes that claim jobs from the database and run ``trustaudit.api.audit``.

Processes (not threads) so audits run in parallel and a model that crashes its interpreter takes down only one
worker. Each worker dies with the server (``PR_SET_PDEATHSIG`` on Linux), and every write it makes is conditional
on its claim, so a worker that outlives its server can never overwrite a newer attempt.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("trustaudit.service.worker")


class _Stop(Exception):
    """The job was cancelled (or its claim lost) between two checks."""


def _die_with_parent() -> None:
    if not os.path.exists("/proc"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def headline_points(report: Any) -> list[dict[str, Any]]:
    """One point per (check, metric, subject) judged by the rubric: what the model history plots."""
    points: dict[tuple[str, str, str], dict[str, Any]] = {}
    for c in report.checks:
        n_by_key = {(m.name, m.subject or ""): m.n for m in c.metrics}
        for cond in c.conditions:
            if cond.observed is None:
                continue
            key = (c.check_id, cond.metric, cond.subject or "")
            if key in points:
                continue
            low, high = _plotted_bounds(cond.spec)
            points[key] = {
                "check_id": c.check_id, "metric": cond.metric, "subject": cond.subject or "",
                "value": cond.observed, "ci_low": cond.ci.low if cond.ci else None,
                "ci_high": cond.ci.high if cond.ci else None, "n": n_by_key.get((cond.metric, cond.subject or "")),
                "status": cond.status.value, "bound_low": low, "bound_high": high,
            }
    return list(points.values())


def _plotted_bounds(spec: Any) -> tuple[float | None, float | None]:
    """The bounds of the plotted value under a judged condition (its structure; none for baseline-relative
    conditions, which bound a change, and for schema 1.0 reports, which have no structure)."""
    if spec is None or spec.relative_to is not None:
        return None, None
    low, high = spec.bounds
    if spec.abs and spec.op in ("<", "<=") and high is not None:
        return -high, high
    return low, high


def job_rubric(rubric: str | None, bundle_dir: Path) -> str | None:
    """The rubric option of a job as ``api.audit`` takes it: a packaged name as is, a ``.yaml`` resolved inside
    the job's bundle (never against the server's working directory)."""
    if rubric and rubric.endswith((".yaml", ".yml")):
        from trustaudit.bundle.loader import resolve_inside

        return str(resolve_inside(bundle_dir, rubric, "rubric"))
    return rubric or None


def internal_error(exc: BaseException, doing: str = "auditing") -> str:
    """The one-line reason recorded for an unexpected exception (the traceback goes to the server log only)."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"internal error while {doing}: {type(exc).__name__}: {first}"[:500]


def publish(sm: Any, job: Any, report: Any, work: Path, progress: dict[str, Any], t0: float) -> bool:
    """Move the attempt's private ``work`` folder (report.json, attestation and artefacts, written by the
    pipeline) into place as ``out-<attempt>`` and record the job done, all conditional on the job's claim.

    Returns False when the claim was lost; raises :class:`_Stop` when the job was cancelled meanwhile.
    """
    from trustaudit.service import queue

    job_dir = work.parent
    for c in report.checks:
        progress["checks"][c.check_id] = c.status.value
    if not queue.set_progress(sm, job.id, job.claim, progress):
        raise _Stop()
    sign_key = os.environ.get("TRUSTAUDIT_SIGN_KEY")  # the server's key (trustaudit serve --sign-key)
    if sign_key and (work / "attestation.intoto.json").is_file():
        from trustaudit.lineage.attestation import sign_attestation

        sign_attestation(work / "attestation.intoto.json", sign_key)  # signed here, never on a Dask worker
    final = job_dir / f"out-{job.attempts}"
    shutil.rmtree(final, ignore_errors=True)
    os.replace(work, final)  # a complete folder appears at once; the DB then records it
    files = sorted(str(p.relative_to(job_dir)) for p in final.rglob("*") if p.is_file())
    ok = queue.finish(sm, job.id, job.claim, verdict=report.verdict.value, counts=report.counts,
                      duration_s=time.perf_counter() - t0, artifacts=files, progress=progress,
                      points=headline_points(report), model_name=report.bundle.name,
                      model_version=report.bundle.version)
    if ok:
        _score_openness(sm, job.id, job_dir / "bundle")
    return bool(ok)


def run_job(sm: Any, job: Any, data_dir: Path, allow_unsafe_pickle: bool, trusted_types: tuple[str, ...] = ()) -> str:
    """Run one claimed job to a final state; returns that state."""
    from trustaudit.errors import TrustAuditError
    from trustaudit.pipeline import run_audit
    from trustaudit.service import queue

    claim = job.claim
    job_dir = data_dir / "jobs" / job.id
    bundle_dir = job_dir / "bundle"
    work = job_dir / f".work-{job.attempts}-{claim.rsplit(':', 1)[-1]}"
    shutil.rmtree(work, ignore_errors=True)
    opts = job.options or {}
    progress: dict[str, Any] = {"done": 0, "total": None, "current": None, "checks": {}}
    t0 = time.perf_counter()

    def on_progress(cid: str, phase: str, i: int, total: int) -> None:
        update_progress(progress, cid, phase, i, total)
        if not queue.set_progress(sm, job.id, claim, dict(progress, checks=dict(progress["checks"]))):
            raise _Stop()

    try:
        # the one pipeline: report.json, attestation and the checks' artefacts in the attempt's private folder
        report = run_audit(bundle_dir, work, rubric=job_rubric(opts.get("rubric"), bundle_dir),
                           checks=opts.get("checks") or None, seed=int(opts.get("seed", 0)),
                           allow_unsafe_pickle=allow_unsafe_pickle, params=opts.get("params") or None,
                           progress=on_progress, trusted_types=trusted_types).report
        return "done" if publish(sm, job, report, work, progress, t0) else "lost"
    except _Stop:
        shutil.rmtree(work, ignore_errors=True)
        queue.fail(sm, job.id, claim, "cancelled while running", state="cancelled")
        return "cancelled"
    except TrustAuditError as exc:
        shutil.rmtree(work, ignore_errors=True)
        queue.fail(sm, job.id, claim, exc.one_line())
        return "failed"
    except Exception as exc:
        log.exception("job %s failed", job.id)
        shutil.rmtree(work, ignore_errors=True)
        queue.fail(sm, job.id, claim, internal_error(exc))
        return "failed"


def update_progress(progress: dict[str, Any], cid: str, phase: str, i: int, total: int) -> None:
    """Fold one ``api.audit`` progress call (check ``cid`` starts or ends) into the job's progress record."""
    progress["total"] = total
    if phase == "start":
        progress["current"] = cid
        progress["checks"][cid] = "running"
    else:
        progress["done"] = i + 1
        progress["current"] = None
        progress["checks"][cid] = "done"


def _score_openness(sm: Any, job_id: str, bundle_dir: Path) -> None:
    """When the manifest declares an ``openness:`` section, score it into the catalog."""
    try:
        from trustaudit.bundle.manifest import load_manifest
        from trustaudit.openness import declaration_from_manifest, score_openness

        manifest = load_manifest(bundle_dir)
        if not manifest.openness:
            return
        result = score_openness(declaration_from_manifest(manifest), bundle_root=bundle_dir)
        from trustaudit.service.openness import store_result

        with sm() as s:
            store_result(s, result, name=manifest.name, version=manifest.version, source="bundle", job_id=job_id)
    except Exception:  # the catalog is a by-product: never fail the audit over it
        log.warning("openness scoring of job %s failed", job_id, exc_info=True)


def worker_main(name: str, database_url: str, data_dir: str, allow_unsafe_pickle: bool,
                stop: Any, poll_s: float = 0.2, trusted_types: tuple[str, ...] = ()) -> None:
    """Entry point of a worker process."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(message)s")
    from trustaudit import api  # noqa: F401  (import the engine before the first job)
    from trustaudit.checks import registry
    from trustaudit.service import queue
    from trustaudit.service.db import make_engine, make_sessionmaker

    for cid in registry.available():  # warm the plug-ins once
        with contextlib.suppress(Exception):
            registry.load(cid)
    for mod in ("aif360.metrics", "skops.io", "onnxruntime", "sklearn.ensemble", "sklearn.linear_model"):
        with contextlib.suppress(Exception):  # first audits should not pay for these imports
            __import__(mod)
    engine = make_engine(database_url)
    sm = make_sessionmaker(engine)
    root = Path(data_dir)
    parent = os.getppid()
    while not stop.is_set():
        if os.getppid() != parent:
            break
        try:
            job = queue.claim_next(sm, name)
        except Exception:
            log.warning("claiming a job failed; retrying", exc_info=True)
            stop.wait(1.0)
            continue
        if job is None:
            stop.wait(poll_s)
            continue
        run_job(sm, job, root, allow_unsafe_pickle, trusted_types)
    engine.dispose()


class WorkerPool:
    """Starts ``n`` worker processes and keeps them alive; a dead worker's job is re-queued or failed."""

    def __init__(self, n: int, database_url: str, data_dir: Path, allow_unsafe_pickle: bool, sm: Any,
                 trusted_types: tuple[str, ...] = ()) -> None:
        self.n = n
        self.trusted_types = tuple(trusted_types)
        self.database_url = database_url
        self.data_dir = data_dir
        self.allow_unsafe_pickle = allow_unsafe_pickle
        self.sm = sm
        self._ctx = mp.get_context("spawn")
        self._stop = self._ctx.Event()
        self.procs: dict[str, Any] = {}
        self._sup: threading.Thread | None = None
        self._halt = threading.Event()
        self._seq = 0

    def _spawn(self) -> None:
        self._seq += 1
        name = f"w{os.getpid()}-{self._seq}"
        p = self._ctx.Process(target=worker_main, name=name, daemon=True,
                              args=(name, self.database_url, str(self.data_dir), self.allow_unsafe_pickle,
                                    self._stop, 0.2, self.trusted_types))
        p.start()
        self.procs[name] = p

    def start(self) -> None:
        for _ in range(self.n):
            self._spawn()
        self._sup = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)
        self._sup.start()

    def alive(self) -> int:
        return sum(1 for p in self.procs.values() if p.is_alive())

    def _supervise(self) -> None:
        while not self._halt.wait(1.0):
            for name, p in list(self.procs.items()):
                if p.is_alive():
                    continue
                del self.procs[name]
                self._release(name, p.exitcode)
                if not self._halt.is_set():
                    self._spawn()

    def _release(self, name: str, exitcode: int | None) -> None:
        from sqlalchemy import select

        from trustaudit.service.db import Job, utcnow

        with self.sm() as s:
            for job in s.scalars(select(Job).where(Job.state == "running", Job.claim.like(f"{name}:%"))):
                note = f"worker process exited (code {exitcode}) during attempt {job.attempts}"
                if job.attempts < job.max_attempts and not job.cancel_requested:
                    job.state = "queued"
                else:
                    job.state = "failed"
                    job.error = note
                    job.finished_at = utcnow()
                job.claim = None
                job.notes = [*(job.notes or []), note]
            s.commit()

    def stop(self, timeout: float = 10.0) -> None:
        self._halt.set()
        self._stop.set()
        deadline = time.monotonic() + timeout
        for p in self.procs.values():
            p.join(max(0.1, deadline - time.monotonic()))
        for p in self.procs.values():
            if p.is_alive():
                p.terminate()
                p.join(2)
