"""Hypothesis fuzzing of every parser of user input (issue 21): manifest, rubric, openness declarations, model
card front matter, MLmodel, CycloneDX BOM, the lineage section and report.json.

Each parser is fed random text and structure-aware documents (valid seeds with a value replaced or a key removed,
explicit YAML tags with odd values, anchors and aliases, deep nesting, huge numbers, odd types). Whatever the
input, a parser returns or raises :class:`trustaudit.errors.TrustAuditError`: any other exception is a crash.
A fixed budget (derandomized, no deadline) keeps the whole file well under a minute.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hardening.corpus_base import BASE_MANIFEST, CORPUS
from trustaudit.errors import TrustAuditError

ROOT = Path(__file__).resolve().parents[2]
BUDGET = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                         HealthCheck.filter_too_much, HealthCheck.data_too_large])

SEEDS: dict[str, str] = {
    "manifest": BASE_MANIFEST + "lineage:\n  files: {model.skops: 'sha256:" + "a" * 64 + "'}\n"
    "  training_data: {name: d, rows: 3}\n  created: 2024-01-01\nopenness:\n  license: MIT\n",
    "rubric": (ROOT / "trustaudit" / "rubrics" / "data" / "default.yaml").read_text(),
    "mot": next((ROOT / "tests" / "openness" / "conformance").glob("Class1*.yml")).read_text(),
    "card": "---\nlicense: apache-2.0\ndatasets: [a, b]\nbase_model: m\nlibrary_name: sklearn\n"
            "model-index: [{name: x}]\n---\n# card\n",
    "mlmodel": "flavors:\n  sklearn: {pickled_model: model.skops, serialization_format: skops, sklearn_version: 1.5}\n"
               "run_id: abc\nmodel_uuid: u\nutc_time_created: '2024-01-01 00:00:00'\n"
               "signature:\n  inputs: '[{\"name\": \"a\", \"type\": \"double\"}]'\n"
               "  outputs: '[{\"type\": \"long\"}]'\n",
    "bom": json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "metadata": {"component": {
        "type": "machine-learning-model", "name": "m", "hashes": [{"alg": "SHA-256", "content": "ab"}],
        "licenses": [{"license": {"id": "MIT"}}], "pedigree": {"ancestors": [{"name": "base"}]},
        "modelCard": {"modelParameters": {"datasets": [{"ref": "d"}]}}, "properties": [{"name": "a"}]}},
        "components": [{"type": "data", "name": "d", "bom-ref": "d", "components": []}]}),
    "report": (CORPUS / "seeds" / "report.json").read_text(),
}

# -- strategies -----------------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30, max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), st.dates(),
    st.datetimes(), st.sampled_from(["", "~", "null", "yes", "0x", "1e999", ">= 25", "../x", "/etc/passwd",
                                     "sha256:" + "0" * 64, "md5:0", "\x00", "\ufeff", "*", "&a"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=4)),
    max_leaves=12,
)
TAGS = ["!!int", "!!float", "!!bool", "!!null", "!!str", "!!binary", "!!timestamp", "!!set", "!!omap",
        "!!pairs", "!!seq", "!!map", "!!merge", "!!value", "!!python/tuple", "!!python/object:os.system",
        "!custom", "!", "!<tag:yaml.org,2002:int>", "!!python/name:os.system"]
tag_values = st.sampled_from(["0x", "abc", "2024-99-99", "@@", "[1]", "{a: 1}", "", "1e999", "9" * 5000, "- a",
                              "\"x\"", "'2024-01-01'", "~", "0b102", "1_0", ".nan", "yes"])


def _dump(obj: Any, as_json: bool) -> str:
    if as_json:
        return json.dumps(obj, default=str)
    return yaml.safe_dump(obj, allow_unicode=True, default_flow_style=None)


def _mutate(obj: Any, path: list[int], new: Any, delete: bool) -> Any:
    """Replace (or remove) the node reached by following ``path`` (indices modulo each container's size)."""
    if not path or not isinstance(obj, (dict, list)) or not obj:
        return new
    if isinstance(obj, dict):
        key = list(obj)[path[0] % len(obj)]
        out = dict(obj)
        if delete and len(path) == 1:
            del out[key]
        else:
            out[key] = _mutate(obj[key], path[1:], new, delete)
        return out
    i = path[0] % len(obj)
    items = list(obj)
    if delete and len(path) == 1:
        del items[i]
    else:
        items[i] = _mutate(obj[i], path[1:], new, delete)
    return items


def documents(seed: str, as_json: bool = False) -> st.SearchStrategy[str]:
    """Random text, structure-aware mutations of ``seed``, tags, aliases and nesting."""
    parsed = json.loads(seed) if as_json else yaml.safe_load(seed.split("---")[1] if seed.startswith("---") else seed)
    lines = seed.splitlines()
    mutated = st.builds(lambda p, v, d: _dump(_mutate(parsed, p, v, d), as_json),
                        st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6), values,
                        st.booleans())
    tagged = st.builds(lambda i, t, v: "\n".join(lines[:i] + [f"{lines[i].split(':')[0] if ':' in lines[i] else 'k'}: "
                                                              f"{t} {v}"] + lines[i + 1:]),
                       st.integers(min_value=0, max_value=max(len(lines) - 1, 0)), st.sampled_from(TAGS), tag_values)
    laughs = st.integers(min_value=2, max_value=12).map(
        lambda n: "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"l{i}: &l{i} [{', '.join(['*a' if i == 0 else f'*l{i - 1}'] * n)}]\n" for i in range(9)) + seed)
    nested = st.builds(lambda n, c: f"k: {c[0] * n}{c[1] * n}\n" + seed, st.integers(min_value=1, max_value=3000),
                       st.sampled_from(["[]", "{}"]))
    nested_json = st.integers(min_value=1, max_value=5000).map(lambda n: "[" * n + "]" * n)
    aliases = st.builds(lambda v, n: "base: &b " + json.dumps(v, default=str) + "\n" + "\n".join(
        f"k{i}: *b" for i in range(n)) + "\n" + seed, values, st.integers(min_value=0, max_value=1200))
    merge = st.builds(lambda v: "x: &m " + json.dumps(v, default=str) + "\ny:\n  <<: *m\n" + seed, values)
    raw = st.one_of(st.text(max_size=300), st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                    st.text(alphabet="[]{}:,-&*!|>'\"#%@`?\n \t", max_size=200))
    return st.one_of(raw, mutated, mutated, tagged, laughs, nested, nested_json, aliases, merge,
                     values.map(lambda v: _dump(v, as_json)))


def card_documents() -> st.SearchStrategy[str]:
    front = documents(SEEDS["card"].split("---")[1])
    return st.one_of(front.map(lambda t: f"---\n{t}\n---\nbody\n"), st.text(max_size=200),
                     front.map(lambda t: f"---\n{t}\n"))


# -- the parsers ----------------------------------------------------------------------------------------------


def expect_clean(fn: Callable[[], Any]) -> None:
    """Run ``fn``: a result or a TrustAuditError is fine; anything else is a crash (the test fails on it)."""
    try:
        fn()
    except TrustAuditError as exc:
        assert "\n" not in exc.one_line()
    except RecursionError:  # never acceptable: a deep document must be refused by the bounded reader
        raise


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return path


@BUDGET
@given(text=documents(SEEDS["manifest"]))
def test_manifest(text: str) -> None:
    from trustaudit.bundle.manifest import parse_manifest
    from trustaudit.lineage.spec import parse_lineage

    def run() -> None:
        m = parse_manifest(text)
        parse_lineage(m)
        if m.openness is not None:
            from trustaudit.openness.io import declaration_from_manifest

            declaration_from_manifest(m)

    expect_clean(run)


@BUDGET
@given(text=documents(SEEDS["rubric"]))
def test_rubric(text: str, work: Path) -> None:
    from trustaudit.rubrics import load_rubric

    expect_clean(lambda: load_rubric(_write(work / "rubric.yaml", text)))


@BUDGET
@given(text=documents(SEEDS["mot"]))
def test_openness_mot(text: str, work: Path) -> None:
    from trustaudit.openness.io import load_mot_text, load_path

    expect_clean(lambda: load_mot_text(text, "model.yml"))
    expect_clean(lambda: load_path(_write(work / "model.yml", text)))


@BUDGET
@given(text=documents(SEEDS["manifest"]))
def test_openness_manifest_file(text: str, work: Path) -> None:
    from trustaudit.openness.io import load_path

    d = work / "bundle"
    d.mkdir(exist_ok=True)
    expect_clean(lambda: load_path(_write(d / "trustaudit.yaml", text)))


@BUDGET
@given(text=card_documents())
def test_model_card(text: str, work: Path) -> None:
    from trustaudit.lineage.sources import parse_model_card
    from trustaudit.openness.io import load_hf_card

    p = _write(work / "README.md", text)
    expect_clean(lambda: parse_model_card(p))
    expect_clean(lambda: load_hf_card(p))
    try:
        from trustaudit.service.openness import score_upload  # the service's reader (needs the service extra)
    except ImportError:
        return
    expect_clean(lambda: score_upload(text, "README.md"))


@BUDGET
@given(text=documents(SEEDS["mlmodel"]))
def test_mlmodel(text: str, work: Path) -> None:
    from trustaudit.bundle.loader import resolve_inside
    from trustaudit.bundle.models import load_mlflow
    from trustaudit.lineage.sources import parse_mlmodel

    d = work / "mlmodel"
    d.mkdir(exist_ok=True)
    p = _write(d / "MLmodel", text)
    expect_clean(lambda: parse_mlmodel(p))
    # the model loader reads the flavours (the files it names do not exist: a load error, never a crash)
    expect_clean(lambda: load_mlflow(d, False, lambda base, rel: resolve_inside(base, rel, "MLmodel path")))


@BUDGET
@given(text=documents(SEEDS["bom"], as_json=True))
def test_cyclonedx(text: str, work: Path) -> None:
    from trustaudit.lineage.sources import parse_cyclonedx

    expect_clean(lambda: parse_cyclonedx(_write(work / "bom.cdx.json", text)))


@BUDGET
@given(raw=values)
def test_lineage_section(raw: Any) -> None:
    from trustaudit.lineage.spec import lineage_from_mapping

    expect_clean(lambda: lineage_from_mapping(raw))
    if isinstance(raw, dict):
        expect_clean(lambda: lineage_from_mapping({"files": raw, "training_data": raw, "code": raw}))


@BUDGET
@given(text=documents(SEEDS["report"], as_json=True))
def test_report(text: str, work: Path) -> None:
    from trustaudit.api import load_report

    expect_clean(lambda: load_report(_write(work / "report.json", text)))


@BUDGET
@given(text=st.one_of(documents(SEEDS["rubric"]), documents(SEEDS["mot"]), documents(SEEDS["manifest"])),
       name=st.sampled_from(["r.yaml", "model.yml", "trustaudit.yaml", "x.txt"]))
def test_lint_never_raises(text: str, name: str, work: Path) -> None:
    from trustaudit.gate.lint import lint_file

    d = work / "lint"
    d.mkdir(exist_ok=True)
    res = lint_file(_write(d / name, text))  # lint reports problems in its result: it raises nothing
    assert all("\n" not in e for e in res.errors)


def test_strategies_cover_odd_values() -> None:
    """Guard against a strategy change that would stop producing the documents this file is about."""
    assert math.isnan(yaml.safe_load(".nan")) and isinstance(yaml.safe_load("2024-01-01"), date)
    assert isinstance(yaml.safe_load("2024-01-01 10:00:00"), datetime)
    assert "!!binary" in TAGS and "!!timestamp" in TAGS
