"""Fixtures for the report tests: a synthetic report with artefacts, rendered once per session."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .helpers import make_report


def pdf_text(pdf: bytes, tmp: Path, *, layout: bool = False) -> str:
    """Text of a PDF through poppler's pdftotext (pages separated by form feeds)."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp / "doc.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", "-enc", "UTF-8"] + (["-layout"] if layout else []) + [str(path), "-"]
    return subprocess.run(args, check=True, capture_output=True).stdout.decode("utf-8")


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("synth")
    report = make_report(d)
    (d / "report.json").write_text(report.to_json())
    return d


@pytest.fixture(scope="session")
def synth_report(synth_dir: Path):
    from trustaudit.api import load_report

    return load_report(synth_dir / "report.json")


@pytest.fixture(scope="session")
def synth_pdf(synth_report, synth_dir: Path) -> bytes:
    from trustaudit.render import render

    data = render(synth_report, "pdf", report_dir=synth_dir)
    assert isinstance(data, bytes)
    return data


@pytest.fixture(scope="session")
def synth_pdf_text(synth_pdf: bytes, tmp_path_factory: pytest.TempPathFactory) -> str:
    return pdf_text(synth_pdf, tmp_path_factory.mktemp("pdftext"))
