"""``lineage.integrity``: every digest the manifest declares matches the file in the bundle."""

from __future__ import annotations

from pydantic import Field

from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec
from trustaudit.checks.lineage._common import CATEGORY, has_lineage, lineage_spec, listing, norm_path, short
from trustaudit.context import AuditContext
from trustaudit.errors import SkipCheck
from trustaudit.lineage.digests import compare
from trustaudit.lineage.spec import format_digest
from trustaudit.results import Metric, Table


class IntegrityParams(CheckParams):
    max_rows: int = Field(200, ge=1, description="Most files listed in the evidence table")


class IntegrityCheck(Check):
    """Recompute every declared digest (``lineage.files``, ``training_data[].digest``, ...) and compare.

    ``digest_mismatches`` counts files whose content differs from the declared digest (its subject names them);
    ``missing_files`` counts declared files that are absent; ``undeclared_files`` counts audited files (model,
    data, training data) with no declared digest.
    """

    id = "lineage.integrity"
    category = CATEGORY
    title = "Declared digests match the files"
    version = "1.1"
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
        return CheckOutput(
            metrics=metrics,
            summary=summary,
            tables=[Table(title="Declared digests", columns=["file", "declared in", "declared", "actual", "result"],
                          rows=rows[: params.max_rows])],
            evidence={"mismatched": mismatched, "missing": missing, "undeclared": undeclared},
        )
