"""The best measured remedy of a failed fairness condition, read from a report's ``mitigation.fairness`` result.

Used by the gate (JUnit/SARIF text of a failed condition) and the renderers; it reads report.json only and
imports neither scikit-learn nor fairlearn.
"""

from __future__ import annotations

from typing import Any

from trustaudit.results import AuditReport, CheckResult

__all__ = ["MITIGATION_CHECK", "mitigation_result", "remedy_pointer"]

MITIGATION_CHECK = "mitigation.fairness"


def mitigation_result(report: AuditReport) -> CheckResult | None:
    """The report's ``mitigation.fairness`` result when it measured remedies (its ``evidence.attributes``)."""
    return next((c for c in report.checks if c.check_id == MITIGATION_CHECK and c.evidence.get("attributes")), None)


def remedy_pointer(report: AuditReport, attribute: str | None, metric: str) -> str | None:
    """One line naming the best measured remedy for a condition on ``metric`` of protected ``attribute``, or None
    when the report has no measured remedy that meets it."""
    res = mitigation_result(report)
    if res is None:
        return None
    for attr in res.evidence["attributes"]:
        if attribute is not None and attr["attribute"] != attribute:
            continue
        for cond, best in (attr.get("best_for") or {}).items():
            if not best or metric not in cond:
                continue
            r: dict[str, Any] | None = next((x for x in attr["remedies"] if x["label"] == best), None)
            if r is None:
                continue
            m = r["metrics"].get(metric) or {}
            v, lo, hi = m.get("value"), m.get("low"), m.get("high")
            ch = (r.get("accuracy_change") or {}).get("value")
            vals = f"{metric} {v:.3f}" if v is not None else metric
            vals += f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""
            acc = f", accuracy {ch:+.3f}" if ch is not None else ""
            return (f"best measured remedy ({MITIGATION_CHECK}): {best}: {vals}{acc} on the evaluation rows, "
                    f"{r['conditions_met']}/{len(r['conditions'])} conditions met; see docs/mitigation.md")
    return None
