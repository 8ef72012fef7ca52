"""A Markdown summary of the gate, appended to ``$GITHUB_STEP_SUMMARY`` when that variable is set."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from trustaudit.gate import Finding, GateResult
from trustaudit.results import Status

_ICON = {"pass": "✅", "warn": "⚠️", "fail": "❌", "error": "💥", "skipped": "⏭️"}
MAX_ROWS = 50


def _cell(text: object) -> str:
    """Table-cell safe text (pipes and newlines would break the table)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def _observed(f: Finding) -> str:
    ci = f" [{_num(f.ci.low)}, {_num(f.ci.high)}]" if f.ci is not None else ""
    return f"{_num(f.observed)}{ci}"


def _change(f: Finding) -> str:
    if f.change is None:
        return ""
    ci = (
        f" [{f.change_low:+.3g}, {f.change_high:+.3g}]"
        if f.change_low is not None and f.change_high is not None
        else ""
    )
    return f"{f.change:+.4g}{ci}"


def to_markdown(result: GateResult, *, max_rows: int = MAX_ROWS) -> str:
    verdict = "passed" if result.passed else "failed"
    icon = "✅" if result.passed else "❌"
    r = result.rubric
    lines = [
        f"## {icon} trustaudit gate {verdict}: {result.bundle_name} {result.bundle_version}",
        "",
        f"Rubric **{r.name}** {r.version} (`{r.source}`{', re-judged' if result.rejudged else ''}) · "
        f"fails on **{result.fail_on}** · overall status **{result.status.value}** · seed {result.seed} · "
        f"report `{result.report_id}`" + (f" · baseline `{result.baseline}`" if result.baseline else ""),
        "",
    ]
    for reason in result.reasons():
        lines.append(f"- {_cell(reason)}")
    if result.reasons():
        lines.append("")
    lines += ["| check | status | conditions | note |", "| --- | --- | --- | --- |"]
    for c in result.checks:
        mine = [f for f in result.findings if f.check_id == c.check_id]
        tally = ", ".join(
            f"{n} {s.value}"
            for s in (Status.FAIL, Status.WARN, Status.PASS, Status.SKIPPED)
            if (n := sum(1 for f in mine if f.status == s))
        )
        note = c.error or c.skipped_reason or c.summary
        lines.append(
            f"| `{c.check_id}` | {_ICON[c.status.value]} {c.status.value} | {tally or '-'} | {_cell(note)} |"
        )
    problems = result.problems()
    if problems:
        has_baseline = any(f.relative or f.baseline_state for f in problems)
        head = "| status | check | condition | subject | observed [CI] |"
        rule = "| --- | --- | --- | --- | --- |"
        if has_baseline:
            head += " change from baseline [CI] | baseline state |"
            rule += " --- | --- |"
        lines += ["", f"### Conditions not met ({len(problems)})", "", head, rule]
        for f in problems[:max_rows]:
            row = (
                f"| {_ICON[f.status.value]} {f.status.value} | `{f.check_id}` | `{_cell(f.condition)}` | "
                f"{_cell(f.subject or '')} | {_observed(f)} |"
            )
            if has_baseline:
                row += f" {_change(f)} | {f.baseline_state or ''} |"
            lines.append(row)
        if len(problems) > max_rows:
            lines += [
                "",
                f"… and {len(problems) - max_rows} more: see the JUnit or SARIF output or report.json.",
            ]
    if result.absent:
        lines += ["", f"### Resolved since the baseline ({len(result.absent)})", ""]
        for a in result.absent[:max_rows]:
            subject = f" [{a.subject}]" if a.subject else ""
            lines.append(f"- `{_cell(a.condition)}`{_cell(subject)} (was {a.status.value})")
    if result.notes:
        lines += [""] + [f"> {_cell(n)}" for n in result.notes]
    return "\n".join(lines) + "\n"


def write_step_summary(result: GateResult, env: Mapping[str, str] | None = None) -> Path | None:
    """Append the summary to ``$GITHUB_STEP_SUMMARY`` if it is set; return that path (or None)."""
    target = (os.environ if env is None else env).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    p = Path(target)
    with p.open("a", encoding="utf-8") as fh:
        fh.write(to_markdown(result) + "\n")
    return p
