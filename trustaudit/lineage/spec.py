"""The ``lineage:`` section of ``trustaudit.yaml``: what a release declares about where it came from.

The bundle manifest keeps the section as a plain mapping; :func:`parse_lineage` validates it into a typed
:class:`LineageSpec` (unknown keys refused) and turns the first problem into one :class:`BundleError` line naming
the key, e.g. ``lineage.files["model.skops"]: unknown digest algorithm "md4" (supported: sha256, ...)``.

Digests are written ``"sha256:<hex>"`` or as an in-toto style digest set ``{sha256: <hex>}``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from trustaudit.errors import BundleError

#: Accepted digest algorithms -> (hashlib name, hex length).
ALGORITHMS: dict[str, tuple[str, int]] = {
    "sha256": ("sha256", 64),
    "sha384": ("sha384", 96),
    "sha512": ("sha512", 128),
    "sha3-256": ("sha3_256", 64),
    "sha3-384": ("sha3_384", 96),
    "sha3-512": ("sha3_512", 128),
    "blake2b": ("blake2b", 128),
}
#: Algorithms that exist but are refused: collisions can be manufactured for them.
WEAK_ALGORITHMS = frozenset({"md5", "sha1", "sha-1"})
_ALIASES = {"sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512", "sha3_256": "sha3-256",
            "sha3_384": "sha3-384", "sha3_512": "sha3-512", "blake2b-512": "blake2b", "blake2b512": "blake2b"}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
#: A commit made only of zeros is a placeholder, never a real commit.
_ZERO_COMMIT = re.compile(r"^0{7,64}$")


def normalize_algorithm(name: str) -> str:
    """Canonical algorithm name; raises ValueError for unknown or weak algorithms."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key in ALGORITHMS:
        return key
    if key in WEAK_ALGORITHMS:
        raise ValueError(f'digest algorithm "{name}" is not accepted: it is collision-prone; use sha256')
    raise ValueError(f'unknown digest algorithm "{name}" (supported: {", ".join(ALGORITHMS)})')


def _one_digest(alg: str, value: Any) -> tuple[str, str]:
    canon = normalize_algorithm(alg)
    if not isinstance(value, str):
        raise ValueError(f"the {canon} digest must be a hex string, not {type(value).__name__}")
    hexv = value.strip().lower()
    want = ALGORITHMS[canon][1]
    if not _HEX.match(hexv) or len(hexv) != want:
        raise ValueError(f"the {canon} digest must be {want} hex characters (got {len(hexv)}: {value[:20]!r})")
    return canon, hexv


def parse_digest(value: Any) -> dict[str, str]:
    """``"sha256:<hex>"`` or ``{sha256: <hex>, ...}`` -> ``{"sha256": "<hex>"}`` (lower-case, validated)."""
    if isinstance(value, str):
        if ":" not in value:
            raise ValueError(f"a digest is written 'sha256:<hex>' (algorithm, colon, hex); got {value[:24]!r}")
        alg, _, hexv = value.partition(":")
        a, h = _one_digest(alg, hexv)
        return {a: h}
    if isinstance(value, Mapping):
        if not value:
            raise ValueError("a digest set needs at least one algorithm, e.g. {sha256: <hex>}")
        out: dict[str, str] = {}
        for alg, hexv in value.items():
            a, h = _one_digest(str(alg), hexv)
            out[a] = h
        return out
    raise ValueError(f"a digest is 'sha256:<hex>' or a mapping {{sha256: <hex>}}, not {type(value).__name__}")


def format_digest(digest: Mapping[str, str]) -> str:
    """``{"sha256": h}`` -> ``"sha256:h"`` (the strongest algorithm first)."""
    alg = next(a for a in ALGORITHMS if a in digest)
    return f"{alg}:{digest[alg]}"


DigestSet = Annotated[dict[str, str], BeforeValidator(parse_digest)]


def _check_rel_path(v: str | None, what: str = "path") -> str | None:
    if v is None:
        return v
    s = str(v).strip()
    if not s:
        raise ValueError(f"{what} is empty")
    if s.startswith(("/", "\\")) or (len(s) > 1 and s[1] == ":"):
        raise ValueError(f"{what} {s!r} is absolute; give a path relative to the bundle directory")
    if ".." in re.split(r"[\\/]", s):
        raise ValueError(f"{what} {s!r} climbs out of the bundle ('..'); keep files inside the bundle")
    return s


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataRef(_Strict):
    """A data set: a file inside the bundle (``path``) and/or an external location (``uri``)."""

    name: str | None = Field(None, description="Human-readable name, e.g. 'UCI Adult (adult.data)'")
    path: str | None = Field(None, description="File inside the bundle")
    uri: str | None = Field(None, description="External location (URL, DOI, dataset id)")
    digest: DigestSet | None = Field(None, description="Digest of the file: 'sha256:<hex>'")
    rows: int | None = Field(None, ge=0, description="Number of rows")
    license: str | None = Field(None, description="SPDX license id or expression")
    description: str | None = None

    @field_validator("path")
    @classmethod
    def _rel_path(cls, v: str | None) -> str | None:
        return _check_rel_path(v)

    @model_validator(mode="after")
    def _needs_location(self) -> DataRef:
        if self.path is None and self.uri is None and self.name is None:
            raise ValueError("give at least one of path (inside the bundle), uri or name")
        return self

    def label(self) -> str:
        return self.name or self.path or self.uri or "?"


