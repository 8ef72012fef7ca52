"""Exceptions for bad input. Each carries a one-line message saying what is wrong and how to fix it."""

from __future__ import annotations


class TrustAuditError(Exception):
    """Base class: bad input or usage. The CLI prints ``error: <message>`` and exits 2."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} ({hint})" if hint else message)

    def one_line(self) -> str:
        text = str(self)
        return " ".join(text.split())


class BundleError(TrustAuditError):
    """The bundle (manifest, files, data) is malformed."""


class ModelLoadError(TrustAuditError):
    """The model cannot be loaded (unsupported format, unsafe file, mismatched columns)."""


class RubricError(TrustAuditError):
    """The rubric file is invalid."""


class SkipCheck(Exception):
    """Raised by a check that cannot run on this bundle; the check is recorded as skipped with the reason."""
