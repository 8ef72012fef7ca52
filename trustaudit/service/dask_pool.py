"""Run the service's audits on a Dask cluster: ``trustaudit serve --executor dask://HOST:PORT``.

The database stays the source of truth and the server stays the only writer of job state and of the data
directory. :class:`DaskPool` takes the place of the local :class:`~trustaudit.service.worker.WorkerPool`: one
dispatcher thread in the server claims queued jobs (the same conditional ``UPDATE`` as a local worker), up to
the number of threads the cluster has, and submits each one to the cluster as a task. The task carries the
job's extracted bundle as an in-memory tar (no shared filesystem needed); the Dask worker extracts it into a
temporary folder with the service's safe extraction code, runs :func:`trustaudit.api.audit` with the job's
options, and returns report.json and the artefact files the checks wrote. The server then writes them into the
job folder through the same atomic ``.work-*`` -> ``out-<attempt>`` rename as a local worker, and records the
result conditional on its claim. A Dask worker never touches the database or the data directory.

Progress per check travels as Dask structured events (``Worker.log_event`` -> ``Client.subscribe_topic``).
A cancel sets a :class:`distributed.Event` that the task looks at before each check, cancels the future, and
marks the job cancelled at once. Jobs left ``running`` by a killed server are re-queued or failed at the next
start as with local workers (the tasks of a client that went away are released by the scheduler).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import queue as _queue
import shutil
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

log = logging.getLogger("trustaudit.service.dask")

#: Structured-event topic on which tasks report per-check progress.
PROGRESS_TOPIC = "trustaudit-service-progress"


# ------------------------------------------------------------------------------------------- on the worker


@dataclass(frozen=True)
class DaskAuditTask:
    """What a Dask worker needs to audit one job (the bundle itself travels as a separate scattered blob)."""

    job_id: str
    claim: str
    server_bundle_dir: str  # the bundle's path on the server: written into the report in place of the temp dir
    rubric: str | None
    checks: list[str] | None
    seed: int
    params: dict[str, dict[str, Any]] | None
    allow_unsafe_pickle: bool
    cancel_event: str
    trusted_types: tuple[str, ...] = ()
    max_bytes: int = 512 * 1024 * 1024
    max_members: int = 10_000


class _Cancelled(Exception):
    pass


def pack_dir(folder: Path) -> bytes:
    """An uncompressed tar (in memory) of the regular files under ``folder``, in name order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for p in sorted(folder.rglob("*")):
            if p.is_file() and not p.is_symlink():
                info = tf.gettarinfo(str(p), arcname=p.relative_to(folder).as_posix())
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with p.open("rb") as fh:
                    tf.addfile(info, fh)
    return buf.getvalue()


def _reporter(task: DaskAuditTask) -> Any:
    """The ``progress`` callback for ``api.audit`` on a Dask worker: stop when the server asked to cancel, and
    publish each check's start and end. Outside a Dask worker (tests) it does nothing."""
    try:
        from distributed import Event, get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None

    def progress(cid: str, phase: str, i: int, total: int) -> None:
        if phase == "start":
            try:
                ev = Event(task.cancel_event)
                if ev.is_set():
                    with contextlib.suppress(Exception):
                        ev.clear()
                    raise _Cancelled()
            except _Cancelled:
                raise
            except Exception:  # progress is best effort: never fail an audit over it
                log.debug("cancel probe failed", exc_info=True)
        with contextlib.suppress(Exception):
            worker.log_event(PROGRESS_TOPIC, {"job": task.job_id, "claim": task.claim, "cid": cid,
                                              "phase": phase, "i": i, "total": total})

    return progress


