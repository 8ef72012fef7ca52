"""Parsers for the places a model already describes itself: an MLflow ``MLmodel`` file, a Hugging Face model
card's YAML front matter, and a CycloneDX BOM (JSON).

Each parser reads only what the lineage checks compare, and raises :class:`BundleError` with one line saying
which file is malformed, where and how (a malformed file is bad input, not a finding).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trustaudit import yamlsafe
from trustaudit.errors import BundleError

# -- shared helpers ---------------------------------------------------------------------------------------


_MAX_SIDECAR_BYTES = yamlsafe.YamlLimits(max_bytes=32 * 1024 * 1024)  # model cards and BOMs may be long documents


def _read_text(path: Path, what: str) -> str:
    if not path.is_file():
        raise BundleError(f"{what} {path} does not exist")
    try:
        return yamlsafe.read_text(path, what, _MAX_SIDECAR_BYTES)
    except yamlsafe.YamlInputError as exc:
        raise BundleError(exc.one_line()) from None


def _yaml(text: str, source: str, line_offset: int = 0) -> Any:
    try:
        return yamlsafe.load(text, source, line_offset=line_offset)
    except yamlsafe.YamlInputError as exc:
        raise BundleError(exc.one_line()) from None


def _str_list(value: Any, key: str, source: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    raise BundleError(f"{source}: '{key}' must be a string or a list of strings, not {type(value).__name__}")


def _opt_str(value: Any, key: str, source: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise BundleError(f"{source}: '{key}' must be a string, not {type(value).__name__}")


# -- MLflow MLmodel ---------------------------------------------------------------------------------------

#: MLflow column types -> the pandas dtype kinds (see :func:`dtype_kind`) that satisfy them.
MLFLOW_TYPES: dict[str, frozenset[str]] = {
    "boolean": frozenset({"bool"}),
    "integer": frozenset({"integer"}),
    "long": frozenset({"integer"}),
    "float": frozenset({"float", "integer"}),
    "double": frozenset({"float", "integer"}),
    "string": frozenset({"string"}),
    "binary": frozenset({"string", "other"}),
    "datetime": frozenset({"datetime"}),
    "any": frozenset({"bool", "integer", "float", "string", "datetime", "other"}),
}
_COMPLEX_TYPES = frozenset({"array", "object", "map"})


@dataclass(frozen=True)
class ColSpec:
    name: str | None
    type: str
    required: bool = True


@dataclass
class MLmodelInfo:
    path: Path
    run_id: str | None = None
    model_uuid: str | None = None
    created: datetime | None = None
    mlflow_version: str | None = None
    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: list[ColSpec] | None = None  # column-based signature
    tensor_inputs: list[dict[str, Any]] | None = None  # tensor-based signature
    outputs: list[ColSpec] | None = None

    def framework_version(self, framework: str) -> str | None:
        """Version of the training framework recorded by the flavour (sklearn_version, ...)."""
        key = {"scikit-learn": "sklearn", "sklearn": "sklearn"}.get(framework.lower(), framework.lower())
        fl = self.flavors.get(key) or {}
        for k in (f"{key}_version", "version"):
            if k in fl:
                return str(fl[k])
        return None


def _signature_part(raw: Any, key: str, source: str) -> tuple[list[ColSpec] | None, list[dict[str, Any]] | None]:
    if raw is None:
        return None, None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BundleError(
                f"{source}: signature.{key} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from None
    if not isinstance(raw, list):
        raise BundleError(f"{source}: signature.{key} must be a JSON list of column specs, not {type(raw).__name__}")
    cols: list[ColSpec] = []
    tensors: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or "type" not in item:
            raise BundleError(f"{source}: signature.{key}[{i}] must be a mapping with a 'type'")
        t = str(item["type"])
        if t == "tensor":
            spec = item.get("tensor-spec")
            if not isinstance(spec, dict) or "dtype" not in spec:
                raise BundleError(f"{source}: signature.{key}[{i}] is a tensor without a 'tensor-spec' dtype")
            tensors.append({"name": item.get("name"), "dtype": str(spec["dtype"]), "shape": spec.get("shape")})
            continue
        if t not in MLFLOW_TYPES and t not in _COMPLEX_TYPES:
            raise BundleError(
                f"{source}: signature.{key}[{i}] has unknown type '{t}' "
                f"(MLflow column types: {', '.join(sorted(MLFLOW_TYPES))}, array, object, map)"
            )
        name = item.get("name")
        cols.append(ColSpec(None if name is None else str(name), t, bool(item.get("required", True))))
    if cols and tensors:
        raise BundleError(f"{source}: signature.{key} mixes column specs and tensor specs")
    return (cols or None), (tensors or None)


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).strip()
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def parse_mlmodel(path: str | Path) -> MLmodelInfo:
    """Read an MLflow ``MLmodel`` file (YAML): run id, model uuid, flavours and the signature."""
    p = Path(path)
    source = f"MLmodel file {p}"
    data = _yaml(_read_text(p, "MLmodel file"), source)
    if not isinstance(data, dict):
        raise BundleError(f"{source} must be a YAML mapping (with 'flavors'), not {type(data).__name__}")
    flavors = data.get("flavors")
    if not isinstance(flavors, dict) or not flavors:
        raise BundleError(f"{source} has no 'flavors' mapping; it is not an MLflow model description")
    info = MLmodelInfo(
        path=p,
        run_id=_opt_str(data.get("run_id"), "run_id", source),
        model_uuid=_opt_str(data.get("model_uuid"), "model_uuid", source),
        created=_parse_time(data.get("utc_time_created")),
        mlflow_version=_opt_str(data.get("mlflow_version"), "mlflow_version", source),
        flavors={str(k): (v if isinstance(v, dict) else {}) for k, v in flavors.items()},
    )
    sig = data.get("signature")
    if sig is not None:
        if not isinstance(sig, dict):
            raise BundleError(f"{source}: 'signature' must be a mapping with 'inputs' and 'outputs'")
        info.inputs, info.tensor_inputs = _signature_part(sig.get("inputs"), "inputs", source)
        info.outputs, _ = _signature_part(sig.get("outputs"), "outputs", source)
    return info


def dtype_kind(series: Any) -> str:
    """A coarse kind of a pandas column: bool, integer, float, string, datetime or other."""
    import numpy as np
    import pandas as pd

    dt = series.dtype
    if pd.api.types.is_bool_dtype(dt):
        return "bool"
    if pd.api.types.is_integer_dtype(dt):
        return "integer"
    if pd.api.types.is_float_dtype(dt):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dt):
        return "datetime"
    if pd.api.types.is_string_dtype(dt) or isinstance(dt, pd.CategoricalDtype):
        return "string"
    if dt == np.dtype(object):
        vals = series.dropna()
        if len(vals) == 0 or all(isinstance(v, str) for v in vals.head(1000)):
            return "string"
    return "other"


# -- Hugging Face model card ------------------------------------------------------------------------------


@dataclass
class CardInfo:
    path: Path
    license: str | None = None
    datasets: list[str] = field(default_factory=list)
    base_model: list[str] = field(default_factory=list)
    library_name: str | None = None
    model_name: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def front_matter(text: str) -> tuple[str, int] | None:
    """(YAML text between the leading '---' lines, its first line number), or None without front matter."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "\n".join(lines[1:i]), 1
    return None


