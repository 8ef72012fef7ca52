"""The openness scorer's input error."""

from __future__ import annotations

from trustaudit.errors import TrustAuditError


class OpennessInputError(TrustAuditError):
    """An openness declaration cannot be read: invalid YAML, wrong types, an unknown component, an empty file.

    The message is one line; the CLI prints ``error: <message>`` and exits 2.
    """
