"""Rubrics: policies as data. Which checks run, with which parameters, and conditions on their metrics.

A rubric is a YAML file (schema: ``schemas/rubric.schema.json``; documented in ``docs/rubrics.md``)::

    rubric: 1
    name: default
    version: 1.0.0
    extends: null            # a packaged rubric name or a path relative to this file
    run: ["*"]               # check id patterns to run; default: every default-enabled check
    checks:
      fairness.model:
        params: {bootstrap: 1000, min_group_size: 30}
        conditions:
          - metric: disparate_impact
            op: ">="
            value: 0.8
            severity: fail     # fail | warn
            judge: interval    # interval (default) | value
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import math
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trustaudit.errors import RubricError
from trustaudit.results import ConditionResult, Interval, Metric, RubricRef, Status

Op = Literal["<", "<=", ">", ">=", "==", "between"]


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(description="Metric name as the check reports it")
    op: Op
    value: float | list[float] = Field(description="Bound; [low, high] for 'between'")
    severity: Literal["fail", "warn"] = "fail"
    judge: Literal["interval", "value"] = Field(
        "interval",
        description="interval: fail only when the whole confidence interval violates the bound, warn when only "
        "the point estimate does; value: judge the point estimate",
    )
    abs: bool = Field(False, description="Apply the bound to the absolute value (for signed differences)")
    where: dict[str, str] = Field(
        default_factory=dict, description="Filter on metric fields (attribute, subject, group), glob patterns"
    )
    description: str | None = None

    @model_validator(mode="after")
    def _check_value(self) -> Condition:
        if self.op == "between":
            if not (isinstance(self.value, list) and len(self.value) == 2):
                raise ValueError("op 'between' needs value: [low, high]")
        elif isinstance(self.value, list):
            raise ValueError(f"op '{self.op}' needs a single number as value")
        return self

    def text(self) -> str:
        m = f"|{self.metric}|" if self.abs else self.metric
        if self.op == "between":
            assert isinstance(self.value, list)
            return f"{self.value[0]:g} <= {m} <= {self.value[1]:g}"
        assert not isinstance(self.value, list)
        return f"{m} {self.op} {self.value:g}"

    # -- evaluation -------------------------------------------------------------------------------
    def _ok(self, x: float) -> bool:
        v = self.value
        if self.op == "between":
            assert isinstance(v, list)
            return v[0] <= x <= v[1]
        assert not isinstance(v, list)
        return {
            "<": x < v,
            "<=": x <= v,
            ">": x > v,
            ">=": x >= v,
            "==": math.isclose(x, v, rel_tol=1e-9, abs_tol=1e-12),
        }[self.op]

    def _interval_can_satisfy(self, lo: float, hi: float) -> bool:
        v = self.value
        if self.op == "between":
            assert isinstance(v, list)
            return lo <= v[1] and hi >= v[0]
        assert not isinstance(v, list)
        return {
            "<": lo < v,
            "<=": lo <= v,
            ">": hi > v,
            ">=": hi >= v,
            "==": lo <= v <= hi,
        }[self.op]

    def matches(self, m: Metric) -> bool:
        if m.name != self.metric:
            return False
        for key, pattern in self.where.items():
            val = getattr(m, key, None)
            if val is None or not fnmatch.fnmatchcase(str(val), pattern):
                return False
        return True

    def evaluate(self, m: Metric) -> ConditionResult:
        base: dict[str, Any] = {
            "condition": self.text(),
            "metric": m.name,
            "subject": m.subject,
            "severity": self.severity,
            "observed": m.value,
            "ci": m.ci,
            "judge": self.judge,
        }
        if not m.judged:
            return ConditionResult(
                **base, status=Status.SKIPPED, message=f"not judged: {m.note or 'sample too small'} (n={m.n})"
            )
        if m.value is None or (isinstance(m.value, float) and math.isnan(m.value)):
            return ConditionResult(
                **base, status=Status.WARN, message=f"{m.key} is undefined ({m.note or 'no data'})"
            )
        x = abs(m.value) if self.abs else m.value
        ok = self._ok(x)
        ci = m.ci
        if self.judge == "interval" and ci is not None:
            lo, hi = _abs_interval(ci) if self.abs else (ci.low, ci.high)
            if not self._interval_can_satisfy(lo, hi):
                return ConditionResult(
                    **base,
                    status=Status(self.severity),
                    message=f"{m.key} = {m.value:.4g}, {ci.level:.0%} CI [{ci.low:.4g}, {ci.high:.4g}] "
                    f"violates {self.text()}",
                )
            if not ok:
                return ConditionResult(
                    **base,
                    status=Status.WARN,
                    message=f"{m.key} = {m.value:.4g} violates {self.text()} but its {ci.level:.0%} CI "
                    f"[{ci.low:.4g}, {ci.high:.4g}] reaches the allowed region: uncertain",
                )
            return ConditionResult(**base, status=Status.PASS, message=f"{m.key} = {m.value:.4g} meets {self.text()}")
        if ok:
            return ConditionResult(**base, status=Status.PASS, message=f"{m.key} = {m.value:.4g} meets {self.text()}")
        return ConditionResult(
            **base, status=Status(self.severity), message=f"{m.key} = {m.value:.4g} violates {self.text()}"
        )


def _abs_interval(ci: Interval) -> tuple[float, float]:
    lo, hi = ci.low, ci.high
    if lo <= 0 <= hi:
        return 0.0, max(-lo, hi)
    return min(abs(lo), abs(hi)), max(abs(lo), abs(hi))


class CheckPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(default_factory=dict)
    conditions: list[Condition] = Field(default_factory=list)
    enabled: bool = True


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rubric: Literal[1] = Field(description="Rubric format version")
    name: str
    version: str = "1.0.0"
    description: str | None = None
    extends: str | None = None
    run: list[str] | None = Field(None, description="Check id patterns to run; default: all default-enabled")
    checks: dict[str, CheckPolicy] = Field(default_factory=dict)

    # filled by the loader
    source: str = Field("", exclude=True)
    sha256: str = Field("", exclude=True)

    def ref(self) -> RubricRef:
        return RubricRef(name=self.name, version=self.version, source=self.source, sha256=self.sha256)

    def policy(self, check_id: str) -> CheckPolicy:
        return self.checks.get(check_id, CheckPolicy())


PACKAGED = ("default",)


def packaged_rubrics() -> list[str]:
    root = resources.files("trustaudit.rubrics") / "data"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def _read_rubric_text(ref: str, base: Path | None) -> tuple[str, str]:
    """Return (text, source) for a packaged name or a file path."""
    root = resources.files("trustaudit.rubrics") / "data"
    candidate = root / f"{ref}.yaml"
    if "/" not in ref and "\\" not in ref and not ref.endswith((".yaml", ".yml")) and candidate.is_file():
        return candidate.read_text(encoding="utf-8"), f"packaged:{ref}"
    path = Path(ref)
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        names = ", ".join(packaged_rubrics())
        raise RubricError(f"rubric '{ref}' not found: give a YAML file path or a packaged rubric ({names})")
    return path.read_text(encoding="utf-8"), str(path)


def _merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(parent)
    for key, val in child.items():
        if key == "checks" and isinstance(val, dict):
            checks = {k: dict(v) for k, v in (parent.get("checks") or {}).items()}
            for cid, pol in val.items():
                merged = dict(checks.get(cid, {}))
                pol = pol or {}
                if "params" in pol:
                    merged["params"] = {**merged.get("params", {}), **(pol["params"] or {})}
                if "conditions" in pol:
                    merged["conditions"] = pol["conditions"]  # child replaces the parent's conditions
                if "enabled" in pol:
                    merged["enabled"] = pol["enabled"]
                checks[cid] = merged
            out["checks"] = checks
        elif key != "extends":
            out[key] = val
    return out


def _line_of(text: str, keys: tuple[Any, ...]) -> str:
    """Best-effort line number of the first key in a YAML path (for error messages)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return ""
    line = None
    for k in keys:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for kn, vn in node.value:
                if kn.value == str(k):
                    nxt, line = vn, kn.start_mark.line + 1
                    break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(k, int) and k < len(node.value):
            node = node.value[k]
            line = node.start_mark.line + 1
        else:
            break
        if node is None:
            break
    return f" (line {line})" if line else ""


