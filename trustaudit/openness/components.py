"""The 17 components of the Model Openness Framework (MOF 1.0), as MOT names them."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

ComponentType = Literal["code", "data", "document"]
ClassId = Literal["I", "II", "III"]


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    type: ComponentType
    mof_class: ClassId
    required: bool


COMPONENTS: tuple[ComponentSpec, ...] = (
    ComponentSpec("Model architecture", "code", "III", True),
    ComponentSpec("Model parameters (Final)", "data", "III", True),
    ComponentSpec("Evaluation results", "document", "III", True),
    ComponentSpec("Model card", "document", "III", True),
    ComponentSpec("Data card", "document", "III", True),
    ComponentSpec("Technical report", "document", "III", True),
    ComponentSpec("Sample model outputs", "document", "III", False),
    ComponentSpec("Training code", "code", "II", True),
    ComponentSpec("Inference code", "code", "II", True),
    ComponentSpec("Evaluation code", "code", "II", True),
    ComponentSpec("Evaluation data", "data", "II", True),
    ComponentSpec("Supporting libraries and tools", "code", "II", False),
    ComponentSpec("Datasets", "data", "I", True),
    ComponentSpec("Data preprocessing code", "code", "I", True),
    ComponentSpec("Model parameters (Intermediate)", "data", "I", True),
    ComponentSpec("Research paper", "document", "I", True),
    ComponentSpec("Model metadata", "data", "I", False),
)

BY_NAME: dict[str, ComponentSpec] = {c.name: c for c in COMPONENTS}
COMPONENT_NAMES: tuple[str, ...] = tuple(BY_NAME)

TECHNICAL_REPORT = "Technical report"
RESEARCH_PAPER = "Research paper"
FINAL_PARAMETERS = "Model parameters (Final)"
ARCHITECTURE = "Model architecture"
MODEL_CARD = "Model card"

#: Required components of each class alone (classes are cumulative: III, then II, then I).
REQUIRED_BY_CLASS: dict[ClassId, tuple[str, ...]] = {
    k: tuple(c.name for c in COMPONENTS if c.required and c.mof_class == k) for k in ("III", "II", "I")
}
#: The bucket of each class: the required components of classes III down to it (6, 10, 14).
BUCKETS: dict[ClassId, tuple[str, ...]] = {
    "III": REQUIRED_BY_CLASS["III"],
    "II": REQUIRED_BY_CLASS["III"] + REQUIRED_BY_CLASS["II"],
    "I": REQUIRED_BY_CLASS["III"] + REQUIRED_BY_CLASS["II"] + REQUIRED_BY_CLASS["I"],
}

CLASS_LABELS: dict[str, str] = {
    "I": "Class I - Open Science Model",
    "II": "Class II - Open Tooling Model",
    "III": "Class III - Open Model",
    "unclassified": "Unclassified",
}
CLASS_RANK: dict[str, int] = {"I": 3, "II": 2, "III": 1, "unclassified": 0}
MOT_CLASS_NUMBER: dict[str, int] = {"I": 1, "II": 2, "III": 3, "unclassified": 0}


def closest_component(name: str) -> str | None:
    """The valid component name closest to ``name`` (case-insensitive), or None."""
    lowered = {n.lower(): n for n in COMPONENT_NAMES}
    hit = difflib.get_close_matches(name.strip().lower(), list(lowered), n=1, cutoff=0.4)
    return lowered[hit[0]] if hit else None
