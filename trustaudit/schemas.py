"""JSON Schemas of the report, the manifest and rubrics (committed under schemas/)."""

from __future__ import annotations

from typing import Any


def json_schema(which: str) -> dict[str, Any]:
    if which == "report":
        from trustaudit.results import AuditReport

        schema = AuditReport.model_json_schema(mode="serialization")
    elif which == "manifest":
        from trustaudit.bundle.manifest import Manifest

        schema = Manifest.model_json_schema()
    elif which == "rubric":
        from trustaudit.rubrics import Rubric

        schema = Rubric.model_json_schema()
    else:
        raise KeyError(which)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://trustaudit.dev/schemas/{which}.schema.json"
    return schema
