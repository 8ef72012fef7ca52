"""The report's sections around the checks: verdict, system identity, skipped and errored checks,
methodology and the compliance appendix.
"""

from __future__ import annotations

from trustaudit.render.compliance import FRAMEWORKS, load_map
from trustaudit.render.fmt import fmt_duration, fmt_num, fmt_value
from trustaudit.render.view.cells import num_cell, status_cls
from trustaudit.render.view.model import STATUS_RANK, STATUS_WORDS, Cell, KeyValue, SectionView, TableView
from trustaudit.results import AuditReport, Status


def model_file(report: AuditReport) -> tuple[str, str | None]:
    for role in ("model", "data"):
        f = next((f for f in report.bundle.files if f.role == role), None)
        if f is not None:
            return role, f.sha256
    return "model", None


def verdict_section(report: AuditReport, anchor: str, checks_anchor: dict[str, str]) -> SectionView:
    rub = report.rubric
    s = SectionView(anchor, "Verdict", kind="verdict")
    s.facts = [
        KeyValue("Verdict", STATUS_WORDS.get(report.verdict.value, report.verdict.value.upper()),
                 status_cls(report.verdict)),
        KeyValue("Rubric (policy)", f"{rub.name} {rub.version}"),
        KeyValue("Rubric source", rub.source),
        KeyValue("Rubric sha256", rub.sha256, "mono"),
    ]
    s.blocks.append(TableView("Checks by status", [st for st in ("pass", "warn", "fail", "error", "skipped")],
                              [[Cell(fmt_num(report.counts.get(st, 0)), cls="num " + status_cls(st))
                                for st in ("pass", "warn", "fail", "error", "skipped")]], cls="counts"))
    order = sorted(enumerate(report.checks), key=lambda ic: (STATUS_RANK[ic[1].status.value], ic[0]))
    s.blocks.append(TableView(
        "Checks", ["check", "category", "status", "summary or reason"],
        [[Cell(c.check_id, cls="mono"), Cell(c.category), Cell(c.status.value, cls=status_cls(c.status)),
          Cell(c.summary or c.error or c.skipped_reason or "")] for _, c in order],
        cls="overview",
    ))
    failures = []
    for c in report.checks:
        for cond in c.conditions:
            if cond.status in (Status.FAIL, Status.WARN):
                failures.append((c, cond))
    worst = "fail" if any(cond.status == Status.FAIL for _, cond in failures) else "warn"
    listed = [(c, cond) for c, cond in failures if cond.status.value == worst]
    if failures:
        title = "Failed conditions" if worst == "fail" else "Conditions with warnings"
        if worst == "fail" and len(listed) < len(failures):
            s.notes.append("Conditions that only warn are listed in each check's 'Rubric conditions' table.")
        failures = listed
        s.blocks.append(TableView(
            title, ["check", "condition", "subject", "observed [CI]", "status"],
            [[Cell(c.check_id, cls="mono"), Cell(cond.condition, cls="mono"), Cell(cond.subject or "all rows"),
              num_cell(cond.observed, cond.ci), Cell(cond.status.value, cls=status_cls(cond.status))]
             for c, cond in failures],
            note="fail: the rubric's bound is violated (by the whole confidence interval when judged on the "
                 "interval); warn: a warn-severity condition is violated, or only the point estimate violates "
                 "a fail-severity bound.",
            cls="failures",
        ))
    else:
        s.notes.append("Every judged rubric condition is met.")
    errored = [c for c in report.checks if c.status in (Status.ERROR, Status.SKIPPED)]
    if errored:
        s.notes.append("Some checks did not run to completion; they are listed under 'Skipped and errored "
                       "checks' and limit what this report can say.")
    return s


