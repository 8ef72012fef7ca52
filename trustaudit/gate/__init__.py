"""The CI gate: decide pass or fail from a report, optionally against a rubric and a baseline.

``gate()`` is pure: it reads an :class:`~trustaudit.results.AuditReport` (and a baseline), never re-runs a check,
and returns a :class:`GateResult` from which the JUnit, SARIF and Markdown renderings are made. Re-judging with
another rubric re-applies that rubric's conditions to the metrics stored in the report.

Exit codes follow the CLI: 0 the gate passes, 1 it fails, 2 bad input (raised as
:class:`~trustaudit.errors.TrustAuditError` before any verdict).
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from trustaudit.errors import TrustAuditError
from trustaudit.results import AuditReport, CheckResult, ConditionResult, Interval, Metric, RubricRef, Status
from trustaudit.rubrics import Rubric, check_conditions, judge, load_rubric, status_of

if TYPE_CHECKING:
    from trustaudit.gate.baseline_model import Baseline

FailOn = Literal["fail", "warn"]
BaselineState = Literal["new", "unchanged", "updated", "absent"]

__all__ = [
    "FailOn",
    "Finding",
    "GateCheck",
    "GateResult",
    "fingerprint",
    "gate",
    "rubric_of_report",
]

FINGERPRINT_KEY = "trustaudit/v1"


def fingerprint(check_id: str, condition: str, metric: str, subject: str | None) -> str:
    """Stable identity of a finding: the check, the condition as written and the metric's subject.

    The observed value and the severity are left out, so a finding that gets worse (warn -> fail) or moves keeps
    its identity; changing a condition's bound in the rubric makes a new finding.
    """
    text = "\x1f".join((check_id, condition, metric, subject or ""))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class Finding(BaseModel):
    """One rubric condition applied to one metric, as the gate judged it."""

    model_config = ConfigDict(extra="forbid")

    check_id: str
    check_title: str = ""
    category: str = ""
    rule_id: str = Field(description="check id / metric (/regression for baseline-relative conditions)")
    condition: str
    description: str | None = None
    metric: str
    subject: str | None = None
    attribute: str | None = None
    severity: Literal["fail", "warn"]
    status: Status
    observed: float | None = None
    ci: Interval | None = None
    n: int | None = None
    message: str
    relative: bool = False
    baseline_value: float | None = None
    baseline_ci: Interval | None = None
    change: float | None = Field(None, description="current - baseline (absolute values with abs: true)")
    change_low: float | None = None
    change_high: float | None = None
    fingerprint: str
    baseline_state: BaselineState | None = Field(
        None, description="Failed or warned findings, when a baseline is given: new, unchanged or updated"
    )

    @property
    def key(self) -> str:
        return f"{self.metric}[{self.subject}]" if self.subject else self.metric


class AbsentFinding(BaseModel):
    """A finding that failed or warned in the baseline and no longer does (SARIF baselineState 'absent')."""

    model_config = ConfigDict(extra="forbid")

    check_id: str
    rule_id: str
    condition: str
    metric: str
    subject: str | None = None
    status: Status = Field(description="Its status in the baseline")
    observed: float | None = None
    fingerprint: str


class GateCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    check_id: str
    title: str = ""
    category: str = ""
    status: Status
    summary: str = ""
    error: str | None = None
    skipped_reason: str | None = None
    duration_s: float = 0.0


class GateResult(BaseModel):
    """The gate's verdict and everything the CI renderings need."""

    model_config = ConfigDict(extra="forbid")

    passed: bool
    status: Status = Field(description="Worst status over the checks (skipped ones aside)")
    fail_on: FailOn
    exit_code: int
    report_id: str
    report_created_at: datetime
    bundle_name: str
    bundle_version: str
    bundle_source: str | None = None
    seed: int
    tool_version: str
    rubric: RubricRef
    rejudged: bool = Field(
        description="True when an explicit rubric was re-applied to the report's metrics (else its own)"
    )
    baseline: str | None = Field(None, description="Where the baseline came from")
    baseline_report_id: str | None = None
    family_size: int = Field(1, description="Baseline-relative changes judged together (Bonferroni)")
    checks: list[GateCheck]
    findings: list[Finding]
    absent: list[AbsentFinding] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def problems(self) -> list[Finding]:
        """Failed and warned findings, worst first (stable order)."""
        bad = [f for f in self.findings if f.status in (Status.FAIL, Status.WARN)]
        return sorted(
            bad, key=lambda f: (-f.status.rank, f.check_id, f.rule_id, f.subject or "", f.condition)
        )

    def counts(self) -> dict[str, int]:
        """Findings by status."""
        return {s.value: sum(1 for f in self.findings if f.status == s) for s in Status}

    def reasons(self) -> list[str]:
        """Why the gate failed, one line per failing check (empty when it passed)."""
        if self.passed:
            return []
        limit = _threshold(self.fail_on)
        out: list[str] = []
        for c in self.checks:
            if c.status.rank < limit or c.status == Status.SKIPPED:
                continue
            if c.status == Status.ERROR:
                out.append(f"{c.check_id}: error: {c.error}")
                continue
            mine = [f for f in self.findings if f.check_id == c.check_id and f.status.rank >= limit]
            n_fail = sum(1 for f in mine if f.status == Status.FAIL)
            n_warn = len(mine) - n_fail
            parts = [
                p for p in (f"{n_fail} failed" if n_fail else "", f"{n_warn} warned" if n_warn else "") if p
            ]
            out.append(f"{c.check_id}: {' and '.join(parts)} condition(s)")
        return out


