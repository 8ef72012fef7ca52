"""Hand-written SVG charts: deterministic, well-formed, escaped, and drawn where the numbers say."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET

from trustaudit.render import charts

NS = {"s": "http://www.w3.org/2000/svg"}


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _tick_x(root: ET.Element, label: str) -> float:
    for t in root.iter("{http://www.w3.org/2000/svg}text"):
        if t.text == label and t.get("text-anchor") == "middle":
            return float(t.get("x"))
    raise AssertionError(f"no tick {label}")


def test_dot_whisker_positions_match_values():
    pts = [charts.Point("a", 0.5, 0.25, 0.75, "fail"), charts.Point("b", None)]
    svg = charts.dot_whisker(pts, title="t", domain=(0.0, 1.0), refs=[charts.RefLine(0.8, ">= 0.8")])
    root = _parse(svg)
    x0, x1 = _tick_x(root, "0"), _tick_x(root, "1.0")
    circle = root.find("s:circle", NS)
    assert circle is not None
    assert abs(float(circle.get("cx")) - (x0 + 0.5 * (x1 - x0))) < 0.11
    assert circle.get("fill") == charts.STATUS_COLOURS["fail"]
    # whisker from 0.25 to 0.75
    lines = [ln for ln in root.findall("s:line", NS) if ln.get("stroke-width") == "1.6" and ln.get("y1") == ln.get("y2")]
    assert lines, "no whisker"
    xs = sorted((float(lines[0].get("x1")), float(lines[0].get("x2"))))
    assert abs(xs[0] - (x0 + 0.25 * (x1 - x0))) < 0.11 and abs(xs[1] - (x0 + 0.75 * (x1 - x0))) < 0.11
    # the bound as a dashed line at 0.8, and the missing value as n/a
    dashed = [ln for ln in root.findall("s:line", NS) if ln.get("stroke-dasharray")]
    assert abs(float(dashed[0].get("x1")) - (x0 + 0.8 * (x1 - x0))) < 0.11
    assert "n/a" in svg


def test_charts_are_deterministic_and_escaped():
    pts = [charts.Point('<b>"x" & y</b>', 0.3, 0.2, 0.4)]
    a = charts.dot_whisker(pts, title="<title> & 'q'")
    b = charts.dot_whisker(pts, title="<title> & 'q'")
    assert a == b
    root = _parse(a)  # well-formed despite the markup in labels
    assert "<b>" not in a and "&lt;b&gt;" in a
    assert root.find("s:title", NS).text == "<title> & 'q'"


def test_bar_facet_and_line_charts_are_well_formed():
    bar = charts.bar_chart([charts.Point("f1", 0.2, 0.18, 0.22), charts.Point("f2", 0.1)], title="imp")
    assert len(_parse(bar).findall("s:rect", NS)) >= 3  # background + 2 bars
    facet = charts.facet_dot_whisker(["g1", "g2"], [("sr", [charts.Point("g1", 0.3), None]),
                                                   ("tpr", [charts.Point("g1", 0.6), charts.Point("g2", 0.7)])],
                                     title="facet")
    assert len(_parse(facet).findall("s:circle", NS)) == 3
    line = charts.line_chart([charts.Series("acc", [(0.0, 0.9, 0.88, 0.92), (0.1, 0.8, None, None),
                                                    (0.2, 0.6, 0.55, 0.65)])], title="curve", y_domain=(0, 1))
    root = _parse(line)
    poly = root.find("s:polyline", NS)
    assert len(poly.get("points").split()) == 3
    cats = charts.line_chart([charts.Series("s", [("low", 0.2, None, None), ("high", 0.4, None, None)])],
                             title="categorical")
    assert "low" in cats and "high" in cats


def test_nice_ticks_and_data_uri():
    assert charts.nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert charts.nice_ticks(-0.31, 0.12) == [-0.4, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2]
    assert charts.tick_label(0.25, [0.0, 0.25, 0.5]) == "0.25"
    uri = charts.data_uri("<svg/>")
    assert base64.b64decode(uri.split(",", 1)[1]) == b"<svg/>"
    assert not re.search(r"id=", charts.dot_whisker([charts.Point("a", 1.0)], title="x"))  # no ids to collide
