"""Helpers for the lineage tests: break copies of sample bundles in controlled ways."""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(bundle: Path) -> dict[str, Any]:
    return yaml.safe_load((bundle / "trustaudit.yaml").read_text(encoding="utf-8"))


def write_manifest(bundle: Path, data: dict[str, Any]) -> None:
    (bundle / "trustaudit.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def edit_lineage(bundle: Path, fn: Callable[[dict[str, Any]], None]) -> None:
    data = read_manifest(bundle)
    fn(data["lineage"])
    write_manifest(bundle, data)


def rewrite_csv_gz(path: Path, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    df = pd.read_csv(path)
    text = fn(df).to_csv(index=False, lineterminator="\n")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        gz.write(text.encode())
    path.write_bytes(buf.getvalue())


def refresh_digests(bundle: Path) -> None:
    """Recompute every declared sha256 (after a deliberate change that is not the point of a test)."""

    def fix(lin: dict[str, Any]) -> None:
        for rel in lin.get("files", {}):
            lin["files"][rel] = f"sha256:{sha256(bundle / rel)}"
        for ref in lin.get("training_data", []):
            if ref.get("path"):
                ref["digest"] = f"sha256:{sha256(bundle / ref['path'])}"

    edit_lineage(bundle, fix)


def run(bundle: Path | Any, checks: list[str], params: dict[str, Any] | None = None, out: Path | None = None,
        *, load_model: bool = True):
    """Audit with the given checks; ``load_model=False`` skips loading the model (faster, for file checks)."""
    from trustaudit.api import audit
    from trustaudit.bundle import load_bundle

    if not load_model and isinstance(bundle, Path):
        bundle = load_bundle(bundle, load_model=False)
    return audit(bundle, checks=checks, params=params or {}, out_dir=out, seed=0)


def metric(result: Any, name: str, subject: str | None = None) -> Any:
    hits = [m for m in result.metrics if m.name == name and (subject is None or m.subject == subject)]
    assert hits, f"no metric {name} [{subject}] in {[m.key for m in result.metrics]}"
    return hits[0]


@pytest.fixture
def german(copy_bundle) -> Path:
    return copy_bundle("german-credit")
