"""The compliance map: report content -> EU AI Act, NIST AI RMF and ISO/IEC 42001 references (packaged data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

FRAMEWORKS = ("eu_ai_act", "nist_ai_rmf", "iso_42001")


@dataclass(frozen=True)
class Mapping:
    """The references one check or report section maps to, per framework, and which rule matched."""

    refs: dict[str, list[str]]
    matched_by: str


@dataclass(frozen=True)
class ComplianceMap:
    version: int
    disclaimer: str
    frameworks: dict[str, dict[str, str]]
    references: dict[str, dict[str, str]]
    sections: dict[str, dict[str, list[str]]]
    checks: dict[str, dict[str, list[str]]]
    keywords: list[dict[str, Any]]
    categories: dict[str, dict[str, list[str]]]
    default: dict[str, list[str]] = field(default_factory=dict)

    def _pick(self, entry: dict[str, Any], how: str) -> Mapping:
        return Mapping({fw: list(entry.get(fw, [])) for fw in FRAMEWORKS}, how)

    def for_check(self, check_id: str, category: str) -> Mapping:
        if check_id in self.checks:
            return self._pick(self.checks[check_id], f"check {check_id}")
        lowered = check_id.lower()
        for entry in self.keywords:
            if str(entry["keyword"]).lower() in lowered:
                return self._pick(entry, f"keyword '{entry['keyword']}'")
        if category in self.categories:
            return self._pick(self.categories[category], f"category {category}")
        family = check_id.split(".", 1)[0]
        if family in self.categories:
            return self._pick(self.categories[family], f"family {family}")
        return self._pick(self.default, "default")

    def for_section(self, section: str) -> Mapping:
        entry = self.sections.get(section)
        return self._pick(entry, f"section {section}") if entry else self._pick(self.default, "default")

    def describe(self, framework: str, code: str) -> str:
        return self.references.get(framework, {}).get(code, "")

    def undefined_codes(self) -> list[str]:
        """Codes used by a mapping but missing from ``references`` (should be empty)."""
        entries: list[dict[str, Any]] = [*self.sections.values(), *self.checks.values(), *self.keywords,
                                         *self.categories.values(), self.default]
        missing = []
        for e in entries:
            for fw in FRAMEWORKS:
                for code in e.get(fw, []):
                    if code not in self.references.get(fw, {}):
                        missing.append(f"{fw}: {code}")
        return sorted(set(missing))


@lru_cache(maxsize=1)
def load_map() -> ComplianceMap:
    import yaml

    text = resources.files("trustaudit.render").joinpath("data/compliance_map.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    return ComplianceMap(
        version=int(raw["version"]),
        disclaimer=str(raw["disclaimer"]).strip(),
        frameworks=raw["frameworks"],
        references=raw["references"],
        sections=raw.get("sections", {}),
        checks=raw.get("checks", {}),
        keywords=raw.get("keywords", []),
        categories=raw.get("categories", {}),
        default=raw.get("default", {}),
    )
