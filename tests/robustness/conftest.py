"""Fixtures for the robustness checks: the Adult sample bundles (loaded once) and small synthetic bundles."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest

from tests.robustness.robustness_helpers import make_bundle

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_models"


@pytest.fixture(scope="session")
def adult():
    """adult(name) -> AuditContext of a sample bundle (seed 0), loaded once per session."""
    from trustaudit.bundle.loader import load_bundle
    from trustaudit.context import AuditContext

    cache: dict[str, AuditContext] = {}

    def get(name: str) -> AuditContext:
        if name not in cache:
            cache[name] = AuditContext(load_bundle(SAMPLES / name), seed=0)
        return cache[name]

    return get


_BUNDLES: dict = {}


@pytest.fixture()
def synthetic():
    """synthetic(kind, ...) -> (fresh AuditContext, fitted pipeline); bundles are built once per session."""
    from trustaudit.context import AuditContext

    def make(kind: str = "logreg", **kw):
        key = (kind, tuple(sorted(kw.items())))
        if key not in _BUNDLES:
            _BUNDLES[key] = make_bundle(kind, **kw)
        bundle, model = _BUNDLES[key]
        return AuditContext(bundle, seed=0), model

    return make
