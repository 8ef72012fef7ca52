"""A short Markdown summary for a pull-request comment or a CI job summary (GitHub-flavoured Markdown).

Verdict, counts by status, one line per check, the conditions not met (the first ``max_rows``, the rest in the
full report), and the checks that did not run with their reasons. Every user-provided text is escaped: HTML
special characters become entities and Markdown punctuation is backslash-escaped, so names containing
``<script>`` or ``{{ }}`` show as text. The result stays well under GitHub's 65,536-character comment limit
(``max_chars``).
"""

from __future__ import annotations

import re

from trustaudit.render.fmt import fmt_beside, fmt_ci, short_digest
from trustaudit.render.view.remedies import remedies_markdown
from trustaudit.results import AuditReport, Status

ICONS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "error": "💥", "skipped": "⏭️"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}()#+!|~])")
GITHUB_COMMENT_LIMIT = 65536


def md(text: object) -> str:
    """Escape text for a Markdown table cell or paragraph (HTML entities, Markdown punctuation, one line)."""
    s = str(text)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return " ".join(s.split())


def code(text: object) -> str:
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "&#124;")
    return f"<code>{' '.join(s.split())}</code>"


def _status(s: Status | str) -> str:
    v = s.value if isinstance(s, Status) else s
    return f"{ICONS.get(v, '')} {v}".strip()


def render_markdown(report: AuditReport, *, max_rows: int = 15, max_chars: int = 20000) -> str:
    """The Markdown summary; ``max_rows`` conditions not met are listed, the rest counted."""
    while True:
        text = _render(report, max_rows)
        if len(text) <= max_chars or max_rows == 0:
            return text
        max_rows //= 2


def _render(report: AuditReport, max_rows: int) -> str:
    b = report.bundle
    v = report.verdict.value
    model = next((f for f in b.files if f.role == "model"), None) or next(iter(b.files), None)
    out: list[str] = []
    out.append(f"### {ICONS.get(v, '')} trustaudit: **{v.upper()}** · {md(b.name)} {md(b.version)}")
    out.append("")
    out.append(f"Rubric {code(report.rubric.name + ' ' + report.rubric.version)} · seed {report.seed} · "
               f"{report.created_at.strftime('%Y-%m-%d %H:%M UTC')} · report {code(report.report_id)}")
    out.append("")
    statuses = ("pass", "warn", "fail", "error", "skipped")
    out.append("| " + " | ".join(f"{ICONS[s]} {s}" for s in statuses) + " |")
    out.append("|" + "---:|" * len(statuses))
    out.append("| " + " | ".join(str(report.counts.get(s, 0)) for s in statuses) + " |")
    out.append("")
    out.append("| check | status | summary |")
    out.append("|---|---|---|")
    rank = {"fail": 0, "error": 1, "warn": 2, "pass": 3, "skipped": 4}
    for c in sorted(report.checks, key=lambda c: rank.get(c.status.value, 5)):  # stable: report order within
        detail = c.summary or c.error or c.skipped_reason or ""
        if len(detail) > 160:
            detail = detail[:159] + "…"
        out.append(f"| {code(c.check_id)} | {_status(c.status)} | {md(detail)} |")
    out.append("")
    failures = [(c, cond) for c in report.checks for cond in c.conditions
                if cond.status in (Status.FAIL, Status.WARN)]
    failures.sort(key=lambda cc: 0 if cc[1].status == Status.FAIL else 1)
    if failures:
        out.append("<details><summary>Conditions not met: "
                   f"{sum(1 for _, x in failures if x.status == Status.FAIL)} fail, "
                   f"{sum(1 for _, x in failures if x.status == Status.WARN)} warn</summary>")
        out.append("")
        out.append("| check | condition | subject | observed [CI] | status |")
        out.append("|---|---|---|---|---|")
        for c, cond in failures[:max_rows]:
            ci = f" {fmt_ci(cond.ci.low, cond.ci.high)}" if cond.ci else ""
            out.append(f"| {code(c.check_id)} | {code(cond.condition)} | {md(cond.subject or 'all rows')} | "
                       f"{md(fmt_beside(cond.observed, *((cond.ci.low, cond.ci.high) if cond.ci else ())) + ci)} | {_status(cond.status)} |")
        if len(failures) > max_rows:
            out.append("")
            out.append(f"…and {len(failures) - max_rows} more in the full report.")
        out.append("")
        out.append("</details>")
        out.append("")
    out.extend(remedies_markdown(report))
    not_run = [c for c in report.checks if c.status in (Status.ERROR, Status.SKIPPED)]
    if not_run:
        out.append("**Not run:**")
        for c in not_run:
            out.append(f"- {code(c.check_id)} ({c.status.value}): {md(c.error or c.skipped_reason or '')}")
        out.append("")
    digest = f"{model.role} sha256:{short_digest(model.sha256)}" if model else "no file digests"
    out.append(f"<sub>{md(report.tool.name)} {md(report.tool.version)} · {md(digest)} · "
               "rendered from report.json (full report: HTML/PDF)</sub>")
    return "\n".join(out) + "\n"
