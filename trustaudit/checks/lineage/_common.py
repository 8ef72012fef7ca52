"""Helpers shared by the lineage checks: the parsed lineage section and sources (cached on the context)."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from trustaudit.lineage.spec import LineageSpec, parse_lineage
from trustaudit.stats import rate_metric

if TYPE_CHECKING:
    from trustaudit.context import AuditContext
    from trustaudit.lineage.sources import BundleSources

CATEGORY = "lineage"

__all__ = ["CATEGORY", "bundle_sources", "has_lineage", "lineage_spec", "listing", "norm_path", "rate_metric",
           "short"]


def lineage_spec(ctx: AuditContext) -> LineageSpec:
    """The validated lineage section (empty when absent). A malformed section raises BundleError."""
    key = "lineage:spec"
    if key not in ctx.cache:
        ctx.cache[key] = parse_lineage(ctx.bundle.manifest)
    spec: LineageSpec = ctx.cache[key]
    return spec


def has_lineage(ctx: AuditContext) -> bool:
    return ctx.bundle.manifest.lineage is not None


def bundle_sources(ctx: AuditContext) -> BundleSources:
    from trustaudit.lineage.sources import discover

    key = "lineage:sources"
    if key not in ctx.cache:
        ctx.cache[key] = discover(ctx.bundle, lineage_spec(ctx))
    found: BundleSources = ctx.cache[key]
    return found


def norm_path(path: str) -> str:
    """Compare bundle paths as written in different places: 'data/x.csv' == './data/x.csv' == 'data\\x.csv'."""
    return posixpath.normpath(str(path).replace("\\", "/"))


def short(digest: str, width: int = 12) -> str:
    return digest if len(digest) <= width else digest[:width] + "…"


def listing(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")
