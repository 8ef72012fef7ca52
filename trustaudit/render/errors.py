"""Rendering errors: bad input for the CLI (exit code 2)."""

from __future__ import annotations

from trustaudit.errors import TrustAuditError


class RenderError(TrustAuditError):
    """A report cannot be rendered (unknown format, bad template directory, template error)."""