def _parse(text: str, source: str, depth: int = 0) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise RubricError(f"rubric {source}: invalid YAML at{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise RubricError(f"rubric {source}: must be a YAML mapping (see docs/rubrics.md)")
    parent_ref = raw.get("extends")
    if parent_ref:
        if depth > 8:
            raise RubricError(f"rubric {source}: 'extends' chain is too deep (a cycle?)")
        base = Path(source).parent if not source.startswith("packaged:") else None
        ptext, psource = _read_rubric_text(str(parent_ref), base)
        parent = _parse(ptext, psource, depth + 1)
        parent.pop("name", None)
        raw = _merge(parent, raw)
    raw["_text"] = text
    return raw


def load_rubric(ref: str | Path | None = None, *, base: Path | None = None) -> Rubric:
    """Load a rubric by packaged name or path (default: the packaged ``default`` rubric)."""
    text, source = _read_rubric_text(str(ref or "default"), base)
    raw = _parse(text, source)
    own_text = raw.pop("_text")
    try:
        rubric = Rubric.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(first["loc"])
        where = ".".join(str(p) for p in loc)
        line = _line_of(own_text, loc)
        if first["type"] == "extra_forbidden":
            owner = {1: Rubric, 3: CheckPolicy}.get(len(loc), Condition)
            close = difflib.get_close_matches(str(loc[-1]), list(owner.model_fields), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise RubricError(f"rubric {source}{line}: unknown key '{where}'{hint}") from None
        raise RubricError(f"rubric {source}{line}: '{where}' {first['msg']} (got {first.get('input')!r})") from None
    rubric.source = source
    rubric.sha256 = hashlib.sha256(text.encode()).hexdigest()
    return rubric


def validate_against_registry(rubric: Rubric) -> None:
    """Every check id named by the rubric must be registered, and its params must validate."""
    from trustaudit.checks import registry

    known = registry.available()
    for cid, pol in rubric.checks.items():
        if cid not in known:
            close = difflib.get_close_matches(cid, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise RubricError(f"rubric {rubric.source}: unknown check '{cid}'{hint}")
        cls = registry.load(cid)
        try:
            cls.Params.model_validate(pol.params)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise RubricError(
                f"rubric {rubric.source}: checks.{cid}.params.{where}: {first['msg']} (got {first.get('input')!r})"
            ) from None
