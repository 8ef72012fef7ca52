"""Regression baselines: the metrics (with their intervals) and the open findings of an accepted audit.

A baseline file is small JSON that is committed next to the rubric and rewritten by ``trustaudit baseline
update`` when a release is accepted::

    {
      "trustaudit_baseline": 1,
      "created_at": "...",
      "source": {"report_id": "...", "bundle_name": "...", "rubric": {...}, ...},
      "metrics": {"fairness.model": [{"name": "disparate_impact", "subject": "sex: Female vs Male",
                                      "value": 0.36, "ci": {"low": 0.33, "high": 0.39, ...}, "n": 16281}, ...]},
      "findings": [{"fingerprint": "...", "check_id": "fairness.model", "status": "fail", ...}]
    }

``metrics`` is what baseline-relative rubric conditions compare with; ``findings`` (the failed and warned
conditions at the time) give SARIF its ``baselineState``. A whole (or trimmed) ``report.json`` is accepted
wherever a baseline file is.
"""

from __future__ import annotations

import fnmatch
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trustaudit.errors import TrustAuditError
from trustaudit.gate.baseline_model import Baseline, BaselineFinding, BaselineSource
from trustaudit.results import AuditReport, Metric, Status
from trustaudit.rubrics import Rubric

DEFAULT_PATH = Path("trustaudit-baseline.json")

__all__ = [
    "DEFAULT_PATH",
    "Baseline",
    "BaselineFinding",
    "BaselineSource",
    "baseline_from_report",
    "load_baseline",
    "parse_baseline",
    "write_baseline",
]


def baseline_from_report(
    report: AuditReport, *, rubric: Rubric | str | Path | None = None, metrics: list[str] | None = None
) -> Baseline:
    """Make a baseline from a report: its metrics (all, or those whose names match ``metrics`` globs) and
    its failed and warned findings (judged with ``rubric`` when given, as :func:`trustaudit.gate.gate` does)."""
    from trustaudit.gate import gate

    kept: dict[str, list[Metric]] = {}
    for cr in report.checks:
        if cr.status in (Status.ERROR, Status.SKIPPED):
            continue
        ms = [
            m for m in cr.metrics if metrics is None or any(fnmatch.fnmatchcase(m.name, p) for p in metrics)
        ]
        if ms:
            kept[cr.check_id] = ms
    result = gate(report, rubric=rubric, allow_missing=True)
    findings = [
        BaselineFinding(
            fingerprint=f.fingerprint,
            check_id=f.check_id,
            rule_id=f.rule_id,
            condition=f.condition,
            metric=f.metric,
            subject=f.subject,
            status=f.status,
            observed=f.observed,
            ci=f.ci,
        )
        for f in result.problems()
    ]
    source = BaselineSource(
        report_id=report.report_id,
        created_at=report.created_at,
        bundle_name=report.bundle.name,
        bundle_version=report.bundle.version,
        seed=report.seed,
        tool_version=report.tool.version,
        rubric=result.rubric,
    )
    return Baseline(created_at=datetime.now(timezone.utc), source=source, metrics=kept, findings=findings)


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(x) for x in first["loc"]) or "(top level)"
    return f"{where}: {first['msg']}"


def parse_baseline(text: str | bytes, origin: str = "<baseline>") -> Baseline:
    """Read a baseline file, or a (trimmed) report.json, from its text."""
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrustAuditError(f"baseline {origin} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(raw, dict):
        raise TrustAuditError(f"baseline {origin} must be a JSON object (a baseline file or a report.json)")
    if "trustaudit_baseline" in raw:
        try:
            b = Baseline.model_validate(raw)
        except ValidationError as err:
            raise TrustAuditError(f"baseline {origin} is invalid: {_first_error(err)}") from None
    elif "schema_version" in raw and "checks" in raw:
        try:
            report = AuditReport.model_validate(raw)
        except ValidationError as err:
            raise TrustAuditError(
                f"baseline {origin} is not a valid trustaudit report: {_first_error(err)}"
            ) from None
        b = baseline_from_report(report)
    else:
        raise TrustAuditError(
            f"baseline {origin} is neither a baseline file ('trustaudit_baseline': 1) nor a trustaudit report; "
            "write one with 'trustaudit baseline update REPORT'"
        )
    b._origin = origin
    return b


def load_baseline(path: str | Path) -> Baseline:
    p = Path(path)
    if not p.is_file():
        raise TrustAuditError(
            f"baseline file {p} does not exist; create it with 'trustaudit baseline update REPORT --out {p}'"
        )
    return parse_baseline(p.read_bytes(), str(p))


def write_baseline(baseline: Baseline, path: str | Path) -> Path:
    """Write the baseline atomically; returns its path."""
    from trustaudit.results.io import atomic_write

    p = Path(path)
    atomic_write(p, baseline.to_json())
    return p