def identity_section(report: AuditReport, anchor: str) -> SectionView:
    b, t, rub = report.bundle, report.tool, report.rubric
    s = SectionView(anchor, "System identity", kind="identity",
                    intro="What was audited, with which tool and settings. Digests identify the exact files.")
    s.blocks.append(TableView("Model and data", ["field", "value"], [
        [Cell("name"), Cell(b.name)],
        [Cell("version"), Cell(b.version)],
        [Cell("task"), Cell(b.task)],
        [Cell("description"), Cell(b.description or "")],
        [Cell("source"), Cell(b.source or "", cls="mono")],
        [Cell("model format"), Cell(b.model_format or "none (predictions only)")],
        [Cell("model type"), Cell(b.model_type or "n/a", cls="mono")],
        [Cell("evaluation rows"), Cell(fmt_num(b.n_rows), cls="num")],
        [Cell("label"), Cell(b.label)],
        [Cell("favourable label"), Cell(b.favorable_label or f"none ({b.task})")],
    ], cls="kv"))
    if b.protected:
        s.blocks.append(TableView("Protected attributes", ["attribute", "privileged group"],
                                  [[Cell(k), Cell(v)] for k, v in b.protected.items()]))
    if b.files:
        s.blocks.append(TableView("Files and digests", ["path", "role", "sha256", "bytes"],
                                  [[Cell(f.path, cls="mono"), Cell(f.role), Cell(f.sha256, cls="mono digest"),
                                    Cell(fmt_num(f.bytes), cls="num")] for f in b.files]))
    s.blocks.append(TableView("Audit run", ["field", "value"], [
        [Cell("report id"), Cell(report.report_id, cls="mono")],
        [Cell("created"), Cell(report_date(report))],
        [Cell("report schema"), Cell(report.schema_version)],
        [Cell("seed"), Cell(fmt_num(report.seed), cls="num")],
        [Cell("rubric"), Cell(f"{rub.name} {rub.version} ({rub.source})")],
        [Cell("rubric sha256"), Cell(rub.sha256, cls="mono digest")],
        [Cell("tool"), Cell(f"{t.name} {t.version}")],
        [Cell("python / platform"), Cell(f"{t.python} / {t.platform}")],
        [Cell("audit duration"), Cell(fmt_duration(report.duration_s))],
        [Cell("prediction time"), Cell(fmt_duration(report.prediction_s))],
    ], cls="kv"))
    s.blocks.append(TableView("Check versions", ["check", "version", "status", "duration"], [
        [Cell(c.check_id, cls="mono"), Cell(c.version), Cell(c.status.value, cls=status_cls(c.status)),
         Cell(fmt_duration(c.duration_s), cls="num")] for c in report.checks]))
    if report.packages:
        s.blocks.append(TableView("Package versions", ["package", "version"],
                                  [[Cell(k, cls="mono"), Cell(v)] for k, v in report.packages.items()]))
    s.notes = list(report.warnings)
    return s


def report_date(report: AuditReport) -> str:
    return report.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")


def not_run_section(report: AuditReport, anchor: str) -> SectionView:
    s = SectionView(anchor, "Skipped and errored checks", kind="not-run",
                    intro="Checks that could not run on this bundle, and rubric conditions whose metric was not "
                          "measured. They are limitations of this audit, not passes.")
    bad = [c for c in report.checks if c.status in (Status.SKIPPED, Status.ERROR)]
    if bad:
        s.blocks.append(TableView("Checks", ["check", "category", "status", "reason"], [
            [Cell(c.check_id, cls="mono"), Cell(c.category), Cell(c.status.value, cls=status_cls(c.status)),
             Cell(c.error or c.skipped_reason or "")] for c in bad]))
    conds = [(c, cond) for c in report.checks for cond in c.conditions if cond.status == Status.SKIPPED]
    if conds:
        s.blocks.append(TableView("Conditions not evaluated", ["check", "condition", "reason"], [
            [Cell(c.check_id, cls="mono"), Cell(cond.condition, cls="mono"), Cell(cond.message)]
            for c, cond in conds]))
    warned = [(c, w) for c in report.checks for w in c.warnings]
    if warned:
        s.blocks.append(TableView("Warnings raised by checks", ["check", "warning"],
                                  [[Cell(c.check_id, cls="mono"), Cell(w)] for c, w in warned]))
    if not (bad or conds or warned):
        s.empty_note = "Every check ran and every rubric condition was evaluated."
    return s


