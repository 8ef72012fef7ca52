"""Bounded YAML for every YAML input trustaudit reads (manifests, rubrics, openness files, card front matter,
MLmodel files, lineage sidecars).

PyYAML's safe loader runs no code, but it is not bounded: a 466-byte "billion laughs" document (anchors that
alias each other in nine levels) composes to a small graph that expands to 10^9 nodes as soon as anything walks
it (validation, serialisation), and explicit tags with bad values (``!!int 0x``, ``!!timestamp 2024-99-99``)
raise ``ValueError`` from deep inside the constructor. Here every document is first scanned as a stream of
parser events (libyaml, linear in the text): its size, nesting depth, number of aliases and the number of nodes
it *expands to* (each alias counts the whole subtree it refers to) are bounded before anything is constructed.
Construction errors of any kind become one :class:`YamlInputError` with the line and the problem.

PyYAML has no such limits itself (yaml/pyyaml#375); this small scanner is written by hand for that reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    ScalarEvent,
)

from trustaudit.errors import TrustAuditError

_BaseSafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SafeLoader(_BaseSafeLoader):
    """The safe loader, with ``!!binary`` decoded strictly: PyYAML's lenient base64 turns ``!!binary @@`` into
    ``b''`` silently (and a text field would then take it)."""


def _strict_binary(loader: Any, node: Any) -> bytes:
    import base64
    import binascii

    value = loader.construct_scalar(node)
    try:
        return base64.b64decode("".join(str(value).split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"!!binary value is not base64 ({exc})") from None


_SafeLoader.add_constructor("tag:yaml.org,2002:binary", _strict_binary)


@dataclass(frozen=True)
class YamlLimits:
    """Bounds on one YAML document. The defaults are far above any real manifest, rubric or model card."""

    max_bytes: int = 4 * 1024 * 1024
    max_depth: int = 64
    max_aliases: int = 1000
    max_nodes: int = 500_000  # after expanding every alias


DEFAULT_LIMITS = YamlLimits()


class YamlInputError(TrustAuditError):
    """A YAML input is invalid or exceeds the limits; the message is one line and names the source."""


class YamlSyntaxError(YamlInputError):
    """The text is not YAML at all (as opposed to YAML over the limits, or a value its tag cannot build)."""


def _where(mark: Any, line_offset: int = 0) -> str:
    return f" at line {mark.line + 1 + line_offset}, column {mark.column + 1}" if mark is not None else ""


def check_limits(text: str, source: str, limits: YamlLimits = DEFAULT_LIMITS, line_offset: int = 0) -> None:
    """Raise :class:`YamlInputError` when ``text`` is larger, deeper or expands to more nodes than ``limits``."""
    size = len(text.encode("utf-8", "surrogatepass")) if len(text) * 4 > limits.max_bytes else len(text)
    if size > limits.max_bytes:
        raise YamlInputError(
            f"{source} is {size:,} bytes, more than the {limits.max_bytes:,} bytes a YAML input may have"
        )
    anchors: dict[str, int] = {}
    stack: list[list[Any]] = []  # [expanded node count so far, anchor or None]
    total = 0
    aliases = 0
    try:
        for ev in yaml.parse(text, Loader=_SafeLoader):
            if isinstance(ev, ScalarEvent):
                total += 1
                if ev.anchor:
                    anchors[ev.anchor] = 1
                if stack:
                    stack[-1][0] += 1
            elif isinstance(ev, CollectionStartEvent):
                if len(stack) >= limits.max_depth:
                    raise YamlInputError(
                        f"{source} nests collections deeper than {limits.max_depth} levels"
                        f"{_where(ev.start_mark, line_offset)}"
                    )
                total += 1
                stack.append([1, ev.anchor])
            elif isinstance(ev, CollectionEndEvent):
                count, anchor = stack.pop()
                if anchor:
                    anchors[anchor] = count
                if stack:
                    stack[-1][0] += count
            elif isinstance(ev, AliasEvent):
                aliases += 1
                if aliases > limits.max_aliases:
                    raise YamlInputError(
                        f"{source} uses more than {limits.max_aliases} aliases (*name); expand them or simplify "
                        "the file"
                    )
                n = anchors.get(ev.anchor or "", 1)
                total += n
                if stack:
                    stack[-1][0] += n
            if total > limits.max_nodes:
                raise YamlInputError(
                    f"{source} expands to more than {limits.max_nodes:,} YAML nodes (aliases of aliases, a "
                    f"'billion laughs' document?){_where(getattr(ev, 'start_mark', None), line_offset)}; "
                    "refusing to load it"
                )
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, source, line_offset, text) from None


def _syntax_error(exc: Exception, source: str, line_offset: int = 0, text: str | None = None) -> YamlInputError:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "invalid YAML"
    where = _where(mark, line_offset)
    if mark is not None and text is not None:
        lines = text.splitlines() or [""]
        if mark.line >= len(lines):  # libyaml marks an unclosed bracket past the end: name the last line instead
            where = f" at line {len(lines) + line_offset}, column {len(lines[-1]) + 1}"
    return YamlSyntaxError(f"{source} is not valid YAML{where}: {problem}")


def compose(text: str, source: str, limits: YamlLimits = DEFAULT_LIMITS, line_offset: int = 0) -> Any:
    """The bounded document's node graph (for line numbers); None for an empty document."""
    check_limits(text, source, limits, line_offset)
    try:
        return yaml.compose(text, Loader=_SafeLoader)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, source, line_offset, text) from None


def load(text: str, source: str, limits: YamlLimits = DEFAULT_LIMITS, line_offset: int = 0,
         loader: Any = None) -> Any:
    """Safe-load one bounded YAML document. Every failure is a one-line :class:`YamlInputError`."""
    check_limits(text, source, limits, line_offset)
    try:
        return yaml.load(text, Loader=loader or _SafeLoader)  # a safe loader (C or pure SafeLoader)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, source, line_offset, text) from None
    except Exception as exc:
        # explicit tags with values the constructor cannot build: '!!int 0x', '!!float abc', '!!timestamp 2024-99-99'
        # (ValueError), '!!bool 0x' (KeyError), ... : the document is bounded, so any failure is the input's
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise YamlInputError(f"{source} has a value that is not valid for its YAML tag: {msg}") from None


def read_text(path: Path, what: str, limits: YamlLimits = DEFAULT_LIMITS) -> str:
    """Read a UTF-8 YAML file, refusing it before reading when it is larger than ``limits.max_bytes``."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise YamlInputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if size > limits.max_bytes:
        raise YamlInputError(
            f"{what} {path} is {size:,} bytes, more than the {limits.max_bytes:,} bytes a YAML input may have"
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise YamlInputError(f"{what} {path} is not UTF-8 text") from None
    except OSError as exc:
        raise YamlInputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
