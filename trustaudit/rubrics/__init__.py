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
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from trustaudit import yamlsafe
from trustaudit.errors import RubricError
from trustaudit.results import (
    CheckResult,
    ConditionResult,
    ConditionSpec,
    Interval,
    Metric,
    RubricRef,
    Status,
)

Op = Literal["<", "<=", ">", ">=", "==", "between"]


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(description="Metric name as the check reports it")
    op: Op
    value: float | list[float] = Field(description="Bound; [low, high] for 'between'")
    severity: Literal["fail", "warn"] = "fail"
    judge: Literal["interval", "value"] = Field(
        "interval",
        description="interval: pass when the whole confidence interval meets the bound, fail (with the "
        "condition's severity) when the whole interval violates it, warn ('uncertain') when it reaches both sides, "
        "wherever the point estimate fell; value: judge the point estimate",
    )
    abs: bool = Field(False, description="Apply the bound to the absolute value (for signed differences)")
    where: dict[str, str | float] = Field(
        default_factory=dict,
        description="Select metrics by their structured fields: attribute, group, reference (glob patterns) and "
        "budget (a number). Which fields a metric has is declared by its check ('trustaudit checks --json')",
    )
    description: str | None = None
    relative_to: Literal["baseline"] | None = Field(
        None,
        description="baseline: the bound applies to the change (metric - baseline metric) against a baseline "
        "report given to the gate (trustaudit gate --baseline); without a baseline the condition is skipped",
    )
    max_regression: float | None = Field(
        None, ge=0, description="With relative_to: largest allowed change for the worse (sets op and value)"
    )
    direction: Literal["higher_is_better", "lower_is_better"] | None = Field(
        None, description="With max_regression: which way is better (default with abs: lower_is_better)"
    )

    @model_validator(mode="before")
    @classmethod
    def _regression_shorthand(cls, data: Any) -> Any:
        """``max_regression`` + ``direction`` is shorthand for op/value on the change from the baseline."""
        if not isinstance(data, dict) or data.get("max_regression") is None:
            return data
        if not data.get("relative_to"):
            raise ValueError("max_regression needs relative_to: baseline")
        if "op" in data or "value" in data:
            raise ValueError("give either max_regression (with direction) or op and value, not both")
        direction = data.get("direction") or ("lower_is_better" if data.get("abs") else None)
        if direction is None:
            raise ValueError("max_regression needs direction: higher_is_better or lower_is_better")
        r = data["max_regression"]
        if not isinstance(r, (int, float)) or isinstance(r, bool):
            return data  # the field validator reports the type
        higher = direction == "higher_is_better"
        return {**data, "direction": direction, "op": ">=" if higher else "<=", "value": -r if higher else r}

    @model_validator(mode="after")
    def _check_value(self) -> Condition:
        if self.op == "between":
            if not (isinstance(self.value, list) and len(self.value) == 2):
                raise ValueError("op 'between' needs value: [low, high]")
        elif isinstance(self.value, list):
            raise ValueError(f"op '{self.op}' needs a single number as value")
        if self.relative_to is None and self.direction is not None:
            raise ValueError("direction needs relative_to: baseline and max_regression")
        return self

    def text(self) -> str:
        m = f"|{self.metric}|" if self.abs else self.metric
        if self.relative_to is not None:
            return self._relative_text(m)
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

    def _interval_satisfies(self, lo: float, hi: float) -> bool:
        """Does every value of the interval meet the bound?"""
        v = self.value
        if self.op == "between":
            assert isinstance(v, list)
            return lo >= v[0] and hi <= v[1]
        assert not isinstance(v, list)
        return {
            "<": hi < v,
            "<=": hi <= v,
            ">": lo > v,
            ">=": lo >= v,
            "==": math.isclose(lo, v, rel_tol=1e-9, abs_tol=1e-12) and math.isclose(hi, v, rel_tol=1e-9, abs_tol=1e-12),
        }[self.op]

    def matches(self, m: Metric) -> bool:
        if m.name != self.metric:
            return False
        for key, want in self.where.items():
            val = getattr(m, key, None)
            if val is None:
                return False
            if isinstance(want, (int, float)) and not isinstance(want, bool):
                try:
                    if not math.isclose(float(val), float(want), rel_tol=1e-9, abs_tol=1e-12):
                        return False
                except (TypeError, ValueError):
                    return False
            elif not fnmatch.fnmatchcase(str(val), str(want)):
                return False
        return True

    def spec(self) -> ConditionSpec:
        """The structure of this condition, stored with every result judged by it."""
        between = isinstance(self.value, list)
        return ConditionSpec(
            metric=self.metric, op=self.op,
            value=None if between else float(self.value),  # type: ignore[arg-type]
            low=float(self.value[0]) if isinstance(self.value, list) else None,
            high=float(self.value[1]) if isinstance(self.value, list) else None,
            abs=self.abs, relative_to=self.relative_to, judge=self.judge, severity=self.severity,
            where=dict(self.where), description=self.description,
        )

    def selection(self) -> str:
        """'metric' or 'metric where attribute=sex, budget=0.1' (for messages)."""
        if not self.where:
            return f"'{self.metric}'"
        return f"'{self.metric}' where " + ", ".join(f"{k}={v}" for k, v in self.where.items())

    def _relative_text(self, m: str) -> str:
        v = self.value
        if isinstance(v, list):
            return f"{v[0]:g} <= {m} - baseline <= {v[1]:g}"
        if self.op in (">", ">=") and v <= 0:
            return f"{m} {self.op} baseline - {-v:g}"
        if self.op in ("<", "<=") and v >= 0:
            return f"{m} {self.op} baseline + {v:g}"
        return f"{m} - baseline {self.op} {v:g}"

    def change(
        self, m: Metric, baseline: Metric, family_size: int = 1
    ) -> tuple[float, float, float | None, float | None]:
        """The change from the baseline: (current, baseline, low, high) of ``current - baseline``.

        Both values are taken in absolute value when ``abs`` is set. The interval of the change combines the
        two confidence intervals by MOVER (Newcombe 1998; Zou & Donner 2008): exact for independent estimates
        when each interval is, and it keeps skewed intervals skewed. With ``family_size`` k > 1 both
        intervals are first widened by the normal-quantile ratio z(1 - a/2k) / z(1 - a/2) (Bonferroni over the
        k changes judged together). Low/high are None unless both values have an interval (a check leaves
        the interval out when the estimate is too unstable to bootstrap, so one missing interval means
        the change is of unknown precision, not exact).
        """
        assert m.value is not None and baseline.value is not None
        x = abs(m.value) if self.abs else m.value
        b = abs(baseline.value) if self.abs else baseline.value
        if m.ci is None or baseline.ci is None:
            return x, b, None, None

        def bounds(ci: Interval, point: float) -> tuple[float, float, float]:
            lo, hi = _abs_interval(ci) if self.abs else (ci.low, ci.high)
            return min(lo, point), max(hi, point), _bonferroni_scale(ci.level, family_size)

        lx, hx, sx = bounds(m.ci, x)
        lb, hb, sb = bounds(baseline.ci, b)
        d = x - b
        low = d - math.hypot(sx * (x - lx), sb * (hb - b))
        high = d + math.hypot(sx * (hx - x), sb * (b - lb))
        return x, b, low, high

    def evaluate(self, m: Metric, baseline: Metric | None = None, *, family_size: int = 1) -> ConditionResult:
        """Judge one metric. A baseline-relative condition judges ``m - baseline`` (see :meth:`change`)."""
        base: dict[str, Any] = {
            "condition": self.text(),
            "metric": m.name,
            "subject": m.subject,
            "severity": self.severity,
            "observed": m.value,
            "ci": m.ci,
            "judge": self.judge,
            "spec": self.spec(),
        }
        if not m.judged:
            why = (m.note or "sample too small").removeprefix("not judged: ")
            return ConditionResult(**base, status=Status.SKIPPED, message=f"not judged: {why} (n={m.n})")
        if m.value is None or (isinstance(m.value, float) and math.isnan(m.value)):
            return ConditionResult(
                **base, status=Status.WARN, message=f"{m.key} is undefined ({m.note or 'no data'})"
            )
        if self.relative_to is not None:
            return self._evaluate_relative(m, baseline, family_size, base)
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
            if not self._interval_satisfies(lo, hi):
                # the interval reaches both sides of the bound: uncertain, whichever side the estimate fell on
                # (a verdict that follows the point estimate would flip with the seed)
                side = "violates" if not ok else "meets"
                return ConditionResult(
                    **base,
                    status=Status.WARN,
                    message=f"{m.key} = {m.value:.4g} {side} {self.text()} but its {ci.level:.0%} CI "
                    f"[{ci.low:.4g}, {ci.high:.4g}] reaches both sides of the bound: uncertain",
                )
            return ConditionResult(**base, status=Status.PASS, message=f"{m.key} = {m.value:.4g} meets {self.text()}")
        if ok:
            return ConditionResult(**base, status=Status.PASS, message=f"{m.key} = {m.value:.4g} meets {self.text()}")
        return ConditionResult(
            **base, status=Status(self.severity), message=f"{m.key} = {m.value:.4g} violates {self.text()}"
        )


    def _evaluate_relative(
        self, m: Metric, baseline: Metric | None, family_size: int, base: dict[str, Any]
    ) -> ConditionResult:
        if baseline is not None:
            base = {**base, "baseline_value": baseline.value, "baseline_ci": baseline.ci}
        if baseline is None:
            return ConditionResult(**base, status=Status.SKIPPED,
                                   message=f"no baseline value for {m.key}: give a baseline that measured it "
                                   "(trustaudit gate --baseline FILE)")
        if baseline.value is None or math.isnan(baseline.value):
            why = baseline.note or "no data"
            return ConditionResult(**base, status=Status.SKIPPED,
                                   message=f"the baseline value of {m.key} is undefined ({why})")
        x, b, low, high = self.change(m, baseline, family_size)
        d = x - b
        base = {**base, "change": d, "change_low": low, "change_high": high}
        what = f"{m.key} = {x:.4g} vs baseline {b:.4g} (change {d:+.4g}"
        ok = self._ok(d)
        if self.judge == "interval" and (low is None or high is None):
            if ok:
                return ConditionResult(**base, status=Status.PASS, message=f"{what}) meets {self.text()}")
            return ConditionResult(**base, status=Status.WARN,
                                   message=f"{what}) violates {self.text()}, but without a confidence interval "
                                   "on both values a change cannot be told from noise (judge: value fails it)")
        if self.judge == "interval" and low is not None and high is not None:
            level = m.ci.level if m.ci is not None else 0.95
            adj = f", Bonferroni over {family_size}" if family_size > 1 else ""
            ci_txt = f"{level:.0%} CI [{low:+.4g}, {high:+.4g}]{adj})"
            if not self._interval_can_satisfy(low, high):
                return ConditionResult(**base, status=Status(self.severity),
                                       message=f"{what}, {ci_txt} violates {self.text()}")
            if not ok:
                return ConditionResult(**base, status=Status.WARN,
                                       message=f"{what}, {ci_txt} violates {self.text()} but the interval "
                                       "reaches the allowed region: uncertain")
            return ConditionResult(**base, status=Status.PASS,
                                   message=f"{what}, {ci_txt} meets {self.text()}")
        if ok:
            return ConditionResult(**base, status=Status.PASS, message=f"{what}) meets {self.text()}")
        return ConditionResult(**base, status=Status(self.severity),
                               message=f"{what}) violates {self.text()}")


