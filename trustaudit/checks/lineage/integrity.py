"""``lineage.integrity``: every digest the manifest declares matches the file in the bundle, and an OpenSSF
model-signing signature the bundle carries (``lineage.signature``) verifies with the key the auditor trusts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec
from trustaudit.checks.lineage._common import CATEGORY, has_lineage, lineage_spec, listing, norm_path, short
from trustaudit.context import AuditContext
from trustaudit.errors import SkipCheck, TrustAuditError
from trustaudit.lineage.digests import compare
from trustaudit.lineage.spec import LineageSpec, format_digest
from trustaudit.results import Metric, Table


class IntegrityParams(CheckParams):
    max_rows: int = Field(200, ge=1, description="Most files listed in the evidence table")
    model_key: str | None = Field(
        None, description="The auditor's trusted PEM public key for lineage.signature (trustaudit audit --model-key)")
    model_certificate_chain: list[str] = Field(
        default_factory=list, description="Trusted certificate chain (PEM files) for certificate model signatures")


class IntegrityCheck(Check):
    """Recompute every declared digest (``lineage.files``, ``training_data[].digest``, ...) and compare.

    ``digest_mismatches`` counts files whose content differs from the declared digest (its subject names them);
    ``missing_files`` counts declared files that are absent; ``undeclared_files`` counts audited files (model,
    data, training data) with no declared digest.

    ``lineage.signature`` (an OpenSSF model-signing signature of the model) is verified with model-signing's own
    verifier and the key the *auditor* gives (``model_key``; ``model_certificate_chain`` for certificate
    signatures). Without it, a key the bundle names (``lineage.signature.public_key``) is used to check that the
    files match the signature, but the signature counts as unverified: anyone who changes the model can re-sign
    it with a key of their own. ``model_signatures_failed`` counts signatures that do not verify (a changed,
    extra or missing file, a wrong key); ``model_signatures_unverified`` those no trusted key verified.
    """

    id = "lineage.integrity"
    category = CATEGORY
    title = "Declared digests match the files"
    version = "1.2"
    description = "Verifies the sha256 (or sha384/sha512/sha3/blake2b) digests declared under lineage."
    Params = IntegrityParams
    requires = frozenset({"bundle_dir"})

    metrics = (
        MetricSpec("digests_verified", "Declared file digests that match the files", unit="files"),
        MetricSpec("digest_mismatches",
                   "Declared file digests that do not match the files",
                   direction="lower_is_better", unit="files"),
        MetricSpec("missing_files",
                   "Distinct declared files that are missing from the bundle",
                   direction="lower_is_better", unit="files"),
        MetricSpec("undeclared_files",
                   "Bundle files no digest declaration covers",
                   direction="lower_is_better", unit="files"),
        MetricSpec("model_signatures_failed",
                   "Model signatures (lineage.signature) that do not verify: changed file or wrong key",
                   direction="lower_is_better", unit="signatures"),
        MetricSpec("model_signatures_unverified",
                   "Model signatures no key the auditor trusts verified (none given, or only the bundle's own key)",
                   direction="lower_is_better", unit="signatures"),
    )

    def run(self, ctx: AuditContext, params: IntegrityParams) -> CheckOutput:
        spec = lineage_spec(ctx)
        if not has_lineage(ctx):
            raise SkipCheck("the manifest has no lineage section: no declared digests to verify")
        entries = spec.all_digests()
        audited = {norm_path(f.path): f for f in ctx.bundle.files}
        rows: list[list[object]] = []
        mismatched: list[str] = []
        missing: list[str] = []
        details: list[str] = []
        declared_paths: set[str] = set()
        # one file may be declared in several places: the file counts are of distinct files, the digest counts
        # of declarations
        bad_entries = missing_entries = 0
        seen_bad: set[str] = set()
        seen_missing: set[str] = set()
        for path, digest, where in entries:
            key = norm_path(path)
            declared_paths.add(key)
            full = ctx.bundle.resolve(path, where)
            if not full.exists():
                missing_entries += 1
                if key not in seen_missing:
                    seen_missing.add(key)
                    missing.append(path)
                rows.append([path, where, format_digest(digest), None, "missing"])
                continue
            known = audited[key].sha256 if key in audited else None
            bad = compare(full, digest, known_sha256=known)
            if bad:
                bad_entries += 1
                alg, (want, got) = next(iter(bad.items()))
                if key not in seen_bad:
                    seen_bad.add(key)
                    mismatched.append(path)
                details.append(f"{path} (declared {alg}:{short(want)}, file has {alg}:{short(got)})")
                rows.append([path, where, f"{alg}:{want}", f"{alg}:{got}", "MISMATCH"])
            else:
                rows.append([path, where, format_digest(digest), format_digest(digest), "match"])
        for i, ref in enumerate(spec.training_data):
            if ref.path is None and ref.uri is not None and ref.digest is not None:
                rows.append([ref.uri, f"lineage.training_data[{i}].digest", format_digest(ref.digest), None,
                             "external: not verified"])
        undeclared = [f.path for k, f in audited.items() if k not in declared_paths]
        for path in undeclared:
            rows.append([path, "(bundle file)", None, f"sha256:{audited[norm_path(path)].sha256}", "undeclared"])

        n_checked = len(entries) - missing_entries
        metrics = [
            Metric(name="digest_mismatches", value=float(len(mismatched)), n=n_checked,
                   subject=listing(mismatched) if mismatched else None,
                   note="files whose content differs from the declared digest" if mismatched else None),
            Metric(name="missing_files", value=float(len(missing)), n=len(declared_paths),
                   subject=listing(missing) if missing else None),
            Metric(name="undeclared_files", value=float(len(undeclared)), n=len(audited),
                   subject=listing(undeclared) if undeclared else None),
            Metric(name="digests_verified", value=float(n_checked - bad_entries), n=n_checked,
                   note="declared digests (of files present) that match"),
        ]
        sig = _model_signature(ctx, spec, params)
        failed = sig is not None and sig.problem is not None
        unverified = sig is not None and not failed and not sig.trusted
        metrics += [
            Metric(name="model_signatures_failed", value=float(failed), n=int(sig is not None),
                   subject=sig.model if failed and sig is not None else None,
                   note=sig.problem if failed and sig is not None else None),
            Metric(name="model_signatures_unverified", value=float(unverified), n=int(sig is not None),
                   subject=sig.model if unverified and sig is not None else None),
        ]
        tables: list[Table] = []
        if sig is not None:
            result = ("FAILED" if failed else "verified" if sig.trusted else
                      "matches the bundle's own key only (untrusted)" if sig.verified else "not verified")
            tables.append(Table(
                title="Model signature (OpenSSF model-signing)",
                columns=["signature", "signed", "method", "signer", "verified with", "files covered", "result"],
                rows=[[sig.signature, sig.model, sig.method, sig.signer, sig.trusted_by, len(sig.files),
                       result + (f": {sig.problem}" if sig.problem else "")]]))
        if mismatched:
            summary = "digest mismatch: " + "; ".join(details[:3]) + ("; ..." if len(details) > 3 else "")
        elif missing:
            summary = f"declared file(s) missing from the bundle: {listing(missing)}"
        elif not entries:
            summary = "the lineage section declares no digests"
        else:
            summary = f"{n_checked} declared digest(s) match the files"
        if undeclared and not mismatched:
            summary += f"; no declared digest for {listing(undeclared)}"
        if sig is not None:
            if failed:
                summary = f"model signature {sig.signature} does not verify: {sig.problem}; " + summary
            elif sig.trusted:
                summary = f"model signature verified ({sig.signer}, by {sig.trusted_by}); " + summary
            elif sig.verified:
                summary = (f"model signature matches only the key the bundle ships ({sig.signer}): give the "
                           "signer's key with --model-key to trust it; " + summary)
            else:
                summary = ("model signature not verified: give the signer's public key with --model-key; "
                           + summary)
        evidence: dict[str, Any] = {"mismatched": mismatched, "missing": missing, "undeclared": undeclared}
        if sig is not None:
            evidence["model_signature"] = sig.as_dict()
        return CheckOutput(
            metrics=metrics,
            summary=summary,
            tables=[Table(title="Declared digests", columns=["file", "declared in", "declared", "actual", "result"],
                          rows=rows[: params.max_rows]), *tables],
            evidence=evidence,
        )


def _model_signature(ctx: AuditContext, spec: LineageSpec, params: IntegrityParams) -> Any:
    """Verify ``lineage.signature`` (None when the bundle declares none); see :class:`IntegrityCheck`."""
    from trustaudit.lineage.signing import ModelSignature, key_fingerprint, read_model_signature
    from trustaudit.lineage.signing import verify_model_signature as verify

    ref = spec.signature
    if ref is None:
        return None
    manifest_model = ctx.bundle.manifest.model
    model_rel = ref.model or (manifest_model.path if manifest_model is not None else None)
    out = ModelSignature(signature=ref.path, model=model_rel or "?", method=ref.method)
    try:
        if model_rel is None:
            raise TrustAuditError("lineage.signature.model is not given and the manifest has no model path")
        sig_path = ctx.bundle.resolve(ref.path, "lineage.signature.path")
        model_path = ctx.bundle.resolve(model_rel, "lineage.signature.model")
        for p, what in ((sig_path, "signature file"), (model_path, "signed model")):
            if not p.exists():
                raise TrustAuditError(f"the {what} {p.name} is not in the bundle")
        audited_rel = manifest_model.path if manifest_model is not None else None
        audited = ctx.bundle.resolve(audited_rel, "model.path") if audited_rel is not None else None
        if audited is not None and audited != model_path and model_path not in audited.parents:
            # a genuine signature of another file proves nothing about the model this audit loaded
            raise TrustAuditError(f"the signature covers {model_rel}, not the audited model {audited_rel}"
                                  " (model.path): sign the audited model")
        out.signer, out.files = read_model_signature(sig_path)
        if audited is not None and model_path.is_dir() and out.files:
            inner = audited.relative_to(model_path).as_posix()
            if inner not in out.files:
                raise TrustAuditError(f"the signature of {model_rel} does not list the audited model {inner}")
        chain = tuple(Path(c).expanduser() for c in params.model_certificate_chain)
        key: Path | None = None
        if ref.method == "certificate":
            out.trusted = bool(chain)
            out.trusted_by = ("the auditor's certificate chain" if chain else
                              "the system's certificate store (no --model-certificate-chain: untrusted)")
        elif params.model_key:
            key = Path(params.model_key).expanduser()
            out.trusted, out.trusted_by = True, f"the auditor's key {key.name}"
        elif ref.public_key:
            key = ctx.bundle.resolve(ref.public_key, "lineage.signature.public_key")
            out.trusted_by = f"the bundle's own key {ref.public_key} (untrusted)"
        else:
            return out  # nothing to verify with: unverified
        fp = key_fingerprint(key) if key is not None else None
        if fp:
            out.trusted_by = f"{out.trusted_by} ({fp})"
        verify(model_path, sig_path, method=ref.method, public_key=key, certificate_chain=chain,
               label=model_rel)
        out.verified = True
    except TrustAuditError as exc:
        out.problem = exc.one_line()
        out.trusted = False
    return out
