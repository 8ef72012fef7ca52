"""CycloneDX 1.6 ML-BOM for a bundle.

cyclonedx-python-lib builds the document (components, hashes, licenses, pedigree, external references,
properties, dependencies, tools) and serialises it. The library does not model two CycloneDX 1.5+ objects we
need, ``component.modelCard`` and ``component.data`` (its source marks them TODO), so they are added to the
serialised JSON afterwards, and the result is checked against the library's bundled CycloneDX 1.6 JSON schema
(:func:`validate_bom`) when its ``json-validation`` extra is installed.

Determinism: ``serialNumber`` is random and ``metadata.timestamp`` is now, as CycloneDX asks, unless
``SOURCE_DATE_EPOCH`` is set (reproducible builds): then the timestamp is that instant and the serial number a
UUIDv5 of the content, so the same bundle gives byte-identical BOMs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustaudit.errors import TrustAuditError
from trustaudit.lineage.spec import DataRef, LineageSpec, parse_lineage

if TYPE_CHECKING:
    from trustaudit.bundle.loader import Bundle
    from trustaudit.results import AuditReport

SPEC_VERSION = "1.6"
MODEL_REF = "model"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:trustaudit:cyclonedx-bom")  # for reproducible serial numbers
_ARCH_FAMILIES = (
    (("GradientBoosting", "XGB", "LGBM", "Booster", "CatBoost"), "gradient-boosted decision trees"),
    (("RandomForest", "ExtraTrees", "Bagging"), "decision-tree ensemble"),
    (("DecisionTree",), "decision tree"),
    (("Logistic", "Linear", "Ridge", "SGD", "Perceptron"), "linear model"),
    (("SVC", "SVM"), "support vector machine"),
    (("MLP",), "multilayer perceptron"),
    (("KNeighbors",), "nearest neighbours"),
    (("NB",), "naive Bayes"),
)


class BomError(TrustAuditError):
    """The BOM could not be built or does not validate against the CycloneDX schema."""


def _lib() -> None:
    """Fail with an install hint when cyclonedx-python-lib is missing."""
    import importlib.util

    if importlib.util.find_spec("cyclonedx") is None:
        raise BomError("writing a CycloneDX BOM needs cyclonedx-python-lib: pip install 'cyclonedx-python-lib>=11'")


def _license_factory() -> Any:
    try:
        from cyclonedx.contrib.license.factories import LicenseFactory
    except ImportError:  # pragma: no cover - cyclonedx-python-lib < 11.5
        from cyclonedx.factory.license import LicenseFactory
    return LicenseFactory()


def _hashes(digest: dict[str, str]) -> list[Any]:
    from cyclonedx.model import HashAlgorithm, HashType

    names = {"sha256": HashAlgorithm.SHA_256, "sha384": HashAlgorithm.SHA_384, "sha512": HashAlgorithm.SHA_512,
             "sha3-256": HashAlgorithm.SHA3_256, "sha3-384": HashAlgorithm.SHA3_384,
             "sha3-512": HashAlgorithm.SHA3_512, "blake2b": HashAlgorithm.BLAKE2B_512}
    return [HashType(alg=names[a], content=h) for a, h in digest.items() if a in names]


def _url_ref(url: str | None, kind: str, comment: str | None = None) -> list[Any]:
    from cyclonedx.model import ExternalReference, ExternalReferenceType, XsUri

    if not url:
        return []
    try:
        return [ExternalReference(type=ExternalReferenceType(kind), url=XsUri(url), comment=comment)]
    except Exception:  # not a URI the library accepts: leave it to the properties
        return []


def _props(items: dict[str, Any]) -> list[Any]:
    from cyclonedx.model import Property

    out = []
    for k, v in items.items():
        if v is None:
            continue
        out.append(Property(name=k, value=v if isinstance(v, str) else json.dumps(v, sort_keys=True)))
    return out


def _licenses(expr: str | None) -> list[Any]:
    return [_license_factory().make_from_string(expr)] if expr else []


def architecture_family(estimator: str | None) -> str | None:
    if not estimator:
        return None
    name = estimator.rsplit(".", 1)[-1]
    for keys, family in _ARCH_FAMILIES:
        if any(k in name for k in keys):
            return family
    return None


def _data_component(ref: DataRef | None, bom_ref: str, role: str, path: str | None, sha256: str | None) -> Any:
    from cyclonedx.model.component import Component, ComponentType

    name = (ref.label() if ref is not None else None) or path or bom_ref
    digest = {"sha256": sha256} if sha256 else (dict(ref.digest) if ref is not None and ref.digest else {})
    props = {"trustaudit:role": role, "trustaudit:bundle-path": path}
    if ref is not None:
        props["trustaudit:rows"] = str(ref.rows) if ref.rows is not None else None
        if ref.uri and not _url_ref(ref.uri, "distribution"):
            props["trustaudit:uri"] = ref.uri
    return Component(
        name=name,
        type=ComponentType.DATA,
        bom_ref=bom_ref,
        description=ref.description if ref is not None else None,
        hashes=_hashes(digest),
        licenses=_licenses(ref.license if ref is not None else None),
        external_references=_url_ref(ref.uri if ref is not None else None, "distribution"),
        properties=_props(props),
    )


def _component_data(ref: DataRef | None, name: str, role: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "dataset", "name": name}
    if ref is not None and ref.uri and ref.uri.startswith(("http://", "https://")):
        out["contents"] = {"url": ref.uri}
    desc = f"{role} data" + (f": {ref.description}" if ref is not None and ref.description else "")
    if ref is not None and ref.rows is not None:
        desc += f" ({ref.rows} rows)"
    out["description"] = desc
    return out


#: Check families whose metrics describe the model's performance (the model card's quantitativeAnalysis).
PERFORMANCE_CATEGORIES = ("fairness", "robustness", "performance")
#: Metrics left out of performanceMetrics: counts, not measures of the model.
_NOT_PERFORMANCE = frozenset({"group_size"})
#: Checks that measure hypothetical models (remedies), not this one: they feed mitigationStrategy only.
_WHAT_IF = frozenset({"mitigation.fairness", "fairness.mitigation"})  # (its id while it was being built)
#: The mitigation check's metrics summarised per strategy in mitigationStrategy (when it reports them).
_MITIGATION_SUMMARY = ("conditions_met", "accuracy_change")


def _num(v: float) -> str:
    return f"{v:.6g}"


def metric_slice(m: Any) -> str | None:
    """The data slice a metric was measured on, from its structured fields: ``sex=Female``,
    ``sex=Female vs sex=Male`` for a comparison, plus ``class=...`` / ``budget=...`` when set."""
    parts: list[str] = []
    if m.attribute and m.group:
        parts.append(f"{m.attribute}={m.group}" + (f" vs {m.attribute}={m.reference}" if m.reference else ""))
    elif m.subject:
        parts.append(str(m.subject))
    if m.class_label:
        parts.append(f"class={m.class_label}")
    if m.budget is not None:
        parts.append(f"budget={_num(m.budget)}")
    return "; ".join(parts) or None


def _performance_metrics(report: AuditReport) -> list[dict[str, Any]]:
    """``quantitativeAnalysis.performanceMetrics``: every measured metric of the fairness, robustness and
    performance checks (type ``check:metric``, value, slice, confidence interval)."""
    out = []
    for check in report.checks:
        if check.category not in PERFORMANCE_CATEGORIES or check.check_id in _WHAT_IF:
            continue
        for m in check.metrics:
            if m.value is None or m.name in _NOT_PERFORMANCE:
                continue
            item: dict[str, Any] = {"type": f"{check.check_id}:{m.name}", "value": _num(m.value)}
            sl = metric_slice(m)
            if sl:
                item["slice"] = sl
            if m.ci is not None:
                item["confidenceInterval"] = {"lowerBound": _num(m.ci.low), "upperBound": _num(m.ci.high)}
            out.append(item)
    return out


def _fairness_assessments(report: AuditReport) -> list[dict[str, Any]]:
    """``considerations.fairnessAssessments``: one per group at risk, i.e. per (attribute, group) with a fairness
    condition the audit failed or warned on. ``harms`` lists those conditions with what was observed;
    ``benefits`` the favourable outcome's rate for the group and its reference group (selection rates, when
    measured); ``mitigationStrategy`` is filled from a ``mitigation.fairness`` check result when the report has
    one that measured remedies for the group's attribute (its summary, and per remedy the conditions it meets and
    its accuracy change, or else all its metrics for that attribute), else left out."""
    from trustaudit.results import Status

    bad = {Status.FAIL, Status.WARN}
    fav = report.bundle.favorable_label
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for check in report.checks:
        if check.category != "fairness" or check.check_id in _WHAT_IF:
            continue
        by_key = {(m.name, m.subject): m for m in check.metrics}
        rates = {(m.attribute, m.group): m for m in check.metrics if m.name == "selection_rate" and m.value is not None}
        for cond in check.conditions:
            if cond.status not in bad:
                continue
            m = by_key.get((cond.metric, cond.subject))
            attr = m.attribute if m is not None else None
            group = m.group if m is not None else None
            key = (attr or "", group or (cond.subject or "all rows"))
            entry = groups.setdefault(key, {"harms": [], "ref": None, "rates": rates})
            if m is not None and m.reference:
                entry["ref"] = m.reference
            ci = f" [{_num(cond.ci.low)}, {_num(cond.ci.high)}]" if cond.ci is not None else ""
            obs = f"{_num(cond.observed)}{ci}" if cond.observed is not None else "n/a"
            entry["harms"].append(f"{check.check_id}: {cond.condition} not met ({cond.status.value}): "
                                  f"observed {obs}" + (f" for {cond.subject}" if cond.subject else ""))
    mitigation = next((c for c in report.checks if c.check_id in _WHAT_IF
                       and c.status not in (Status.ERROR, Status.SKIPPED)), None)
    out: list[dict[str, Any]] = []
    for (attr, group), entry in groups.items():
        item: dict[str, Any] = {"groupAtRisk": f"{attr}={group}" if attr else group}
        g_rate, r_rate = entry["rates"].get((attr, group)), entry["rates"].get((attr, entry["ref"]))
        if g_rate is not None:
            text = f"favourable outcome '{fav}' predicted for {g_rate.value:.1%} of {attr}={group}"
            if r_rate is not None:
                text += f", against {r_rate.value:.1%} of {attr}={entry['ref']}"
            item["benefits"] = text
        item["harms"] = "; ".join(entry["harms"])
        if mitigation is not None:
            mets = [m for m in mitigation.metrics if m.value is not None and m.attribute in (None, attr or None)
                    and m.group in (None, group)]
            brief = [m for m in mets if m.name in _MITIGATION_SUMMARY] or mets
            detail = "; ".join(f"{m.subject or m.attribute or 'all rows'}: {m.name} {_num(m.value or 0.0)}"
                               + (f" [{_num(m.ci.low)}, {_num(m.ci.high)}]" if m.ci is not None else "")
                               for m in brief)  # (values are not None: filtered above)
            text = f"{mitigation.check_id} ({mitigation.status.value}): {mitigation.summary}".strip()
            if brief:  # a remedy was measured for this group's attribute
                item["mitigationStrategy"] = f"{text}; {detail}"
        out.append(item)
    return out


def _check_report_matches(report: AuditReport, b: Bundle) -> None:
    """The report must be an audit of these very files: the same name and the same model/data digests."""
    if report.bundle.name != b.manifest.name:
        raise BomError(f"the report is an audit of '{report.bundle.name}', not of '{b.manifest.name}'")
    now = {f.path: f.sha256 for f in b.files}
    changed = [f.path for f in report.bundle.files if f.path not in now or now[f.path] != f.sha256]
    if (report.bundle.manifest_sha256 is not None and b.manifest_sha256 is not None
            and report.bundle.manifest_sha256 != b.manifest_sha256):
        changed.append("trustaudit.yaml")  # another model file, label or protected groups
    if changed:
        raise BomError(f"{', '.join(changed)} changed since the audit (sha256 differs from report.json): "
                       "re-audit before adding its metrics to the BOM")


def _signature_props(spec: LineageSpec, b: Bundle, report: AuditReport | None) -> dict[str, Any]:
    """Who signed what: the model signature the bundle carries, as lineage.integrity verified it (from the
    report), or as the signature file states it (unverified) without a report."""
    if spec.signature is None:
        return {}
    info: dict[str, Any] | None = None
    if report is not None:
        for c in report.checks:
            if c.check_id == "lineage.integrity" and isinstance(c.evidence.get("model_signature"), dict):
                info = dict(c.evidence["model_signature"])
    if info is None:
        from trustaudit.lineage.signing import read_model_signature

        signer: str | None = None
        files: list[str] = []
        with contextlib.suppress(TrustAuditError):  # unreadable: recorded as an unknown signer
            signer, files = read_model_signature(b.resolve(spec.signature.path, "lineage.signature.path"))
        model_path = b.manifest.model.path if b.manifest.model else None
        info = {"signature": spec.signature.path, "model": spec.signature.model or model_path,
                "method": spec.signature.method, "signer": signer, "files": files,
                "verified": None, "trusted_by": None}
    verified = info.get("verified")
    status = ("not verified (run lineage.integrity with --model-key and pass --report)" if verified is None else
              "FAILED: " + str(info.get("problem")) if info.get("problem") else
              "verified" if info.get("trusted") else "matches only the bundle's own key (untrusted)" if verified
              else "not verified (no trusted key)")
    return {"trustaudit:signature.path": info.get("signature"), "trustaudit:signature.signed": info.get("model"),
            "trustaudit:signature.method": info.get("method"), "trustaudit:signature.signer": info.get("signer"),
            "trustaudit:signature.files": ", ".join(str(f) for f in info.get("files") or []) or None,
            "trustaudit:signature.verified_with": info.get("trusted_by"),
            "trustaudit:signature.status": status}


def _as_bundle(bundle: str | Path | Bundle) -> Bundle:
    from trustaudit.bundle.loader import Bundle, load_bundle

    if isinstance(bundle, Bundle):
        return bundle
    return load_bundle(bundle, load_model=False)


def build_bom(
    bundle: str | Path | Bundle,
    *,
    report: AuditReport | None = None,
    timestamp: datetime | None = None,
    serial: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The CycloneDX 1.6 ML-BOM of a bundle as a JSON-ready dict.

    ``report`` (optional; an audit of this bundle's very files) adds the audit's fairness, robustness and
    performance metrics to the model card's ``quantitativeAnalysis.performanceMetrics`` (with slices and
    confidence intervals), the groups its failed or warned fairness conditions put at risk to
    ``considerations.fairnessAssessments``, and how lineage.integrity verified the model's signature.
    """
    _lib()
    from cyclonedx.contrib.this.builders import this_component
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType, Pedigree
    from cyclonedx.model.contact import OrganizationalContact, OrganizationalEntity
    from cyclonedx.output import make_outputter
    from cyclonedx.schema import OutputFormat, SchemaVersion

    from trustaudit.version import __version__

    b = _as_bundle(bundle)
    manifest = b.manifest
    spec: LineageSpec = parse_lineage(manifest)
    if report is not None:
        _check_report_matches(report, b)
    actual = {f.role: f for f in b.files}
    by_path = {f.path: f for f in b.files}

    # -- datasets ---------------------------------------------------------------------------------------
    data_comps: list[tuple[Any, dict[str, Any]]] = []
    train_paths_seen: set[str] = set()
    for i, ref in enumerate(spec.training_data):
        fd = by_path.get(ref.path) if ref.path else None
        if ref.path:
            train_paths_seen.add(ref.path)
        comp = _data_component(ref, f"data-training-{i}", "training", ref.path, fd.sha256 if fd else None)
        data_comps.append((comp, _component_data(ref, comp.name, "training")))
    tfd = actual.get("training_data")
    if tfd is not None and tfd.path not in train_paths_seen:
        comp = _data_component(None, "data-training-file", "training", tfd.path, tfd.sha256)
        data_comps.append((comp, _component_data(None, comp.name, "training")))
    efd = actual.get("data")
    eref = spec.evaluation_data
    if efd is not None or eref is not None:
        comp = _data_component(eref, "data-evaluation", "evaluation", efd.path if efd else None,
                               efd.sha256 if efd else None)
        data_comps.append((comp, _component_data(eref, comp.name, "evaluation")))

    # -- the model --------------------------------------------------------------------------------------
    tr = spec.training
    props: dict[str, Any] = {
        "trustaudit:task": manifest.task,
        "trustaudit:model.path": manifest.model.path if manifest.model else None,
        "trustaudit:model.format": manifest.model.format if manifest.model else None,
        "trustaudit:created": spec.created.isoformat() if spec.created else None,
        "trustaudit:model_uuid": spec.model_uuid,
    }
    if tr is not None:
        props.update({
            "trustaudit:training.framework": tr.framework,
            "trustaudit:training.framework_version": tr.framework_version,
            "trustaudit:training.estimator": tr.estimator,
            "trustaudit:training.run_id": tr.run_id,
        })
        for k, v in sorted(tr.params.items()):
            props[f"trustaudit:training.param.{k}"] = v if isinstance(v, str) else json.dumps(v)
    props.update(_signature_props(spec, b, report))
    code = spec.code
    ext = []
    if code is not None:
        comment = "; ".join(x for x in (f"commit {code.commit}" if code.commit else "",
                                         f"path {code.path}" if code.path else "",
                                         "PLACEHOLDER reference" if code.is_placeholder else "") if x)
        ext += _url_ref(code.repository, "vcs", comment or None)
        props["trustaudit:code.commit"] = code.commit
        props["trustaudit:code.placeholder"] = "true" if code.is_placeholder else None
    pedigree = None
    if spec.base_model is not None:
        bm = spec.base_model
        bfd = by_path.get(bm.path) if bm.path else None
        base = Component(name=bm.name, version=bm.version, type=ComponentType.MACHINE_LEARNING_MODEL,
                         bom_ref="base-model", hashes=_hashes({"sha256": bfd.sha256} if bfd else dict(bm.digest or {})),
                         licenses=_licenses(bm.license), external_references=_url_ref(bm.uri, "distribution"))
        pedigree = Pedigree(ancestors=[base])
    producer = spec.producer
    supplier = authors = None
    if producer is not None:
        if producer.organization:
            supplier = OrganizationalEntity(name=producer.organization)
        authors = [OrganizationalContact(name=producer.name, email=producer.email)]
    mfd = actual.get("model")
    model = Component(
        name=manifest.name,
        version=manifest.version,
        type=ComponentType.MACHINE_LEARNING_MODEL,
        bom_ref=MODEL_REF,
        description=manifest.description,
        hashes=_hashes({"sha256": mfd.sha256}) if mfd else [],
        licenses=_licenses(spec.license),
        supplier=supplier,
        authors=authors,
        external_references=ext,
        properties=_props(props),
        pedigree=pedigree,
    )

    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    reproducible = serial is None and epoch.isdigit()
    bom = Bom(serial_number=serial or (uuid.UUID(int=0) if reproducible else uuid.uuid4()))
    bom.metadata.component = model
    bom.metadata.tools.components.add(
        Component(name="trustaudit", version=__version__, type=ComponentType.APPLICATION, bom_ref="tool-trustaudit"))
    bom.metadata.tools.components.add(this_component())
    for comp, _ in data_comps:
        bom.components.add(comp)
    bom.register_dependency(model, [c for c, _ in data_comps])

    if timestamp is None and epoch.isdigit():
        timestamp = datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    bom.metadata.timestamp = timestamp or datetime.now(timezone.utc)

    text = make_outputter(bom, OutputFormat.JSON, SchemaVersion.V1_6).output_as_string(indent=None)
    doc: dict[str, Any] = json.loads(text)

    # -- what the library does not model: modelCard and component data ------------------------------------
    card: dict[str, Any] = {"bom-ref": "model-card"}
    params: dict[str, Any] = {"approach": {"type": "supervised"}, "task": manifest.task}
    family = architecture_family(tr.estimator if tr else None)
    if family:
        params["architectureFamily"] = family
    if tr is not None and tr.estimator:
        params["modelArchitecture"] = tr.estimator
    if data_comps:
        params["datasets"] = [{"ref": str(c.bom_ref.value)} for c, _ in data_comps]
    params["inputs"] = [{"format": "tabular"}]
    params["outputs"] = [{"format": "class probabilities"}]
    card["modelParameters"] = params
    if report is not None:
        metrics = _performance_metrics(report)
        if metrics:
            card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
        assessments = _fairness_assessments(report)
        if assessments:
            card["considerations"] = {"fairnessAssessments": assessments}
    doc["metadata"]["component"]["modelCard"] = card
    data_by_ref = {str(c.bom_ref.value): d for c, d in data_comps}
    for comp in doc.get("components", []):
        if comp.get("bom-ref") in data_by_ref:
            comp["data"] = [data_by_ref[comp["bom-ref"]]]

    if reproducible:  # SOURCE_DATE_EPOCH: the serial number is derived from the content
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
        doc["serialNumber"] = f"urn:uuid:{uuid.uuid5(_NAMESPACE, digest)}"
    return doc