def _bonferroni_scale(level: float, family_size: int) -> float:
    """How much wider a two-sided normal interval gets when its level is split over ``family_size`` tests."""
    if family_size <= 1:
        return 1.0
    from statistics import NormalDist

    alpha = 1.0 - level
    z = NormalDist().inv_cdf
    return z(1 - alpha / (2 * family_size)) / z(1 - alpha / 2)


def _abs_interval(ci: Interval) -> tuple[float, float]:
    lo, hi = ci.low, ci.high
    if lo <= 0 <= hi:
        return 0.0, max(-lo, hi)
    return min(abs(lo), abs(hi)), max(abs(lo), abs(hi))


#: A judged condition whose deciding edge lies within this many standard errors of a bound may be judged
#: differently with another seed (another sample of rows): see :func:`seed_sensitive`.
SEED_MARGIN_SE = 2.0


def seed_sensitive(cond: ConditionResult, margin_se: float = SEED_MARGIN_SE) -> bool:
    """Could another seed judge this condition differently?

    A sampled estimate moves between seeds by about its standard error ``se`` (taken from its interval:
    ``(high - low) / 2z``). The verdict of an interval-judged condition changes when an interval edge crosses a
    bound, that of a value-judged condition when the estimate does; either is likely when the deciding point lies
    within ``margin_se`` standard errors of a bound. Conditions without an interval, not judged, or relative to
    a baseline are not assessed (False)."""
    spec, ci = cond.spec, cond.ci
    if (spec is None or ci is None or cond.observed is None or spec.relative_to is not None
            or cond.status in (Status.SKIPPED, Status.ERROR)):
        return False
    from statistics import NormalDist

    lo, hi = _abs_interval(ci) if spec.abs else (ci.low, ci.high)
    x = abs(cond.observed) if spec.abs else cond.observed
    z = NormalDist().inv_cdf(0.5 + ci.level / 2)
    se = (hi - lo) / (2 * z)
    if not (se > 0 and math.isfinite(se)):
        return False
    points = (lo, hi) if cond.judge == "interval" else (x,)
    bounds = [b for b in spec.bounds if b is not None]
    return any(abs(pt - b) < margin_se * se for pt in points for b in bounds)


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
    baseline_correction: Literal["bonferroni", "none"] = Field(
        "bonferroni",
        description="Baseline-relative conditions: widen the intervals of the changes for the number judged "
        "together (bonferroni: family-wise error, so noise in many metrics does not fail the gate)",
    )

    # filled by the loader
    _source: str = PrivateAttr("")
    _sha256: str = PrivateAttr("")
    _chain: list[tuple[str, str]] = PrivateAttr(default_factory=list)  # (text, source), child first

    @property
    def source(self) -> str:
        return self._source

    @property
    def sha256(self) -> str:
        return self._sha256

    def ref(self) -> RubricRef:
        return RubricRef(name=self.name, version=self.version, source=self.source, sha256=self.sha256)

    def policy(self, check_id: str) -> CheckPolicy:
        return self.checks.get(check_id, CheckPolicy())


