"""Typed openness declarations (MOT's model.yml) and the scorer's result.

The declaration mirrors the Model Openness Tool's ``model.yml``: ``framework`` and ``release``, where
``release.license`` holds the global licenses by type and ``release.components`` lists the components.
Unknown keys are kept (and written back by ``dump_mot``) but never read by the scorer.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ComponentStatus = Literal[
    "counted",
    "not_type_appropriate",
    "missing",
    "unlicensed",
    "invalid",
    "not_open",
    "restrictive",
]
LicenseSource = Literal["component", "global-code", "global-data", "global-document", "distribution", "none"]
ClassId = Literal["I", "II", "III", "unclassified"]
Mode = Literal["default", "strict-mot"]


def _scalar_to_str(value: Any) -> Any:
    """YAML reads ``date: 2024-12-15`` as a date and ``version: 1.0`` as a float: accept them as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (_dt.date, int, float)):
        return str(value)
    return value


class _Decl(BaseModel):
    # numbers are read as text (``version: 1.0``); validation stays in pydantic-core (fast)
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)


class Framework(_Decl):
    name: str = "Model Openness Framework"
    version: str = "1.0"
    date: str | None = None

    _coerce = field_validator("date", mode="before")(_scalar_to_str)


class GlobalLicense(_Decl):
    name: str | None = None
    path: str | None = None


class GlobalLicenses(_Decl):
    distribution: GlobalLicense | None = None
    code: GlobalLicense | None = None
    data: GlobalLicense | None = None
    document: GlobalLicense | None = None

    @field_validator("distribution", "code", "data", "document", mode="before")
    @classmethod
    def _bare_string(cls, value: Any) -> Any:
        # ``distribution: Apache-2.0`` is a common shorthand for ``distribution: {name: Apache-2.0}``
        if isinstance(value, str):
            return {"name": value}
        return value


class ComponentDecl(_Decl):
    name: str
    description: str | None = None
    license: str | None = None
    license_path: str | None = None
    component_path: str | None = None


class Release(_Decl):
    name: str | None = None
    version: str | None = None
    date: str | None = None
    type: str | None = None
    architecture: str | None = None
    origin: str | None = None
    producer: str | None = None
    contact: str | None = None
    repository: str | None = None
    huggingface: str | None = None
    license: GlobalLicenses = Field(default_factory=GlobalLicenses)
    components: list[ComponentDecl] = Field(default_factory=list)

    _coerce = field_validator("date", mode="before")(_scalar_to_str)

    @field_validator("license", mode="before")
    @classmethod
    def _empty_license(cls, value: Any) -> Any:
        # MOT writes ``license: []`` or ``license: {}`` for "no global license"
        if value is None or value == [] or value == {}:
            return {}
        return value

    @field_validator("components", mode="before")
    @classmethod
    def _no_components(cls, value: Any) -> Any:
        return [] if value is None else value


class Declaration(_Decl):
    """A model's openness declaration: MOT's model.yml, or one built from a manifest or a model card."""

    framework: Framework = Field(default_factory=Framework)
    release: Release = Field(default_factory=Release)
    #: Where the declaration came from (a path or 'manifest'); not part of MOT's format, never exported.
    source: str | None = Field(None, exclude=True)
    #: Notes made while reading (e.g. a model card's datasets whose licenses are unknown); not exported.
    notes: list[str] = Field(default_factory=list, exclude=True)


# --------------------------------------------------------------------------------------------- results


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ComponentRow(_Result):
    name: str
    type: Literal["code", "data", "document"]
    mof_class: Literal["I", "II", "III"]
    required: bool
    included: bool
    status: ComponentStatus
    counted: bool = Field(description="Counts towards the class progress (in this result's mode)")
    license: str | None = Field(None, description="The license string as declared (or inherited)")
    spdx: str | None = Field(None, description="Normalised SPDX id or expression (default mode)")
    source: LicenseSource = "none"
    osi_approved: bool = False
    fsf_libre: bool = False
    open_data: bool = False
    reason: str | None = None
    substituted_by: str | None = Field(
        None, description="For the Technical report: 'Research paper' when the paper stands in for it"
    )
    component_path: str | None = None
    license_path: str | None = None
    warnings: list[str] = Field(default_factory=list)
    strict_status: ComponentStatus | None = Field(
        None, description="The status --strict-mot gives (default mode)"
    )
    differs_from_strict: bool = False
    difference: str | None = None


class StrictSummary(_Result):
    mof_class: ClassId
    class_label: str
    progress: dict[str, float]
    total_progress: float


class Art53Hint(_Result):
    """EU AI Act Art. 53(2): the open-source exemption for general-purpose AI models (a hint, not advice)."""

    applies: bool | None
    reason: str
    caveats: list[str] = Field(default_factory=list)


class EvidenceFinding(_Result):
    component: str
    kind: Literal[
        "path_ok",
        "path_missing",
        "path_escapes_bundle",
        "path_remote",
        "no_path",
        "license_match",
        "license_mismatch",
        "license_unidentified",
        "license_file_missing",
    ]
    level: Literal["ok", "info", "warn", "error"]
    message: str
    path: str | None = None
    identified: list[str] = Field(default_factory=list)


class OpennessResult(_Result):
    mode: Mode
    model_name: str | None = None
    model_version: str | None = None
    source: str | None = None
    mof_class: ClassId
    class_label: str
    class_rank: int = Field(description="3 = Class I, 2 = Class II, 1 = Class III, 0 = unclassified")
    progress: dict[str, float] = Field(
        description="Progress of each class in percent, keyed 'I', 'II', 'III'"
    )
    total_progress: float
    technical_report_substituted: bool = False
    components: list[ComponentRow]
    warnings: list[str] = Field(default_factory=list)
    strict: StrictSummary | None = Field(None, description="What --strict-mot gives (default mode only)")
    art53: Art53Hint
    evidence: list[EvidenceFinding] = Field(default_factory=list)

    def component(self, name: str) -> ComponentRow:
        for row in self.components:
            if row.name == name:
                return row
        raise KeyError(name)

    @property
    def final_parameters_open(self) -> bool:
        return self.component("Model parameters (Final)").counted
