"""An in-toto Statement (v1) that records what an audit looked at and what it concluded.

Written beside ``report.json`` as ``attestation.intoto.json``: the subjects are the audited model and data files
with their sha256 digests (from ``report.bundle.files``); the predicate summarises the audit (tool version,
rubric name/version/sha256, verdict, check statuses) and pins ``report.json`` by its sha256. A later pipeline step
verifies with :func:`verify_attestation` (or ``trustaudit verify-attestation``) that the files it is about to
release are the ones that were audited, and that the report was not edited since.

The Statement is unsigned; sign it with your usual tool, e.g. wrap it in a DSSE envelope, or pass the predicate
to ``cosign attest-blob --type`` with :data:`PREDICATE_TYPE`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustaudit.errors import TrustAuditError

if TYPE_CHECKING:
    from trustaudit.results import AuditReport

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
#: The predicate type of a trustaudit audit summary (documented in docs/lineage.md).
PREDICATE_TYPE = "https://trustaudit.dev/attestation/audit/v1"
FILENAME = "attestation.intoto.json"
REPORT_NAME = "report.json"


class AttestationError(TrustAuditError):
    """The attestation cannot be written or does not verify."""


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_statement(report: AuditReport, report_bytes: bytes) -> dict[str, Any]:
    """The in-toto Statement for ``report`` whose serialised form is ``report_bytes``."""
    files = report.bundle.files
    if not files:
        raise AttestationError(
            "the audit has no files to attest (an in-memory audit); audit a bundle directory to get an attestation"
        )
    subjects = [{"name": f.path, "digest": {"sha256": f.sha256},
                 "annotations": {"role": f.role, "bytes": f.bytes}} for f in files]
    predicate = {
        "tool": {"name": report.tool.name, "version": report.tool.version, "python": report.tool.python},
        "report": {"name": REPORT_NAME, "digest": {"sha256": _sha256_bytes(report_bytes)},
                   "report_id": report.report_id, "schema_version": report.schema_version},
        "audited_at": report.created_at.isoformat(),
        "bundle": {"name": report.bundle.name, "version": report.bundle.version, "task": report.bundle.task},
        "rubric": {"name": report.rubric.name, "version": report.rubric.version, "source": report.rubric.source,
                   "digest": {"sha256": report.rubric.sha256}},
        "seed": report.seed,
        "verdict": report.verdict.value,
        "counts": report.counts,
        "checks": [{"id": c.check_id, "version": c.version, "status": c.status.value} for c in report.checks],
    }
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": PREDICATE_TYPE, "predicate": predicate}


def write_attestation(report: AuditReport, out_dir: str | Path) -> Path:
    """Write ``attestation.intoto.json`` into ``out_dir`` (beside report.json) and return its path.

    The report digest is taken from ``out_dir/report.json`` when it exists (call this right after
    :func:`trustaudit.api.write_report`), else from ``report.to_json()``, which is what write_report writes.
    """
    from trustaudit.results.io import atomic_write

    out = Path(out_dir)
    rpath = out / REPORT_NAME
    report_bytes = rpath.read_bytes() if rpath.is_file() else report.to_json().encode("utf-8")
    statement = build_statement(report, report_bytes)
    path = out / FILENAME
    atomic_write(path, json.dumps(statement, indent=2) + "\n")
    return path


def verify_attestation(statement_path: str | Path, bundle_dir: str | Path,
                       report_path: str | Path | None = None) -> list[str]:
    """Problems found when checking a Statement against a bundle (and its report.json); empty when it verifies.

    Every subject must exist in ``bundle_dir`` with the recorded sha256; ``report_path`` (default: report.json
    beside the statement) must have the recorded digest.
    """
    from trustaudit.bundle.loader import resolve_inside, sha256_file

    sp = Path(statement_path)
    try:
        st = json.loads(sp.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AttestationError(f"attestation {sp} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AttestationError(f"attestation {sp} is not valid JSON: {exc}") from None
    if not isinstance(st, dict) or st.get("_type") != STATEMENT_TYPE:
        raise AttestationError(f"{sp} is not an in-toto Statement v1 (_type {STATEMENT_TYPE})")
    if st.get("predicateType") != PREDICATE_TYPE:
        raise AttestationError(f"{sp} has predicateType {st.get('predicateType')!r}, not {PREDICATE_TYPE}")
    problems: list[str] = []
    root = Path(bundle_dir)
    for subj in st.get("subject") or []:
        name = subj.get("name", "")
        want = (subj.get("digest") or {}).get("sha256")
        try:
            path = resolve_inside(root, name, "subject")
        except TrustAuditError as exc:
            problems.append(exc.one_line())
            continue
        if not path.exists():
            problems.append(f"{name}: missing from {root}")
            continue
        got = sha256_file(path)[0]
        if got != want:
            problems.append(f"{name}: sha256 {got[:12]}… differs from the audited {str(want)[:12]}…")
    rp = Path(report_path) if report_path is not None else sp.parent / REPORT_NAME
    want_report = ((st.get("predicate") or {}).get("report") or {}).get("digest", {}).get("sha256")
    if rp.is_file():
        got = _sha256_bytes(rp.read_bytes())
        if got != want_report:
            problems.append(f"{rp.name}: sha256 {got[:12]}… differs from the attested {str(want_report)[:12]}…")
    else:
        problems.append(f"{rp}: report not found")
    return problems
