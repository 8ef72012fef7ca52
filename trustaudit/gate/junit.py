"""JUnit XML for CI test tabs (GitLab, Jenkins, Azure, GitHub test reporters), written with junitparser.

One ``<testsuite>`` per check. In it, one test case for the check itself (an ``<error>`` when the check
crashed or is missing, ``<skipped>`` when it could not run) and one per rubric condition applied to a metric:
``<failure>`` when it failed (and, with ``fail_on='warn'``, when it warned), ``<skipped>`` when it was not
judged; a warning under ``fail_on='fail'`` passes with the warning in ``<system-out>``.
"""

from __future__ import annotations

from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from trustaudit.gate import Finding, GateCheck, GateResult
from trustaudit.results import Status


def _check_case(check: GateCheck) -> TestCase:
    case = TestCase(
        name=f"{check.check_id} ran", classname=f"trustaudit.{check.check_id}", time=check.duration_s
    )
    if check.status == Status.ERROR:
        case.result = [Error(message=check.error or "error", type_="error")]
    elif check.status == Status.SKIPPED:
        case.result = [Skipped(message=check.skipped_reason or "skipped")]
    else:
        case.system_out = f"{check.check_id}: {check.status.value}. {check.summary}".strip()
    return case


def _condition_case(f: Finding, fail_on: str) -> TestCase:
    name = f"{f.condition} [{f.subject}]" if f.subject else f.condition
    case = TestCase(name=name, classname=f"trustaudit.{f.check_id}.{f.metric}", time=0.0)
    if f.status == Status.FAIL or (f.status == Status.WARN and fail_on == "warn"):
        case.result = [Failure(message=f.message, type_=f.status.value)]
    elif f.status == Status.SKIPPED:
        case.result = [Skipped(message=f.message)]
    elif f.status == Status.WARN:
        case.system_out = f"WARN: {f.message}"
    else:
        case.system_out = f.message
    return case


def to_junit(result: GateResult) -> JUnitXml:
    xml = JUnitXml(name=f"trustaudit {result.bundle_name} {result.bundle_version}")
    for check in result.checks:
        suite = TestSuite(f"trustaudit.{check.check_id}")
        suite.add_property("bundle", f"{result.bundle_name} {result.bundle_version}")
        suite.add_property("rubric", f"{result.rubric.name} {result.rubric.version} ({result.rubric.source})")
        suite.add_property("report_id", result.report_id)
        suite.add_property("fail_on", result.fail_on)
        if result.baseline:
            suite.add_property("baseline", result.baseline)
        suite.add_testcase(_check_case(check))
        for f in result.findings:
            if f.check_id == check.check_id:
                suite.add_testcase(_condition_case(f, result.fail_on))
        suite.update_statistics()
        suite.time = check.duration_s
        xml.add_testsuite(suite)
    xml.update_statistics()
    return xml


def write_junit(result: GateResult, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    to_junit(result).write(str(p), pretty=True)
    return p
