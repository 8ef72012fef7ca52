"""Rendering never reaches the network: it works with sockets disabled, and external URLs are refused."""

from __future__ import annotations

import logging
import socket

import pytest

from trustaudit.render import render
from trustaudit.render.pdf import make_fetcher, render_pdf

from .helpers import make_report


@pytest.fixture
def no_network(monkeypatch):
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_renders_every_format_without_network(no_network, synth_report, synth_dir, synth_pdf):
    assert "<h1>Verdict</h1>" in render(synth_report, "html", report_dir=synth_dir)
    assert "trustaudit" in render(synth_report, "md")
    minimal = make_report(minimal=True)
    fetcher = make_fetcher(None)
    pdf = render_pdf(minimal, fetcher=fetcher)
    assert pdf.startswith(b"%PDF-")
    assert fetcher.refused == []  # the packaged templates need nothing from outside
    assert no_network == []
    # same report, same bytes: the PDF is deterministic
    assert render_pdf(minimal) == pdf


def test_external_urls_in_a_template_are_refused_not_fetched(no_network, tmp_path, caplog):
    tdir = tmp_path / "templates"
    tdir.mkdir()
    (tdir / "report.css").write_text('@import url("https://example.com/x.css");\nhtml { font-size: 9pt; }\n')
    (tdir / "_contents.html.j2").write_text(
        '<img src="https://example.com/pixel.png" alt="pixel"><img src="file:///etc/hostname" alt="host">'
        '<img src="http://169.254.169.254/latest/meta-data/" alt="metadata">\n')
    report_dir = tmp_path / "out"
    report_dir.mkdir()
    (report_dir / "inside.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
    fetcher = make_fetcher(report_dir)
    with caplog.at_level(logging.WARNING, logger="trustaudit.render"):
        pdf = render_pdf(make_report(minimal=True), report_dir=report_dir, template_dir=tdir, fetcher=fetcher)
    assert pdf.startswith(b"%PDF-")
    assert "https://example.com/x.css" in fetcher.refused
    assert "https://example.com/pixel.png" in fetcher.refused
    assert "file:///etc/hostname" in fetcher.refused  # a local file outside the report directory
    assert any(u.startswith("http://169.254.169.254") for u in fetcher.refused)
    assert no_network == []  # refused before any socket was opened
    assert any("refused to fetch https://example.com/x.css" in r.message for r in caplog.records)


def test_fetcher_serves_only_data_and_the_report_files(tmp_path):
    inside = tmp_path / "a.svg"
    inside.write_text("<svg/>")
    fetcher = make_fetcher(tmp_path)
    assert fetcher.fetch(inside.as_uri()).read() == b"<svg/>"
    assert fetcher.fetch("data:text/plain;base64,aGk=").read() == b"hi"
    assert fetcher.fetch("data:,a%20b").read() == b"a b"
    for url in ("https://example.com/", "ftp://example.com/x", (tmp_path / ".." / "x").as_uri(),
                (tmp_path / "missing.svg").as_uri()):
        with pytest.raises(ValueError, match="refused"):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 4


def test_packaged_templates_render_without_weasyprint_warnings(caplog):
    with caplog.at_level(logging.WARNING):
        render_pdf(make_report(minimal=True, name="clean"))
    noisy = [r for r in caplog.records if r.name.startswith("weasyprint")]
    assert noisy == [], [r.getMessage() for r in noisy]
