"""The bundle manifest (``trustaudit.yaml``), version 1, as a pydantic model.

Every key is documented in ``docs/manifest.md``; the JSON Schema is exported to
``schemas/manifest.schema.json`` (``trustaudit schema manifest``).
"""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from trustaudit import yamlsafe
from trustaudit.errors import BundleError

MANIFEST_NAME = "trustaudit.yaml"
ModelFormat = Literal["skops", "onnx", "xgboost", "lightgbm", "mlflow", "joblib", "pickle"]
Task = Literal["binary-classification", "multiclass-classification", "regression"]
SUPPORTED_TASKS: tuple[Task, ...] = ("binary-classification", "multiclass-classification", "regression")
BINARY: Task = "binary-classification"
MULTICLASS: Task = "multiclass-classification"
REGRESSION: Task = "regression"

_THRESHOLD = re.compile(r"^\s*(>=|<=|>|<|==)\s*(-?\d+(?:\.\d+)?)\s*$")
_NEGATION = {">=": "<", "<=": ">", ">": "<=", "<": ">=", "==": "!="}


def _valid_sep(v: str | None) -> str | None:
    if v is not None and (len(v) != 1 or v in "\r\n\"" or v.isalnum()):
        raise ValueError(f"sep must be one delimiter character such as ',', ';', '|' or a tab, not {v!r}")
    return v


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
    favorable_label: str | int | float | bool | None = Field(
        None,
        description="Label value that is the favourable outcome (required for binary-classification; optional "
        "for multiclass-classification, where it names the class granted; unused for regression)",
    )
    prediction: str | None = Field(
        None, description="Column of predicted labels, or predicted values for regression (audit without a model)"
    )
    score: str | None = Field(None, description="Column of predicted probabilities of the favourable label")
    probabilities: dict[str, str] | None = Field(
        None,
        description="multiclass-classification without a model: class label -> column of its predicted "
        "probability (optional; one column per class)",
    )
    features: list[str] | None = Field(
        None, description="Columns given to the model; default: every column but label, prediction, score"
    )
    sep: str | None = Field(
        None, description="CSV field delimiter, one character such as ';' or '\\t'; default ','. Ignored for Parquet"
    )

    _check_sep = field_validator("sep")(lambda v: _valid_sep(v))


class TrainingDataSpec(_Section):
    path: str = Field(description="Training data file inside the bundle (CSV/Parquet)")
    label: str | None = Field(None, description="Label column; default: data.label")
    sep: str | None = Field(None, description="CSV field delimiter; default: data.sep")

    _check_sep = field_validator("sep")(lambda v: _valid_sep(v))


class Threshold(BaseModel):
    """One numeric comparison such as ``>= 25``."""

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

    def negated(self) -> Threshold:
        return Threshold(op=_NEGATION[self.op], value=self.value)

    def value_text(self) -> str:
        return str(int(self.value)) if float(self.value).is_integer() else str(self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value_text()}"


class NumericRule(BaseModel):
    """A numeric privileged definition: one comparison (``>= 25``) or a range, two comparisons that must both
    hold (``>= 25 and < 60``, or the mapping ``{min: 25, max: 60}``: min inclusive, max exclusive)."""

    conditions: tuple[Threshold, ...]

    def mask(self, values: Any) -> Any:
        out = self.conditions[0].mask(values)
        for cond in self.conditions[1:]:
            out = out & cond.mask(values)
        return out

    @property
    def is_range(self) -> bool:
        return len(self.conditions) > 1

    def __str__(self) -> str:
        return " and ".join(str(c) for c in self.conditions)

    def negated_text(self) -> str:
        """The complement, in words: ``< 25`` for ``>= 25``, ``< 25 or >= 60`` for ``>= 25 and < 60``."""
        return " or ".join(str(c.negated()) for c in self.conditions)


class ValueRange(_Section):
    """A numeric range of privileged values: ``min <= value < max`` (either bound may be omitted)."""

    min: float | None = Field(None, description="Lowest privileged value (inclusive)")
    max: float | None = Field(None, description="Upper bound of the privileged values (exclusive)")

    @model_validator(mode="after")
    def _bounds(self) -> ValueRange:
        if self.min is None and self.max is None:
            raise ValueError("a range needs min, max or both")
        for bound in (self.min, self.max):
            if bound is not None and not math.isfinite(bound):
                raise ValueError("range bounds must be finite numbers")
        if self.min is not None and self.max is not None and not self.min < self.max:
            raise ValueError(f"range min {self.min:g} must be below max {self.max:g}")
        return self

    def rule(self) -> NumericRule:
        conds = []
        if self.min is not None:
            conds.append(Threshold(op=">=", value=self.min))
        if self.max is not None:
            conds.append(Threshold(op="<", value=self.max))
        return NumericRule(conditions=tuple(conds))


