"""The baseline file's model (``trustaudit-baseline.json``): the source audit, its headline metrics and its open
findings. Reading, writing and making baselines is :mod:`trustaudit.gate.baseline`; this module holds only the
model, so that :func:`trustaudit.gate.gate` can take a baseline without importing what makes one."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from trustaudit.results import Interval, Metric, RubricRef, Status


class BaselineSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report_id: str
    created_at: datetime
    bundle_name: str
    bundle_version: str
    seed: int
    tool_version: str
    rubric: RubricRef


class BaselineFinding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fingerprint: str
    check_id: str
    rule_id: str
    condition: str
    metric: str
    subject: str | None = None
    status: Status
    observed: float | None = None
    ci: Interval | None = None


class Baseline(BaseModel):
    """Headline metrics and open findings of an accepted audit."""

    model_config = ConfigDict(extra="forbid")

    trustaudit_baseline: Literal[1] = Field(1, description="Baseline file format version")
    created_at: datetime
    source: BaselineSource
    metrics: dict[str, list[Metric]] = Field(description="check id -> metrics as the report has them")
    findings: list[BaselineFinding] = Field(default_factory=list)

    _origin: str = PrivateAttr("")

    @property
    def origin(self) -> str:
        """The file this baseline was read from (or 'report <id>')."""
        return self._origin or f"report {self.source.report_id}"

    def metric_index(self) -> dict[tuple[str, str], Metric]:
        """(check id, metric key) -> metric; the key is ``name[subject]``."""
        out: dict[tuple[str, str], Metric] = {}
        for cid, metrics in self.metrics.items():
            for m in metrics:
                out.setdefault((cid, m.key), m)
        return out

    def to_json(self) -> str:
        """JSON with one metric or finding per line, so that a baseline update reads well in a diff."""
        data = self.model_dump(mode="json", exclude_none=True)

        def one(v: Any) -> str:
            return json.dumps(v, ensure_ascii=False)

        def items(values: list[Any], indent: str) -> str:
            if not values:
                return "[]"
            return "[\n" + ",\n".join(indent + " " + one(v) for v in values) + "\n" + indent + "]"

        metrics = ",\n".join(f"  {one(cid)}: {items(ms, '  ')}" for cid, ms in data["metrics"].items())
        lines = [
            f' "trustaudit_baseline": {one(data["trustaudit_baseline"])}',
            f' "created_at": {one(data["created_at"])}',
            f' "source": {one(data["source"])}',
            ' "metrics": {' + (f"\n{metrics}\n }}" if metrics else "}"),
            f' "findings": {items(data["findings"], " ")}',
        ]
        return "{\n" + ",\n".join(lines) + "\n}\n"
