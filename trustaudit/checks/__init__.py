"""Check protocol, registry and the built-in check families."""

from trustaudit.checks.base import Check, CheckOutput, CheckParams

__all__ = ["Check", "CheckOutput", "CheckParams"]
