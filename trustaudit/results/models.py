"""The typed result model: the one contract between checks, the engine and every renderer.

An audit produces one :class:`AuditReport`. It is serialised to ``report.json``; HTML, PDF, Markdown,
JUnit and SARIF are renderings of that file. Its JSON Schema is committed (``schemas/report.schema.json``)
and a test fails when the model drifts from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

SCHEMA_VERSION: Literal["1.0", "1.1"] = "1.1"  # 1.1: structured conditions (ConditionResult.spec), Metric.budget

JSONValue = Any  # JSON-compatible data (dicts, lists, str, int, float, bool, None)


class Status(str, Enum):
    """Outcome of a condition, a check or the whole audit."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"

    def __str__(self) -> str:  # print(report.verdict) -> fail (not Status.FAIL), on every Python version
        return self.value

    @property
    def rank(self) -> int:
        """Severity order used to combine statuses (higher is worse)."""
        return _RANK[self]

    @classmethod
    def worst(cls, statuses: Sequence[Status], default: Status | None = None) -> Status:
        if not statuses:
            return default if default is not None else cls.PASS
        return max(statuses, key=lambda s: s.rank)


_RANK = {Status.SKIPPED: 0, Status.PASS: 1, Status.WARN: 2, Status.ERROR: 3, Status.FAIL: 4}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Interval(_Model):
    """A confidence interval around a metric's point estimate."""

    low: float
    high: float
    level: float = Field(0.95, description="Confidence level, e.g. 0.95")
    method: str = Field(description="How it was computed, e.g. 'bootstrap-percentile (1000)' or 'wilson'")


class Metric(_Model):
    """One measured number, with its sample size and uncertainty.

    ``name`` is what rubric conditions refer to. ``subject`` says what was measured (e.g. ``sex=Female``
    or ``sex: Female vs Male``); ``attribute`` names the protected attribute (or feature) when there is one.
    """

    name: str
    value: float | None
    ci: Interval | None = None
    n: int | None = Field(None, description="Number of rows behind the value")
    subject: str | None = None
    attribute: str | None = None
    group: str | None = None
    reference: str | None = Field(None, description="Reference (privileged) group of a difference or ratio")
    budget: float | None = Field(
        None, description="Perturbation budget or noise level the metric was measured at (robustness checks)"
    )
    class_label: str | None = Field(
        None, description="Class a one-vs-rest metric of a multiclass classifier was measured for"
    )
    judged: bool = Field(True, description="False when the sample is too small to judge (reported only)")
    note: str | None = None
    unit: str | None = None

    @property
    def key(self) -> str:
        return f"{self.name}[{self.subject}]" if self.subject else self.name


class ConditionSpec(_Model):
    """A rubric condition as it was judged: its structure, so renderers, the gate and the service read the
    bound(s) instead of parsing the text."""

    metric: str
    op: Literal["<", "<=", ">", ">=", "==", "between"]
    value: float | None = Field(None, description="The bound (None for 'between')")
    low: float | None = Field(None, description="Lower bound of 'between'")
    high: float | None = Field(None, description="Upper bound of 'between'")
    abs: bool = Field(False, description="The bound applies to the absolute value")
    relative_to: Literal["baseline"] | None = Field(
        None, description="baseline: the bound applies to the change from a baseline report's value"
    )
    judge: Literal["interval", "value"] = "interval"
    severity: Literal["fail", "warn"] = "fail"
    where: dict[str, str | float] = Field(default_factory=dict, description="Selection on structured fields")
    description: str | None = None

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """(lowest allowed, highest allowed) value of the judged quantity; None where unbounded."""
        if self.op == "between":
            return self.low, self.high
        if self.op in (">", ">="):
            return self.value, None
        if self.op in ("<", "<="):
            return None, self.value
        return self.value, self.value


class ConditionResult(_Model):
    """A rubric condition applied to one metric (or, with status error, to none: nothing matched it)."""

    condition: str = Field(description="Human-readable condition, e.g. 'disparate_impact >= 0.8'")
    metric: str
    subject: str | None = None
    severity: Literal["fail", "warn"]
    status: Status
    observed: float | None = None
    ci: Interval | None = None
    judge: Literal["interval", "value"] = "interval"
    message: str
    spec: ConditionSpec | None = Field(None, description="The structured condition (absent in schema 1.0 reports)")
    baseline_value: float | None = Field(None, description="Baseline-relative conditions: the baseline's value")
    baseline_ci: Interval | None = None
    change: float | None = Field(None, description="current - baseline (absolute values with abs)")
    change_low: float | None = None
    change_high: float | None = None


class Artifact(_Model):
    """A file written beside report.json (e.g. an SVG plot), referenced by a relative path."""

    path: str
    media_type: str
    title: str


class Table(_Model):
    """A small table of evidence for reports (columns + rows of JSON scalars)."""

    title: str
    columns: list[str]
    rows: list[list[JSONValue]]


