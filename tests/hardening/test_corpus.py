"""Every file of the bad-input corpus (tests/hardening/corpus/, index.yaml) fed to the command that reads it.

Exit 2 with exactly one line starting 'error: ' on stderr, naming the problem; no traceback, no 'internal error',
nothing on stdout and no report written. Inputs that break only a check (kind ``data-audit``) complete the audit
(exit 0 or 1) with that check recorded as ``error`` in report.json. Archives (kind ``archive``) are extracted as
the service does: refused with the expected problem type. Regenerate with ``python -m tests.hardening.make_corpus``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.hardening.corpus_base import CORPUS, install_case, load_index, make_base_bundle
from trustaudit.cli import app

CASES = load_index()
BUNDLE_KINDS = {"manifest", "data", "model", "mlmodel", "card", "bom"}
#: corpus cases that crash in a file this hardening pass may not edit: file -> reason (the lead un-xfails them)
XFAIL: dict[str, str] = {}
runner = CliRunner()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_base_bundle(tmp_path_factory.mktemp("corpus") / "base")


def _copy(case: dict[str, Any], tmp: Path) -> Path:
    dest = tmp / "in" / case["file"].split("/", 1)[1]
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(CORPUS / case["file"], dest)
    return dest


def run_case(case: dict[str, Any], base: Path, tmp: Path) -> tuple[Any, Path]:
    """Invoke the case's command in-process; returns the result and the directory a report would be written to."""
    kind = case["kind"]
    out = tmp / "out"
    if kind in BUNDLE_KINDS:
        args = ["validate", str(install_case(case, base, tmp))]
    elif kind == "manifest-lint":
        args = ["lint", str(install_case(case, base, tmp) / "trustaudit.yaml")]
    elif kind == "data-audit":
        args = ["audit", str(install_case(case, base, tmp)), "-c", "fairness.model", "--out", str(out), "-q"]
    elif kind in ("openness", "card-openness"):
        args = ["openness", str(_copy(case, tmp))]
    elif kind == "rubric":
        args = ["lint", "--kind", "rubric", str(_copy(case, tmp))]
    elif kind == "rubric-gate":
        out.mkdir()
        shutil.copy(CORPUS / "seeds" / "report.json", out / "report.json")
        args = ["gate", str(out / "report.json"), "--rubric", str(_copy(case, tmp))]
    elif kind == "report":
        args = ["gate", str(_copy(case, tmp))]
    elif kind == "report-render":
        args = ["render", str(_copy(case, tmp)), "--format", "md", "--out", str(out / "report.md")]
    else:
        raise AssertionError(f"unknown kind {kind}")
    return runner.invoke(app, args), out


def _param(case: dict[str, Any]) -> Any:
    marks = [pytest.mark.xfail(reason=XFAIL[case["file"]], strict=True)] if case["file"] in XFAIL else []
    return pytest.param(case, id=f"{case['kind']}:{case['file']}", marks=marks)


CLI_CASES = [_param(c) for c in CASES if c["kind"] != "archive"]


def test_the_corpus_is_large_and_indexed() -> None:
    files = {c["file"] for c in CASES}
    assert len(files) >= 150
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file()}
    assert files <= on_disk
    assert on_disk - files == {"index.yaml", "seeds/report.json"}


@pytest.mark.parametrize("case", CLI_CASES)
def test_bad_input_is_one_line_exit_2(case: dict[str, Any], base: Path, tmp_path: Path) -> None:
    r, out = run_case(case, base, tmp_path)
    text = r.stdout + r.stderr
    assert "Traceback" not in text and "internal error" not in text, text
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    if case["kind"] == "data-audit":
        assert r.exit_code in (0, 1), text
        report = json.loads((out / "report.json").read_text())
        by_id = {c["check_id"]: c for c in report["checks"]}
        assert by_id[case["expect"]]["status"] == "error", by_id[case["expect"]]
        assert by_id[case["expect"]]["error"]
        return
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.exit_code == 2, text
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert case["expect"] in lines[0], lines[0]
    assert r.stdout == "", r.stdout
    assert not (out / "report.json").exists() or case["kind"] == "rubric-gate"
    assert not (out / "report.md").exists()


@pytest.mark.parametrize("case", [_param(c) for c in CASES if c["kind"] == "archive"])
def test_bad_archives_are_refused(case: dict[str, Any], tmp_path: Path) -> None:
    """What the service does with an upload: extract it safely, then validate the bundle without its model."""
    from trustaudit.service.archive import ArchiveError, Limits, extract

    path = CORPUS / case["file"]
    dest = tmp_path / "bundle"
    if path.stat().st_size == 0:
        assert case["expect"] == "empty"  # the service refuses an empty upload before extracting
        return
    try:
        extract(path, dest, Limits())
    except ArchiveError as exc:
        assert exc.kind.startswith(case["expect"]) or case["expect"] in exc.kind, (exc.kind, exc.message)
        assert 400 <= exc.status < 500 and "\n" not in exc.message
        assert not any(p.is_file() for p in tmp_path.parent.glob("evil.txt"))
        return
    pytest.importorskip("fastapi")
    from trustaudit.service.jobs import validate_bundle
    from trustaudit.service.problems import ProblemError

    assert case["expect"] == "invalid-bundle", f"{case['file']} was extracted"
    with pytest.raises(ProblemError) as info:
        validate_bundle(dest, allow_unsafe_pickle=False)
    assert info.value.status == 422
