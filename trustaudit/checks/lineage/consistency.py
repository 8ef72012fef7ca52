"""``lineage.consistency``: the manifest's lineage against every other place the bundle describes the model.

Compared: the loaded model itself (declared estimator class and training parameters against ``get_params()``),
an MLflow ``MLmodel`` file (run id, model uuid, framework version, and the signature against the evaluation
data's columns and types), a Hugging Face model card's front matter (license, datasets, base model, library)
and a CycloneDX BOM (model version, hashes, licenses, base model in the pedigree, dataset hashes).

A *contradiction* is two places stating different values for the same fact; an *omission* is a fact stated in
one place only (reported, not judged).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field

from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec
from trustaudit.checks.lineage._common import (
    CATEGORY,
    bundle_sources,
    has_lineage,
    lineage_spec,
    listing,
    norm_path,
    short,
)
from trustaudit.context import AuditContext
from trustaudit.errors import SkipCheck
from trustaudit.lineage.sources import MLFLOW_TYPES, BomInfo, CardInfo, MLmodelInfo, dtype_kind
from trustaudit.lineage.spec import LineageSpec
from trustaudit.results import Metric, Table

AGREE, CONTRADICTION, OMISSION = "agree", "contradiction", "omission"

_FRAMEWORK_ALIASES = {"sklearn": "scikit-learn", "scikit-learn": "scikit-learn", "scikit_learn": "scikit-learn",
                      "xgboost": "xgboost", "lightgbm": "lightgbm", "pytorch": "pytorch", "torch": "pytorch",
                      "transformers": "transformers", "tensorflow": "tensorflow", "keras": "keras", "onnx": "onnx"}


@dataclass
class Finding:
    source: str
    field: str
    declared: str | None
    found: str | None
    kind: str
    note: str = ""

    def row(self) -> list[object]:
        return [self.source, self.field, self.declared, self.found, self.kind, self.note]

    @property
    def key(self) -> str:
        return f"{self.source}: {self.field}"


class ConsistencyParams(CheckParams):
    compare_params: bool = Field(True, description="Compare lineage.training.params with the model's get_params()")
    max_rows: int = Field(300, ge=1, description="Most findings listed in the evidence table")


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v)


def _is_bool(x: Any) -> bool:
    return isinstance(x, (bool, np.bool_))


def same_value(declared: Any, actual: Any) -> bool:
    """Declared (YAML) value equals the estimator's parameter value (numbers with a tolerance)."""
    if declared is None or actual is None:
        return declared is None and actual is None
    if _is_bool(declared) or _is_bool(actual):
        return _is_bool(declared) and _is_bool(actual) and bool(declared) == bool(actual)
    if isinstance(declared, numbers.Number) and isinstance(actual, numbers.Number):
        a, b = float(declared), float(actual)  # type: ignore[arg-type]
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(declared, (list, tuple)) and isinstance(actual, (list, tuple)):
        return len(declared) == len(actual) and all(same_value(x, y) for x, y in zip(declared, actual))
    if isinstance(declared, dict) and isinstance(actual, dict):
        return declared.keys() == actual.keys() and all(same_value(declared[k], actual[k]) for k in declared)
    return str(declared) == str(actual)


def _norm_license(v: str) -> str:
    return " ".join(v.strip().lower().split())


def _norm_framework(v: str) -> str:
    key = v.strip().lower()
    return _FRAMEWORK_ALIASES.get(key, key)


def _compare(findings: list[Finding], source: str, field: str, declared: Any, found: Any,
             equal: Any = None, note: str = "") -> None:
    if declared is None and found is None:
        return
    if declared is None:
        findings.append(Finding(source, field, None, _text(found), OMISSION, note or "not declared in the manifest"))
        return
    if found is None:
        findings.append(Finding(source, field, _text(declared), None, OMISSION, note or f"not stated in the {source}"))
        return
    ok = equal(declared, found) if equal is not None else str(declared).strip() == str(found).strip()
    findings.append(Finding(source, field, _text(declared), _text(found), AGREE if ok else CONTRADICTION, note))


# -- the model itself -------------------------------------------------------------------------------------


def _final_estimator(est: Any) -> Any:
    steps = getattr(est, "steps", None)
    return steps[-1][1] if steps else est


