"""Discover checks through the ``trustaudit.checks`` entry-point group (built-ins included)."""

from __future__ import annotations

import fnmatch
from functools import lru_cache
from importlib.metadata import entry_points

from trustaudit.checks.base import Check
from trustaudit.errors import TrustAuditError

GROUP = "trustaudit.checks"


class RegistryError(TrustAuditError):
    pass


class PluginLoadError(RegistryError):
    """A registered check's code could not be imported (a broken or incompatible plug-in). The audit records
    the check as an error and runs the others."""


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available() -> list[str]:
    """Ids of every registered check, sorted (loading nothing)."""
    return sorted(_entry_points())


def load(check_id: str) -> type[Check]:
    eps = _entry_points()
    if check_id not in eps:
        import difflib

        close = difflib.get_close_matches(check_id, list(eps), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise RegistryError(f"unknown check '{check_id}'{hint}; 'trustaudit checks' lists them")
    try:
        cls = eps[check_id].load()  # type: ignore[attr-defined]
    except Exception as exc:  # a plug-in's import error must not abort every audit
        first = str(exc).splitlines()[0] if str(exc) else ""
        target = getattr(eps[check_id], "value", "?")
        raise PluginLoadError(
            f"check plug-in '{check_id}' ({target}) failed to import: {type(exc).__name__}: {first}; "
            "fix or uninstall the package that registers it"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Check)):
        raise RegistryError(f"entry point '{check_id}' does not point at a trustaudit Check class")
    if cls.id != check_id:
        raise RegistryError(f"entry point '{check_id}' loads a check whose id is '{cls.id}'")
    return cls


def select(patterns: list[str] | None, *, defaults_only: bool = True) -> list[str]:
    """Check ids matching glob patterns (``fairness.*``); all default-enabled checks when none are given."""
    ids = available()
    if not patterns:
        return [i for i in ids if not defaults_only or _default_enabled(i)]
    chosen: list[str] = []
    for pat in patterns:
        hits = [i for i in ids if fnmatch.fnmatchcase(i, pat) or i.split(".")[0] == pat]
        if not hits:
            load(pat)  # raises a helpful error
        chosen.extend(h for h in hits if h not in chosen)
    return chosen


def _default_enabled(check_id: str) -> bool:
    """Whether a check runs by default; a plug-in that fails to import is selected, so the audit records its
    error instead of silently dropping it."""
    try:
        return load(check_id).default_enabled
    except PluginLoadError:
        return True


def clear_cache() -> None:
    _entry_points.cache_clear()
