"""A model name and a category value carrying markup and template syntax render as text in every format."""

from __future__ import annotations

import re

import pytest

from trustaudit.render import render

from .conftest import pdf_text
from .helpers import INJECTION, make_report

EVIL_NAME = f"model{INJECTION}"
EVIL_CATEGORY = f"cat{INJECTION}"


@pytest.fixture(scope="module")
def evil():
    return make_report(name=EVIL_NAME, category=EVIL_CATEGORY, version="1{{ 6*7 }}", minimal=True)


def test_html_escapes_everything(evil):
    html = render(evil, "html")
    assert "<script>alert" not in html
    assert "alert(&#39;x&#39;)" in html and "&lt;script&gt;" in html
    # template syntax in data is never evaluated: it shows literally, and 49 / 42 appear nowhere
    assert "{{ 7*7 }}{% raw %}" in html and "1{{ 6*7 }}" in html
    assert not re.search(r"\b(49|42)\b", html)
    # the category became a section title and an anchor, both harmless
    assert "<h1>Cat&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;{{ 7*7 }}{% raw %}</h1>" in html
    assert re.search(r'id="section-cat-script-alert-x-script-7-7-raw"', html)


def test_markdown_escapes_everything(evil):
    md = render(evil, "md")
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert "\\{\\{ 7\\*7 \\}\\}" in md  # shown as {{ 7*7 }} on GitHub, never evaluated
    assert "49" not in md


def test_pdf_shows_the_text_literally(evil, tmp_path):
    pdf = render(evil, "pdf")
    text = pdf_text(pdf, tmp_path)
    flat = re.sub(r"\s+", "", text)
    payload = re.sub(r"\s+", "", INJECTION)
    assert f"model{payload}" in flat  # title page and running header
    assert f"cat{payload}" in flat  # section heading
    assert "1{{6*7}}" in flat
    assert not re.search(r"\b(49|42)\b", text)