def compare_model(ctx: AuditContext, spec: LineageSpec, findings: list[Finding], compare_params: bool) -> bool:
    """Declared estimator and params vs the loaded model. Returns True when something was compared."""
    tr = spec.training
    model = ctx.model
    if tr is None or model is None:
        return False
    est = model.sklearn_estimator
    if est is None:
        if tr.params or tr.estimator:
            findings.append(Finding("model", "training.params", "declared", None, OMISSION,
                                    f"the model (format {model.format}) exposes no parameters to compare"))
        return False
    final = _final_estimator(est)
    compared = False
    if tr.estimator:
        actual = f"{type(final).__module__}.{type(final).__name__}"
        outer = f"{type(est).__module__}.{type(est).__name__}"
        want = tr.estimator.strip()
        ok = want.rsplit(".", 1)[-1] in (type(final).__name__, type(est).__name__) and \
            want.split(".")[0] == actual.split(".")[0]
        findings.append(Finding("model", "training.estimator", want, actual if ok or final is est else
                                f"{actual} (in {outer})", AGREE if ok else CONTRADICTION))
        compared = True
    if compare_params and tr.params:
        shallow = final.get_params(deep=False)
        deep = est.get_params(deep=True)
        agreed = 0
        for key, want in tr.params.items():
            pool = deep if "__" in key else shallow
            if key not in pool:
                findings.append(Finding("model", f"params.{key}", _text(want), None, CONTRADICTION,
                                        f"{type(final).__name__} has no parameter '{key}'"))
            elif not same_value(want, pool[key]):
                findings.append(Finding("model", f"params.{key}", _text(want), _text(pool[key]), CONTRADICTION))
            else:
                agreed += 1
        if agreed:
            findings.append(Finding("model", "params", f"{agreed} declared", f"{agreed} equal", AGREE,
                                    f"{agreed} of {len(tr.params)} declared parameters equal get_params()"))
        compared = True
    return compared


# -- MLflow MLmodel ---------------------------------------------------------------------------------------


def signature_mismatches(ctx: AuditContext, info: MLmodelInfo) -> list[str]:
    """Differences between the MLmodel signature's inputs and the evaluation data's model columns."""
    features = list(ctx.feature_columns)
    data = ctx.data
    out: list[str] = []
    if info.inputs:
        named = [c for c in info.inputs if c.name is not None]
        seen = set()
        for col in named:
            assert col.name is not None
            seen.add(col.name)
            if col.name not in data.columns:
                if col.required:
                    out.append(f"signature input '{col.name}' ({col.type}) is not a column of the data")
                continue
            kind = dtype_kind(data[col.name])
            allowed = MLFLOW_TYPES.get(col.type)
            if allowed is not None and kind not in allowed:
                out.append(f"column '{col.name}' is {kind} ({data[col.name].dtype}) but the signature says {col.type}")
        if named:
            out.extend(f"model input column '{c}' is not in the signature" for c in features if c not in seen)
    elif info.tensor_inputs:
        spec = info.tensor_inputs[0]
        shape = spec.get("shape") or []
        width = shape[-1] if isinstance(shape, list) and len(shape) >= 2 else None
        if isinstance(width, int) and width > 0 and width != len(features):
            out.append(f"tensor signature expects {width} features, the data gives the model {len(features)}")
        non_numeric = [c for c in features if dtype_kind(data[c]) not in ("integer", "float", "bool")]
        if non_numeric and not str(spec.get("dtype", "")).startswith(("str", "object")):
            out.append(f"tensor signature is {spec.get('dtype')} but columns are not numeric: {listing(non_numeric)}")
    return out


def compare_mlmodel(ctx: AuditContext, spec: LineageSpec, info: MLmodelInfo, findings: list[Finding]) -> list[str]:
    src = "MLmodel"
    tr = spec.training
    _compare(findings, src, "run_id", tr.run_id if tr else None, info.run_id)
    _compare(findings, src, "model_uuid", spec.model_uuid, info.model_uuid)
    framework = (tr.framework if tr and tr.framework else None) or next(iter(info.flavors), "")
    if tr is not None and tr.framework_version is not None:
        _compare(findings, src, f"{framework} version", tr.framework_version, info.framework_version(framework))
    return signature_mismatches(ctx, info)


# -- Hugging Face model card ------------------------------------------------------------------------------


def _dataset_matches(card_id: str, spec: LineageSpec) -> bool:
    cid = card_id.strip().lower()
    for ref in spec.training_data:
        for v in (ref.name, ref.uri, ref.path):
            if not v:
                continue
            lv = v.strip().lower()
            if lv == cid or lv.rstrip("/").endswith("/" + cid) or cid.rstrip("/").endswith("/" + lv):
                return True
    return False