class CodeRef(_Strict):
    """The code that trained the model."""

    repository: str = Field(description="Repository URL")
    commit: str | None = Field(None, description="Commit id (full hash preferred)")
    path: str | None = Field(None, description="Training script or entry point inside the repository")
    placeholder: bool = Field(
        False, description="true when repository/commit are placeholders, not a real reference"
    )

    @property
    def is_placeholder(self) -> bool:
        return self.placeholder or (self.commit is not None and bool(_ZERO_COMMIT.match(self.commit.strip())))


class BaseModelRef(_Strict):
    """The model this one was fine-tuned from."""

    name: str
    version: str | None = None
    uri: str | None = None
    path: str | None = Field(None, description="A copy inside the bundle")
    digest: DigestSet | None = None
    license: str | None = None

    @field_validator("path")
    @classmethod
    def _rel_path(cls, v: str | None) -> str | None:
        return _check_rel_path(v)


class TrainingSpec(_Strict):
    """How the model was trained."""

    framework: str | None = Field(None, description="e.g. scikit-learn")
    framework_version: str | None = None
    estimator: str | None = Field(None, description="Fully qualified class, e.g. sklearn.ensemble.HistGradientBoostingClassifier")
    params: dict[str, Any] = Field(default_factory=dict, description="Hyper-parameters (estimator.get_params())")
    run_id: str | None = Field(None, description="Experiment-tracker run id (compared with MLmodel run_id)")

    @field_validator("framework_version", mode="before")
    @classmethod
    def _version_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) else v


class Producer(_Strict):
    """Who produced the release."""

    name: str
    organization: str | None = None
    email: str | None = None
    url: str | None = None


class ModelSignature(_Strict):
    """An OpenSSF model-signing signature the bundle carries (verified by ``lineage.integrity``).

    The key that is trusted is the auditor's (``--model-key`` / the check's ``model_key`` param), never only
    ``public_key``: a key shipped in the bundle is a hint that proves consistency, not who signed.
    """

    path: str = Field(description="The signature file (a model-signing bundle, e.g. model.sig)")
    model: str | None = Field(None, description="The signed file or directory (default: the manifest's model)")
    method: Literal["key", "certificate"] = Field(
        "key", description="How it was signed: key (ECDSA private key) or certificate (signing certificate)")
    public_key: str | None = Field(None, description="A public key shipped in the bundle (a hint, not trusted)")

    @field_validator("path", "model", "public_key")
    @classmethod
    def _rel_path(cls, v: str | None) -> str | None:
        return _check_rel_path(v)


class Sources(_Strict):
    """Where the bundle describes itself elsewhere (found automatically when not given)."""

    mlmodel: str | None = Field(None, description="An MLflow MLmodel file")
    model_card: str | None = Field(None, description="A Hugging Face model card (README.md with front matter)")
    bom: str | None = Field(None, description="A CycloneDX ML-BOM (JSON)")

    @field_validator("mlmodel", "model_card", "bom")
    @classmethod
    def _rel_paths(cls, v: str | None) -> str | None:
        return _check_rel_path(v)


def _as_list(v: Any) -> Any:
    return [v] if isinstance(v, Mapping) else v


def _as_producer(v: Any) -> Any:
    return {"name": v} if isinstance(v, str) else v


def _as_datetime(v: Any) -> Any:
    if isinstance(v, datetime):
        return v
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day, tzinfo=timezone.utc)
    return v


