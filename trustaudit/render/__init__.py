"""Reports for compliance reviewers: HTML, PDF and Markdown renderings of one ``report.json``.

>>> from trustaudit.render import render, render_to_dir                        # doctest: +SKIP
>>> html = render(report, "html", report_dir="out/")                           # doctest: +SKIP
>>> render_to_dir(report, "pdf", "out/")                                       # doctest: +SKIP
PosixPath('out/report.pdf')

Rendering reads the :class:`~trustaudit.results.AuditReport` (and artefact files beside report.json); it never
re-runs a check. WeasyPrint is imported only for PDF. See docs/reports.md.
"""

from __future__ import annotations

from pathlib import Path

from trustaudit.render.errors import RenderError
from trustaudit.results import AuditReport

FORMATS = {"html": "report.html", "pdf": "report.pdf", "md": "report.md"}
_ALIASES = {"markdown": "md", "htm": "html"}

__all__ = ["FORMATS", "RenderError", "normalise_format", "render", "render_to_dir"]


def normalise_format(fmt: str) -> str:
    f = _ALIASES.get(fmt.lower().strip(), fmt.lower().strip())
    if f not in FORMATS:
        raise RenderError(f"unknown report format '{fmt}'; choose html, pdf or md")
    return f


def render(report: AuditReport | str | Path, fmt: str, *, report_dir: str | Path | None = None,
           template_dir: str | Path | None = None) -> bytes | str:
    """Render a report: ``str`` for html and md, ``bytes`` for pdf.

    ``report`` is an AuditReport or the path of a report.json (then ``report_dir`` defaults to its folder).
    ``report_dir`` is where the report's artefacts (paths relative to report.json) are read from.
    ``template_dir`` overrides packaged templates of the same name (html and pdf).
    """
    f = normalise_format(fmt)
    if isinstance(report, (str, Path)):
        from trustaudit.results.io import load_report

        path = Path(report)
        report = load_report(path)
        if report_dir is None:
            report_dir = path.parent
    if f == "md":
        from trustaudit.render.markdown import render_markdown

        return render_markdown(report)
    if f == "html":
        from trustaudit.render.html import render_html

        return render_html(report, report_dir=report_dir, template_dir=template_dir)
    from trustaudit.render.pdf import render_pdf

    return render_pdf(report, report_dir=report_dir, template_dir=template_dir)


def render_to_dir(report: AuditReport, fmt: str, out_dir: str | Path, *,
                  template_dir: str | Path | None = None) -> Path:
    """Render into ``out_dir`` (the folder of report.json and its artefacts) as report.html/.pdf/.md."""
    from trustaudit.results.io import atomic_write

    f = normalise_format(fmt)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = render(report, f, report_dir=out, template_dir=template_dir)
    path = out / FORMATS[f]
    atomic_write(path, data)
    return path