def compare_card(spec: LineageSpec, card: CardInfo, findings: list[Finding]) -> None:
    src = "model card"
    _compare(findings, src, "license", spec.license, card.license,
             equal=lambda a, b: _norm_license(a) == _norm_license(b))
    for ds in card.datasets:
        if _dataset_matches(ds, spec):
            findings.append(Finding(src, "datasets", ds, ds, AGREE))
        elif spec.training_data:
            findings.append(Finding(src, "datasets", _text([r.label() for r in spec.training_data]), ds,
                                    CONTRADICTION, "the card lists a dataset lineage.training_data does not"))
        else:
            findings.append(Finding(src, "datasets", None, ds, OMISSION, "no training data declared in the manifest"))
    if not card.datasets and spec.training_data:
        findings.append(Finding(src, "datasets", _text([r.label() for r in spec.training_data]), None, OMISSION,
                                "the card lists no datasets"))
    if card.base_model or spec.declared("base_model"):
        declared = spec.base_model.name if spec.base_model is not None else None
        if spec.declared("base_model") and declared is None and card.base_model:
            findings.append(Finding(src, "base_model", "none (base_model: null)", _text(card.base_model),
                                    CONTRADICTION, "the manifest says the model is not fine-tuned"))
        elif declared is not None and card.base_model:
            ok = any(declared.strip().lower() == b.strip().lower() for b in card.base_model)
            findings.append(Finding(src, "base_model", declared, _text(card.base_model), AGREE if ok else CONTRADICTION))
        elif declared is not None:
            findings.append(Finding(src, "base_model", declared, None, OMISSION, "not stated in the model card"))
        elif card.base_model:
            findings.append(Finding(src, "base_model", None, _text(card.base_model), OMISSION,
                                    "not declared in the manifest"))
    framework = spec.training.framework if spec.training else None
    if card.library_name is not None and framework is not None:
        _compare(findings, src, "library_name", framework, card.library_name,
                 equal=lambda a, b: _norm_framework(a) == _norm_framework(b))


# -- CycloneDX --------------------------------------------------------------------------------------------


def compare_bom(ctx: AuditContext, spec: LineageSpec, bom: BomInfo, findings: list[Finding]) -> None:
    from trustaudit.lineage.digests import hash_path

    src = "CycloneDX BOM"
    manifest = ctx.bundle.manifest
    actual = {norm_path(f.path): f.sha256 for f in ctx.bundle.files}
    by_sha = {sha: path for path, sha in actual.items()}
    if bom.models:
        comp = next((c for c in bom.models if c.name == manifest.name), bom.models[0])
        _compare(findings, src, "model version", manifest.version, comp.version)
        if manifest.model is not None and comp.hashes:
            mpath = ctx.bundle.resolve(manifest.model.path, "model.path")
            alg = next(iter(comp.hashes))
            got = actual.get(norm_path(manifest.model.path)) if alg == "sha256" else hash_path(mpath, alg)
            want = comp.hashes[alg]
            findings.append(Finding(src, f"model {alg}", f"{alg}:{short(str(got))} (file)", f"{alg}:{short(want)}",
                                    AGREE if got == want else CONTRADICTION,
                                    "" if got == want else f"the BOM's hash is not the hash of {manifest.model.path}"))
        if comp.licenses or spec.license:
            _compare(findings, src, "license", spec.license, " AND ".join(comp.licenses) or None,
                     equal=lambda a, b: _norm_license(a) in {_norm_license(x) for x in comp.licenses}
                     or _norm_license(a) == _norm_license(b))
        declared_base = spec.base_model.name if spec.base_model is not None else None
        if comp.ancestors or declared_base:
            if declared_base and comp.ancestors:
                ok = any(declared_base.lower() == a.lower() for a in comp.ancestors)
                findings.append(Finding(src, "base model (pedigree)", declared_base, _text(comp.ancestors),
                                        AGREE if ok else CONTRADICTION))
            elif comp.ancestors and spec.declared("base_model"):
                findings.append(Finding(src, "base model (pedigree)", "none (base_model: null)",
                                        _text(comp.ancestors), CONTRADICTION))
            else:
                _compare(findings, src, "base model (pedigree)", declared_base, _text(comp.ancestors) or None)
    else:
        findings.append(Finding(src, "model component", manifest.name, None, OMISSION,
                                "the BOM has no machine-learning-model component"))
    declared_by_name = {r.label().strip().lower(): r for r in spec.training_data}
    if spec.evaluation_data is not None:
        declared_by_name.setdefault(spec.evaluation_data.label().strip().lower(), spec.evaluation_data)
    for ds in bom.datasets:
        sha = ds.hashes.get("sha256")
        path_prop = ds.properties.get("trustaudit:bundle-path")
        if sha and sha in by_sha:
            findings.append(Finding(src, f"dataset {ds.name}", by_sha[sha], f"sha256:{short(sha)}", AGREE,
                                    "hash equals a bundle file"))
            continue
        ref = declared_by_name.get(ds.name.strip().lower())
        if path_prop and norm_path(path_prop) in actual and sha:
            findings.append(Finding(src, f"dataset {ds.name}", f"sha256:{short(actual[norm_path(path_prop)])}",
                                    f"sha256:{short(sha)}", CONTRADICTION,
                                    f"the BOM's hash is not the hash of {path_prop}"))
        elif ref is not None and ref.digest is not None and sha and "sha256" in ref.digest:
            findings.append(Finding(src, f"dataset {ds.name}", f"sha256:{short(ref.digest['sha256'])}",
                                    f"sha256:{short(sha)}", AGREE if ref.digest["sha256"] == sha else CONTRADICTION))
        elif ref is None:
            findings.append(Finding(src, f"dataset {ds.name}", None, ds.name, OMISSION,
                                    "dataset in the BOM is not declared in lineage"))


