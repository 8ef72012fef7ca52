"""Artefacts are read only from inside the report directory, and SVG is stripped of anything active."""

from __future__ import annotations

import base64
import os

import pytest

from trustaudit.render import artifacts

from .helpers import EVIL_SVG


def test_resolve_refuses_paths_outside_the_report_dir(tmp_path):
    (tmp_path / "ok.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    outside = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    outside.write_text("secret")
    assert artifacts.resolve(tmp_path, "ok.svg") == (tmp_path / "ok.svg").resolve()
    for bad in ("../" + outside.name, str(outside), "https://example.com/x.svg", "file:///etc/passwd",
                "data:image/svg+xml;base64,AAAA", "", "a\x00b", "missing.svg"):
        assert artifacts.resolve(tmp_path, bad) is None, bad
    if hasattr(os, "symlink"):
        (tmp_path / "link.svg").symlink_to(outside)
        assert artifacts.resolve(tmp_path, "link.svg") is None
    assert artifacts.resolve(None, "ok.svg") is None


def test_sanitize_svg_strips_scripts_handlers_and_external_links():
    clean = artifacts.sanitize_svg(EVIL_SVG.encode())
    assert clean is not None
    low = clean.lower()
    for banned in ("<script", "onload", "example.com", "@import"):
        assert banned not in low
    assert "importance plot" in clean  # the drawing itself survives
    keep = (b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
            b'<use xlink:href="#a"/><image href="data:image/png;base64,iVBORw0KGgo="/>'
            b'<foreignObject><div>x</div></foreignObject></svg>')
    kept = artifacts.sanitize_svg(keep)
    assert kept is not None and "#a" in kept and "data:image/png" in kept and "foreignObject" not in kept


@pytest.mark.parametrize("data", [
    b"<html/>",
    b"not xml",
    b'<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
])
def test_sanitize_svg_refuses_non_svg_and_entities(data):
    assert artifacts.sanitize_svg(data) is None


def test_load_inlines_images_and_lists_other_files(tmp_path):
    (tmp_path / "p.svg").write_text(EVIL_SVG)
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 10)
    (tmp_path / "fake.png").write_bytes(b"GIF89a")
    (tmp_path / "v.csv").write_text("a\n")
    svg = artifacts.load(tmp_path, "p.svg", "image/svg+xml", "plot")
    assert svg.data_uri and b"<script" not in base64.b64decode(svg.data_uri.split(",", 1)[1])
    assert artifacts.load(tmp_path, "x.png", "image/png", "png").data_uri.startswith("data:image/png;base64,")
    assert artifacts.load(tmp_path, "fake.png", "image/png", "fake").data_uri is None
    csv = artifacts.load(tmp_path, "v.csv", "text/csv", "values")
    assert csv.data_uri is None and csv.note == "file beside report.json"
    assert "not found" in artifacts.load(tmp_path, "../v.csv", "text/csv", "x").note
