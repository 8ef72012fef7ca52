"""Helpers for the gate tests: small hand-made reports, and audits of the predictions-only Adult bundle."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trustaudit.results import (
    AuditReport,
    BundleIdentity,
    CheckResult,
    Interval,
    Metric,
    RubricRef,
    Status,
    ToolInfo,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SARIF_SCHEMA = HERE / "sarif-schema-2.1.0-rtm.5.json"  # see SARIF_SCHEMA_NOTICE.md


def metric(
    name: str,
    value: float | None,
    lo: float | None = None,
    hi: float | None = None,
    *,
    subject: str | None = None,
    n: int = 1000,
    judged: bool = True,
    attribute: str | None = None,
) -> Metric:
    ci = Interval(low=lo, high=hi, level=0.95, method="test") if lo is not None and hi is not None else None
    return Metric(name=name, value=value, ci=ci, n=n, subject=subject, judged=judged, attribute=attribute)


def check(
    check_id: str,
    metrics: list[Metric],
    *,
    status: Status = Status.PASS,
    error: str | None = None,
    reason: str | None = None,
) -> CheckResult:
    return CheckResult(
        check_id=check_id,
        category=check_id.split(".")[0],
        version="1",
        title=f"title of {check_id}",
        status=status,
        metrics=metrics,
        error=error,
        skipped_reason=reason,
        summary="s",
    )


def make_report(
    checks: list[CheckResult], *, rubric: RubricRef | None = None, source: str | None = None, seed: int = 0
) -> AuditReport:
    """A report whose checks have no conditions yet (judge it with gate(rubric=...) or api.apply_rubric)."""
    return AuditReport(
        report_id=str(uuid.uuid4()),
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        tool=ToolInfo(version="0.1.0", python="3.11", platform="linux"),
        bundle=BundleIdentity(
            name="toy",
            version="1.0.0",
            task="binary-classification",
            n_rows=1000,
            label="y",
            favorable_label="1",
            source=source,
        ),
        seed=seed,
        rubric=rubric or RubricRef(name="none", version="0", source="in-memory", sha256=""),
        checks=checks,
        verdict=Status.PASS,
        counts={},
        duration_s=0.1,
    )


def write_rubric(tmp_path: Path, text: str, name: str = "rubric.yaml") -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


TOY_RUBRIC = """\
rubric: 1
name: toy
checks:
  fairness.model:
    conditions:
      - {metric: disparate_impact, op: ">=", value: 0.8, severity: fail}
      - {metric: statistical_parity_difference, op: "<=", value: 0.1, abs: true, severity: warn}
"""


# -- real audits of the predictions-only Adult bundle (no model: fast) ------------------------------------

PROTECTED: dict[str, Any] = {"sex": ["Male"], "race": ["White"], "age": ">= 25"}
FAST = {"fairness.model": {"bootstrap": 300, "intersections": False}}


def audit_predictions(df: Any, seed: int = 0, params: dict[str, Any] | None = None) -> AuditReport:
    """Fairness audit of a DataFrame of labels and predictions (adult-income-predictions columns)."""
    from trustaudit.api import audit, in_memory_bundle

    b = in_memory_bundle(
        None,
        df.reset_index(drop=True),
        label="income",
        favorable_label=">50K",
        protected=PROTECTED,
        prediction="pred_income",
        name="adult-predictions",
    )
    return audit(b, checks=["fairness.model"], seed=seed, params=params or FAST)
