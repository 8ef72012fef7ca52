"""The layering is a contract: ``lint-imports`` keeps the [tool.importlinter] contracts of pyproject.toml, and
no import cycle exists between trustaudit's packages or between its modules (grimp sees imports inside
functions too). See docs/architecture.md, "Layers"."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import ROOT

grimp = pytest.importorskip("grimp", reason="the dev extra (import-linter, grimp) is not installed")


def _graph(exclude_type_checking: bool = False) -> object:
    return grimp.build_graph("trustaudit", exclude_type_checking_imports=exclude_type_checking, cache_dir=None)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def _explain(graph: object, comp: list[str], depth: int | None) -> str:
    """One import chain per direction between the first two members of a cycle."""
    a, b = comp[0], comp[1]

    def chain(x: str, y: str) -> object:
        if depth is None:
            return graph.find_shortest_chain(x, y)  # type: ignore[attr-defined]
        chains = graph.find_shortest_chains(x, y, as_packages=True)  # type: ignore[attr-defined]
        return sorted(chains)[0] if chains else None

    return f"{comp}: {a} -> {b} via {chain(a, b)}; {b} -> {a} via {chain(b, a)}"


def test_import_contracts_are_kept() -> None:
    """The [tool.importlinter] contracts (layers, independent check families) hold."""
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.skip(f"{exe} is not installed (the dev extra)")
    proc = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_top_level_module_has_a_layer() -> None:
    """A new top-level module or package must be placed in the layers contract, or it would escape it."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c.get("id") == "layers")["layers"]
    listed = {name.strip() for layer in layers for name in layer.replace(":", "|").split("|")}
    g = _graph()
    top = {m for m in g.modules if m.count(".") == 1}  # type: ignore[attr-defined]
    assert top - listed == set(), "add these to the 'layers' contract in pyproject.toml"
    assert listed - top == set(), "the 'layers' contract names modules that do not exist"


def test_no_cycle_between_top_level_packages() -> None:
    """trustaudit.X never imports trustaudit.Y, directly or through others, when Y imports X (any import,
    including ones inside functions and under TYPE_CHECKING)."""
    g = _graph()
    top = {m for m in g.modules if m.count(".") == 1}  # type: ignore[attr-defined]
    edges: dict[str, set[str]] = defaultdict(set)
    for pkg in top:
        for other in top - {pkg}:
            if g.direct_import_exists(importer=pkg, imported=other, as_packages=True):  # type: ignore[attr-defined]
                edges[pkg].add(other)
    cycles = _cycles(edges)
    assert not cycles, "\n".join(_explain(g, c, 2) for c in cycles)


def test_no_cycle_between_modules() -> None:
    """No module imports (directly or through others) a module that imports it, a package's __init__
    included: every module can be read bottom up."""
    g = _graph()
    edges: dict[str, set[str]] = {
        m: set(g.find_modules_directly_imported_by(m)) for m in g.modules  # type: ignore[attr-defined]
    }
    cycles = _cycles(edges)
    assert not cycles, "\n".join(_explain(g, c, None) for c in cycles)
