"""Crafted malicious skops files: a node that *calls* a dangerous function while the file is loaded.

skops' ``ConstructorFromReduceNode`` rebuilds an object as ``module.name(*content)``. Naming a function there
(``builtins.exec``, ``os.system``, ...) runs it during ``skops.io.load`` if the caller trusts that type. Every
payload here writes a marker file when it runs, so a test can prove that nothing ran.
"""

from __future__ import annotations

import json
import zipfile
from itertools import count
from pathlib import Path
from typing import Any

_ids = count(100_000)  # node ids that no real model file uses


def _str(value: str, i: int) -> dict[str, Any]:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True, "__id__": next(_ids)}


def _tuple(items: list[dict[str, Any]], i: int) -> dict[str, Any]:
    return {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "content": items,
            "__id__": next(_ids)}


def _list(items: list[dict[str, Any]], i: int) -> dict[str, Any]:
    return {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": items,
            "__id__": next(_ids)}


def call_node(module: str, name: str, args: list[dict[str, Any]]) -> dict[str, Any]:
    """A node that calls ``module.name(*args)`` when constructed."""
    return {"__class__": name, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": _tuple(args, 0), "__id__": next(_ids)}


def payloads(marker: Path) -> dict[str, dict[str, Any]]:
    """name -> top node of a skops schema that writes ``marker`` (or imports a module) when loaded."""
    m = str(marker)
    py = f"open({m!r}, 'w').write('pwned')"
    sh = f"touch '{m}'"
    return {
        "builtins.exec": call_node("builtins", "exec", [_str(py, 1)]),
        "builtins.eval": call_node("builtins", "eval", [_str(f"__import__('os').system({sh!r})", 1)]),
        "builtins.__import__": call_node("builtins", "__import__", [_str("antigravity", 1)]),
        "builtins.compile+exec": call_node("builtins", "exec", [call_node("builtins", "compile", [
            _str(py, 1), _str("x", 2), _str("exec", 3)])]),
        "os.system": call_node("os", "system", [_str(sh, 1)]),
        "posix.system": call_node("posix", "system", [_str(sh, 1)]),
        "subprocess.call": call_node("subprocess", "call", [_list([_str("touch", 1), _str(m, 2)], 3)]),
        "subprocess.run": call_node("subprocess", "run", [_list([_str("touch", 1), _str(m, 2)], 3)]),
        "subprocess.Popen": call_node("subprocess", "Popen", [_list([_str("touch", 1), _str(m, 2)], 3)]),
        "subprocess.check_output": call_node("subprocess", "check_output", [_str(sh, 1)]),
        "subprocess.getoutput": call_node("subprocess", "getoutput", [_str(sh, 1)]),
        "importlib.import_module": call_node("importlib", "import_module", [_str("antigravity", 1)]),
        "runpy.run_path": call_node("runpy", "run_path", [_str(str(marker.parent / "evil.py"), 1)]),
        "pickle.loads": call_node("pickle", "loads", [_str("x", 1)]),
        "sklearn-prefix.exec": call_node("sklearn.utils._testing", "exec", [_str(py, 1)]),
        "numpy-prefix.os.system": call_node("numpy.distutils.exec_command", "exec_command", [_str(sh, 1)]),
        "collections.exec": call_node("collections", "exec", [_str(py, 1)]),
    }


def write_skops(path: Path, top: dict[str, Any], template: Path | None = None, nested: bool = False) -> Path:
    """Write a skops zip whose schema is ``top``; with ``nested``, hide ``top`` inside a real model's schema
    (as the ``C`` attribute of its last estimator), copying the template's arrays."""
    schema: dict[str, Any] = dict(top)
    files: dict[str, bytes] = {}
    if nested and template is not None:
        with zipfile.ZipFile(template) as zf:
            for n in zf.namelist():
                files[n] = zf.read(n)
        schema = json.loads(files.pop("schema.json"))
        steps = schema["content"]["content"]["steps"]["content"]
        last = steps[-1]["content"][1]
        last["content"]["content"]["C"] = top
    schema.setdefault("protocol", 2)
    schema.setdefault("_skops_version", "0.16.0")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("schema.json", json.dumps(schema))
        for n, data in files.items():
            zf.writestr(n, data)
    return path
