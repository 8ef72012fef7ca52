"""Openness as a check family: grade the bundle's ``openness:`` declaration against the Model Openness Framework.

The check measures; the rubric judges. Metrics (all ``judge: value``):

* ``class_rank`` (alias ``mof_class_rank``): 3 = Class I, 2 = Class II, 1 = Class III, 0 = unclassified;
  "at least Class III" is ``class_rank >= 1``;
* ``progress_class_1``, ``progress_class_2``, ``progress_class_3`` (percent) and ``total_progress``;
* ``final_parameters_open``: 1 when the final parameters are under an open license, else 0;
* ``restrictive_components``, ``evidence_errors``: counts;
* ``art53_exemption_plausible``: 1 / 0, absent when undetermined.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec
from trustaudit.errors import SkipCheck
from trustaudit.results import Metric, Table

if TYPE_CHECKING:
    from trustaudit.context import AuditContext

CATEGORY = "openness"


class OpennessParams(CheckParams):
    strict_mot: bool = Field(False, description="Grade exactly as the Model Openness Tool (no normalisation)")
    evidence: bool = Field(True, description="Check component paths and LICENSE files inside the bundle")


class OpennessCheck(Check):
    id = "openness.mof"
    category = CATEGORY
    title = "Model Openness Framework class"
    version = "1.0"
    description = (
        "Grades the manifest's openness declaration (MOT release structure) against the Model Openness Framework: "
        "class I-III, progress per class, each component's license status, and evidence in the bundle."
    )
    Params = OpennessParams

    metrics = (
        MetricSpec("mof_class_rank",
                   "Model Openness Framework class reached (3 = class I, the most open; 0 = none)",
                   direction="higher_is_better"),
        MetricSpec("class_rank",
                   "Same as mof_class_rank (kept for earlier rubrics)",
                   direction="higher_is_better"),
        MetricSpec("total_progress",
                   "Share of the MOF components released under an open license",
                   direction="higher_is_better", unit="%"),
        MetricSpec("progress_class_1",
                   "Progress towards MOF class I",
                   direction="higher_is_better", unit="%"),
        MetricSpec("progress_class_2",
                   "Progress towards MOF class II",
                   direction="higher_is_better", unit="%"),
        MetricSpec("progress_class_3",
                   "Progress towards MOF class III",
                   direction="higher_is_better", unit="%"),
        MetricSpec("restrictive_components",
                   "Components released under a restrictive license",
                   direction="lower_is_better", unit="components"),
        MetricSpec("final_parameters_open",
                   "1 when the final model parameters are released under an open license",
                   direction="higher_is_better"),
        MetricSpec("art53_exemption_plausible",
                   "1 when the release plausibly meets the EU AI Act article 53(2) open-source exemption"),
        MetricSpec("evidence_errors",
                   "Declared evidence files that could not be read or verified",
                   direction="lower_is_better", unit="files"),
    )

    def run(self, ctx: AuditContext, params: OpennessParams) -> CheckOutput:
        from trustaudit.openness import declaration_from_manifest, score_openness

        manifest = ctx.bundle.manifest
        section = getattr(manifest, "openness", None)
        if not section:
            raise SkipCheck("the manifest has no 'openness' section (see docs/openness.md)")
        data = {"name": manifest.name, "version": manifest.version, "openness": section}
        decl = declaration_from_manifest(data)
        root = ctx.bundle.root if params.evidence else None
        result = score_openness(decl, strict_mot=params.strict_mot, bundle_root=root)

        rank = float(result.class_rank)
        metrics = [
            Metric(name="class_rank", value=rank, note=result.class_label),
            Metric(name="mof_class_rank", value=rank, note=result.class_label),
            Metric(name="progress_class_1", value=result.progress["I"], unit="%"),
            Metric(name="progress_class_2", value=result.progress["II"], unit="%"),
            Metric(name="progress_class_3", value=result.progress["III"], unit="%"),
            Metric(name="total_progress", value=result.total_progress, unit="%"),
            Metric(
                name="final_parameters_open",
                value=1.0 if result.final_parameters_open else 0.0,
                note=result.component("Model parameters (Final)").spdx
                or result.component("Model parameters (Final)").license,
            ),
            Metric(
                name="restrictive_components",
                value=float(sum(r.status == "restrictive" for r in result.components)),
            ),
        ]
        if result.evidence:
            metrics.append(
                Metric(name="evidence_errors", value=float(sum(f.level == "error" for f in result.evidence)))
            )
        if result.art53.applies is not None:
            metrics.append(
                Metric(
                    name="art53_exemption_plausible",
                    value=1.0 if result.art53.applies else 0.0,
                    note=result.art53.reason,
                )
            )
        components = Table(
            title="MOF components",
            columns=["component", "type", "class", "required", "status", "license", "spdx", "source", "note"],
            rows=[
                [
                    r.name,
                    r.type,
                    r.mof_class,
                    r.required,
                    r.status,
                    r.license,
                    r.spdx,
                    r.source,
                    r.difference or r.reason,
                ]
                for r in result.components
            ],
        )
        tables = [components]
        if result.evidence:
            tables.append(
                Table(
                    title="Openness evidence in the bundle",
                    columns=["component", "finding", "level", "path", "message"],
                    rows=[[f.component, f.kind, f.level, f.path, f.message] for f in result.evidence],
                )
            )
        p = result.progress
        summary = (
            f"{result.class_label}; progress I {p['I']:.0f}%, II {p['II']:.0f}%, III {p['III']:.0f}%"
            + (f" (--strict-mot: {result.strict.class_label})" if result.strict else "")
        )
        return CheckOutput(
            metrics=metrics,
            summary=summary,
            tables=tables,
            evidence={
                "mode": result.mode,
                "class": result.mof_class,
                "class_label": result.class_label,
                "progress": result.progress,
                "art53": result.art53.model_dump(mode="json"),
                "strict": result.strict.model_dump(mode="json") if result.strict else None,
            },
            warnings=list(result.warnings),
        )
