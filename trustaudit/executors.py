"""Executors: run independent tasks in parallel, locally or on a Dask cluster, with results in input order.

An executor maps a function over a list of items and returns the results **in the order of the items**, whatever
ran where and whenever each finished. Three kinds, chosen by a short spec string (``resolve_executor``):

``"local"`` (default)
    A process pool on this machine (:class:`concurrent.futures.ProcessPoolExecutor`), ``workers`` processes
    (default: the usable CPU count). Workers start with ``forkserver`` on Linux (``spawn`` elsewhere), never a bare
    ``fork`` of a parent whose OpenMP/BLAS threads are running; each worker limits its native thread pools to
    ``cpu_count // workers`` threads so that N workers do not oversubscribe the cores. As with any process pool,
    a script that uses it must guard its entry point with ``if __name__ == "__main__":``.
``"dask://HOST:PORT"``
    An existing Dask cluster (``distributed.Client("tcp://HOST:PORT")``; ``dask+tls://`` for TLS). Needs the
    optional extra ``pip install 'trustaudit[dask]'`` here, and trustaudit installed on every worker.
``"serial"``
    In this process, one item after the other (no pickling). The reference the others are tested against.

Task functions must be importable module-level functions (they are pickled by reference), and their items and
results picklable. Exceptions raised by a task are re-raised by :meth:`Executor.map`.

Row-parallel work
-----------------
:func:`map_rows` splits the rows of an array or DataFrame into contiguous chunks, runs a function on each chunk
on the executor's workers and concatenates the results in row order: SHAP values of a large sample, adversarial
attacks, predictions. Chunk boundaries depend only on the number of rows and ``chunk_rows``, never on the executor
or the number of workers, so a deterministic function gives the same result everywhere::

    from trustaudit.executors import map_rows, use_executor

    def shap_chunk(rows, *, explainer):            # module level, so workers can import it
        return explainer.shap_values(rows)

    values = map_rows(shap_chunk, X_sample, shared={"explainer": explainer}, executor="local")

    with use_executor("dask://scheduler:8786"):    # or set once for a whole audit; checks then call
        audit(...)                                 # map_rows(...) without executor= and pick it up

Large objects that every chunk needs (a model, an explainer, background data) go in ``shared``: they are sent
once per map (scattered once on Dask) instead of being captured in ``fn``. A function that draws random numbers
asks for ``with_offset=True`` and seeds itself from the chunk's first row index (e.g.
``np.random.default_rng([seed, offset])``), which keeps results independent of where the chunk ran.
"""

from __future__ import annotations

import contextvars
import itertools
import math
import os
import pickle
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from trustaudit.errors import TrustAuditError

__all__ = [
    "DaskExecutor",
    "Executor",
    "ExecutorError",
    "LocalExecutor",
    "SerialExecutor",
    "current_executor",
    "map_rows",
    "resolve_executor",
    "use_executor",
]

ResultCallback = Callable[[int, Any], None]

#: Default smallest chunk for :func:`map_rows` (rows); fewer rows per task and the task overhead dominates.
MIN_CHUNK_ROWS = 64
#: Default number of chunks :func:`map_rows` aims for (independent of the worker count, for reproducibility).
TARGET_CHUNKS = 64


class ExecutorError(TrustAuditError):
    """A bad executor spec, or an executor that cannot start (missing optional dependency, no cluster)."""


