"""HTML rendering: Jinja2 templates with autoescaping, in a sandboxed environment.

The page is self-contained: CSS is inline, charts and image artefacts are ``data:`` URIs, there is no
JavaScript, and a Content-Security-Policy meta tag forbids the browser from loading anything external or
running scripts, even from a user template. Users may pass ``template_dir``: files there override the packaged
templates of the same name (``report.html.j2``, ``_macros.html.j2``, ``report.css``, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trustaudit.render.errors import RenderError
from trustaudit.render.fmt import fmt_ci, fmt_num, fmt_value
from trustaudit.render.view import ReportView, build_view
from trustaudit.results import AuditReport

TEMPLATE = "report.html.j2"


def environment(template_dir: str | Path | None = None) -> Any:
    """The Jinja2 environment: autoescape on, sandboxed, strict about undefined names."""
    from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    loaders: list[Any] = []
    if template_dir is not None:
        path = Path(template_dir)
        if not path.is_dir():
            raise RenderError(f"template directory {path} does not exist")
        loaders.append(FileSystemLoader(str(path)))
    loaders.append(PackageLoader("trustaudit.render", "templates"))
    env = ImmutableSandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = fmt_num
    env.filters["value"] = fmt_value
    env.globals["fmt_ci"] = fmt_ci
    return env


def render_view(view: ReportView, report: AuditReport, *, template_dir: str | Path | None = None) -> str:
    from jinja2 import TemplateError

    env = environment(template_dir)
    try:
        return str(env.get_template(TEMPLATE).render(view=view, report=report))
    except TemplateError as exc:
        where = f" ({exc.filename}:{exc.lineno})" if getattr(exc, "lineno", None) else ""  # type: ignore[attr-defined]
        raise RenderError(f"template error{where}: {exc}") from None


def render_html(report: AuditReport, *, report_dir: str | Path | None = None,
                template_dir: str | Path | None = None, mode: str = "html") -> str:
    """The report as one self-contained HTML document (``mode='pdf'`` adds the title page and page CSS)."""
    view = build_view(report, report_dir=Path(report_dir) if report_dir is not None else None, mode=mode)
    return render_view(view, report, template_dir=template_dir)
