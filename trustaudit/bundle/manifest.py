"""The bundle manifest (``trustaudit.yaml``), version 1, as a pydantic model.

Every key is documented in ``docs/manifest.md``; the JSON Schema is exported to
``schemas/manifest.schema.json`` (``trustaudit schema manifest``).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trustaudit import yamlsafe
from trustaudit.errors import BundleError

MANIFEST_NAME = "trustaudit.yaml"
ModelFormat = Literal["skops", "onnx", "xgboost", "lightgbm", "mlflow", "joblib", "pickle"]
Task = Literal["binary-classification", "multiclass-classification", "regression"]
SUPPORTED_TASKS = ("binary-classification",)

_THRESHOLD = re.compile(r"^\s*(>=|<=|>|<|==)\s*(-?\d+(?:\.\d+)?)\s*$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(_Section):
    path: str = Field(description="Model file or directory (MLflow), relative to the bundle root")
    format: ModelFormat = Field(description="skops | onnx | xgboost | lightgbm | mlflow | joblib | pickle")
    trusted_types: list[str] = Field(
        default_factory=list,
        description="skops only: extra fully-qualified types to trust beyond scikit-learn/numpy/scipy",
    )


class DataSpec(_Section):
    path: str = Field(description="Evaluation data: CSV (optionally .gz) or Parquet, relative to the bundle")
    label: str = Field(description="Column holding the true label")
    favorable_label: str | int | float | bool = Field(description="Label value that is the favourable outcome")
    prediction: str | None = Field(None, description="Column of predicted labels (audit without a model)")
    score: str | None = Field(None, description="Column of predicted probabilities of the favourable label")
    features: list[str] | None = Field(
        None, description="Columns given to the model; default: every column but label, prediction, score"
    )


class TrainingDataSpec(_Section):
    path: str = Field(description="Training data file inside the bundle (CSV/Parquet)")
    label: str | None = Field(None, description="Label column; default: data.label")


class Threshold(BaseModel):
    """A numeric privileged definition such as ``>= 25``."""

    op: str
    value: float

    def mask(self, values: Any) -> Any:
        import numpy as np

        v = np.asarray(values, dtype=float)
        return {
            ">=": v >= self.value,
            "<=": v <= self.value,
            ">": v > self.value,
            "<": v < self.value,
            "==": v == self.value,
        }[self.op]

    def __str__(self) -> str:
        value = int(self.value) if float(self.value).is_integer() else self.value
        return f"{self.op} {value}"


class ProtectedSpec(_Section):
    privileged: list[str | int | float | bool] | str = Field(
        description="Privileged values (a list), or a numeric threshold such as '>= 25'"
    )
    unprivileged: list[str | int | float | bool] | None = Field(
        None, description="Unprivileged values; default: every value that is not privileged"
    )

    @field_validator("privileged")
    @classmethod
    def _check_threshold(cls, v: list[Any] | str) -> list[Any] | str:
        if isinstance(v, str) and not _THRESHOLD.match(v):
            raise ValueError(
                f"privileged {v!r} is neither a list of values nor a numeric threshold like '>= 25'"
            )
        return v

    def threshold(self) -> Threshold | None:
        if isinstance(self.privileged, str):
            m = _THRESHOLD.match(self.privileged)
            assert m is not None
            return Threshold(op=m.group(1), value=float(m.group(2)))
        return None

    def describe(self) -> str:
        t = self.threshold()
        if t is not None:
            return str(t)
        return ", ".join(str(v) for v in self.privileged)


class Manifest(_Section):
    """Version 1 of ``trustaudit.yaml``."""

    trustaudit: Literal[1] = Field(description="Manifest format version")
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    task: Task = "binary-classification"
    description: str | None = None
    model: ModelSpec | None = Field(None, description="Omitted for a predictions-only (black-box) audit")
    data: DataSpec
    training_data: TrainingDataSpec | None = None
    protected: dict[str, ProtectedSpec] = Field(default_factory=dict)
    immutable: list[str] = Field(
        default_factory=list, description="Feature columns that robustness attacks must not change"
    )
    lineage: dict[str, Any] | None = Field(None, description="Provenance section (see docs/lineage.md)")
    openness: dict[str, Any] | None = Field(
        None, description="Model Openness Framework declaration (MOT release structure, see docs/openness.md)"
    )
    rubric: str | None = Field(None, description="Rubric file inside the bundle, or a packaged rubric name")


def _field_names(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _section_for(loc: tuple[Any, ...]) -> type[BaseModel]:
    """The pydantic model that owns the key at ``loc`` (for 'did you mean' suggestions)."""
    owners: dict[str, type[BaseModel]] = {
        "model": ModelSpec,
        "data": DataSpec,
        "training_data": TrainingDataSpec,
    }
    if len(loc) >= 3 and loc[0] == "protected":
        return ProtectedSpec
    if len(loc) >= 2 and isinstance(loc[0], str) and loc[0] in owners:
        return owners[loc[0]]
    return Manifest


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line naming the first problem, where it is and how to fix it."""
    errors = err.errors()
    # an unknown key explains a "missing" one next to it (a typo), so report unknown keys first
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(first["loc"])
    where = ".".join(str(p) for p in loc) or "(top level)"
    kind = first["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        choices = _field_names(_section_for(loc))
        close = difflib.get_close_matches(key, choices, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(choices)}"
        return f"{source}: unknown key '{where}' ({hint})"
    if kind == "missing":
        return f"{source}: required key '{where}' is missing; add it (see docs/manifest.md)"
    if kind == "literal_error" and loc == ("trustaudit",):
        return f"{source}: unsupported manifest version {first.get('input')!r}; this trustaudit reads 'trustaudit: 1'"
    msg = first["msg"]
    return f"{source}: '{where}' {msg} (got {first.get('input')!r})"


def parse_manifest(text: str, source: str = MANIFEST_NAME) -> Manifest:
    try:
        raw = yamlsafe.load(text, source)
    except yamlsafe.YamlInputError as exc:
        raise BundleError(f"{exc.one_line()}; fix the file") from None
    if raw is None:
        raise BundleError(f"{source} is empty; run 'trustaudit init' to scaffold a manifest")
    if not isinstance(raw, dict):
        raise BundleError(f"{source} must be a YAML mapping of keys to values, not {type(raw).__name__}")
    try:
        return Manifest.model_validate(raw)
    except ValidationError as err:
        raise BundleError(format_validation_error(err, source)) from None


def load_manifest(bundle_dir: Path) -> Manifest:
    path = bundle_dir / MANIFEST_NAME
    if not bundle_dir.exists():
        raise BundleError(f"bundle directory {bundle_dir} does not exist")
    if not bundle_dir.is_dir():
        raise BundleError(f"{bundle_dir} is not a directory; a bundle is a directory holding {MANIFEST_NAME}")
    if not path.is_file():
        raise BundleError(
            f"no {MANIFEST_NAME} in {bundle_dir}; create one with 'trustaudit init MODEL DATA --out {bundle_dir}'"
        )
    try:
        text = yamlsafe.read_text(path, "manifest")
    except yamlsafe.YamlInputError as exc:
        raise BundleError(exc.one_line()) from None
    return parse_manifest(text, source=str(path))
