"""Model bundles: the manifest, safe path resolution, data and model loading."""

from trustaudit.bundle.loader import Bundle, ProtectedAttribute, load_bundle, resolve_inside
from trustaudit.bundle.manifest import MANIFEST_NAME, Manifest, parse_manifest

__all__ = ["MANIFEST_NAME", "Bundle", "Manifest", "ProtectedAttribute", "load_bundle", "parse_manifest", "resolve_inside"]
