"""``trustaudit render REPORT_JSON --format html|pdf|md --out FILE``: re-render a report without re-running it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``render`` command to the trustaudit CLI."""

    @app.command("render")
    def render_cmd(
        report_json: Annotated[Path, typer.Argument(help="report.json written by 'trustaudit audit'")],
        fmt: Annotated[str, typer.Option("--format", "-f", help="html, pdf or md")] = "html",
        out: Annotated[
            Path | None,
            typer.Option("--out", "-o", help="Output file ('-' for stdout, html/md only); default: "
                                             "report.<ext> beside report.json"),
        ] = None,
        template_dir: Annotated[
            Path | None,
            typer.Option("--template-dir", help="Directory of Jinja2 templates overriding the packaged ones"),
        ] = None,
    ) -> None:
        """Render report.json as HTML, PDF or a Markdown summary. Artefacts are read from beside report.json."""
        from trustaudit.api import atomic_write
        from trustaudit.cli import fail_input, run_guarded
        from trustaudit.render import FORMATS, normalise_format, render

        f = run_guarded(normalise_format, fmt)
        if template_dir is not None and f == "md":
            fail_input("--template-dir applies to html and pdf only")
        if out is not None and str(out) == "-" and f == "pdf":
            fail_input("a PDF cannot be written to stdout; give --out FILE")
        data = run_guarded(render, report_json, f, report_dir=report_json.parent, template_dir=template_dir)
        if out is not None and str(out) == "-":
            typer.echo(data, nl=False)
            return
        target = out if out is not None else report_json.parent / FORMATS[f]
        try:
            atomic_write(target, data)
        except OSError as exc:
            fail_input(f"cannot write {target}: {exc.strerror or exc}")
        typer.echo(f"wrote {target}")
