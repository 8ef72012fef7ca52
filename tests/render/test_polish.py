"""Render polish: no floating-point residue beside ordinary numbers, chart labels wrapped instead of cut, and a
note under a bar chart whose bars are all zero."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

import trustaudit.render.charts as charts
from trustaudit.render.fmt import fmt_beside, fmt_ci, fmt_num
from trustaudit.render.view.cells import num_cell
from trustaudit.render.view.enrich import _enrich_explainability
from trustaudit.render.view.model import CheckView
from trustaudit.results import CheckResult, Interval, Metric, Status


@pytest.mark.parametrize(("low", "high", "text"), [
    (6.9e-18, 0.099, "[0.000, 0.099]"),  # residue of a zero beside an ordinary bound
    (-0.189, -3.1e-05, "[-0.189, -0.000]"),  # a real value below zero keeps its sign
    (-0.296, 3.5e-04, "[-0.296, 0.000]"),
    (1.0e-7, 3.0e-6, "[1.0e-07, 3.0e-06]"),  # both tiny: scientific, nothing reads as zero
    (0.0, 0.031, "[0, 0.031]"),  # whole numbers unchanged
    (6.9e-18, 1234.5, "[6.9e-18, 1234]"),  # partner printed as an integer: no three decimals to match
    (None, 0.2, "[n/a, 0.200]"),
])
def test_interval_bounds(low: float | None, high: float, text: str) -> None:
    assert fmt_ci(low, high) == text


def test_value_beside_its_interval() -> None:
    assert fmt_num(6.9e-18) == "6.9e-18" and fmt_beside(6.9e-18) == "6.9e-18"  # alone: the documented rule
    cell = num_cell(-2.2e-17, Interval(low=-0.0412, high=0.0398, level=0.95, method="wilson"))
    assert (cell.text, cell.sub) == ("-0.000", "[-0.041, 0.040]")
    assert num_cell(3.1e-15).text == "3.1e-15"  # an additivity error without an interval stays visible


LONG = "sex*race*age: Female & Amer-Indian-Eskimo & age < 25 or >= 60 vs Male & White & age >= 25 and < 60"


def _texts(svg: str) -> list[str]:
    """The row labels (right-aligned texts) of a chart."""
    root = ET.fromstring(svg)
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("text-anchor") == "end"]


@pytest.mark.parametrize("draw", [
    lambda pts: charts.dot_whisker(pts, title="t", max_label_chars=52),
    lambda pts: charts.bar_chart(pts, title="t"),
    lambda pts: charts.facet_dot_whisker([p.label for p in pts], [("rate", list(pts))], title="t"),
])
def test_long_labels_wrap_whole(draw: object) -> None:
    pts = [charts.Point(LONG, 0.1, 0.05, 0.2), charts.Point("age: age < 25", 0.2, 0.1, 0.3)]
    svg = draw(pts)  # type: ignore[operator]
    texts = _texts(svg)
    assert not any("…" in t for t in texts)
    long_lines = [t for t in texts if t != "age: age < 25"]
    assert len(long_lines) >= 2 and " ".join(long_lines) == LONG  # every word, in order, over several lines
    assert svg == draw(pts)  # type: ignore[operator]  # deterministic bytes
    one_row = draw([charts.Point("age: age < 25", 0.2, 0.1, 0.3)] * 2)  # type: ignore[operator]
    height = int(re.search(r'height="(\d+)"', svg).group(1))  # type: ignore[union-attr]
    assert height > int(re.search(r'height="(\d+)"', one_row).group(1))  # type: ignore[union-attr]  # rows grew


def test_only_an_absurdly_long_label_is_cut() -> None:
    lines = charts._wrap("x" * 500, 30)
    assert len(lines) == charts.MAX_LABEL_LINES and lines[-1].endswith("…")
    assert all(len(line) <= 30 for line in lines)


def _cv() -> CheckView:
    return CheckView("a", "explainability.protected_reliance", "t", "explainability", "1", "pass", "", None, None,
                     "1 s")


def test_an_all_zero_bar_chart_says_why() -> None:
    ms = [Metric(name="proxy_attribution_share", value=0.0, n=300, subject=s, attribute=s,
                 note="proxies: no feature with Cramér's V >= 0.4") for s in ("sex", "age")]
    result = CheckResult(check_id="explainability.protected_reliance", category="explainability", version="1",
                         title="t", status=Status.PASS, metrics=ms)
    cv = _cv()
    _enrich_explainability(cv, result, "html")
    chart = next(c for c in cv.charts if c.title == "proxy_attribution_share by feature")
    assert "Every value is 0, so the chart has no bars: sex (proxies: no feature with Cramér's V >= 0.4); age " \
           "(proxies: no feature with Cramér's V >= 0.4)." in chart.caption
    # one zero among non-zero bars is named, without the all-empty wording
    ms[1] = Metric(name="proxy_attribution_share", value=0.288, ci=Interval(low=0.28, high=0.296, level=0.95,
                   method="bca"), n=300, subject="age", attribute="age", note="proxies: relationship (V=0.56)")
    cv = _cv()
    _enrich_explainability(cv, result.model_copy(update={"metrics": ms}), "html")
    caption = cv.charts[0].caption
    assert "No bar (value 0): sex (proxies: no feature with Cramér's V >= 0.4)." in caption
    assert "Every value" not in caption and "age (" not in caption