def parse_model_card(path: str | Path, *, required: bool = True) -> CardInfo | None:
    """Read a Hugging Face model card's front matter (license, datasets, base_model, library_name).

    Without front matter: an error when ``required`` (the manifest names this file as the card), else None
    (a README.md that is not a Hugging Face card).
    """
    p = Path(path)
    source = f"model card {p}"
    text = _read_text(p, "model card")
    fm = front_matter(text)
    if fm is None:
        if required:
            raise BundleError(
                f"{source} has no YAML front matter (a block between '---' lines at the top with license:, "
                "datasets:, base_model:)"
            )
        return None
    body, offset = fm
    meta = _yaml(body, f"{source} (front matter)", line_offset=offset)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise BundleError(f"{source}: the front matter must be a YAML mapping, not {type(meta).__name__}")
    lic = meta.get("license")
    if isinstance(lic, list):
        lic = " AND ".join(str(x) for x in lic) if lic else None
    license_ = _opt_str(lic, "license", source)
    if license_ is not None and license_.strip().lower() == "other":
        license_ = _opt_str(meta.get("license_name"), "license_name", source) or "other"
    name = meta.get("model_name") or meta.get("model-name")
    index = meta.get("model-index")
    if name is None and isinstance(index, list) and index and isinstance(index[0], dict):
        name = index[0].get("name")
    return CardInfo(
        path=p,
        license=license_,
        datasets=_str_list(meta.get("datasets"), "datasets", source),
        base_model=_str_list(meta.get("base_model"), "base_model", source),
        library_name=_opt_str(meta.get("library_name"), "library_name", source),
        model_name=_opt_str(name, "model_name", source),
        meta=meta,
    )


