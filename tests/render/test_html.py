"""HTML: one self-contained file, autoescaped, overridable templates."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from trustaudit.render import RenderError, render
from trustaudit.render.html import render_html


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        self.tags.append((tag, d))
        if d.get("id"):
            self.ids.append(d["id"])


@pytest.fixture(scope="module")
def html(synth_report, synth_dir) -> str:
    out = render(synth_report, "html", report_dir=synth_dir)
    assert isinstance(out, str)
    return out


def test_self_contained_no_script_no_external_fetch(html):
    p = _Collect()
    p.feed(html)
    tags = [t for t, _ in p.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    for tag, attrs in p.tags:
        for key in ("src", "href"):
            val = attrs.get(key) or ""
            assert not re.match(r"^\s*(https?:|//|file:)", val, re.I), (tag, key, val)
            if tag == "img" and key == "src":
                assert val.startswith("data:image/"), val
    csp = [a for t, a in p.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]["content"]
    assert len(p.ids) == len(set(p.ids))  # anchors are unique
    internal = [a["href"][1:] for t, a in p.tags if t == "a" and (a.get("href") or "").startswith("#")]
    assert internal and set(internal) <= set(p.ids)  # every contents link lands


def test_content_order_and_key_facts(html):
    order = ["Verdict", "System identity", "Lineage and provenance", "Openness and licensing", "Fairness",
             "Robustness", "Explainability", "Skipped and errored checks", "Methodology",
             "Appendix: compliance mapping"]
    positions = [html.index(f"<h1>{title}</h1>") for title in order]
    assert positions == sorted(positions)
    for fact in ("credit-scorer", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                 "12345678-90ab-cdef-1234-567890abcdef", "2026-11-02 09:30:05 UTC", "packaged:default",
                 "the bundle declares no training data", "could not convert string to float"):
        assert fact in html
    assert "<title>Trustworthiness audit: credit-scorer 2.0.1</title>" in html


def test_artifact_link_is_relative_and_html_has_no_pdf_parts(html):
    assert '<a href="shap_values.csv">SHAP values</a>' in html
    assert "etc/passwd" in html and 'href="../../etc/passwd"' not in html
    assert 'class="title-page"' not in html  # title page and running strings are PDF only


def test_user_template_dir_overrides_one_template(tmp_path, synth_report):
    (tmp_path / "_banner.html.j2").write_text(
        '<header class="acme">ACME review of {{ view.model_name }} — {{ view.verdict_words }}</header>\n')
    out = render_html(synth_report, template_dir=tmp_path)
    assert '<header class="acme">ACME review of credit-scorer — FAIL</header>' in out
    assert "<h1>Verdict</h1>" in out  # everything else still comes from the packaged templates


def test_template_errors_are_render_errors(tmp_path, synth_report):
    (tmp_path / "_banner.html.j2").write_text("{{ view.no_such_field }}")
    with pytest.raises(RenderError, match="template error"):
        render_html(synth_report, template_dir=tmp_path)
    with pytest.raises(RenderError, match="does not exist"):
        render_html(synth_report, template_dir=tmp_path / "missing")
    with pytest.raises(RenderError, match="unknown report format"):
        render(synth_report, "docx")


def test_rendering_is_deterministic(synth_report, synth_dir, html):
    assert render(synth_report, "html", report_dir=synth_dir) == html


def test_render_accepts_a_report_path(synth_dir, html):
    assert render(synth_dir / "report.json", "html") == html  # report_dir defaults to the file's folder
