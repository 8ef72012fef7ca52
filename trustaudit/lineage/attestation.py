"""An in-toto Statement (v1) that records what an audit looked at and what it concluded, optionally signed.

Written beside ``report.json`` as ``attestation.intoto.json``: the subjects are the audited model and data files
with their sha256 digests (from ``report.bundle.files``); the predicate summarises the audit (tool version,
rubric name/version/sha256, verdict, check statuses) and pins ``report.json`` by its sha256. Its type,
:data:`PREDICATE_TYPE`, is documented in docs/verify.md with a JSON Schema in
``schemas/attestation-predicate.schema.json``.

With a signing key (``trustaudit audit --sign-key KEY.pem``, ``run_audit(sign_key=...)``, or the service's
``TRUSTAUDIT_SIGN_KEY``) the file is a DSSE envelope (payload type ``application/vnd.in-toto+json``) over the same
Statement, signed with securesystemslib (:mod:`trustaudit.lineage.signing`). :func:`check_attestation` (or
``trustaudit verify-attestation BUNDLE ATTESTATION --key PUB.pem``) checks the signature, then that the files it
is about to release are the ones that were audited and that the report was not edited since.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
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
MANIFEST_SUBJECT = "trustaudit.yaml"


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
    if report.bundle.manifest_sha256 is not None:  # the manifest says which files are the model and data
        subjects.append({"name": MANIFEST_SUBJECT, "digest": {"sha256": report.bundle.manifest_sha256},
                         "annotations": {"role": "manifest"}})
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


def write_attestation(report: AuditReport, out_dir: str | Path, *, sign_key: str | Path | None = None) -> Path:
    """Write ``attestation.intoto.json`` into ``out_dir`` (beside report.json) and return its path.

    The report digest is taken from ``out_dir/report.json`` when it exists (call this right after
    :func:`trustaudit.api.write_report`), else from ``report.to_json()``, which is what write_report writes.
    With ``sign_key`` (a PEM Ed25519 / ECDSA P-256 private key) the file is a signed DSSE envelope.
    """
    from trustaudit.results.io import atomic_write

    signer = None
    if sign_key is not None:  # read the key first: a bad key writes nothing
        from trustaudit.lineage.signing import load_signer

        signer = load_signer(sign_key)
    out = Path(out_dir)
    rpath = out / REPORT_NAME
    report_bytes = rpath.read_bytes() if rpath.is_file() else report.to_json().encode("utf-8")
    statement = build_statement(report, report_bytes)
    doc: dict[str, Any] = statement
    if signer is not None:
        from trustaudit.lineage.signing import sign_statement

        doc = sign_statement(statement, signer)
    path = out / FILENAME
    atomic_write(path, json.dumps(doc, indent=2) + "\n")
    return path


def sign_attestation(path: str | Path, sign_key: str | Path) -> Path:
    """Replace an unsigned Statement file by a DSSE envelope over it, signed with ``sign_key``; return the path.

    An envelope is left as it is when it already carries this key's signature, else the key's signature is
    added to it. Used by the service, which signs what its workers wrote with the server's key.
    """
    from trustaudit.lineage.signing import is_envelope, load_signer, read_envelope, sign_statement
    from trustaudit.results.io import atomic_write

    signer = load_signer(sign_key)
    p = Path(path)
    doc = _read_json(p)
    if is_envelope(doc):
        env = read_envelope(doc, str(p))
        if signer.public_key.keyid in env.signatures:
            return p
        env.sign(signer)
        out = env.to_dict()
    else:
        _check_statement(doc, p)
        out = sign_statement(doc, signer)
    atomic_write(p, json.dumps(out, indent=2) + "\n")
    return p


@dataclass
class Verification:
    """What :func:`check_attestation` found."""

    statement: dict[str, Any]
    signed: bool  # the file is a DSSE envelope
    signature_checked: bool  # ... and its signature was verified with the key given
    keyids: list[str] = field(default_factory=list)  # key ids the envelope names
    problems: list[str] = field(default_factory=list)  # empty: everything verifies

    @property
    def ok(self) -> bool:
        return not self.problems


def _read_json(p: Path) -> Any:
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AttestationError(f"attestation {p} does not exist") from None
    except IsADirectoryError:
        raise AttestationError(f"attestation {p} is a directory, not a file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AttestationError(f"attestation {p} is not valid JSON: {exc}") from None


def _check_statement(st: Any, sp: Path) -> None:
    if not isinstance(st, dict) or st.get("_type") != STATEMENT_TYPE:
        raise AttestationError(f"{sp} is not an in-toto Statement v1 (_type {STATEMENT_TYPE}) or a DSSE envelope")
    if st.get("predicateType") != PREDICATE_TYPE:
        raise AttestationError(f"{sp} has predicateType {st.get('predicateType')!r}, not {PREDICATE_TYPE}")
    if not isinstance(st.get("subject"), list) or not isinstance(st.get("predicate"), dict):
        raise AttestationError(f"{sp}: the Statement has no subject list or predicate")


def check_attestation(statement_path: str | Path, bundle_dir: str | Path, report_path: str | Path | None = None,
                      *, key: str | Path | None = None) -> Verification:
    """Check an attestation (a Statement, or a DSSE envelope over one) against a bundle and its report.json.

    With ``key`` (the signer's PEM public key) the envelope's signature must verify with it; an unsigned
    Statement then fails ("not signed"). A changed envelope or a wrong key is a problem named
    ``envelope signature``; every subject must exist in ``bundle_dir`` with the recorded sha256, and
    ``report_path`` (default: report.json beside the attestation) must have the recorded digest. Raises
    :class:`AttestationError` (or :class:`~trustaudit.lineage.signing.SigningError`) on unreadable input.
    """
    from trustaudit.lineage.signing import envelope_problem, is_envelope, load_public_key, read_envelope

    sp = Path(statement_path)
    pub = load_public_key(key) if key is not None else None
    doc = _read_json(sp)
    problems: list[str] = []
    signed = is_envelope(doc)
    keyids: list[str] = []
    if signed:
        env = read_envelope(doc, str(sp))
        keyids = list(env.signatures)
        if pub is not None:
            why = envelope_problem(env, pub, Path(str(key)).name)
            if why is not None:
                problems.append(why)
        try:
            st = json.loads(env.payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            if problems:  # the payload was changed: that is the finding
                return Verification({}, signed, pub is not None, keyids, problems)
            raise AttestationError(f"{sp}: the envelope's payload is not a JSON in-toto Statement") from None
        if problems and (not isinstance(st, dict) or st.get("_type") != STATEMENT_TYPE):
            return Verification({}, signed, pub is not None, keyids, problems)
    else:
        st = doc
        if pub is not None:
            problems.append("envelope signature: the attestation is not signed (an unsigned in-toto Statement), "
                            "so nothing proves who wrote it")
    _check_statement(st, sp)
    problems += _digest_problems(st, Path(bundle_dir), Path(report_path) if report_path is not None
                                 else sp.parent / REPORT_NAME)
    return Verification(st, signed, signed and pub is not None, keyids, problems)


def verify_attestation(statement_path: str | Path, bundle_dir: str | Path,
                       report_path: str | Path | None = None, *, key: str | Path | None = None) -> list[str]:
    """Problems found when checking an attestation against a bundle (and its report.json); empty when it
    verifies. See :func:`check_attestation` (this returns its ``problems``)."""
    return check_attestation(statement_path, bundle_dir, report_path, key=key).problems


def _digest_problems(st: dict[str, Any], root: Path, rp: Path) -> list[str]:
    from trustaudit.bundle.loader import resolve_inside, sha256_file

    problems: list[str] = []
    subjects = st.get("subject") or []
    names = {str(s.get("name", "")) for s in subjects if isinstance(s, dict)}
    if not subjects:
        problems.append("the attestation names no subject: it vouches for no file of the bundle")
    elif MANIFEST_SUBJECT not in names:
        # without the manifest, another model file (or another favourable label) could be swapped in beside
        # the audited files and the digests would still match
        problems.append(f"the attestation does not cover {MANIFEST_SUBJECT} (which files are the model and data): "
                        "re-audit the bundle to get an attestation that does")
    for subj in subjects:
        if not isinstance(subj, dict):
            problems.append(f"subject {subj!r} is not a mapping")
            continue
        name = str(subj.get("name", ""))
        digest = subj.get("digest")
        want = digest.get("sha256") if isinstance(digest, dict) else None
        if not isinstance(want, str):
            problems.append(f"subject {name!r} has no sha256 digest")
            continue
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
    pred = st.get("predicate")
    rep = pred.get("report") if isinstance(pred, dict) else None
    rdig = rep.get("digest") if isinstance(rep, dict) else None
    want_report = rdig.get("sha256") if isinstance(rdig, dict) else None
    if rp.is_file():
        got = _sha256_bytes(rp.read_bytes())
        if got != want_report:
            problems.append(f"{rp.name}: sha256 {got[:12]}… differs from the attested {str(want_report)[:12]}…")
    else:
        problems.append(f"{rp}: report not found")
    return problems