def _threshold(fail_on: FailOn) -> int:
    return Status.WARN.rank if fail_on == "warn" else Status.ERROR.rank


# -- rubric resolution ------------------------------------------------------------------------------


def rubric_of_report(report: AuditReport) -> Rubric | None:
    """Load the rubric the report was judged with, if it is still there unchanged (same sha256); else None."""
    ref = report.rubric
    source = ref.source
    if source.startswith("packaged:"):
        name: str | Path = source.split(":", 1)[1]
    elif source and source != "in-memory":
        path = Path(source)
        if not path.is_file():
            return None
        name = path
    else:
        return None
    try:
        rub = load_rubric(name)
    except TrustAuditError:
        return None
    return rub if rub.sha256 == ref.sha256 else None


def _as_rubric(rubric: Rubric | str | Path) -> Rubric:
    """Load a rubric for re-judging and check its conditions against the installed checks' declared metrics."""
    rub = rubric if isinstance(rubric, Rubric) else load_rubric(rubric)
    from trustaudit.checks import registry

    known = set(registry.available())
    for cid in rub.checks:
        if cid in known:
            try:
                cls = registry.load(cid)
            except registry.PluginLoadError:
                continue
            check_conditions(rub, cid, cls)
    return rub


def _required(rub: Rubric, check_id: str) -> bool:
    """Does the rubric expect this check to have run (enabled, with conditions, selected by ``run``)?"""
    pol = rub.checks[check_id]
    if not pol.enabled or not pol.conditions:
        return False
    if rub.run is not None:
        return any(fnmatch.fnmatchcase(check_id, p) or check_id.split(".")[0] == p for p in rub.run)
    # no run list: the audit runs the default-enabled checks (a check that is not installed is required)
    from trustaudit.checks import registry

    if check_id not in registry.available():
        return True
    try:
        return registry.load(check_id).default_enabled
    except Exception:  # a broken plug-in: the check cannot have run
        return True


# -- the gate -----------------------------------------------------------------------------------------


