"""Functions the Dask tests run on the workers of their own local cluster (``client.run``): importable by
reference, so they live in a module rather than in the test file."""

from __future__ import annotations

import time
from typing import Any

STARTED: list[str] = []
_SAVED: dict[str, Any] = {}


def slow_checks(slow: dict[str, float]) -> None:
    """Make ``registry.load`` hand out versions of the named checks that sleep first, and record every check
    that starts on this worker (in ``STARTED``)."""
    from trustaudit.checks import registry

    orig = _SAVED.setdefault("load", registry.load)
    STARTED.clear()

    def load(cid: str) -> Any:
        cls = orig(cid)

        class Recorded(cls):  # type: ignore[misc,valid-type]
            def run(self, ctx: Any, params: Any) -> Any:
                STARTED.append(cid)
                time.sleep(slow.get(cid, 0.0))
                return super().run(ctx, params)

        return Recorded

    registry.load = load


def break_task() -> None:
    """Make the service's Dask task fail before its audit starts, outside the audit's own error handling, as a
    worker with a full disk would (``tempfile.mkdtemp`` raises)."""
    import types

    from trustaudit.service import dask_pool

    _SAVED.setdefault("tempfile", dask_pool.tempfile)

    def mkdtemp(*args: Any, **kwargs: Any) -> str:
        raise OSError(28, "No space left on device\nsecond line that must not reach the client")

    dask_pool.tempfile = types.SimpleNamespace(mkdtemp=mkdtemp)  # type: ignore[assignment]


def restore() -> None:
    from trustaudit.checks import registry
    from trustaudit.service import dask_pool

    if "load" in _SAVED:
        registry.load = _SAVED.pop("load")
    if "tempfile" in _SAVED:
        dask_pool.tempfile = _SAVED.pop("tempfile")
    STARTED.clear()


def started() -> list[str]:
    return list(STARTED)