def methodology_section(report: AuditReport, anchor: str) -> SectionView:
    s = SectionView(anchor, "Methodology", kind="methodology",
                    intro="Parameters of each check as run (after the rubric's overrides), the interval methods "
                          "behind the confidence intervals, and how conditions are judged.")
    s.facts = [KeyValue("seed", fmt_num(report.seed), "num"),
               KeyValue("evaluation rows", fmt_num(report.bundle.n_rows), "num")]
    rows = []
    for c in report.checks:
        for k, v in c.params.items():
            rows.append([Cell(c.check_id, cls="mono"), Cell(k, cls="mono"), Cell(fmt_value(v))])
    if rows:
        s.blocks.append(TableView("Check parameters", ["check", "parameter", "value"], rows))
    ci_rows = []
    for c in report.checks:
        methods = sorted({m.ci.method for m in c.metrics if m.ci is not None})
        levels = sorted({m.ci.level for m in c.metrics if m.ci is not None})
        ns = [m.n for m in c.metrics if m.n is not None]
        if methods or ns:
            ci_rows.append([Cell(c.check_id, cls="mono"), Cell("; ".join(methods) or "none"),
                            Cell(", ".join(fmt_num(x) for x in levels) or "n/a", cls="num"),
                            Cell(fmt_num(min(ns)) if ns else "n/a", cls="num"),
                            Cell(fmt_num(max(ns)) if ns else "n/a", cls="num")])
    if ci_rows:
        s.blocks.append(TableView("Uncertainty and sample sizes",
                                  ["check", "interval method", "level", "smallest n", "largest n"], ci_rows,
                                  note="n: rows behind a metric (smallest and largest over the check's metrics)."))
    s.notes = [
        "Statuses: pass (every condition met), warn (a warn-severity condition is violated, or only the point "
        "estimate violates a fail-severity bound), fail (a fail-severity bound is violated by the whole "
        "confidence interval, or by the estimate when judged on the value), error (the check raised), skipped "
        "(the check cannot run on this bundle). The verdict is the worst status over checks that ran.",
        "Metrics marked † are reported but not judged: their sample is too small (see each check's "
        "min_group_size).",
        "Numbers are rounded for display, the same way everywhere: whole numbers print as integers; other "
        "values print with three decimals, from one thousand upwards as integers, and below one thousandth in "
        "scientific notation with two significant digits. report.json holds full precision; every number "
        "printed here can be found there after this rounding.",
    ]
    return s


def appendix_section(report: AuditReport, anchor: str, check_anchors: dict[str, str]) -> SectionView:
    cmap = load_map()
    s = SectionView(anchor, "Appendix: compliance mapping", kind="appendix", intro=cmap.disclaimer)
    cols = ["report content", "status"] + [cmap.frameworks[fw]["column"] for fw in FRAMEWORKS]
    rows: list[list[Cell]] = []
    used: dict[str, set[str]] = {fw: set() for fw in FRAMEWORKS}

    def add(label: str, status: str, refs: dict[str, list[str]]) -> None:
        for fw in FRAMEWORKS:
            used[fw].update(refs.get(fw, []))
        rows.append([Cell(label), Cell(status, cls=status_cls(status) if status else "")]
                    + [Cell("; ".join(refs.get(fw, [])), items=list(refs.get(fw, []))) for fw in FRAMEWORKS])

    add("Verdict and gate result", report.verdict.value, cmap.for_section("verdict").refs)
    add("System identity", "", cmap.for_section("identity").refs)
    for c in report.checks:
        add(f"{c.check_id}: {c.title}", c.status.value, cmap.for_check(c.check_id, c.category).refs)
    if any(c.status in (Status.SKIPPED, Status.ERROR) for c in report.checks):
        add("Skipped and errored checks", "", cmap.for_section("not-run").refs)
    add("Methodology", "", cmap.for_section("methodology").refs)
    s.blocks.append(TableView("Report content and the clauses it gives evidence for", cols, rows, cls="compliance"))
    for fw in FRAMEWORKS:
        codes = [code for code in cmap.references.get(fw, {}) if code in used[fw]]
        s.blocks.append(TableView(cmap.frameworks[fw]["title"], ["reference", "what it asks for"],
                                  [[Cell(code, cls="nowrap"), Cell(cmap.describe(fw, code))] for code in codes],
                                  cls="legend"))
    return s