class LineageSpec(_Strict):
    """Provenance of a release. Every key is optional; ``lineage.completeness`` scores which are declared."""

    files: dict[str, DigestSet] = Field(
        default_factory=dict, description="Bundle file (relative path) -> digest, e.g. model.skops: sha256:..."
    )
    training_data: Annotated[list[DataRef], BeforeValidator(_as_list)] = Field(
        default_factory=list, description="Data the model was trained on (one mapping or a list)"
    )
    evaluation_data: DataRef | None = Field(None, description="Where the evaluation data came from")
    code: CodeRef | None = None
    base_model: BaseModelRef | None = Field(
        None, description="Model fine-tuned from; write 'base_model: null' to declare there is none"
    )
    training: TrainingSpec | None = None
    producer: Annotated[Producer | None, BeforeValidator(_as_producer)] = None
    created: Annotated[datetime | None, BeforeValidator(_as_datetime)] = Field(
        None, description="When the model was produced (ISO 8601)"
    )
    license: str | None = Field(None, description="License of the model (SPDX id or expression)")
    model_uuid: str | None = Field(None, description="Model id (compared with MLmodel model_uuid)")
    sources: Sources = Field(default_factory=Sources)
    signature: ModelSignature | None = Field(None, description="OpenSSF model-signing signature of the model")

    @field_validator("files")
    @classmethod
    def _file_paths(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for key in v:
            _check_rel_path(key, "file")
        return v

    def declared(self, key: str) -> bool:
        """True when the key was written in the manifest (``base_model: null`` counts as declared)."""
        return key in self.model_fields_set

    def all_digests(self) -> list[tuple[str, dict[str, str], str]]:
        """(bundle path, digest, where declared) for every digest of a file inside the bundle."""
        out: list[tuple[str, dict[str, str], str]] = []
        for path, dg in self.files.items():
            out.append((path, dg, f'lineage.files["{path}"]'))
        for i, ref in enumerate(self.training_data):
            if ref.path is not None and ref.digest is not None:
                out.append((ref.path, ref.digest, f"lineage.training_data[{i}].digest"))
        if self.evaluation_data is not None and self.evaluation_data.path and self.evaluation_data.digest:
            out.append((self.evaluation_data.path, self.evaluation_data.digest, "lineage.evaluation_data.digest"))
        if self.base_model is not None and self.base_model.path and self.base_model.digest:
            out.append((self.base_model.path, self.base_model.digest, "lineage.base_model.digest"))
        return out


_SECTIONS: dict[str, type[BaseModel]] = {
    "training_data": DataRef,
    "evaluation_data": DataRef,
    "code": CodeRef,
    "base_model": BaseModelRef,
    "training": TrainingSpec,
    "producer": Producer,
    "sources": Sources,
    "signature": ModelSignature,
}


def _where(loc: tuple[Any, ...]) -> str:
    parts = ["lineage"]
    for p in loc:
        if isinstance(p, int):
            parts[-1] += f"[{p}]"
        elif isinstance(p, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p):
            parts.append(p)
        else:
            parts[-1] += f'["{p}"]'
    return ".".join(parts)


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic adds validator/union tags ('function-before[...]', 'DataRef', 'str') to locations; drop them
    return tuple(p for p in loc if isinstance(p, int) or not (str(p).startswith(("function-", "list[", "dict["))
                                                              or str(p) in ("DataRef", "Producer", "str", "none")))


def format_lineage_error(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    loc = _clean_loc(tuple(first["loc"]))
    where = _where(loc)
    kind = first["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        owner: type[BaseModel] = LineageSpec
        if len(loc) >= 2 and str(loc[0]) in _SECTIONS:
            owner = _SECTIONS[str(loc[0])]
        choices = list(owner.model_fields)
        close = difflib.get_close_matches(key, choices, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(choices)}"
        return f"{source}: unknown key '{where}' ({hint}); see docs/lineage.md"
    if kind == "missing":
        return f"{source}: required key '{where}' is missing; see docs/lineage.md"
    msg = str(first["msg"])
    if msg.startswith(("Value error, ", "Assertion failed, ")):
        msg = msg.split(", ", 1)[1]
        return f"{source}: {where}: {msg}"
    return f"{source}: {where}: {msg} (got {first.get('input')!r})"


def lineage_from_mapping(raw: Any, source: str = "trustaudit.yaml") -> LineageSpec:
    """Validate a raw ``lineage`` mapping; raise :class:`BundleError` with one line naming the key."""
    if raw is None:
        return LineageSpec()
    if not isinstance(raw, Mapping):
        raise BundleError(f"{source}: 'lineage' must be a mapping of keys to values, not {type(raw).__name__}")
    try:
        return LineageSpec.model_validate(dict(raw))
    except ValidationError as err:
        raise BundleError(format_lineage_error(err, source)) from None


def parse_lineage(manifest: Any) -> LineageSpec:
    """The manifest's ``lineage`` section as a :class:`LineageSpec` (empty when the section is absent).

    ``manifest`` is a :class:`trustaudit.bundle.manifest.Manifest` (or anything with a ``lineage`` attribute).
    Raises :class:`BundleError` naming the offending key.
    """
    raw = manifest.lineage if hasattr(manifest, "lineage") else manifest
    return lineage_from_mapping(raw)
