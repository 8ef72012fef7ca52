"""Model bundles: the manifest, safe path resolution, data and model loading.

Names are imported lazily so that manifest-only tools (``trustaudit lint``) do not import pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["MANIFEST_NAME", "Bundle", "Manifest", "ProtectedAttribute", "load_bundle", "parse_manifest", "resolve_inside"]

_LAZY = {
    "Bundle": "trustaudit.bundle.loader",
    "ProtectedAttribute": "trustaudit.bundle.loader",
    "load_bundle": "trustaudit.bundle.loader",
    "resolve_inside": "trustaudit.bundle.loader",
    "MANIFEST_NAME": "trustaudit.bundle.manifest",
    "Manifest": "trustaudit.bundle.manifest",
    "parse_manifest": "trustaudit.bundle.manifest",
}

if TYPE_CHECKING:  # pragma: no cover
    from trustaudit.bundle.loader import Bundle, ProtectedAttribute, load_bundle, resolve_inside
    from trustaudit.bundle.manifest import MANIFEST_NAME, Manifest, parse_manifest


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trustaudit.bundle' has no attribute {name!r}")