def usable_cpus() -> int:
    """CPUs this process may run on (affinity-aware where the platform tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))  # type: ignore[attr-defined,unused-ignore]
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


class Executor:
    """Maps a function over items, in parallel where it can; results come back in item order."""

    kind: str = "abstract"

    @property
    def workers(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def map(
        self,
        fn: Callable[..., Any],
        items: Sequence[Any],
        *,
        shared: Any = None,
        callback: ResultCallback | None = None,
    ) -> list[Any]:
        """``[fn(item) for item in items]`` (``fn(item, shared)`` when ``shared`` is given), in item order.

        ``shared`` is delivered once per map rather than pickled into every task's arguments by the caller.
        ``callback(index, result)`` is called in this process as each task finishes (completion order).
        """
        raise NotImplementedError  # pragma: no cover - abstract

    def close(self) -> None:
        """Release workers or the cluster connection (the executor cannot be used afterwards)."""

    def describe(self) -> str:
        return f"{self.kind} ({self.workers} worker{'s' if self.workers != 1 else ''})"

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """Runs every task in this process, in order. Results are the reference for the parallel executors."""

    kind = "serial"

    @property
    def workers(self) -> int:
        return 1

    def map(
        self,
        fn: Callable[..., Any],
        items: Sequence[Any],
        *,
        shared: Any = None,
        callback: ResultCallback | None = None,
    ) -> list[Any]:
        out = []
        for i, item in enumerate(items):
            res = fn(item) if shared is None else fn(item, shared)
            if callback is not None:
                callback(i, res)
            out.append(res)
        return out


# -- local process pool --------------------------------------------------------------------------------

_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")


def _init_worker(threads: int) -> None:
    """Process-pool initializer: cap native thread pools (env for libraries loaded later, threadpoolctl now)."""
    for name in _THREAD_ENV:
        os.environ[name] = str(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return
    threadpool_limits(limits=threads)


_SHARED_CACHE: dict[str, Any] = {}


def _unpickle_shared(token: str, blob: bytes) -> Any:
    """Unpickle a shared object once per worker process (kept for the next tasks of the same map).

    ``blob`` is what this audit's own parent process pickled for its workers (process-pool IPC, exactly what
    concurrent.futures does with every task); it is never a file from a bundle, so no untrusted data is unpickled.
    """
    if token not in _SHARED_CACHE:
        _SHARED_CACHE.clear()  # one map at a time per worker: drop the previous map's objects
        _SHARED_CACHE[token] = pickle.loads(blob)
    return _SHARED_CACHE[token]


def _call_with_shared(fn: Callable[..., Any], item: Any, token: str, blob: bytes) -> Any:
    return fn(item, _unpickle_shared(token, blob))


#: Modules the fork server imports once, so that every worker starts with them loaded (a worker otherwise spends
#: seconds importing scikit-learn and skops before its first audit). Missing modules are skipped.
DEFAULT_PRELOAD = ("trustaudit.api", "trustaudit.scale", "skops.io", "sklearn.pipeline", "sklearn.compose",
                   "sklearn.ensemble", "sklearn.linear_model")


def default_start_method() -> str:
    import multiprocessing as mp

    if sys.platform.startswith("linux") and "forkserver" in mp.get_all_start_methods():
        return "forkserver"
    return "spawn"


class LocalExecutor(Executor):
    """A pool of worker processes on this machine (``concurrent.futures.ProcessPoolExecutor``).

    ``workers`` defaults to the usable CPU count; ``threads_per_worker`` (default ``max(1, cpus // workers)``)
    caps each worker's OpenMP/BLAS threads. The pool starts on first use and is reused until :meth:`close`.
    """

    kind = "local"

    def __init__(
        self,
        workers: int | None = None,
        *,
        threads_per_worker: int | None = None,
        start_method: str | None = None,
        preload: Sequence[str] = DEFAULT_PRELOAD,
    ) -> None:
        if workers is not None and workers < 1:
            raise ExecutorError(f"workers must be at least 1 (got {workers})")
        self._workers = workers or usable_cpus()
        self._threads = threads_per_worker or max(1, usable_cpus() // self._workers)
        self._start_method = start_method or default_start_method()
        self._preload = list(preload)
        self._pool: Any = None

    @property
    def workers(self) -> int:
        return self._workers

    def _get_pool(self) -> Any:
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            ctx = mp.get_context(self._start_method)
            if self._start_method == "forkserver" and self._preload:
                # imported once in the fork server, so each worker starts with them loaded (no effect if the
                # fork server is already running)
                ctx.set_forkserver_preload(self._preload)
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers, mp_context=ctx, initializer=_init_worker, initargs=(self._threads,)
            )
        return self._pool

    def map(
        self,
        fn: Callable[..., Any],
        items: Sequence[Any],
        *,
        shared: Any = None,
        callback: ResultCallback | None = None,
    ) -> list[Any]:
        from concurrent.futures import as_completed

        items = list(items)
        if not items:
            return []
        pool = self._get_pool()
        if shared is None:
            futures = [pool.submit(fn, item) for item in items]
        else:
            token, blob = uuid.uuid4().hex, pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)
            futures = [pool.submit(_call_with_shared, fn, item, token, blob) for item in items]
        index = {f: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                if callback is not None and fut.exception() is None:
                    callback(index[fut], fut.result())
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


# -- Dask -------------------------------------------------------------------------------------------------


def dask_address(spec: str) -> str:
    for prefix, scheme in (("dask+tls://", "tls://"), ("dask://", "tcp://")):
        if spec.startswith(prefix):
            rest = spec[len(prefix):].strip("/")
            host, sep, port = rest.rpartition(":")
            if not rest or not sep or not host or not port.isdigit():
                raise ExecutorError(f"executor '{spec}': expected {prefix}HOST:PORT (e.g. {prefix}scheduler:8786)")
            return scheme + rest
    raise ExecutorError(f"executor '{spec}' is not a Dask address")  # pragma: no cover - guarded by caller


class DaskExecutor(Executor):
    """Tasks on a Dask cluster through ``distributed.Client``.

    ``address`` is a scheduler address (``tcp://HOST:PORT``; ``dask://HOST:PORT`` is accepted too) or a connected
    ``distributed.Client`` (then not closed by :meth:`close`). The workers need trustaudit and the libraries
    of the checks installed; files (bundles, ``--out``) must be reachable under the same paths on every worker.
    """

    kind = "dask"

    def __init__(self, address: Any, *, timeout: float = 30.0) -> None:
        try:
            import distributed
        except ImportError:
            raise ExecutorError(
                "the Dask executor needs the optional dependency: pip install 'trustaudit[dask]'"
            ) from None
        if isinstance(address, distributed.Client):
            self._client, self._own = address, False
        else:
            addr = str(address)
            if addr.startswith(("dask://", "dask+tls://")):
                addr = dask_address(addr)
            try:
                self._client = distributed.Client(addr, timeout=timeout, set_as_default=False)
            except OSError as exc:
                raise ExecutorError(f"cannot reach the Dask scheduler at {addr}: {exc}") from None
            self._own = True
        self.address = str(getattr(self._client.scheduler, "address", address))

    @property
    def client(self) -> Any:
        return self._client

    @property
    def workers(self) -> int:
        return max(1, len(self._client.scheduler_info(n_workers=-1).get("workers", {})))

    def map(
        self,
        fn: Callable[..., Any],
        items: Sequence[Any],
        *,
        shared: Any = None,
        callback: ResultCallback | None = None,
    ) -> list[Any]:
        from distributed import as_completed

        items = list(items)
        if not items:
            return []
        token = uuid.uuid4().hex
        name = getattr(fn, "__name__", "task")
        extra: tuple[Any, ...] = ()
        if shared is not None:
            extra = (self._client.scatter(shared, broadcast=True, hash=False),)
        futures = [
            self._client.submit(fn, item, *extra, key=f"trustaudit-{name}-{token}-{i}", pure=False)
            for i, item in enumerate(items)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            if callback is not None:
                for fut in as_completed(futures, loop=self._client.loop):
                    if fut.status == "finished":
                        callback(index[fut.key], fut.result())
            return list(self._client.gather(futures))
        finally:
            for f in futures:
                f.release()

    def describe(self) -> str:
        return f"dask {self.address} ({self.workers} worker{'s' if self.workers != 1 else ''})"

    def close(self) -> None:
        if self._own:
            self._client.close()


# -- choosing and sharing an executor ----------------------------------------------------------------------


def resolve_executor(spec: str | Executor | None = None, *, workers: int | None = None) -> Executor:
    """An executor from a spec: ``local`` (default), ``serial``, ``dask://HOST:PORT`` or an :class:`Executor`."""
    if isinstance(spec, Executor):
        return spec
    text = (spec or "local").strip()
    if text == "local":
        return LocalExecutor(workers)
    if text == "serial":
        return SerialExecutor()
    if text.startswith(("dask://", "dask+tls://", "tcp://", "tls://")):
        if text.startswith("dask"):
            dask_address(text)  # validate before importing distributed
        return DaskExecutor(text)
    raise ExecutorError(f"unknown executor '{text}'; use local, serial or dask://HOST:PORT")


@contextmanager
def owned_executor(spec: str | Executor | None, workers: int | None) -> Iterator[Executor]:
    """The executor for ``spec``; closed on exit only if it was created here."""
    ex = resolve_executor(spec, workers=workers)
    try:
        yield ex
    finally:
        if ex is not spec:
            ex.close()


_CURRENT: contextvars.ContextVar[Executor | None] = contextvars.ContextVar("trustaudit_executor", default=None)


def current_executor() -> Executor:
    """The executor set by :func:`use_executor`, or a :class:`SerialExecutor` (also inside workers)."""
    return _CURRENT.get() or SerialExecutor()


@contextmanager
def use_executor(spec: str | Executor | None, *, workers: int | None = None) -> Iterator[Executor]:
    """Make an executor current for :func:`map_rows` calls without ``executor=`` (e.g. inside checks)."""
    with owned_executor(spec, workers) as ex:
        reset = _CURRENT.set(ex)
        try:
            yield ex
        finally:
            _CURRENT.reset(reset)


# -- map_rows ----------------------------------------------------------------------------------------------


def chunk_bounds(n_rows: int, chunk_rows: int | None = None) -> list[tuple[int, int]]:
    """Contiguous ``(start, stop)`` row ranges. The default size depends on ``n_rows`` only: about
    ``TARGET_CHUNKS`` chunks of at least ``MIN_CHUNK_ROWS`` rows."""
    if n_rows <= 0:
        return []
    size = chunk_rows if chunk_rows is not None else max(MIN_CHUNK_ROWS, math.ceil(n_rows / TARGET_CHUNKS))
    if size < 1:
        raise ValueError("chunk_rows must be at least 1")
    return [(s, min(s + size, n_rows)) for s in range(0, n_rows, size)]


def _take_rows(rows: Any, start: int, stop: int) -> Any:
    if hasattr(rows, "iloc"):
        return rows.iloc[start:stop]
    return rows[start:stop]


def _apply_chunk(item: tuple[int, Any], payload: tuple[Callable[..., Any], Mapping[str, Any], bool]) -> Any:
    offset, chunk = item
    fn, kwargs, with_offset = payload
    if with_offset:
        return fn(chunk, offset=offset, **kwargs)
    return fn(chunk, **kwargs)


def concat_results(parts: list[Any]) -> Any:
    """Concatenate per-chunk results in order: arrays along axis 0, pandas objects with ``pd.concat``, lists
    joined, tuples element-wise (e.g. several arrays per chunk)."""
    if not parts:
        return []
    first = parts[0]
    if isinstance(first, tuple):
        return tuple(concat_results([p[i] for p in parts]) for i in range(len(first)))
    if isinstance(first, list):
        return list(itertools.chain.from_iterable(parts))
    if hasattr(first, "iloc"):
        import pandas as pd

        return pd.concat(parts, axis=0)
    import numpy as np

    return np.concatenate([np.asarray(p) for p in parts], axis=0)


def map_rows(
    fn: Callable[..., Any],
    rows: Any,
    *,
    executor: str | Executor | None = None,
    chunk_rows: int | None = None,
    shared: Mapping[str, Any] | None = None,
    with_offset: bool = False,
    combine: Callable[[list[Any]], Any] | None = concat_results,
) -> Any:
    """Apply ``fn`` to contiguous chunks of ``rows`` on the executor's workers; concatenate in row order.

    ``fn(chunk, **shared)`` is called per chunk (``fn(chunk, offset=start, **shared)`` with ``with_offset``);
    ``rows`` is anything sliceable by row with ``len`` (ndarray, DataFrame via ``iloc``, list). ``executor``
    defaults to :func:`current_executor` (serial unless :func:`use_executor` set one). ``combine`` joins the
    per-chunk results (default :func:`concat_results`; ``None`` returns the list of per-chunk results).
    Chunk boundaries depend only on ``len(rows)`` and ``chunk_rows``, so results do not depend on the executor.
    """
    bounds = chunk_bounds(len(rows), chunk_rows)
    items = [(start, _take_rows(rows, start, stop)) for start, stop in bounds]
    payload = (fn, dict(shared or {}), with_offset)
    if executor is None:
        ex = current_executor()
        parts = ex.map(_apply_chunk, items, shared=payload) if len(items) > 1 \
            else [_apply_chunk(i, payload) for i in items]
    else:
        with owned_executor(executor, None) as ex:
            parts = ex.map(_apply_chunk, items, shared=payload)
    return combine(parts) if combine is not None else parts
