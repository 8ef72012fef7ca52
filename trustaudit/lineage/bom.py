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


def _performance_metrics(report: AuditReport) -> list[dict[str, Any]]:
    out = []
    for check in report.checks:
        for m in check.metrics:
            if m.value is None:
                continue
            item: dict[str, Any] = {"type": f"{check.check_id}:{m.name}", "value": f"{m.value:.6g}"}
            if m.subject:
                item["slice"] = m.subject
            if m.ci is not None:
                item["confidenceInterval"] = {"lowerBound": f"{m.ci.low:.6g}", "upperBound": f"{m.ci.high:.6g}"}
            out.append(item)
    return out


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

    ``report`` (optional) adds the audit's measured metrics to the model card's quantitative analysis.
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
