from __future__ import annotations

from typing import Any

from trustaudit.openness import Declaration, declaration_from_mapping
from trustaudit.openness.components import BUCKETS


def decl(components: list[dict[str, Any]], **globals_: str) -> Declaration:
    lic = {k: {"name": v} for k, v in globals_.items()}
    return declaration_from_mapping({"release": {"name": "m", "license": lic, "components": components}})


def full(names: tuple[str, ...], license_: str = "Apache-2.0") -> list[dict[str, Any]]:
    return [{"name": n, "license": license_} for n in names]


CLASS_III = BUCKETS["III"]
CLASS_II = BUCKETS["II"]
CLASS_I = BUCKETS["I"]