# -- the check --------------------------------------------------------------------------------------------


class ConsistencyCheck(Check):
    id = "lineage.consistency"
    category = CATEGORY
    title = "Lineage agrees with MLmodel, model card, BOM and the model"
    version = "1.1"
    description = (
        "Contradictions between the manifest's lineage and the model's own parameters, an MLflow MLmodel file "
        "(run id, model uuid, signature vs data), a Hugging Face card (license, datasets, base_model) and a "
        "CycloneDX BOM."
    )
    Params = ConsistencyParams
    requires = frozenset({"bundle_dir"})

    metrics = (
        MetricSpec("agreements",
                   "Facts on which the lineage sources (manifest, MLmodel, card, BOM) agree",
                   unit="facts"),
        MetricSpec("contradictions",
                   "Facts on which two lineage sources disagree",
                   direction="lower_is_better", unit="facts"),
        MetricSpec("omissions",
                   "Facts one source states and another leaves out",
                   direction="lower_is_better", unit="facts"),
        MetricSpec("signature_mismatches",
                   "Columns where the MLmodel signature and the data disagree (no value without an MLmodel)",
                   direction="lower_is_better", unit="columns"),
        MetricSpec("sources_compared", "Lineage sources read and compared", unit="sources"),
    )

    def run(self, ctx: AuditContext, params: ConsistencyParams) -> CheckOutput:
        spec = lineage_spec(ctx)
        found = bundle_sources(ctx)
        findings: list[Finding] = []
        sig: list[str] = []
        compared: list[str] = []
        if has_lineage(ctx) and compare_model(ctx, spec, findings, params.compare_params):
            compared.append("model")
        if found.mlmodel is not None:
            sig = compare_mlmodel(ctx, spec, found.mlmodel, findings)
            compared.append("MLmodel")
        if found.card is not None:
            compare_card(spec, found.card, findings)
            compared.append("model card")
        if found.bom is not None:
            compare_bom(ctx, spec, found.bom, findings)
            compared.append("CycloneDX BOM")
        if not compared:
            raise SkipCheck(
                "nothing to compare: no MLmodel, model card front matter or CycloneDX BOM in the bundle, and no "
                "declared training parameters to compare with a scikit-learn model"
            )
        contra = [f for f in findings if f.kind == CONTRADICTION]
        omissions = [f for f in findings if f.kind == OMISSION]
        agree = [f for f in findings if f.kind == AGREE]
        metrics = [
            Metric(name="contradictions", value=float(len(contra)), n=len(findings),
                   subject=listing([f.key for f in contra], 4) if contra else None),
            Metric(name="signature_mismatches", value=float(len(sig)),
                   subject=listing(sig, 3) if sig else None) if found.mlmodel is not None else
            Metric(name="signature_mismatches", value=None, judged=False,
                   note="no MLmodel file in the bundle: no signature to compare"),
            Metric(name="omissions", value=float(len(omissions)), n=len(findings)),
            Metric(name="agreements", value=float(len(agree)), n=len(findings)),
            Metric(name="sources_compared", value=float(len(compared)), subject=", ".join(compared)),
        ]
        rows = [f.row() for f in sorted(findings, key=lambda f: {CONTRADICTION: 0, OMISSION: 1, AGREE: 2}[f.kind])]
        rows += [["MLmodel", "signature", None, m, CONTRADICTION, ""] for m in sig]
        if contra or sig:
            parts = [f"{f.key} (manifest {f.declared!s}, {f.source} {f.found!s})" for f in contra[:3]]
            parts += sig[:2]
            summary = f"{len(contra) + len(sig)} contradiction(s): " + "; ".join(parts)
        else:
            facts = "fact agrees" if len(agree) == 1 else "facts agree"
            summary = f"lineage agrees with {', '.join(compared)} ({len(agree)} {facts}"
            summary += f", {len(omissions)} stated in one place only)" if omissions else ")"
        return CheckOutput(
            metrics=metrics,
            summary=summary,
            tables=[Table(title="Lineage consistency",
                          columns=["source", "field", "manifest", "source value", "finding", "note"],
                          rows=rows[: params.max_rows])],
            evidence={"sources": compared, "contradictions": [f.key for f in contra], "signature": sig},
        )
