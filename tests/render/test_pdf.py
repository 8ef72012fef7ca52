"""PDF: title page, contents, running header and footer, and every printed number traceable to report.json."""

from __future__ import annotations

import json
import re
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest
import yaml

from trustaudit.render import render
from trustaudit.render.html import render_html

from .conftest import pdf_text
from .helpers import allowed_tokens, chart_tokens, untraceable

APPENDIX = "Appendix: compliance mapping"


def _pages(text: str) -> list[str]:
    return text.split("\f")


def test_pdf_structure(synth_pdf, synth_pdf_text, synth_report):
    assert synth_pdf.startswith(b"%PDF-")
    pages = [p for p in _pages(synth_pdf_text) if p.strip()]
    n = len(pages)
    assert n >= 8
    title = pages[0]
    for fact in ("TRUSTWORTHINESS AUDIT REPORT", "credit-scorer", "version 2.0.1", "FAIL",
                 "12345678-90ab-cdef-1234-567890abcdef", "2026-11-02 09:30:05 UTC", "model sha256:9f86d081884c"):
        assert fact in title, fact
    assert "Page 1 of" not in title  # no running header/footer on the title page
    contents = pages[1]
    assert "Contents" in contents
    # every section is listed with the page it starts on
    for section in ("Verdict", "System identity", "Fairness", "Robustness", "Methodology", APPENDIX):
        assert re.search(rf"{re.escape(section)}\s*\.+\s*\d+", contents), section
    for i, page in enumerate(pages[1:], start=2):
        assert "credit-scorer 2.0.1 · model sha256:9f86d081884c" in page, i  # running header
        assert "Report 12345678-90ab-cdef-1234-567890abcdef" in page, i  # footer with the report id
        assert f"Page {i} of {n}" in page, i


def test_contents_page_numbers_point_at_the_sections(synth_pdf_text):
    pages = _pages(synth_pdf_text)
    listed = dict(re.findall(r"^(Robustness|Methodology)\s*\.+\s*(\d+)\s*$", pages[1], flags=re.M))
    assert set(listed) == {"Robustness", "Methodology"}
    for section, page in listed.items():
        body = pages[int(page) - 1]
        assert re.search(rf"^{section}$", body, flags=re.M), (section, page)


def _check_traceability(report, pdf: bytes, html: str, tmp_path) -> int:
    text = pdf_text(pdf, tmp_path)
    pages = _pages(text)
    # structural text that is not report data: the contents page, page numbers
    pages = [p for p in pages if not re.search(r"^Contents$", p, flags=re.M)]
    body = re.sub(r"Page \d+ of \d+", "", "\f".join(pages))
    main, _, appendix = body.partition(f"\n{APPENDIX}\n")
    assert appendix, "appendix heading not found"
    report_json = json.loads(report.to_json())
    allowed = allowed_tokens(report_json)
    exclude = chart_tokens(html)  # axis ticks drawn inside the chart images
    bad, checked = untraceable(main, allowed, exclude)
    assert bad == [], f"numbers printed in the PDF but not found in report.json: {bad}"
    cmap = yaml.safe_load(resources.files("trustaudit.render").joinpath("data/compliance_map.yaml").read_text())
    bad_app, _ = untraceable(appendix, allowed | allowed_tokens(cmap), exclude)
    assert bad_app == [], bad_app
    return checked


def test_every_number_in_the_synthetic_pdf_is_in_report_json(synth_report, synth_dir, synth_pdf, tmp_path):
    html = render_html(synth_report, report_dir=synth_dir, mode="pdf")
    checked = _check_traceability(synth_report, synth_pdf, html, tmp_path)
    assert checked > 300  # the test is not vacuous


@pytest.mark.slow
def test_every_number_in_a_real_audit_pdf_is_in_report_json(hgb_report, tmp_path):
    """A real fairness audit of the Adult HGB sample (shared fixture, bootstrap 200)."""
    pdf = render(hgb_report, "pdf")
    assert isinstance(pdf, bytes)
    html = render_html(hgb_report, mode="pdf")
    checked = _check_traceability(hgb_report, pdf, html, tmp_path)
    assert checked > 1500
    text = pdf_text(pdf, tmp_path)
    # spot-check one number by hand: the Female selection rate, rounded to 3 decimals
    sr = next(m for m in hgb_report.check("fairness.model").metrics
              if m.name == "selection_rate" and m.subject == "sex=Female")
    assert f"{sr.value:.3f}" in text and f"[{sr.ci.low:.3f}, {sr.ci.high:.3f}]" in text


def test_traceability_check_catches_an_invented_number(synth_report):
    allowed = allowed_tokens(json.loads(synth_report.to_json()))
    bad, _ = untraceable("observed 0.380 [0.339, 0.420] but also 0.777 and 16281", allowed)
    assert bad == ["0.777", "16281"]
    bad, _ = untraceable("tick 0.25 and 0.380", allowed, exclude=Counter({"0.25": 1}))
    assert bad == []


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "reports").glob("*/report.json"))


@pytest.mark.parametrize("report_json", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_committed_example_pdfs_are_traceable(report_json, tmp_path):
    """The example reports in reports/ (every check family, real audits): each number in report.pdf is in
    report.json. Chart ticks are taken from the committed report.html, rendered from the same report."""
    from trustaudit.api import load_report

    pdf, html = report_json.parent / "report.pdf", report_json.parent / "report.html"
    if not (pdf.is_file() and html.is_file()):
        pytest.skip("example not rendered; run reports/build.py")
    checked = _check_traceability(load_report(report_json), pdf.read_bytes(), html.read_text("utf-8"), tmp_path)
    assert checked > 1000