def gate(
    report: AuditReport,
    *,
    rubric: Rubric | str | Path | None = None,
    baseline: Baseline | None = None,
    fail_on: FailOn = "fail",
    allow_missing: bool = False,
) -> GateResult:
    """Decide whether ``report`` passes.

    Parameters
    ----------
    report
        The audit report (``trustaudit.api.load_report``).
    rubric
        Re-judge the report's metrics with this rubric (a ``Rubric``, a packaged name or a YAML path). Without
        one the gate re-applies the report's own rubric when it can still be loaded unchanged (needed for
        baseline-relative conditions), else it uses the conditions stored in the report.
    baseline
        A :class:`~trustaudit.gate.baseline.Baseline` (``load_baseline``): baseline-relative conditions are
        judged against it, and failed or warned findings get a ``baseline_state``.
    fail_on
        ``fail``: the gate fails on a failed condition or a check in error; ``warn``: also on a warning.
    allow_missing
        With an explicit ``rubric``: a check that it sets conditions on but the report lacks is an error
        (fail closed) unless this is set (then it is skipped).

    Examples
    --------
    >>> from trustaudit.results.io import load_report                    # doctest: +SKIP
    >>> result = gate(load_report("out/report.json"), fail_on="warn")     # doctest: +SKIP
    >>> result.exit_code                                                  # doctest: +SKIP
    """
    if fail_on not in ("fail", "warn"):
        raise TrustAuditError(f"fail_on must be 'fail' or 'warn', not {fail_on!r}")
    notes: list[str] = []
    rejudged = rubric is not None
    rub = _as_rubric(rubric) if rubric is not None else rubric_of_report(report)
    if rubric is None and rub is None:
        msg = (
            f"rubric '{report.rubric.name}' ({report.rubric.source}) cannot be reloaded unchanged: "
            "judging the conditions stored in the report"
        )
        if baseline is not None:
            msg += "; baseline-relative conditions need --rubric"
        notes.append(msg)

    base_metrics = baseline.metric_index() if baseline is not None else {}
    findings: list[Finding] = []
    checks: list[GateCheck] = []
    family = _family_size(report, rub, base_metrics) if rub is not None else 1
    if rub is not None and rub.baseline_correction == "none":
        family = 1

    for cr in report.checks:
        status = cr.status
        mine: list[Finding] = []
        if cr.status not in (Status.ERROR, Status.SKIPPED):
            if rub is None:
                conds = list(cr.conditions)
            else:
                conds = judge(cr, rub.policy(cr.check_id).conditions, baseline=base_metrics, family_size=family)
            mine = [_finding(cr, c) for c in conds]
            if cr.category == "fairness":
                for f in mine:
                    _point_to_remedy(report, f)
            status, _ = status_of(conds, baseline_given=baseline is not None)
        findings.extend(mine)
        checks.append(
            GateCheck(
                check_id=cr.check_id,
                title=cr.title,
                category=cr.category,
                status=status,
                summary=cr.summary,
                error=cr.error,
                skipped_reason=cr.skipped_reason,
                duration_s=cr.duration_s,
            )
        )

    if rubric is not None and rub is not None:
        have = {c.check_id for c in report.checks}
        for cid in sorted(rub.checks):
            if cid in have or not _required(rub, cid):
                continue
            why = (
                f"rubric '{rub.name}' sets conditions on {cid} but the report has no result for it; "
                f"re-run the audit with this rubric, or pass --allow-missing"
            )
            checks.append(
                GateCheck(
                    check_id=cid,
                    status=Status.SKIPPED if allow_missing else Status.ERROR,
                    error=None if allow_missing else why,
                    skipped_reason=why if allow_missing else None,
                )
            )

    has_relative = rub is not None and any(c.relative_to for p in rub.checks.values() for c in p.conditions)
    if has_relative and baseline is None:
        notes.append("baseline-relative conditions were skipped: no baseline given (--baseline FILE)")
    elif has_relative and not any(f.relative and f.status != Status.SKIPPED for f in findings):
        notes.append("no baseline-relative condition could be judged: the baseline has none of their metrics")

    absent: list[AbsentFinding] = []
    if baseline is not None:
        absent = _baseline_states(findings, baseline)

    verdict = Status.worst([c.status for c in checks if c.status != Status.SKIPPED], default=Status.PASS)
    passed = verdict.rank < _threshold(fail_on)
    rref = rub.ref() if rub is not None else report.rubric
    return GateResult(
        passed=passed,
        status=verdict,
        fail_on=fail_on,
        exit_code=0 if passed else 1,
        report_id=report.report_id,
        report_created_at=report.created_at,
        bundle_name=report.bundle.name,
        bundle_version=report.bundle.version,
        bundle_source=report.bundle.source,
        seed=report.seed,
        tool_version=report.tool.version,
        rubric=rref,
        rejudged=rejudged,
        baseline=baseline.origin if baseline is not None else None,
        baseline_report_id=baseline.source.report_id if baseline is not None else None,
        family_size=family,
        checks=checks,
        findings=findings,
        absent=absent,
        notes=notes,
    )


