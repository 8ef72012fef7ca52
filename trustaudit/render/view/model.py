"""The view model's types: what a report shows, already formatted, in reading order.

Templates receive a :class:`ReportView`; every table is a :class:`TableView` of :class:`Cell`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import trustaudit.render.artifacts as art
import trustaudit.render.charts as charts

STATUS_ORDER = ("fail", "error", "warn", "pass", "skipped")
STATUS_RANK = {s: i for i, s in enumerate(STATUS_ORDER)}
STATUS_WORDS = {
    "pass": "PASS",
    "warn": "PASS WITH WARNINGS",
    "fail": "FAIL",
    "error": "ERROR",
    "skipped": "NOT ASSESSED",
}


@dataclass
class Cell:
    text: str
    sub: str = ""  # a second, smaller line (the confidence interval)
    cls: str = ""  # CSS classes: 'num', 'mono', 'status-fail', 'unjudged', ...
    items: list[str] | None = None  # when set, shown as unbreakable items separated by '; ' (text joins them)

    def __str__(self) -> str:
        return f"{self.text} {self.sub}".strip()


@dataclass
class TableView:
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    note: str = ""
    cls: str = ""


@dataclass
class ChartView:
    title: str
    svg: str
    alt: str
    caption: str = ""

    @property
    def uri(self) -> str:
        return charts.data_uri(self.svg)


@dataclass
class KeyValue:
    key: str
    value: str
    cls: str = ""


@dataclass
class CheckView:
    anchor: str
    check_id: str
    title: str
    category: str
    version: str
    status: str
    summary: str
    error: str | None
    skipped_reason: str | None
    duration: str
    highlights: list[KeyValue] = field(default_factory=list)
    badge_uri: str | None = None
    charts: list[ChartView] = field(default_factory=list)
    conditions: TableView | None = None
    metric_tables: list[TableView] = field(default_factory=list)
    tables: list[TableView] = field(default_factory=list)
    artifacts: list[art.ArtifactView] = field(default_factory=list)
    evidence: list[KeyValue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class SectionView:
    anchor: str
    title: str
    intro: str = ""
    kind: str = "checks"  # 'verdict' | 'identity' | 'checks' | 'not-run' | 'methodology' | 'appendix'
    checks: list[CheckView] = field(default_factory=list)
    blocks: list[TableView] = field(default_factory=list)
    charts: list[ChartView] = field(default_factory=list)
    facts: list[KeyValue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    empty_note: str = ""


@dataclass
class ReportView:
    mode: str
    title: str
    model_name: str
    model_version: str
    header: str
    digest_label: str
    report_id: str
    created: str
    verdict: str
    verdict_words: str
    rubric_label: str
    tool_label: str
    counts: list[KeyValue]
    sections: list[SectionView]
    disclaimer: str
