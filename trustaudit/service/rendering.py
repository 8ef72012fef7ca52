"""A finished job's files: where they are, and report renderings made on first request (``materialize``)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from trustaudit.service.db import Job

REPORT_FILES: dict[str, tuple[str, str]] = {
    # name -> (format key, media type)
    "report.json": ("json", "application/json"),
    "report.html": ("html", "text/html; charset=utf-8"),
    "report.pdf": ("pdf", "application/pdf"),
    "report.md": ("md", "text/markdown; charset=utf-8"),
    "junit.xml": ("junit", "application/xml"),
    "report.sarif": ("sarif", "application/sarif+json"),
}
MEDIA_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json", ".csv": "text/csv",
               ".html": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8", ".txt": "text/plain"}

_render_locks: dict[tuple[str, str], threading.Lock] = {}
_render_guard = threading.Lock()


def out_dir(job: Job, data_dir: Path) -> Path | None:
    """The job's output folder (the one holding its report.json), or None before it wrote one."""
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
    out = out_dir(job, data_dir)
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
    try:
        import trustaudit.render as mod
    except ImportError:
        raise _Unavailable() from None
    try:
        data = mod.render(report, fmt, report_dir=out)
    except Exception as exc:
        if "unknown" in str(exc).lower() or "not available" in str(exc).lower() or isinstance(exc, KeyError):
            raise _Unavailable() from None
        raise
    return data.encode("utf-8") if isinstance(data, str) else data