class CheckResult(_Model):
    check_id: str
    category: str
    version: str
    title: str
    status: Status
    summary: str = ""
    params: dict[str, JSONValue] = Field(default_factory=dict)
    metrics: list[Metric] = Field(default_factory=list)
    conditions: list[ConditionResult] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)
    evidence: dict[str, JSONValue] = Field(default_factory=dict)
    artifacts: list[Artifact] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    error: str | None = None
    skipped_reason: str | None = None
    duration_s: float = 0.0

    def __repr__(self) -> str:
        return (f"CheckResult(check_id={self.check_id!r}, status={self.status.value!r}, "
                f"metrics={len(self.metrics)}, conditions={len(self.conditions)})")

    def __str__(self) -> str:
        return self.__repr__()


class FileDigest(_Model):
    path: str = Field(description="Path relative to the bundle root")
    role: str = Field(description="model | data | training_data | other")
    sha256: str
    bytes: int


class BundleIdentity(_Model):
    name: str
    version: str
    task: str
    description: str | None = None
    source: str | None = Field(None, description="Bundle directory, or 'in-memory' for the Python API")
    model_format: str | None = None
    model_type: str | None = None
    files: list[FileDigest] = Field(default_factory=list)
    manifest_sha256: str | None = Field(
        None, description="sha256 of the bundle's trustaudit.yaml as audited (which files are the model and data, "
        "the favourable label, the protected groups); None in memory and in reports before 1.2 of trustaudit")
    n_rows: int
    label: str
    favorable_label: str
    protected: dict[str, str] = Field(default_factory=dict, description="attribute -> privileged definition")


class RubricRef(_Model):
    name: str
    version: str
    source: str
    sha256: str


class ToolInfo(_Model):
    name: str = "trustaudit"
    version: str
    python: str
    platform: str


class AuditReport(_Model):
    schema_version: Literal["1.0", "1.1"] = Field(
        SCHEMA_VERSION, description="1.0 reports (no structured conditions) still load, render and gate"
    )
    report_id: str
    created_at: datetime
    tool: ToolInfo
    packages: dict[str, str] = Field(default_factory=dict)
    bundle: BundleIdentity
    seed: int
    rubric: RubricRef
    checks: list[CheckResult]
    verdict: Status
    counts: dict[str, int] = Field(description="Number of checks by status")
    duration_s: float
    prediction_s: float = Field(0.0, description="Time spent computing predictions (once per audit)")
    warnings: list[str] = Field(default_factory=list)

    # not serialised: where this process wrote the checks' artefacts (plots), and the temporary folder that
    # holds them when audit() was given no out_dir (removed when the last copy of the report is gone)
    _artifact_dir: Path | None = PrivateAttr(None)
    _artifact_tmp: Any = PrivateAttr(None)

    def __eq__(self, other: object) -> bool:
        """Equal reports have equal fields; where this process keeps their plots does not count."""
        if not isinstance(other, AuditReport):
            return NotImplemented
        return self.__dict__ == other.__dict__ and self.__pydantic_extra__ == other.__pydantic_extra__

    @property
    def artifact_dir(self) -> Path | None:
        """The folder holding the checks' artefacts (plots) of a report audited in this process (``None`` for a
        report read from a file: its artefacts are beside it). :func:`trustaudit.write_report` copies them."""
        return self._artifact_dir

    def check(self, check_id: str) -> CheckResult:
        for c in self.checks:
            if c.check_id == check_id:
                return c
        raise KeyError(check_id)

    @property
    def passed(self) -> bool:
        return self.verdict in (Status.PASS, Status.WARN)

    def failures(self) -> list[tuple[CheckResult, ConditionResult]]:
        return [
            (c, cond) for c in self.checks for cond in c.conditions if cond.status in (Status.FAIL, Status.WARN)
        ]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    # -- display in a notebook or a terminal (trustaudit.results.display) ---------------------------
    def __repr__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items() if v)
        return (f"AuditReport({self.bundle.name} {self.bundle.version}: verdict {self.verdict.value}, "
                f"checks: {counts}; rubric {self.rubric.name} {self.rubric.version}, seed {self.seed})")

    def __str__(self) -> str:
        return self.__repr__()

    def _repr_html_(self) -> str:
        """Jupyter's rich display: the verdict, a table of checks, the conditions not met and the plots."""
        from trustaudit.results.display import report_html

        return report_html(self)

    def metrics_frame(self) -> Any:
        """Every metric of every check as a pandas DataFrame, one row per metric (see
        :func:`trustaudit.results.display.metrics_frame` for the columns)."""
        from trustaudit.results.display import metrics_frame

        return metrics_frame(self)

    def to_frame(self) -> Any:
        """The same as :meth:`metrics_frame`."""
        return self.metrics_frame()

    def conditions_frame(self) -> Any:
        """Every judged rubric condition as a pandas DataFrame, one row per (condition, metric)."""
        from trustaudit.results.display import conditions_frame

        return conditions_frame(self)

    @classmethod
    def from_json(cls, text: str | bytes) -> AuditReport:
        return cls.model_validate_json(text)
