"""File digests for lineage: any accepted algorithm, files and directories.

A directory (e.g. an MLflow model) is hashed the same way :func:`trustaudit.bundle.loader.sha256_file` does it,
so a declared ``sha256`` of a directory matches the digest recorded in ``report.json``: the hash of the sorted
``relative path`` + ``hex digest of the file`` pairs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from trustaudit.lineage.spec import ALGORITHMS


def hash_path(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file or directory with a canonical algorithm name (see ``ALGORITHMS``)."""
    name = ALGORITHMS[algorithm][0]
    h = hashlib.new(name)
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode())
            h.update(hash_path(f, algorithm).encode())
        return h.hexdigest()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def compare(path: Path, declared: Mapping[str, str], known_sha256: str | None = None) -> dict[str, tuple[str, str]]:
    """Algorithms whose declared digest differs from the file: ``{alg: (declared, actual)}`` (empty: all match).

    ``known_sha256`` is the digest already computed when the bundle was loaded (saves re-reading the file and
    is, by construction, the digest of the bytes that were audited).
    """
    bad: dict[str, tuple[str, str]] = {}
    for alg, want in declared.items():
        got = known_sha256 if (alg == "sha256" and known_sha256) else hash_path(path, alg)
        if got != want:
            bad[alg] = (want, got)
    return bad
