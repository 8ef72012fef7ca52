"""SARIF 2.1.0 for code-scanning dashboards (GitHub code scanning, Azure DevOps, SARIF viewers).

One result per failed or warned condition (level ``error`` / ``warning``), each with a stable
``partialFingerprints["trustaudit/v1"]`` (check, condition, metric, subject: see
:func:`trustaudit.gate.fingerprint`) and, when the gate had a baseline, a ``baselineState``: ``new``,
``unchanged`` (same status and the same value within the confidence interval), ``updated``, or ``absent``
for a finding of the baseline that no longer fails or warns (emitted with ``kind: pass``, ``level: none``).

Results point at the bundle manifest (``trustaudit.yaml``), at the line declaring the protected attribute
when there is one, with paths relative to ``$GITHUB_WORKSPACE`` or the working directory (``%SRCROOT%``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from trustaudit.gate import FINGERPRINT_KEY, AbsentFinding, Finding, GateResult
from trustaudit.results import Status

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
_LEVEL = {Status.FAIL: "error", Status.WARN: "warning", Status.ERROR: "error"}


def _root() -> Path:
    return Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd()).resolve()


def _artifact(path: Path, root: Path) -> dict[str, Any]:
    p = path.resolve()
    try:
        return {"uri": p.relative_to(root).as_posix(), "uriBaseId": SRCROOT}
    except ValueError:
        return {"uri": p.as_uri()}


def _manifest_lines(path: Path) -> dict[str, int]:
    """Line of each protected attribute's key in the manifest (1-based)."""
    import yaml

    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    for k, v in node.value:
        if k.value == "protected" and isinstance(v, yaml.MappingNode):
            return {str(ak.value): ak.start_mark.line + 1 for ak, _ in v.value}
    return {}


def _target(result: GateResult, report_path: Path | None) -> Path | None:
    """The file results point at: the bundle manifest when it exists, else the report."""
    candidates: list[Path] = []
    if result.bundle_source and result.bundle_source != "in-memory":
        candidates.append(Path(result.bundle_source) / "trustaudit.yaml")
    if report_path is not None:
        candidates.append(report_path)
    return next((c for c in candidates if c.is_file()), candidates[0] if candidates else None)


def _rule(rule_id: str, f: Finding | AbsentFinding, by_rule: dict[str, Finding]) -> dict[str, Any]:
    full = by_rule.get(rule_id)
    title = full.check_title if full is not None and full.check_title else f.check_id
    relative = rule_id.endswith("/regression")
    short = f"{title}: {f.metric}" + (" (regression from the baseline)" if relative else "")
    desc = (full.description if full is not None else None) or f"Rubric condition: {f.condition}"
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": rule_id.replace("/", "_").replace(".", "_"),
        "shortDescription": {"text": short},
        "fullDescription": {"text": desc},
        "defaultConfiguration": {"level": "error" if full is None or full.severity == "fail" else "warning"},
        "properties": {
            "tags": ["trustaudit", full.category if full is not None and full.category else "audit"]
        },
    }
    return rule


def to_sarif(result: GateResult, *, report_path: str | Path | None = None) -> dict[str, Any]:
    """The SARIF log (a dict ready for ``json.dump``)."""
    root = _root()
    target = _target(result, Path(report_path) if report_path is not None else None)
    lines = _manifest_lines(target) if target is not None and target.name == "trustaudit.yaml" else {}
    problems = sorted(result.problems(), key=lambda f: f.fingerprint)
    absent = sorted(result.absent, key=lambda a: a.fingerprint)

    by_rule: dict[str, Finding] = {}
    for f in result.findings:
        by_rule.setdefault(f.rule_id, f)
    rule_ids = sorted({f.rule_id for f in problems} | {a.rule_id for a in absent})
    rules = []
    for rid in rule_ids:
        example: Finding | AbsentFinding = by_rule.get(rid) or next(a for a in absent if a.rule_id == rid)
        rules.append(_rule(rid, example, by_rule))
    index = {rid: i for i, rid in enumerate(rule_ids)}

    def location(attribute: str | None) -> list[dict[str, Any]]:
        if target is None:
            return []
        line = lines.get((attribute or "").split("*")[0], 1)
        return [
            {"physicalLocation": {"artifactLocation": _artifact(target, root), "region": {"startLine": line}}}
        ]

    results: list[dict[str, Any]] = []
    for f in problems:
        props: dict[str, Any] = {
            "check": f.check_id,
            "metric": f.metric,
            "condition": f.condition,
            "severity": f.severity,
            "status": f.status.value,
        }
        for key in ("subject", "observed", "n", "baseline_value", "change", "change_low", "change_high"):
            val = getattr(f, key)
            if val is not None:
                props[key] = val
        if f.ci is not None:
            props["ci"] = [f.ci.low, f.ci.high, f.ci.level]
        res: dict[str, Any] = {
            "ruleId": f.rule_id,
            "ruleIndex": index[f.rule_id],
            "kind": "fail",
            "level": _LEVEL[f.status],
            "message": {"text": f.message},
            "locations": location(f.attribute),
            "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
            "properties": props,
        }
        if f.baseline_state is not None:
            res["baselineState"] = f.baseline_state
        results.append(res)
    for a in absent:
        was = f" = {a.observed:.4g}" if a.observed is not None else ""
        subject = f" for {a.subject}" if a.subject else ""
        results.append(
            {
                "ruleId": a.rule_id,
                "ruleIndex": index[a.rule_id],
                "kind": "pass",
                "level": "none",
                "message": {
                    "text": f"resolved since the baseline: {a.condition}{subject} (was {a.status.value}{was})"
                },
                "locations": location(None),
                "partialFingerprints": {FINGERPRINT_KEY: a.fingerprint},
                "baselineState": "absent",
                "properties": {
                    "check": a.check_id,
                    "metric": a.metric,
                    "condition": a.condition,
                    "baseline_status": a.status.value,
                },
            }
        )

    notifications = [
        {"level": "error", "message": {"text": f"{c.check_id}: {c.error}"}, "descriptor": {"id": c.check_id}}
        for c in result.checks
        if c.status == Status.ERROR
    ]
    invocation: dict[str, Any] = {
        "executionSuccessful": not notifications,
        "exitCode": result.exit_code,
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "trustaudit",
                "version": result.tool_version,
                "semanticVersion": result.tool_version,
                "rules": rules,
            }
        },
        "automationDetails": {"id": f"trustaudit/{result.bundle_name}/"},
        "originalUriBaseIds": {SRCROOT: {"uri": root.as_uri() + "/"}},
        "invocations": [invocation],
        "results": results,
        "properties": {
            "verdict": "pass" if result.passed else "fail",
            "status": result.status.value,
            "failOn": result.fail_on,
            "bundle": f"{result.bundle_name} {result.bundle_version}",
            "reportId": result.report_id,
            "rubric": result.rubric.model_dump(),
            "baseline": result.baseline,
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def write_sarif(result: GateResult, path: str | Path, *, report_path: str | Path | None = None) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(to_sarif(result, report_path=report_path), indent=2) + "\n", encoding="utf-8")
    return p
