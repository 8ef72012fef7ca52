"""The whole report's view: :func:`build_view` puts the sections in reading order."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from trustaudit.render.compliance import load_map
from trustaudit.render.fmt import fmt_num, short_digest
from trustaudit.render.view.cells import slug, status_cls
from trustaudit.render.view.checkview import check_view
from trustaudit.render.view.model import STATUS_WORDS, KeyValue, ReportView, SectionView, TableView
from trustaudit.render.view.remedies import remedies_section
from trustaudit.render.view.sections import (
    appendix_section,
    identity_section,
    methodology_section,
    model_file,
    not_run_section,
    report_date,
    verdict_section,
)
from trustaudit.results import AuditReport, CheckResult

CORE_CATEGORIES = (
    ("lineage", "Lineage and provenance",
     "Can the audited model and data be traced to what was trained and released?"),
    ("openness", "Openness and licensing",
     "How open the release is under the Model Openness Framework (MOF), component by component."),
    ("fairness", "Fairness",
     "Group metrics of labels and predictions, with bootstrap confidence intervals and group sizes."),
    ("robustness", "Robustness",
     "Behaviour under adversarial and random perturbations, with sample sizes and intervals."),
    ("explainability", "Explainability",
     "Which features drive the model's predictions, and how much it relies on protected attributes."),
)


def build_view(report: AuditReport, *, report_dir: Path | None = None, mode: str = "html") -> ReportView:
    """Everything the templates show, in reading order."""
    used: set[str] = {"top", "contents"}
    b = report.bundle
    role, digest = model_file(report)
    digest_label = f"{role} sha256:{short_digest(digest)}" if digest else "no file digests"
    sections: list[SectionView] = []
    a_verdict, a_identity = slug("verdict", used), slug("system-identity", used)
    check_anchors = {c.check_id: slug("check-" + c.check_id, used) for c in report.checks}
    sections.append(verdict_section(report, a_verdict, check_anchors))
    sections.append(identity_section(report, a_identity))
    by_cat: dict[str, list[CheckResult]] = {}
    for c in report.checks:
        by_cat.setdefault(c.category, []).append(c)
    cat_titles = {k: (t, i) for k, t, i in CORE_CATEGORIES}
    order = [k for k, _, _ in CORE_CATEGORIES] + [k for k in by_cat if k not in cat_titles]
    for cat in order:
        title, intro = cat_titles.get(cat, (cat[:1].upper() + cat[1:] if cat else "Other checks", ""))
        sec = SectionView(slug("section-" + cat, used), title, intro=intro, kind="checks")
        results = by_cat.get(cat, [])
        sec.checks = [check_view(c, check_anchors[c.check_id], report_dir, mode) for c in results]
        if not results:
            sec.empty_note = f"No {title.lower()} check ran in this audit: this report gives no evidence on it."
        sections.append(sec)
    remedies = remedies_section(report, slug("remedies", used))
    if remedies is not None:
        sections.append(remedies)
    sections.append(not_run_section(report, slug("not-run", used)))
    sections.append(methodology_section(report, slug("methodology", used)))
    sections.append(appendix_section(report, slug("appendix", used), check_anchors))
    counts = [KeyValue(st, fmt_num(report.counts.get(st, 0)), status_cls(st))
              for st in ("pass", "warn", "fail", "error", "skipped")]
    return ReportView(
        mode=mode,
        title=f"Trustworthiness audit: {b.name} {b.version}",
        model_name=b.name,
        model_version=b.version,
        header=f"{b.name} {b.version} · {digest_label}",
        digest_label=digest_label,
        report_id=report.report_id,
        created=report_date(report),
        verdict=report.verdict.value,
        verdict_words=STATUS_WORDS.get(report.verdict.value, report.verdict.value.upper()),
        rubric_label=f"{report.rubric.name} {report.rubric.version}",
        tool_label=f"{report.tool.name} {report.tool.version}",
        counts=counts,
        sections=sections,
        disclaimer=load_map().disclaimer,
    )


def iter_tables(view: ReportView) -> Iterable[TableView]:
    """Every table of the view (for tests and the Markdown renderer)."""
    for s in view.sections:
        yield from s.blocks
        for c in s.checks:
            if c.conditions:
                yield c.conditions
            yield from c.metric_tables
            yield from c.tables