def run_dask_audit(task: DaskAuditTask, bundle_tar: bytes) -> dict[str, Any]:
    """Audit one job on a Dask worker. Returns ``{"report": json, "files": {relpath: bytes}}`` on success,
    ``{"error": one line}`` when the bundle cannot be audited, ``{"cancelled": True}`` when the server cancelled
    it. Bad input and check failures never raise (they are the job's result, not the cluster's)."""
    from trustaudit.errors import TrustAuditError
    from trustaudit.pipeline import run_audit
    from trustaudit.service.archive import ArchiveError, Limits, extract
    from trustaudit.service.worker import internal_error, job_rubric

    tmp = Path(tempfile.mkdtemp(prefix="trustaudit-job-")).resolve()
    bundle = tmp / "bundle"

    def server_paths(text: str) -> str:  # messages name the bundle's files by the server's path, as locally
        return text.replace(str(bundle), task.server_bundle_dir)

    try:
        archive = tmp / "bundle.tar"
        archive.write_bytes(bundle_tar)
        extract(archive, bundle, Limits(max_total_bytes=task.max_bytes, max_members=task.max_members))
        archive.unlink()
        out = tmp / "out"
        # the one pipeline (report.json, attestation, artefacts); the report names the bundle by the server's
        # path, as a local worker would have written it, before the attestation pins it
        run_audit(bundle, out, rubric=job_rubric(task.rubric, bundle), checks=task.checks, seed=task.seed,
                        allow_unsafe_pickle=task.allow_unsafe_pickle, params=task.params,
                        trusted_types=task.trusted_types, progress=_reporter(task),
                        path_alias=(str(bundle), task.server_bundle_dir))
        files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
        return {"report": files["report.json"].decode("utf-8"), "files": files}
    except _Cancelled:
        return {"cancelled": True}
    except TrustAuditError as exc:
        return {"error": server_paths(exc.one_line())}
    except ArchiveError as exc:
        return {"error": f"the bundle could not be unpacked on the Dask worker: {exc.message}"}
    except Exception as exc:
        log.exception("job %s failed on this Dask worker", task.job_id)
        return {"error": server_paths(internal_error(exc))}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------- on the server


@dataclass
class _Running:
    job: Any
    future: Any
    blob: Any
    cancel_event: str
    t0: float
    progress: dict[str, Any] = field(default_factory=lambda: {"done": 0, "total": None, "current": None,
                                                               "checks": {}})
    dirty: bool = False


def dask_error(exc: BaseException | None) -> str:
    """One line for a task the cluster itself could not run (worker died, trustaudit missing on a worker)."""
    if exc is None:
        return "the Dask cluster could not run this audit"
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"the Dask cluster could not run this audit: {type(exc).__name__}: {first}".rstrip(": ")[:500]


def _safe_rel(name: str) -> PurePosixPath | None:
    p = PurePosixPath(name)
    if not name or p.is_absolute() or any(part in ("..", "") for part in p.parts) or "\x00" in name:
        return None
    return p


