"""Reading and writing report files: the bottom layer every output (reports, attestations, BOMs, baselines,
renderings) writes through, so no lower module has to import the engine for it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from trustaudit.errors import TrustAuditError
from trustaudit.results.models import AuditReport


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write to a temporary file in the same directory and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; reports are meant to be shared like any other file
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(report: AuditReport, out_dir: str | Path) -> Path:
    """Write ``report.json`` atomically into ``out_dir`` and return its path.

    A report audited in this process elsewhere (``audit()`` without ``out_dir`` writes its plots to a temporary
    folder, ``report.artifact_dir``) has its artefacts copied beside report.json, so the HTML/PDF renderings of
    ``out_dir`` show them whatever the order of calls."""
    out = Path(out_dir)
    path = out / "report.json"
    atomic_write(path, report.to_json())
    copy_artifacts(report, out)
    return path


def copy_artifacts(report: AuditReport, out_dir: Path) -> list[Path]:
    """Copy the report's artefacts from ``report.artifact_dir`` into ``out_dir`` (files inside that folder only;
    nothing when it is ``out_dir`` itself or unknown). Returns the files written."""
    import shutil

    src = report.artifact_dir
    if src is None:
        return []
    root = Path(src).resolve()
    dest = out_dir.resolve()
    if root == dest:
        return []
    written: list[Path] = []
    for check in report.checks:
        for art in check.artifacts:
            source = (root / art.path).resolve()
            target = (dest / art.path).resolve()
            if root not in source.parents or dest not in target.parents or not source.is_file():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            written.append(target)
    return written


def load_report(path: str | Path) -> AuditReport:
    """Read a report.json (schema 1.0 or 1.1); a one-line :class:`TrustAuditError` when it is not one."""
    p = Path(path)
    if not p.is_file():
        raise TrustAuditError(f"report file {p} does not exist")
    try:
        return AuditReport.from_json(p.read_bytes())
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise TrustAuditError(f"{p} is not a trustaudit report: {where}: {first['msg']}") from None