def bom_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def validate_bom(text: str) -> None:
    """Validate BOM JSON against the CycloneDX 1.6 JSON schema (strict). Raises :class:`BomError`."""
    _lib()
    try:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
    except ImportError:  # pragma: no cover
        raise BomError("validating needs cyclonedx-python-lib[json-validation]") from None
    try:
        err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    except Exception as exc:  # missing optional dependency (jsonschema)
        raise BomError(f"cannot validate the BOM: {str(exc).splitlines()[0]}") from None
    if err is not None:
        data = getattr(err, "data", None)
        where = getattr(data, "json_path", "") if data is not None else ""
        msg = getattr(data, "message", None) or str(err).splitlines()[0]
        raise BomError(f"the BOM does not validate against CycloneDX {SPEC_VERSION}: {where}: {msg}")


def can_validate() -> bool:
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        return False
    return True


def write_bom(
    bundle: str | Path | Bundle,
    out: str | Path | None = None,
    *,
    report: AuditReport | None = None,
    validate: bool = True,
) -> tuple[str, Path | None]:
    """Build, validate (when jsonschema is installed) and write the BOM; return (json text, path or None)."""
    text = bom_json(build_bom(bundle, report=report))
    if validate and can_validate():
        validate_bom(text)
    if out is None:
        return text, None
    from trustaudit.results.io import atomic_write

    path = Path(out)
    atomic_write(path, text)
    return text, path