def parse_numeric_rule(text: str) -> NumericRule | None:
    """``>= 25`` or ``>= 25 and < 60`` (at most two comparisons joined by ``and``); None if ``text`` is neither.

    A fixed grammar matched with regular expressions: nothing is evaluated."""
    parts = re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE)
    if not 1 <= len(parts) <= 2:
        return None
    conds = []
    for part in parts:
        m = _THRESHOLD.match(part)
        if m is None:
            return None
        conds.append(Threshold(op=m.group(1), value=float(m.group(2))))
    return NumericRule(conditions=tuple(conds))


def _rule_is_satisfiable(rule: NumericRule) -> bool:
    lo, hi = -math.inf, math.inf
    lo_incl = hi_incl = True
    for c in rule.conditions:
        if c.op == "==":
            if not (lo < c.value < hi or (c.value == lo and lo_incl) or (c.value == hi and hi_incl)):
                return False
            lo = hi = c.value
            lo_incl = hi_incl = True
        elif c.op in (">=", ">") and (c.value > lo or (c.value == lo and c.op == ">")):
            lo, lo_incl = c.value, c.op == ">="
        elif c.op in ("<=", "<") and (c.value < hi or (c.value == hi and c.op == "<")):
            hi, hi_incl = c.value, c.op == "<="
    return lo < hi or (lo == hi and lo_incl and hi_incl)


class ProtectedSpec(_Section):
    privileged: list[str | int | float | bool] | ValueRange | str = Field(
        description="Privileged values (a list); a numeric threshold such as '>= 25'; or a numeric range, "
        "'>= 25 and < 60' or {min: 25, max: 60} (min inclusive, max exclusive)"
    )
    unprivileged: list[str | int | float | bool] | None = Field(
        None, description="Unprivileged values; default: every value that is not privileged"
    )

    @field_validator("privileged", mode="before")
    @classmethod
    def _range_mapping(cls, v: Any) -> Any:
        if isinstance(v, dict):  # a range mapping: validated here for a one-line message naming the problem
            try:
                return ValueRange.model_validate(v)
            except ValidationError as err:
                first = err.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"range {v!r}: {where + ': ' if where else ''}{first['msg'].removeprefix('Value error, ')}") from None
        return v

    @field_validator("privileged")
    @classmethod
    def _check_threshold(cls, v: list[Any] | ValueRange | str) -> list[Any] | ValueRange | str:
        if isinstance(v, str):
            rule = parse_numeric_rule(v)
            if rule is None:
                raise ValueError(
                    f"privileged {v!r} is neither a list of values nor a numeric threshold like '>= 25' "
                    "or range like '>= 25 and < 60'"
                )
            if not _rule_is_satisfiable(rule):
                raise ValueError(f"privileged {v!r} can never hold (no number satisfies it)")
        return v

    @model_validator(mode="after")
    def _unprivileged_values_only(self) -> ProtectedSpec:
        if self.unprivileged is not None and self.threshold() is not None:
            raise ValueError("unprivileged applies to a list of privileged values, not to a threshold or range")
        return self

    def threshold(self) -> NumericRule | None:
        """The numeric rule of a threshold or range definition; None for a list of values."""
        if isinstance(self.privileged, ValueRange):
            return self.privileged.rule()
        if isinstance(self.privileged, str):
            rule = parse_numeric_rule(self.privileged)
            assert rule is not None
            return rule
        return None

    def describe(self) -> str:
        t = self.threshold()
        if t is not None:
            return str(t)
        assert isinstance(self.privileged, list)
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

    @model_validator(mode="after")
    def _task_keys(self) -> Manifest:
        if self.task == BINARY and self.data.favorable_label is None:
            raise ValueError(
                "data.favorable_label is required for task binary-classification (the label value that is the "
                "favourable outcome)"
            )
        if self.data.probabilities is not None and self.task != MULTICLASS:
            raise ValueError("data.probabilities is for task multiclass-classification; use data.score for binary")
        if self.task == REGRESSION and self.data.score is not None:
            raise ValueError("data.score (a probability column) does not apply to task regression; remove it")
        return self


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
    if kind == "value_error" and not loc:  # a rule over several keys (e.g. the task's required keys)
        return f"{source}: {msg.removeprefix('Value error, ')}; fix the manifest (see docs/manifest.md)"
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
