"""``trustaudit openness``: grade a model release against the Model Openness Framework.

Kept light to import: the scorer, pydantic models and rich are imported inside the command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from trustaudit.openness.models import OpennessResult

_FORMATS = ("table", "json")
_STATUS_STYLE = {
    "counted": "green",
    "not_type_appropriate": "yellow",
    "missing": "dim",
    "unlicensed": "red",
    "invalid": "red",
    "not_open": "red",
    "restrictive": "magenta",
}


#: With ``--executor auto``, files are graded on a local process pool from this many on (one file takes
#: milliseconds; starting a pool of fresh interpreters takes about a second).
PARALLEL_FROM = 64


def register(app: typer.Typer) -> None:
    """Add the ``openness`` command to ``app``."""

    @app.command("openness")
    def openness(
        paths: list[Path] = typer.Argument(
            ...,
            metavar="PATH...",
            help="MOT model.yml, bundle directory / trustaudit.yaml, or model card README.md",
        ),
        fmt: str = typer.Option("table", "--format", "-f", help="Output format: table or json"),
        strict_mot: bool = typer.Option(
            False, "--strict-mot", help="Reproduce the Model Openness Tool exactly"
        ),
        export_mot: Path | None = typer.Option(
            None, "--export-mot", help="Write a MOT model.yml for the model"
        ),
        badge: Path | None = typer.Option(None, "--badge", help="Write an SVG badge of the class"),
        executor: str = typer.Option(
            "auto", "--executor", "-e",
            help=f"Where many files are graded: auto (a local process pool from {PARALLEL_FROM} files), "
            "local, serial or dask://HOST:PORT",
        ),
        workers: int | None = typer.Option(None, "--workers", help="Workers of a local pool (default: CPUs)"),
    ) -> None:
        """Grade how open a model's release is (Model Openness Framework classes I-III)."""
        code = run_openness(paths, fmt=fmt, strict_mot=strict_mot, export_mot=export_mot, badge=badge,
                            executor=executor, workers=workers)
        if code:
            raise typer.Exit(code)


def _error(message: str) -> int:
    typer.echo("error: " + " ".join(message.split()), err=True)
    return 2


def run_openness(
    paths: list[Path],
    *,
    fmt: str = "table",
    strict_mot: bool = False,
    export_mot: Path | None = None,
    badge: Path | None = None,
    executor: str = "auto",
    workers: int | None = None,
) -> int:
    from trustaudit.errors import TrustAuditError

    if fmt not in _FORMATS:
        return _error(f"unknown --format '{fmt}'; use table or json")
    if len(paths) > 1 and (export_mot is not None or badge is not None):
        return _error("--export-mot and --badge take a single PATH")
    from trustaudit.openness import dump_mot, load_path, score_openness

    results: list[OpennessResult] = []
    spec = ("local" if len(paths) >= PARALLEL_FROM else "serial") if executor == "auto" else executor
    try:
        if len(paths) > 1 and spec != "serial":  # many files: graded on the executor, in input order
            from trustaudit.scale import openness_many

            results = openness_many(paths, executor=spec, workers=workers, strict_mot=strict_mot)
        else:
            for path in paths:
                decl, root = load_path(path)
                result = score_openness(decl, strict_mot=strict_mot, bundle_root=root)
                results.append(result)
                if export_mot is not None:
                    export_mot.write_text(dump_mot(decl), encoding="utf-8")
                if badge is not None:
                    from trustaudit.openness.badge import badge_svg

                    badge.write_text(
                        badge_svg(result.mof_class, progress=result.total_progress), encoding="utf-8"
                    )
    except TrustAuditError as exc:
        return _error(exc.one_line())
    except OSError as exc:
        return _error(f"cannot write output: {exc.strerror or exc}")

    if fmt == "json":
        import json

        payload: Any = [r.model_dump(mode="json") for r in results]
        sys.stdout.write(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2) + "\n")
        return 0
    for result in results:
        render_table(result)
    return 0


def render_table(result: OpennessResult) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=160) if not sys.stdout.isatty() else Console()
    name = result.model_name or result.source or "model"
    version = f" {result.model_version}" if result.model_version else ""
    mode = " [dim](--strict-mot)[/dim]" if result.mode == "strict-mot" else ""
    console.print(f"[bold]{escape(name + version)}[/bold]: [bold]{escape(result.class_label)}[/bold]{mode}")
    p = result.progress
    console.print(
        f"progress: Class I {p['I']:.1f}%  Class II {p['II']:.1f}%  Class III {p['III']:.1f}%  "
        f"(total {result.total_progress:.1f}%)"
    )
    if result.strict is not None:
        s = result.strict
        console.print(
            f"[dim]--strict-mot (MOT): {escape(s.class_label)}; I {s.progress['I']:.1f}%  "
            f"II {s.progress['II']:.1f}%  III {s.progress['III']:.1f}%[/dim]"
        )
    table = Table(show_lines=False, header_style="bold")
    for col in ("Component", "Type", "Class", "Req", "Status", "License", "SPDX", "Source", "Note"):
        table.add_column(col, overflow="fold")
    for row in result.components:
        style = _STATUS_STYLE.get(row.status, "")
        status = row.status.replace("_", " ")
        if row.differs_from_strict:
            status += " *"
        note = (
            row.difference
            or (f"stands in: {row.substituted_by}" if row.substituted_by else "")
            or (row.reason if row.status in ("restrictive", "not_open", "invalid") else "")
        )
        table.add_row(
            escape(row.name),
            row.type,
            row.mof_class,
            "yes" if row.required else "",
            f"[{style}]{escape(status)}[/{style}]" if style else escape(status),
            escape(row.license or ""),
            escape(row.spdx or ""),
            row.source,
            escape(note or ""),
        )
    console.print(table)
    if any(r.differs_from_strict for r in result.components):
        console.print("[dim]* counted differently from --strict-mot (see Note)[/dim]")
    a = result.art53
    verdict = {True: "plausibly applies", False: "does not apply", None: "undetermined"}[a.applies]
    console.print(f"EU AI Act Art. 53(2) open-source exemption: [bold]{verdict}[/bold]: {escape(a.reason)}")
    for finding in result.evidence:
        if finding.level in ("warn", "error"):
            console.print(
                f"[{'red' if finding.level == 'error' else 'yellow'}]evidence {finding.level}[/]: "
                f"{escape(finding.component)}: {escape(finding.message)}"
            )
    ok = sum(f.level == "ok" for f in result.evidence)
    if result.evidence:
        console.print(f"evidence: {ok} check(s) ok, {len(result.evidence) - ok} other")
    for w in result.warnings:
        console.print(f"[yellow]warning[/yellow]: {escape(w)}")
    console.print()