class DaskPool:
    """Dispatches the server's queued jobs to a Dask cluster (see the module docstring).

    Same surface as the local pool for the app: ``start()``, ``stop()``, ``alive()`` (Dask workers connected) and
    ``health()`` for ``/readyz``. Jobs in flight are limited to the cluster's total threads, so the rest stay
    ``queued`` in the database (cancellable at once, and durable across restarts).
    """

    kind = "dask"

    def __init__(self, spec: str, data_dir: Path, allow_unsafe_pickle: bool, sm: Any, *, limits: Any = None,
                 connect_timeout: float = 10.0, poll_s: float = 0.2, trusted_types: tuple[str, ...] = ()) -> None:
        from trustaudit.executors import ExecutorError, dask_address

        if spec.startswith(("dask://", "dask+tls://")):
            self.address = dask_address(spec)
        elif spec.startswith(("tcp://", "tls://")):
            self.address = spec
        else:
            raise ExecutorError(f"executor '{spec}': expected dask://HOST:PORT")
        self.spec = spec
        self.data_dir = Path(data_dir)
        self.allow_unsafe_pickle = allow_unsafe_pickle
        self.trusted_types = tuple(trusted_types)
        self.sm = sm
        self.limits = limits
        self.connect_timeout = connect_timeout
        self.poll_s = poll_s
        self.name = f"dask{os.getpid()}"
        self.client: Any = None
        self._running: dict[str, _Running] = {}
        self._events: _queue.SimpleQueue[dict[str, Any]] = _queue.SimpleQueue()
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._capacity = (0.0, 0)  # (checked at, threads)
        self._stale_events: dict[str, float] = {}
        self._next_connect = 0.0
        self.reconnect_s = 5.0

    # -- lifecycle ----------------------------------------------------------------------------------------

    def connect(self) -> None:
        from trustaudit.executors import ExecutorError

        try:
            import distributed
        except ImportError:
            raise ExecutorError("--executor dask:// needs the optional dependency: "
                                "pip install 'trustaudit[dask]'") from None
        try:
            self.client = distributed.Client(self.address, timeout=self.connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(f"cannot reach the Dask scheduler at {self.address}: "
                                f"{' '.join(str(exc).split()) or type(exc).__name__}") from None

    def start(self) -> None:
        if self.client is None:
            self.connect()
        self.client.subscribe_topic(PROGRESS_TOPIC, self._on_event)
        self._thread = threading.Thread(target=self._loop, name="dask-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop dispatching and drop the tasks in flight; their jobs stay ``running`` in the database and are
        re-queued (or failed, out of attempts) by the next start, exactly as with local workers."""
        self._halt.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.client is None:
            return
        with contextlib.suppress(Exception):
            for r in list(self._running.values()):
                self._signal_cancel(r)
            for name in list(self._stale_events):
                self._clear_event(name)
        with contextlib.suppress(Exception):
            self.client.close(timeout=5)

    # -- health -------------------------------------------------------------------------------------------

    @property
    def n(self) -> int:
        return self._threads(max_age=5.0)

    def alive(self) -> int:
        if self.client is None or self.client.status != "running":
            return 0
        try:
            return len(self.client.nthreads())
        except Exception:
            return 0

    def health(self) -> tuple[bool, str]:
        """(ready, text) for /readyz: the scheduler answers and has at least one worker."""
        if self.client is None or self.client.status != "running":
            return False, f"dask {self.address}: not connected"
        try:
            threads = self.client.nthreads()
        except Exception as exc:
            return False, f"dask {self.address}: unreachable ({type(exc).__name__})"
        n, t = len(threads), sum(threads.values())
        text = f"dask {self.address}: {n} worker{'s' if n != 1 else ''}, {t} thread{'s' if t != 1 else ''}, " \
               f"{len(self._running)} audit{'s' if len(self._running) != 1 else ''} running"
        return n > 0, text

    def _threads(self, max_age: float = 1.0) -> int:
        at, threads = self._capacity
        if time.monotonic() - at > max_age:
            try:
                threads = sum(self.client.nthreads().values()) if self.client.status == "running" else 0
            except Exception:
                threads = 0
            self._capacity = (time.monotonic(), threads)
        return threads

    # -- dispatcher -----------------------------------------------------------------------------------------

    def _on_event(self, event: Any) -> None:
        """Runs on the client's event loop: hand the message to the dispatcher thread, nothing else."""
        _ts, msg = event
        if isinstance(msg, dict):
            self._events.put(msg)
            self._wake.set()

    def _loop(self) -> None:
        while not self._halt.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._halt.is_set():
                break
            try:
                self._drain_progress()
                self._reap()
                self._check_cancels()
                self._flush_progress()
                if self._connected():
                    self._fill()
                    self._expire_events()
            except Exception:
                log.warning("the Dask dispatcher hit an error; retrying", exc_info=True)
                self._halt.wait(1.0)

    def _connected(self) -> bool:
        """Whether the client is connected; a client that gave up reconnecting (the scheduler was away longer
        than the connect timeout) is replaced by a new connection, tried every few seconds. Meanwhile jobs stay
        queued and /readyz answers 503."""
        client = self.client
        status = getattr(client, "status", "closed")
        if status == "running":
            return True
        if status in ("newly-created", "connecting") or time.monotonic() < self._next_connect:
            return False  # distributed is reconnecting by itself, or we tried a moment ago
        self._next_connect = time.monotonic() + self.reconnect_s
        from trustaudit.executors import ExecutorError

        with contextlib.suppress(Exception):
            client.close(timeout=2)
        try:
            self.connect()
            self.client.subscribe_topic(PROGRESS_TOPIC, self._on_event)
        except ExecutorError as exc:
            log.warning("the Dask scheduler is still unreachable: %s", exc.one_line())
            return False
        self._capacity = (0.0, 0)
        log.warning("reconnected to the Dask scheduler at %s", self.address)
        from trustaudit.service import queue

        for jid, run in list(self._running.items()):  # futures of the old connection never complete
            del self._running[jid]
            queue.release(self.sm, run.job, run.job.claim,
                          f"attempt {run.job.attempts} was lost by the Dask cluster (connection lost)")
        return True

    def _fill(self) -> None:
        from trustaudit.service import queue

        while not self._halt.is_set() and len(self._running) < self._threads():
            job = queue.claim_next(self.sm, self.name)
            if job is None:
                return
            self._submit(job)

    def _submit(self, job: Any) -> None:
        from trustaudit.service import queue

        opts = job.options or {}
        bundle_dir = self.data_dir / "jobs" / job.id / "bundle"
        suffix = str(job.claim).rsplit(":", 1)[-1]
        task = DaskAuditTask(
            job_id=job.id, claim=job.claim, server_bundle_dir=str(bundle_dir), rubric=opts.get("rubric"),
            checks=opts.get("checks") or None, seed=int(opts.get("seed", 0)), params=opts.get("params") or None,
            allow_unsafe_pickle=self.allow_unsafe_pickle, cancel_event=f"trustaudit-cancel-{job.id}-{suffix}",
            trusted_types=self.trusted_types)
        if self.limits is not None:
            task = replace(task, max_bytes=self.limits.max_total_bytes, max_members=self.limits.max_members)
        try:
            blob = self.client.scatter(pack_dir(bundle_dir), hash=False)
            fut = self.client.submit(run_dask_audit, task, blob, pure=False,
                                     key=f"trustaudit-audit-{job.id}-{job.attempts}-{suffix}")
        except Exception as exc:
            log.warning("could not submit job %s to the Dask cluster", job.id, exc_info=True)
            queue.release(self.sm, job, job.claim, f"attempt {job.attempts} could not be sent to the Dask "
                          f"cluster ({type(exc).__name__})")
            return
        run = _Running(job, fut, blob, task.cancel_event, time.perf_counter())
        self._running[job.id] = run
        fut.add_done_callback(lambda _f: self._wake.set())
        log.info("job %s sent to the Dask cluster as %s", job.id, fut.key)

    def _drain_progress(self) -> None:
        from trustaudit.service.worker import update_progress

        while True:
            try:
                msg = self._events.get_nowait()
            except _queue.Empty:
                return
            run = self._running.get(str(msg.get("job")))
            if run is None or run.job.claim != msg.get("claim"):
                continue
            with contextlib.suppress(KeyError, TypeError, ValueError):
                update_progress(run.progress, str(msg["cid"]), str(msg["phase"]), int(msg["i"]), int(msg["total"]))
                run.dirty = True

    def _flush_progress(self) -> None:
        from trustaudit.service import queue

        for jid, run in list(self._running.items()):
            if run.dirty:
                run.dirty = False
                queue.set_progress(self.sm, jid, run.job.claim, dict(run.progress, checks=dict(run.progress["checks"])))

    def _check_cancels(self) -> None:
        from sqlalchemy import select

        from trustaudit.service import queue
        from trustaudit.service.db import Job

        if not self._running:
            return
        with self.sm() as s:
            asked = set(s.scalars(select(Job.id).where(Job.id.in_(list(self._running)),
                                                       Job.cancel_requested.is_(True))))
        for jid in asked:
            run = self._running.pop(jid)
            self._signal_cancel(run)
            queue.fail(self.sm, jid, run.job.claim, "cancelled while running", state="cancelled")
            log.info("job %s cancelled on the Dask cluster", jid)

    def _signal_cancel(self, run: _Running) -> None:
        """Tell the task to stop at its next check, and drop its future (the result is never used)."""
        from distributed import Event

        with contextlib.suppress(Exception):
            Event(run.cancel_event, client=self.client).set()
            self._stale_events[run.cancel_event] = time.monotonic() + 3600.0
        with contextlib.suppress(Exception):
            run.future.cancel()
        with contextlib.suppress(Exception):
            run.blob.release()

    def _clear_event(self, name: str) -> None:
        from distributed import Event

        self._stale_events.pop(name, None)
        with contextlib.suppress(Exception):
            Event(name, client=self.client).clear()

    def _expire_events(self) -> None:
        now = time.monotonic()
        for name, deadline in list(self._stale_events.items()):
            if deadline < now:
                self._clear_event(name)

    def _reap(self) -> None:
        from trustaudit.service import queue

        for jid, run in list(self._running.items()):
            fut = run.future
            if not fut.done():
                continue
            del self._running[jid]
            status = fut.status
            try:
                if status == "finished":
                    self._complete(run, fut.result())
                elif status == "error":
                    exc = fut.exception()
                    log.warning("job %s: the Dask task failed: %r", jid, exc)
                    queue.fail(self.sm, jid, run.job.claim, dask_error(exc))
                else:  # cancelled by the scheduler (connection lost, cluster restarted): not the job's fault
                    state = queue.release(self.sm, run.job, run.job.claim,
                                          f"attempt {run.job.attempts} was lost by the Dask cluster ({status})")
                    log.warning("job %s: the Dask cluster lost its task (%s); job %s", jid, status, state)
            finally:
                with contextlib.suppress(Exception):
                    fut.release()
                with contextlib.suppress(Exception):
                    run.blob.release()

    def _complete(self, run: _Running, result: Any) -> None:
        """Write a finished task's report and artefacts into the job folder and record the job done."""
        from trustaudit.results import AuditReport
        from trustaudit.service import queue
        from trustaudit.service.worker import _Stop, internal_error, publish

        job = run.job
        if not isinstance(result, dict):
            queue.fail(self.sm, job.id, job.claim, "the Dask worker returned no report")
            return
        if result.get("cancelled"):
            queue.fail(self.sm, job.id, job.claim, "cancelled while running", state="cancelled")
            return
        if result.get("error"):
            queue.fail(self.sm, job.id, job.claim, str(result["error"]))
            return
        job_dir = self.data_dir / "jobs" / job.id
        work = job_dir / f".work-{job.attempts}-{str(job.claim).rsplit(':', 1)[-1]}"
        shutil.rmtree(work, ignore_errors=True)
        try:
            report = AuditReport.from_json(result["report"])
            work.mkdir(parents=True)
            for name, data in (result.get("files") or {}).items():
                rel = _safe_rel(str(name))
                if rel is None:
                    log.warning("job %s: ignoring artefact with an unsafe name %r", job.id, name)
                    continue
                target = work.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            total = len(report.checks)
            run.progress.update(done=total, total=total, current=None)
            state = "done" if publish(self.sm, job, report, work, run.progress, run.t0) else "lost"
            log.info("job %s %s (Dask)", job.id, state)
        except _Stop:
            shutil.rmtree(work, ignore_errors=True)
            queue.fail(self.sm, job.id, job.claim, "cancelled while running", state="cancelled")
        except Exception as exc:
            log.exception("storing the result of job %s failed", job.id)
            shutil.rmtree(work, ignore_errors=True)
            queue.fail(self.sm, job.id, job.claim, internal_error(exc, "storing the report"))
