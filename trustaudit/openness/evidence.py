"""Evidence for a local bundle: do declared components exist, and do their LICENSE files say what is declared?

Paths are resolved inside the bundle; a path that escapes it (``..``, an absolute path, a symlink pointing out)
is refused, never read. LICENSE texts are identified with ``licenseclassifier`` (a pure-Python port of Go's
licensecheck, SPDX templates shipped in the wheel). When it is not installed a documented fallback reads an
``SPDX-License-Identifier:`` line or matches the text's title against SPDX license names.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from trustaudit.openness.models import ComponentDecl, ComponentRow, EvidenceFinding

LICENSE_FILE_NAMES = (
    "LICENSE",
    "LICENSE.txt",
    "LICENSE.md",
    "LICENCE",
    "LICENCE.txt",
    "COPYING",
    "COPYING.txt",
)
_MAX_LICENSE_BYTES = 512 * 1024
_REMOTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_SPDX_TAG = re.compile(r"SPDX-License-Identifier:\s*([^\s*/#<>-][^\n*/#<>]*)")


def _inside(root: Path, rel: str) -> tuple[Path | None, str | None]:
    """Resolve ``rel`` inside ``root``; (path, None) or (None, why it is refused)."""
    if Path(rel).is_absolute() or re.match(r"^[A-Za-z]:[\\/]", rel):
        return None, "is absolute; component paths are relative to the bundle"
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        return None, "escapes the bundle directory"
    return target, None


def identify_license_text(text: str) -> tuple[list[str], str]:
    """SPDX ids found in a license text, and the method used ('licenseclassifier' or 'fallback')."""
    try:
        from licenseclassifier import identify_license
    except ImportError:
        return _fallback_identify(text), "fallback"
    ids = list(dict.fromkeys(m.id for m in identify_license(text)))
    if not ids:
        tagged = _spdx_tags(text)
        if tagged:
            return tagged, "spdx-tag"
    return ids, "licenseclassifier"


def _spdx_tags(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1).strip() for m in _SPDX_TAG.finditer(text[:20000])))


@lru_cache(maxsize=1)
def _name_index() -> list[tuple[str, str]]:
    from trustaudit.openness.licenses import tables

    names = [(info.name.lower(), info.id) for info in tables().spdx.values() if not info.deprecated]
    return sorted(names, key=lambda x: -len(x[0]))


#: Fallback fingerprints: a phrase that only the license's text contains (checked in order).
_FINGERPRINTS = (
    ("apache license", "version 2.0", "Apache-2.0"),
    ("gnu affero general public license", "version 3", "AGPL-3.0-only"),
    ("gnu lesser general public license", "version 3", "LGPL-3.0-only"),
    ("gnu general public license", "version 3", "GPL-3.0-only"),
    ("gnu general public license", "version 2", "GPL-2.0-only"),
    ("mozilla public license", "2.0", "MPL-2.0"),
    ("permission is hereby granted, free of charge", "without restriction", "MIT"),
    ("redistribution and use in source and binary forms", "neither the name", "BSD-3-Clause"),
    ("redistribution and use in source and binary forms", "binary form must reproduce", "BSD-2-Clause"),
    ("permission to use, copy, modify, and/or distribute this software", "", "ISC"),
    ("attribution 4.0 international", "creative commons", "CC-BY-4.0"),
    ("attribution-sharealike 4.0 international", "creative commons", "CC-BY-SA-4.0"),
    ("cc0 1.0 universal", "", "CC0-1.0"),
)


def _fallback_identify(text: str) -> list[str]:
    """Without a classifier: an SPDX tag, else an SPDX license name in the first lines (longest wins), else a
    fingerprint phrase of a common license. Coarse by design: it cannot tell close variants apart."""
    tagged = _spdx_tags(text)
    if tagged:
        return tagged
    flat = " ".join(text[:20000].lower().split())
    for first, second, ident in _FINGERPRINTS:
        if (
            first in flat
            and second in flat
            and not (ident.startswith("BSD-2") and "neither the name" in flat)
        ):
            return [ident]
    head = flat[:600]
    for name, ident in _name_index():
        if len(name) >= 8 and name in head:
            return [ident]
    return []


def verify_evidence(
    declared: dict[str, ComponentDecl], rows: list[ComponentRow], bundle_root: Path
) -> list[EvidenceFinding]:
    root = bundle_root.resolve()
    findings: list[EvidenceFinding] = []
    cache: dict[Path, tuple[list[str], str]] = {}
    for row in rows:
        comp = declared.get(row.name)
        if comp is None:
            continue
        findings.extend(_component_evidence(row, comp, root, cache))
    return findings


def _component_evidence(
    row: ComponentRow, comp: ComponentDecl, root: Path, cache: dict[Path, tuple[list[str], str]]
) -> list[EvidenceFinding]:
    out: list[EvidenceFinding] = []
    name = row.name

    def add(
        kind: Any, level: Any, message: str, path: str | None = None, identified: list[str] | None = None
    ) -> None:
        out.append(
            EvidenceFinding(
                component=name,
                kind=kind,
                level=level,
                message=message,
                path=path,
                identified=identified or [],
            )
        )

    target: Path | None = None
    cp = comp.component_path
    if not cp:
        add("no_path", "info", "no component_path declared; existence not checked")
    elif _REMOTE.match(cp):
        add("path_remote", "info", f"remote location {cp}; not fetched", cp)
    else:
        target, why = _inside(root, cp)
        if target is None:
            add("path_escapes_bundle", "error", f"component_path '{cp}' {why}; refused", cp)
        elif not target.exists():
            add("path_missing", "error", f"component_path '{cp}' does not exist in the bundle", cp)
            target = None
        else:
            add("path_ok", "ok", f"'{cp}' exists", cp)

    license_file = _license_file(comp, target, root, add)
    if license_file is None:
        return out
    rel = str(license_file.relative_to(root)) if root in license_file.parents else str(license_file)
    if license_file not in cache:
        try:
            with license_file.open("rb") as fh:
                raw = fh.read(_MAX_LICENSE_BYTES)
            cache[license_file] = identify_license_text(raw.decode("utf-8", errors="replace"))
        except OSError as exc:
            add("license_unidentified", "warn", f"cannot read {rel}: {exc.strerror or exc}", rel)
            return out
    ids, method = cache[license_file]
    if not ids:
        add("license_unidentified", "warn", f"{rel}: license text not identified ({method})", rel)
        return out
    declared_ids = _declared_ids(row)
    if not declared_ids:
        add(
            "license_unidentified",
            "info",
            f"{rel} reads as {', '.join(ids)}; no license declared to compare",
            rel,
            ids,
        )
    elif declared_ids & set(ids):
        add(
            "license_match",
            "ok",
            f"{rel} reads as {', '.join(ids)}, matching the declared {row.spdx or row.license}",
            rel,
            ids,
        )
    else:
        add(
            "license_mismatch",
            "error",
            f"{rel} reads as {', '.join(ids)} ({method}), but {row.spdx or row.license} is declared",
            rel,
            ids,
        )
    return out


def _declared_ids(row: ComponentRow) -> set[str]:
    from trustaudit.openness.licenses import license_symbols, normalise_id

    if row.spdx:
        return license_symbols(row.spdx)
    if row.license:
        ident, _ = normalise_id(row.license)
        return {ident} if ident else {row.license}
    return set()


def _license_file(comp: ComponentDecl, target: Path | None, root: Path, add: Any) -> Path | None:
    lp = comp.license_path
    if lp and not _REMOTE.match(lp):
        path, why = _inside(root, lp)
        if path is None:
            add("path_escapes_bundle", "error", f"license_path '{lp}' {why}; refused", lp)
            return None
        if not path.is_file():
            add("license_file_missing", "error", f"license_path '{lp}' is not a file in the bundle", lp)
            return None
        return path
    if lp:
        add("license_file_missing", "info", f"license_path is remote ({lp}); not fetched", lp)
        return None
    if target is None:
        return None  # nothing local to look beside; the component's existence finding says why
    # nearest LICENSE: in the component's folder (or the folder holding it), then each parent up to the root
    folder = target if target.is_dir() else target.parent
    while True:
        for candidate in LICENSE_FILE_NAMES:
            path = folder / candidate
            if path.is_file():
                resolved = path.resolve()
                if resolved == root or root in resolved.parents:
                    return resolved
        if folder == root or root not in folder.parents:
            break
        folder = folder.parent
    add(
        "license_file_missing",
        "warn",
        "no license_path, and no LICENSE file beside the component or in a folder above it in the bundle",
    )
    return None
