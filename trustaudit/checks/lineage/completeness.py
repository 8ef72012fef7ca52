"""``lineage.completeness``: which provenance fields the manifest declares, scored against a documented list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec
from trustaudit.checks.lineage._common import CATEGORY, has_lineage, lineage_spec, listing, norm_path
from trustaudit.context import AuditContext
from trustaudit.lineage.spec import DataRef, LineageSpec
from trustaudit.results import Metric, Table

DECLARED, MISSING, PLACEHOLDER, NOT_APPLICABLE = "declared", "missing", "placeholder", "n/a"


@dataclass(frozen=True)
class Field:
    key: str
    description: str
    status: Callable[[LineageSpec, AuditContext], str]


def _has_digest_for(path: str | None) -> Callable[[LineageSpec, AuditContext], str]:
    def status(spec: LineageSpec, ctx: AuditContext) -> str:
        if path is None:
            return NOT_APPLICABLE
        want = norm_path(path)
        return DECLARED if any(norm_path(p) == want for p, _, _ in spec.all_digests()) else MISSING

    return status


def _model_digest(spec: LineageSpec, ctx: AuditContext) -> str:
    m = ctx.bundle.manifest.model
    return _has_digest_for(m.path if m is not None else None)(spec, ctx)


def _data_digest(spec: LineageSpec, ctx: AuditContext) -> str:
    return _has_digest_for(ctx.bundle.manifest.data.path)(spec, ctx)


def _all(pred: Callable[[DataRef], bool]) -> Callable[[LineageSpec, AuditContext], str]:
    def status(spec: LineageSpec, ctx: AuditContext) -> str:
        if not spec.training_data:
            return MISSING
        return DECLARED if all(pred(r) for r in spec.training_data) else MISSING

    return status


def _code(attr: str) -> Callable[[LineageSpec, AuditContext], str]:
    def status(spec: LineageSpec, ctx: AuditContext) -> str:
        if spec.code is None or not getattr(spec.code, attr):
            return MISSING
        return PLACEHOLDER if spec.code.is_placeholder else DECLARED

    return status


def _flag(ok: Callable[[LineageSpec], bool]) -> Callable[[LineageSpec, AuditContext], str]:
    return lambda spec, ctx: DECLARED if ok(spec) else MISSING


#: The documented field list (docs/lineage.md). Each applicable field weighs the same.
FIELDS: tuple[Field, ...] = (
    Field("model_digest", "digest of the model file (lineage.files)", _model_digest),
    Field("data_digest", "digest of the evaluation data file (lineage.files)", _data_digest),
    Field("training_data", "training data declared: path inside the bundle or external uri",
          _flag(lambda s: any(r.path or r.uri for r in s.training_data))),
    Field("training_data_digest", "a digest for every training data entry", _all(lambda r: r.digest is not None)),
    Field("training_data_license", "a license for every training data entry", _all(lambda r: bool(r.license))),
    Field("evaluation_data", "where the evaluation data came from (lineage.evaluation_data)",
          _flag(lambda s: s.evaluation_data is not None)),
    Field("code_repository", "repository of the training code (lineage.code.repository)", _code("repository")),
    Field("code_commit", "commit of the training code (lineage.code.commit)", _code("commit")),
    Field("framework", "training framework and its version (lineage.training.framework, framework_version)",
          _flag(lambda s: s.training is not None and bool(s.training.framework) and bool(s.training.framework_version))),
    Field("training_params", "training parameters (lineage.training.params)",
          _flag(lambda s: s.training is not None and bool(s.training.params))),
    Field("base_model", "base model, or 'base_model: null' when not fine-tuned (lineage.base_model)",
          _flag(lambda s: s.declared("base_model"))),
    Field("producer", "who produced the model (lineage.producer)", _flag(lambda s: s.producer is not None)),
    Field("created", "when it was produced (lineage.created)", _flag(lambda s: s.created is not None)),
    Field("license", "license of the model (lineage.license)", _flag(lambda s: bool(s.license))),
)


class CompletenessCheck(Check):
    """Score = declared fields / applicable fields over :data:`FIELDS` (a placeholder counts as missing)."""

    id = "lineage.completeness"
    category = CATEGORY
    title = "Provenance fields declared"
    version = "1.0"
    description = "Which provenance fields the lineage section declares, scored 0-1 against a documented list."
    Params = CheckParams
    requires = frozenset({"bundle_dir"})

    metrics = (
        MetricSpec("completeness",
                   "Share of the lineage fields a release should declare that the bundle declares",
                   direction="higher_is_better", unit="fraction of fields"),
        MetricSpec("missing_fields",
                   "Lineage fields the bundle does not declare",
                   direction="lower_is_better", unit="fields"),
    )

    def run(self, ctx: AuditContext, params: CheckParams) -> CheckOutput:
        spec = lineage_spec(ctx)
        rows: list[list[object]] = []
        declared = applicable = 0
        missing: list[str] = []
        placeholders: list[str] = []
        for f in FIELDS:
            st = f.status(spec, ctx)
            rows.append([f.key, st, f.description])
            if st == NOT_APPLICABLE:
                continue
            applicable += 1
            if st == DECLARED:
                declared += 1
            elif st == PLACEHOLDER:
                placeholders.append(f.key)
            else:
                missing.append(f.key)
        score = declared / applicable if applicable else 0.0
        not_declared = missing + placeholders
        metrics = [
            Metric(name="completeness", value=score, n=applicable, unit="fraction of fields",
                   note=f"{declared} of {applicable} provenance fields declared"),
            Metric(name="missing_fields", value=float(len(not_declared)), n=applicable,
                   subject=listing(not_declared, 8) if not_declared else None),
        ]
        if not has_lineage(ctx):
            summary = "the manifest has no lineage section (0 provenance fields declared)"
        else:
            summary = f"{declared}/{applicable} provenance fields declared ({score:.0%})"
            if missing:
                summary += f"; missing: {listing(missing, 6)}"
            if placeholders:
                summary += f"; placeholder: {listing(placeholders)}"
        return CheckOutput(
            metrics=metrics,
            summary=summary,
            tables=[Table(title="Provenance fields", columns=["field", "status", "what"], rows=rows)],
            evidence={"declared": declared, "applicable": applicable, "missing": missing,
                      "placeholder": placeholders},
        )