def packaged_rubrics() -> list[str]:
    root = resources.files("trustaudit.rubrics") / "data"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def _read_rubric_text(ref: str, base: Path | None) -> tuple[str, str]:
    """Return (text, source) for a packaged name or a file path."""
    if not isinstance(ref, str) or not ref.strip() or len(ref) > 1024 or "\x00" in ref:
        shown = repr(ref) if not isinstance(ref, str) else repr(ref[:60] + ("..." if len(ref) > 60 else ""))
        raise RubricError(
            f"rubric reference {shown} is not a rubric: 'extends' (and --rubric) take a packaged rubric name "
            f"({', '.join(packaged_rubrics())}) or a path to a YAML file"
        )
    root = resources.files("trustaudit.rubrics") / "data"
    candidate = root / f"{ref}.yaml"
    if "/" not in ref and "\\" not in ref and not ref.endswith((".yaml", ".yml")) and candidate.is_file():
        return candidate.read_text(encoding="utf-8"), f"packaged:{ref}"
    path = Path(ref)
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file() and not path.suffix:  # 'extends: strict' finds strict.yaml next to the child
        path = next((q for q in (path.with_suffix(".yaml"), path.with_suffix(".yml")) if q.is_file()), path)
    try:
        found = path.is_file()
    except (OSError, ValueError):  # a name too long for the file system
        found = False
    if not found:
        names = ", ".join(packaged_rubrics())
        raise RubricError(f"rubric '{ref}' not found: give a YAML file path or a packaged rubric ({names})")
    try:
        return yamlsafe.read_text(path, "rubric"), str(path)
    except yamlsafe.YamlInputError as exc:
        raise RubricError(exc.one_line()) from None


