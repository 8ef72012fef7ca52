"""docs/python-api.md runs as a notebook: its Python code blocks become the cells of a notebook executed in a
Jupyter kernel (nbclient + ipykernel), in order, from the repository root; the prose becomes Markdown cells.
Every cell must run without error, and the notebook must show what the page promises (progress lines, the
report's HTML display, the metrics table)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

PAGE = ROOT / "docs" / "python-api.md"
FENCE = re.compile(r"```python\n(.*?)```", re.S)


def page_notebook():
    text = PAGE.read_text(encoding="utf-8")
    cells, pos = [], 0
    for m in FENCE.finditer(text):
        prose = text[pos:m.start()].strip()
        if prose:
            cells.append(nbformat.v4.new_markdown_cell(prose))
        cells.append(nbformat.v4.new_code_cell(m.group(1).rstrip("\n")))
        pos = m.end()
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.fixture(scope="module")
def executed():
    nb = page_notebook()
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    return nb


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _text(cell) -> str:
    out = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            out.append(o.text)
        elif "data" in o:
            out.append(o.data.get("text/plain", ""))
    return "".join(out)


def test_the_page_has_code_and_runs_without_error(executed) -> None:
    cells = _code(executed)
    assert len(cells) >= 10
    for cell in cells:
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{cell.source[:80]!r}: {errors[0].ename}: {errors[0].evalue}"


def test_the_notebook_shows_progress_report_and_tables(executed) -> None:
    cells = _code(executed)
    by_source = {c.source.strip(): c for c in cells}
    audit_cell = next(c for c in cells if "progress=True" in c.source)
    lines = _text(audit_cell).splitlines()
    assert any(re.match(r"\[\s*1/\d+\] \S+ \.\.\.$", ln) for ln in lines)
    assert any(re.match(r"\[\s*\d+/\d+\] lineage\.leakage: \w+ in \d+\.\ds", ln) for ln in lines), lines
    # a bare `report`: Jupyter shows its HTML, whose plain-text fallback is the one-line repr
    shown = by_source["report"].outputs[0]
    assert "text/html" in shown.data and "verdict" in shown.data["text/html"]
    assert "data:image/svg+xml;base64," in shown.data["text/html"]
    assert len(shown.data["text/plain"]) < 300
    # the metrics table is a DataFrame display
    di_cell = next(c for c in cells if "metrics_frame()" in c.source)
    assert "text/html" in di_cell.outputs[0].data and "disparate" not in di_cell.outputs[0].data["text/plain"][:0]
    assert "skipped" not in _text(next(c for c in cells if "skipped_reason" in c.source))  # it prints the reason
    assert "bundle directory" in _text(next(c for c in cells if "skipped_reason" in c.source))
    refused = _text(next(c for c in cells if "NOT_A_COLUMN" in c.source))
    assert "label=" in refused and "trustaudit.yaml" in refused
    logged = _text(next(c for c in cells if "log=print" in c.source))
    assert "wrote " in logged and "report.md" in logged