def _family_size(report: AuditReport, rub: Rubric, base: dict[tuple[str, str], Metric]) -> int:
    """How many baseline-relative changes will be judged on an interval (the Bonferroni family)."""
    k = 0
    for cr in report.checks:
        if cr.status in (Status.ERROR, Status.SKIPPED):
            continue
        for cond in rub.policy(cr.check_id).conditions:
            if cond.relative_to is None or cond.judge != "interval":
                continue
            for m in cr.metrics:
                b = base.get((cr.check_id, m.key))
                if (
                    cond.matches(m)
                    and m.judged
                    and _defined(m.value)
                    and b is not None
                    and _defined(b.value)
                    and m.ci is not None
                    and b.ci is not None
                ):
                    k += 1
    return max(k, 1)


def _defined(v: float | None) -> bool:
    return v is not None and not math.isnan(v)


def _rule_id(check_id: str, metric: str, relative: bool) -> str:
    return f"{check_id}/{metric}" + ("/regression" if relative else "")


def _finding(cr: CheckResult, c: ConditionResult) -> Finding:
    """A gate finding from a judged condition (the rubric module's judge, or a condition stored in the report)."""
    if c.spec is not None:
        relative = c.spec.relative_to is not None
        description = c.spec.description
    else:  # a schema 1.0 report judged with a rubric that can no longer be loaded: only the text is left
        relative, description = " baseline" in c.condition, None
    m = next((x for x in cr.metrics if x.name == c.metric and x.subject == c.subject), None)
    return Finding(
        check_id=cr.check_id,
        check_title=cr.title,
        category=cr.category,
        rule_id=_rule_id(cr.check_id, c.metric, relative),
        condition=c.condition,
        description=description,
        metric=c.metric,
        subject=c.subject,
        attribute=m.attribute if m is not None else None,
        severity=c.severity,
        status=c.status,
        observed=c.observed,
        ci=c.ci,
        n=m.n if m is not None else None,
        message=c.message,
        relative=relative,
        baseline_value=c.baseline_value,
        baseline_ci=c.baseline_ci,
        change=c.change,
        change_low=c.change_low,
        change_high=c.change_high,
        fingerprint=fingerprint(cr.check_id, c.condition, c.metric, c.subject),
    )


def _point_to_remedy(report: AuditReport, f: Finding) -> None:
    """Append the best measured remedy (a ``mitigation.fairness`` result in the report) to a failed or warned
    fairness finding's message, so JUnit and SARIF point at it."""
    if f.status not in (Status.FAIL, Status.WARN) or f.check_id == "mitigation.fairness":
        return
    from trustaudit.checks.mitigation.pointer import remedy_pointer

    pointer = remedy_pointer(report, f.attribute, f.metric)
    if pointer:
        f.message = f"{f.message}; {pointer}"


def _same_value(now: Finding, before_value: float | None, before_ci: Interval | None) -> bool:
    """Unchanged within noise: equal values, or either value inside the other's confidence interval."""
    if now.observed is None or before_value is None:
        return now.observed is None and before_value is None
    if math.isclose(now.observed, before_value, rel_tol=1e-9, abs_tol=1e-12):
        return True
    if now.ci is not None and now.ci.low <= before_value <= now.ci.high:
        return True
    return before_ci is not None and before_ci.low <= now.observed <= before_ci.high


def _baseline_states(findings: list[Finding], baseline: Baseline) -> list[AbsentFinding]:
    """Set ``baseline_state`` on failed/warned findings; return the baseline's problems that are gone."""
    before = {f.fingerprint: f for f in baseline.findings}
    current: set[str] = set()
    for f in findings:
        if f.status not in (Status.FAIL, Status.WARN):
            continue
        current.add(f.fingerprint)
        old = before.get(f.fingerprint)
        if old is None:
            f.baseline_state = "new"
        elif old.status == f.status and _same_value(f, old.observed, old.ci):
            f.baseline_state = "unchanged"
        else:
            f.baseline_state = "updated"
    return [
        AbsentFinding(
            check_id=o.check_id,
            rule_id=o.rule_id,
            condition=o.condition,
            metric=o.metric,
            subject=o.subject,
            status=o.status,
            observed=o.observed,
            fingerprint=o.fingerprint,
        )
        for o in baseline.findings
        if o.fingerprint not in current
    ]