def _check_shape(raw: dict[str, Any], text: str, source: str) -> None:
    """The structure ``extends`` merging relies on: ``checks`` maps check ids to mappings (params a mapping)."""
    checks = raw.get("checks")
    if checks is None:
        return

    def at(*keys: Any) -> str:
        return _where([(text, source)], keys)

    if not isinstance(checks, dict):
        raise RubricError(f"rubric {at('checks')}: 'checks' must map check ids to policies, "
                          f"not {type(checks).__name__}")
    for cid, pol in checks.items():
        if pol is not None and not isinstance(pol, dict):
            raise RubricError(
                f"rubric {at('checks', cid)}: checks.{cid} must be a mapping (params:, conditions:, enabled:), "
                f"not {type(pol).__name__}"
            )
        params = (pol or {}).get("params")
        if params is not None and not isinstance(params, dict):
            raise RubricError(f"rubric {at('checks', cid, 'params')}: checks.{cid}.params must be a mapping of "
                              "parameter names to values")
        conds = (pol or {}).get("conditions")
        if conds is not None and not isinstance(conds, list):
            raise RubricError(f"rubric {at('checks', cid, 'conditions')}: checks.{cid}.conditions must be a "
                              "list of conditions")


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


def _find_line(text: str, keys: tuple[Any, ...]) -> tuple[int | None, int]:
    """(line of the deepest key of ``keys`` found in the YAML text, how many keys were found)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None, 0
    line = None
    found = 0
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
        found += 1
        if node is None:
            break
    return line, found


def _where(chain: list[tuple[str, str]], keys: tuple[Any, ...]) -> str:
    """'<source> (line N)' of the file in an extends chain (child first) that defines ``keys``."""
    best: tuple[str, int | None, int] = ("", None, -1)
    for text, source in chain:
        line, found = _find_line(text, keys)
        if found > best[2]:
            best = (source, line, found)
        if found == len(keys):
            break
    source, line, _ = best
    return f"{source} (line {line})" if line else source


def _parse(text: str, source: str, depth: int = 0) -> dict[str, Any]:
    try:
        raw = yamlsafe.load(text, f"rubric {source}")
    except yamlsafe.YamlInputError as exc:
        raise RubricError(exc.one_line()) from None
    if not isinstance(raw, dict):
        raise RubricError(f"rubric {source}: must be a YAML mapping (see docs/rubrics.md)")
    _check_shape(raw, text, source)
    parent_ref = raw.get("extends")
    if parent_ref:
        if depth > 8:
            raise RubricError(f"rubric {source}: 'extends' chain is too deep (a cycle?)")
        base = Path(source).parent if not source.startswith("packaged:") else None
        ptext, psource = _read_rubric_text(parent_ref, base)
        parent = _parse(ptext, psource, depth + 1)
        parent.pop("name", None)
        parent_chain = parent.pop("_chain")
        raw = _merge(parent, raw)
        raw["_chain"] = [(text, source), *parent_chain]
    else:
        raw["_chain"] = [(text, source)]
    return raw


def load_rubric(ref: str | Path | None = None, *, base: Path | None = None) -> Rubric:
    """Load a rubric by packaged name or path (default: the packaged ``default`` rubric)."""
    text, source = _read_rubric_text(str(ref or "default"), base)
    raw = _parse(text, source)
    chain = raw.pop("_chain")
    try:
        rubric = Rubric.model_validate(raw)
    except ValidationError as err:
        errors = err.errors()
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(first["loc"])
        where = ".".join(str(p) for p in loc)
        at = _where(chain, loc)
        if first["type"] == "extra_forbidden":
            owners: dict[int, type[BaseModel]] = {1: Rubric, 3: CheckPolicy}
            owner = owners.get(len(loc), Condition)
            close = difflib.get_close_matches(str(loc[-1]), list(owner.model_fields), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise RubricError(f"rubric {at}: unknown key '{where}'{hint}") from None
        raise RubricError(f"rubric {at}: '{where}' {first['msg']} (got {first.get('input')!r})") from None
    rubric._source = source
    rubric._sha256 = hashlib.sha256(text.encode()).hexdigest()
    rubric._chain = chain
    return rubric


def validate_against_registry(rubric: Rubric) -> None:
    """Every check id named by the rubric must be registered, and its params must validate."""
    from trustaudit.checks import registry

    known = registry.available()
    for cid, pol in rubric.checks.items():
        if cid not in known:
            close = difflib.get_close_matches(cid, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise RubricError(f"rubric {_where(rubric._chain, ('checks', cid)) or rubric.source}: "
                              f"unknown check '{cid}'{hint}")
        try:
            cls = registry.load(cid)
        except registry.PluginLoadError:
            continue  # the audit records the broken plug-in as an error check; its params cannot be checked
        try:
            cls.Params.model_validate(pol.params)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            at = _where(rubric._chain, ("checks", cid, "params", *first["loc"])) or rubric.source
            raise RubricError(
                f"rubric {at}: checks.{cid}.params.{where}: {first['msg']} (got {first.get('input')!r})"
            ) from None
        check_conditions(rubric, cid, cls)


def check_conditions(rubric: Rubric, cid: str, cls: Any) -> None:
    """Every condition on ``cid`` names a metric the check declares and selects it by fields that metric has.

    Checks declare their metrics (``Check.metrics``); a plug-in that declares none is not checked here (its
    conditions still fail at run time when they match nothing). Raises :class:`RubricError` with a hint.
    """
    from trustaudit.checks.base import SUBJECT_FIELDS

    declared = {m.name: m for m in getattr(cls, "metrics", ())}
    if not declared:
        return
    for i, cond in enumerate(rubric.policy(cid).conditions):
        at = _where(rubric._chain, ("checks", cid, "conditions", i)) or rubric.source
        spec = declared.get(cond.metric)
        if spec is None:
            close = difflib.get_close_matches(cond.metric, list(declared), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else f"; {cid} reports: {', '.join(sorted(declared))}"
            raise RubricError(f"rubric {at}: {cid} has no metric '{cond.metric}'{hint}")
        for key in cond.where:
            if key in spec.subject:
                continue
            fields = ", ".join(spec.subject) if spec.subject else "none (it has one value)"
            if key == "subject":
                raise RubricError(
                    f"rubric {at}: 'where: {{subject: ...}}' selects by formatted text, which changes with a check's "
                    f"wording; select {cid}'s '{cond.metric}' by its fields ({fields}), e.g. "
                    + ("where: {budget: 0.1}" if "budget" in spec.subject else "where: {attribute: sex}")
                )
            close = difflib.get_close_matches(key, list(spec.subject) or list(SUBJECT_FIELDS), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise RubricError(
                f"rubric {at}: {cid}'s metric '{cond.metric}' has no field '{key}' to select by "
                f"(its fields: {fields}){hint}"
            )


# -- the judge: one place where conditions meet metrics, for the audit and the gate alike --------------------


def judge(
    cr: CheckResult,
    conditions: list[Condition],
    *,
    baseline: dict[tuple[str, str], Metric] | None = None,
    family_size: int = 1,
) -> list[ConditionResult]:
    """Apply ``conditions`` to the metrics of one check result (which is not modified).

    A condition that matches no metric is an ``error`` result: the rubric asked for something the check did not
    report (a misspelled metric, a selection that no longer matches), so it can never pass by being skipped.
    ``baseline`` maps (check id, metric key) to the baseline's metric for baseline-relative conditions.
    """
    out: list[ConditionResult] = []
    for cond in conditions:
        matched = [m for m in cr.metrics if cond.matches(m)]
        if not matched:
            out.append(ConditionResult(
                condition=cond.text(), metric=cond.metric, severity=cond.severity, status=Status.ERROR,
                judge=cond.judge, spec=cond.spec(),
                message=f"the condition on {cond.selection()} matches no metric that {cr.check_id} reported, so "
                "nothing was judged; fix the rubric ('trustaudit lint' lists the check's metrics)",
            ))
            continue
        for m in matched:
            b = baseline.get((cr.check_id, m.key)) if baseline is not None and cond.relative_to else None
            out.append(cond.evaluate(m, b, family_size=family_size))
    return out


def status_of(conds: list[ConditionResult], *, baseline_given: bool = False) -> tuple[Status, str | None]:
    """A check's status from its judged conditions, and a note when none could be judged.

    Conditions that were not judged (too few rows, stopped early, unstable) never make a check pass: a check
    with conditions none of which could be judged is a warning. Baseline-relative conditions without a
    baseline are left aside (they are the gate's, with --baseline).
    """
    judged = [c for c in conds if c.status != Status.SKIPPED]
    if judged:
        return Status.worst([c.status for c in judged]), None
    pending = [c for c in conds if not (c.spec is not None and c.spec.relative_to and not baseline_given)]
    if pending:
        return Status.WARN, f"no condition could be judged ({pending[0].message})"
    return Status.PASS, None


def judge_check(cr: CheckResult, rubric: Rubric) -> CheckResult:
    """Judge a check's metrics against the rubric's conditions and set its status (the audit's judge)."""
    if cr.status in (Status.ERROR, Status.SKIPPED):
        return cr
    conds = judge(cr, rubric.policy(cr.check_id).conditions)
    cr.conditions = conds
    cr.status, note = status_of(conds)
    if note is not None:
        cr.warnings.append(note)
    unmatched = [c for c in conds if c.status == Status.ERROR]
    if unmatched and cr.error is None:
        cr.error = "; ".join(c.message for c in unmatched[:3])
    return cr
