"""Grade a declaration against the Model Openness Framework: ``score_openness``.

The algorithm is MOT's (see docs/openness.md): resolve each component's license (component, then the type's
global license, then the distribution license), give each required component a status, let a Research paper
stand in for a missing Technical report, compute the gated progress of each class and take the most open class
at 100 %. ``strict_mot=True`` reproduces MOT exactly; the default mode normalises licenses, evaluates SPDX
expressions and names restrictive licenses, and says for each component where it differs from strict mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trustaudit.openness.licenses as lic
from trustaudit.openness.components import (
    ARCHITECTURE,
    BUCKETS,
    CLASS_LABELS,
    CLASS_RANK,
    COMPONENTS,
    FINAL_PARAMETERS,
    MODEL_CARD,
    RESEARCH_PAPER,
    TECHNICAL_REPORT,
    ClassId,
    ComponentSpec,
)
from trustaudit.openness.models import ComponentDecl, Declaration, OpennessResult

_CLASS_ORDER: tuple[ClassId, ...] = ("III", "II", "I")
_BUCKET_I_SUBSTITUTED = tuple(n for n in BUCKETS["I"] if n != TECHNICAL_REPORT)
_COUNTING = frozenset({"counted", "not_type_appropriate"})
_TYPE_WORD = {"code": "an open source software", "data": "an open data", "document": "an open content"}


def score_openness(
    declaration: Declaration | dict[str, Any],
    *,
    strict_mot: bool = False,
    bundle_root: str | Path | None = None,
) -> OpennessResult:
    """Grade ``declaration``. Pure, except for the evidence checks made when ``bundle_root`` is given."""
    if not isinstance(declaration, Declaration):
        from trustaudit.openness.io import declaration_from_mapping

        declaration = declaration_from_mapping(declaration, source="<mapping>")
    release = declaration.release
    warnings: list[str] = list(declaration.notes)
    declared: dict[str, ComponentDecl] = {}
    for comp in release.components:
        if comp.name in declared:
            warnings.append(f"component '{comp.name}' is listed twice; the first entry is used")
            continue
        declared[comp.name] = comp
    g = release.license
    globals_ = {
        "distribution": g.distribution.name if g.distribution else None,
        "code": g.code.name if g.code else None,
        "data": g.data.name if g.data else None,
        "document": g.document.name if g.document else None,
    }

    strict_rows = [_row(True, spec, declared.get(spec.name), globals_) for spec in COMPONENTS]
    strict_progress, strict_subst = _progress(strict_rows)
    strict_summary: dict[str, Any] | None
    if strict_mot:
        rows, progress, substituted = strict_rows, strict_progress, strict_subst
        strict_summary = None
    else:
        rows = [_row(False, spec, declared.get(spec.name), globals_) for spec in COMPONENTS]
        for row, srow in zip(rows, strict_rows):
            _compare(row, srow)
        progress, substituted = _progress(rows)
        sclass = _class_of(strict_progress)
        strict_summary = {
            "mof_class": sclass,
            "class_label": CLASS_LABELS[sclass],
            "progress": strict_progress,
            "total_progress": _total(strict_progress),
        }
    if substituted:
        tr = rows[_INDEX[TECHNICAL_REPORT]]
        tr["substituted_by"] = RESEARCH_PAPER
        tr["warnings"].append(
            "the Research paper stands in for the Technical report in Classes III and II"
            " (and the Class I total drops by one)"
        )
    mof_class = _class_of(progress)
    if strict_summary is not None and strict_summary["mof_class"] != mof_class:
        n = sum(r["differs_from_strict"] for r in rows)
        warnings.append(
            f"default mode grades {CLASS_LABELS[mof_class]}; --strict-mot (MOT) grades "
            f"{strict_summary['class_label']} ({n} component(s) differ, see 'difference')"
        )
    for row in rows:
        warnings.extend(f"{row['name']}: {w}" for w in row["warnings"])
    # one validation of plain data (pydantic-core) is much faster than building 17 models one by one
    result = OpennessResult.model_validate(
        {
            "mode": "strict-mot" if strict_mot else "default",
            "model_name": release.name,
            "model_version": release.version,
            "source": declaration.source,
            "mof_class": mof_class,
            "class_label": CLASS_LABELS[mof_class],
            "class_rank": CLASS_RANK[mof_class],
            "progress": progress,
            "total_progress": _total(progress),
            "technical_report_substituted": substituted,
            "components": rows,
            "warnings": warnings,
            "strict": strict_summary,
            "art53": art53_hint(rows),
        }
    )
    if bundle_root is not None:
        from trustaudit.openness.evidence import verify_evidence

        result.evidence = verify_evidence(declared, result.components, Path(bundle_root))
    return result


_INDEX = {spec.name: i for i, spec in enumerate(COMPONENTS)}


def _resolve(
    spec: ComponentSpec, comp: ComponentDecl, globals_: dict[str, str | None]
) -> tuple[str | None, str]:
    """License of an included component and where it came from (MOT's order)."""
    if comp.license is not None and comp.license != "":
        return comp.license, "component"
    typed = globals_[spec.type]
    if typed:
        return typed, f"global-{spec.type}"
    dist = globals_["distribution"]
    if dist:
        return dist, "distribution"
    return None, "none"


_TEMPLATES: dict[tuple[bool, str, str | None, str], dict[str, Any]] = {}


def _row(
    strict: bool, spec: ComponentSpec, comp: ComponentDecl | None, globals_: dict[str, str | None]
) -> dict[str, Any]:
    """A component row. Rows depend only on (mode, component, license, source): built once, then copied."""
    if comp is None:
        key: tuple[bool, str, str | None, str] = (strict, spec.name, None, "missing")
    else:
        license_, source = _resolve(spec, comp, globals_)
        key = (strict, spec.name, license_, source)
    template = _TEMPLATES.get(key)
    if template is None:
        template = (_strict_row if strict else _default_row)(spec, comp, globals_)
        template["component_path"] = template["license_path"] = None
        if len(_TEMPLATES) > 20000:
            _TEMPLATES.clear()
        _TEMPLATES[key] = template
    row = template.copy()
    row["warnings"] = list(template["warnings"])
    if comp is not None:
        row["component_path"] = comp.component_path
        row["license_path"] = comp.license_path
    return row


def _base_row(
    spec: ComponentSpec,
    comp: ComponentDecl | None,
    status: str,
    license_: str | None,
    source: str,
    warnings: list[str],
) -> dict[str, Any]:
    return {
        "name": spec.name,
        "type": spec.type,
        "mof_class": spec.mof_class,
        "required": spec.required,
        "included": comp is not None,
        "status": status,
        "counted": status in _COUNTING,
        "license": license_,
        "spdx": None,
        "source": source,
        "osi_approved": False,
        "fsf_libre": False,
        "open_data": False,
        "reason": None,
        "substituted_by": None,
        "component_path": comp.component_path if comp is not None else None,
        "license_path": comp.license_path if comp is not None else None,
        "warnings": warnings,
        "strict_status": None,
        "differs_from_strict": False,
        "difference": None,
    }


def _strict_row(
    spec: ComponentSpec, comp: ComponentDecl | None, globals_: dict[str, str | None]
) -> dict[str, Any]:
    if comp is None:
        return _base_row(spec, None, "missing", None, "none", [])
    license_, source = _resolve(spec, comp, globals_)
    if license_ is None or license_ == lic.UNLICENSED:
        return _base_row(spec, comp, "unlicensed", license_, source, [])
    if lic.strict_is_open(license_):
        warnings = []
        if spec.type not in lic.strict_appropriate(license_):
            warnings.append(
                f"'{license_}' is open but not {_TYPE_WORD[spec.type]} license (a warning in MOT)"
            )
        row = _base_row(spec, comp, "counted", license_, source, warnings)
        row["spdx"] = license_
        return row
    row = _base_row(spec, comp, "invalid", license_, source, [])
    row["reason"] = f"'{license_}' is not an OSI-approved, FSF-libre or open data SPDX id (exact match)"
    return row


def _default_row(
    spec: ComponentSpec, comp: ComponentDecl | None, globals_: dict[str, str | None]
) -> dict[str, Any]:
    if comp is None:
        return _base_row(spec, None, "missing", None, "none", [])
    license_, source = _resolve(spec, comp, globals_)
    if license_ is None or not license_.strip() or license_.strip().lower() == lic.UNLICENSED:
        return _base_row(spec, comp, "unlicensed", license_, source, [])
    v = lic.classify(license_)
    warnings = list(v.warnings)
    if v.kind == "open":
        if spec.type in v.appropriate:
            status = "counted"
        else:
            status = "not_type_appropriate"
            warnings.append(f"'{v.spdx}' is open but not {_TYPE_WORD[spec.type]} license; counted, as in MOT")
    elif v.kind == "restrictive":
        status = "restrictive"
    elif v.kind == "not_open":
        status = "not_open"
    else:
        status = "invalid"
        if v.reason:
            warnings.append(v.reason)
    row = _base_row(spec, comp, status, license_, source, warnings)
    row["spdx"] = v.spdx
    row["osi_approved"], row["fsf_libre"], row["open_data"] = v.osi, v.fsf, v.open_data
    row["reason"] = v.reason
    return row


def _compare(row: dict[str, Any], srow: dict[str, Any]) -> None:
    row["strict_status"] = srow["status"]
    if row["counted"] == srow["counted"]:
        return
    row["differs_from_strict"] = True
    if row["counted"]:
        if row["spdx"] != row["license"]:
            row["difference"] = (
                f"MOT marks '{row['license']}' invalid (not an exact SPDX id); normalised to '{row['spdx']}', "
                "which is open"
            )
        else:
            row["difference"] = (
                f"MOT does not count '{row['license']}'; this scorer finds it open ({row['reason']})"
            )
    else:
        row["difference"] = (
            f"MOT counts '{srow['license']}' as open; this scorer does not ({row['status']}: {row['reason']})"
        )


def _progress(rows: list[dict[str, Any]]) -> tuple[dict[str, float], bool]:
    counted = {r["name"]: r["counted"] for r in rows}
    substituted = not counted[TECHNICAL_REPORT] and rows[_INDEX[RESEARCH_PAPER]]["included"]
    if substituted:
        counted[TECHNICAL_REPORT] = counted[RESEARCH_PAPER]
    progress: dict[str, float] = {}
    gated = False
    for cls in _CLASS_ORDER:
        bucket = _BUCKET_I_SUBSTITUTED if (substituted and cls == "I") else BUCKETS[cls]
        n = sum(1 for name in bucket if counted[name])
        progress[cls] = 0.0 if gated else min(n / len(bucket) * 100, 100.0)
        if n < len(bucket):
            gated = True
    return {"I": progress["I"], "II": progress["II"], "III": progress["III"]}, substituted


def _class_of(progress: dict[str, float]) -> str:
    for cls in ("I", "II", "III"):
        if progress[cls] == 100:
            return cls
    return "unclassified"


def _total(progress: dict[str, float]) -> float:
    return (progress["I"] + progress["II"] + progress["III"]) / 3


_CAVEATS = [
    "not available to general-purpose AI models with systemic risk (Art. 51)",
    "exempts only from Art. 53(1)(a) and (b): the copyright policy (c) and the training-content summary (d) "
    "still apply",
    "a release monetised through the model (e.g. paid access, Recital 103) is not covered",
    "a hint from the declaration, not legal advice",
]


def art53_hint(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether the EU AI Act Art. 53(2) open-source exemption plausibly applies (an ``Art53Hint`` as a dict)."""
    by = {r["name"]: r for r in rows}

    def hint(applies: bool | None, reason: str) -> dict[str, Any]:
        return {"applies": applies, "reason": reason, "caveats": list(_CAVEATS)}

    if not any(r["included"] for r in rows):
        return hint(None, "the declaration lists no components")
    weights = by[FINAL_PARAMETERS]
    wlic = weights["spdx"] or weights["license"]
    if not weights["included"]:
        return hint(False, "the final model parameters (weights) are not declared public")
    if weights["status"] == "restrictive":
        return hint(
            False,
            f"the weights' license '{weights['license']}' restricts use ({weights['reason']}); Art. 53(2) needs a "
            "free and open-source licence allowing access, use, modification and distribution",
        )
    if not weights["counted"]:
        return hint(
            False,
            f"the weights are {weights['status'].replace('_', ' ')}"
            + (f" ('{weights['license']}')" if weights["license"] else "")
            + ": not under a free and open-source licence",
        )
    missing = [by[n]["name"] for n in (ARCHITECTURE, MODEL_CARD) if not by[n]["counted"]]
    if missing:
        return hint(
            None,
            f"the weights are open ({wlic}), but {' and '.join(missing)} (information on the architecture and on "
            "usage must be public) is not declared under an open license",
        )
    return hint(
        True,
        f"weights ({wlic}), architecture and model card are public under open licenses without use restrictions",
    )