# -- CycloneDX --------------------------------------------------------------------------------------------

#: CycloneDX hash algorithm names -> lineage algorithm names.
CDX_ALGORITHMS = {
    "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512", "SHA3-256": "sha3-256",
    "SHA3-384": "sha3-384", "SHA3-512": "sha3-512", "BLAKE2b-512": "blake2b",
}


@dataclass
class BomComponent:
    bom_ref: str | None
    type: str
    name: str
    version: str | None = None
    hashes: dict[str, str] = field(default_factory=dict)  # lineage algorithm -> hex
    licenses: list[str] = field(default_factory=list)
    ancestors: list[str] = field(default_factory=list)  # pedigree ancestor names
    datasets: list[str] = field(default_factory=list)  # modelCard.modelParameters.datasets refs/names
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class BomInfo:
    path: Path
    spec_version: str
    models: list[BomComponent] = field(default_factory=list)
    datasets: list[BomComponent] = field(default_factory=list)

    def by_ref(self, ref: str) -> BomComponent | None:
        return next((c for c in [*self.models, *self.datasets] if c.bom_ref == ref), None)


def _licenses(raw: Any, where: str, source: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BundleError(f"{source}: {where}.licenses must be a list")
    out: list[str] = []
    for item in raw:
        if not isinstance(item, dict):
            raise BundleError(f"{source}: {where}.licenses entries must be objects")
        if "expression" in item:
            out.append(str(item["expression"]))
        elif isinstance(item.get("license"), dict):
            lic = item["license"]
            val = lic.get("id") or lic.get("name")
            if val:
                out.append(str(val))
    return out


def _list(value: Any, where: str, source: str) -> list[Any]:
    """A BOM array (absent or null: empty); anything else is a one-line error naming the key."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BundleError(f"{source}: {where} must be a list, not {type(value).__name__}")
    return value


def _object(value: Any, where: str, source: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BundleError(f"{source}: {where} must be an object, not {type(value).__name__}")
    return value


def _component(raw: Any, where: str, source: str) -> BomComponent:
    if not isinstance(raw, dict):
        raise BundleError(f"{source}: {where} must be an object")
    if "name" not in raw or "type" not in raw:
        raise BundleError(f"{source}: {where} needs 'type' and 'name'")
    hashes: dict[str, str] = {}
    for h in _list(raw.get("hashes"), f"{where}.hashes", source):
        if not isinstance(h, dict) or "alg" not in h or "content" not in h:
            raise BundleError(f"{source}: {where}.hashes entries need 'alg' and 'content'")
        alg = CDX_ALGORITHMS.get(str(h["alg"]))
        if alg is not None:
            hashes[alg] = str(h["content"]).lower()
    ancestors = []
    pedigree = raw.get("pedigree")
    if isinstance(pedigree, dict):
        for a in _list(pedigree.get("ancestors"), f"{where}.pedigree.ancestors", source):
            if isinstance(a, dict) and a.get("name"):
                ancestors.append(str(a["name"]))
    datasets = []
    card = raw.get("modelCard")
    if isinstance(card, dict):
        params = _object(card.get("modelParameters"), f"{where}.modelCard.modelParameters", source)
        for d in _list(params.get("datasets"), f"{where}.modelCard.modelParameters.datasets", source):
            if isinstance(d, dict):
                val = d.get("ref") or d.get("name")
                if val:
                    datasets.append(str(val))
    props = {}
    for pr in _list(raw.get("properties"), f"{where}.properties", source):
        if isinstance(pr, dict) and "name" in pr:
            props[str(pr["name"])] = str(pr.get("value", ""))
    return BomComponent(
        bom_ref=str(raw["bom-ref"]) if raw.get("bom-ref") is not None else None,
        type=str(raw["type"]),
        name=str(raw["name"]),
        version=str(raw["version"]) if raw.get("version") is not None else None,
        hashes=hashes,
        licenses=_licenses(raw.get("licenses"), where, source),
        ancestors=ancestors,
        datasets=datasets,
        properties=props,
    )


def parse_cyclonedx(path: str | Path) -> BomInfo:
    """Read a CycloneDX BOM (JSON): its machine-learning-model and data components."""
    p = Path(path)
    source = f"CycloneDX BOM {p}"
    text = _read_text(p, "CycloneDX BOM")
    try:
        data = json.loads(text)
    except RecursionError:
        raise BundleError(f"{source} nests JSON too deeply to be a CycloneDX BOM") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict) or data.get("bomFormat") != "CycloneDX":
        raise BundleError(f"{source} is not a CycloneDX BOM (\"bomFormat\": \"CycloneDX\" is missing)")
    spec = str(data.get("specVersion", ""))
    comps: list[tuple[Any, str]] = []
    meta = data.get("metadata")
    if isinstance(meta, dict) and meta.get("component") is not None:
        comps.append((meta["component"], "metadata.component"))
    raw_comps = data.get("components") or []
    if not isinstance(raw_comps, list):
        raise BundleError(f"{source}: 'components' must be a list")

    def walk(items: list[Any], prefix: str) -> None:
        for i, c in enumerate(items):
            comps.append((c, f"{prefix}[{i}]"))
            if isinstance(c, dict) and isinstance(c.get("components"), list):
                walk(c["components"], f"{prefix}[{i}].components")

    walk(raw_comps, "components")
    info = BomInfo(path=p, spec_version=spec)
    for raw, where in comps:
        comp = _component(raw, where, source)
        if comp.type == "machine-learning-model":
            info.models.append(comp)
        elif comp.type == "data":
            info.datasets.append(comp)
    return info


# -- finding them in a bundle -----------------------------------------------------------------------------

BOM_PATTERNS = ("*.cdx.json", "bom.json", "sbom.json")


@dataclass
class BundleSources:
    """The self-descriptions found in a bundle (each None when absent)."""

    mlmodel: MLmodelInfo | None = None
    card: CardInfo | None = None
    bom: BomInfo | None = None

    def names(self) -> list[str]:
        out = []
        if self.mlmodel is not None:
            out.append("MLmodel")
        if self.card is not None:
            out.append("model card")
        if self.bom is not None:
            out.append("CycloneDX BOM")
        return out


def discover(bundle: Any, spec: Any) -> BundleSources:
    """Parse the MLmodel, model card and CycloneDX BOM of a bundle.

    Files named under ``lineage.sources`` must exist and parse; otherwise the usual places are looked at: an
    ``MLmodel`` at the bundle root or inside an MLflow model directory, ``README.md`` with front matter, and
    ``*.cdx.json`` / ``bom.json`` / ``sbom.json`` at the root. Raises :class:`BundleError` on malformed files.
    """
    from trustaudit.bundle.loader import resolve_inside

    root: Path | None = bundle.root
    out = BundleSources()
    if root is None:
        return out
    src = spec.sources
    if src.mlmodel:
        out.mlmodel = parse_mlmodel(resolve_inside(root, src.mlmodel, "lineage.sources.mlmodel"))
    else:
        candidates = [root / "MLmodel"]
        model = bundle.manifest.model
        if model is not None:
            mpath = resolve_inside(root, model.path, "model.path")
            candidates.insert(0, (mpath if mpath.is_dir() else mpath.parent) / "MLmodel")
        found = next((c for c in candidates if c.is_file()), None)
        if found is not None:
            out.mlmodel = parse_mlmodel(found)
    if src.model_card:
        out.card = parse_model_card(resolve_inside(root, src.model_card, "lineage.sources.model_card"))
    elif (root / "README.md").is_file():
        out.card = parse_model_card(root / "README.md", required=False)
    if src.bom:
        out.bom = parse_cyclonedx(resolve_inside(root, src.bom, "lineage.sources.bom"))
    else:
        for pattern in BOM_PATTERNS:
            hits = sorted(root.glob(pattern))
            if hits:
                out.bom = parse_cyclonedx(hits[0])
                break
    return out
