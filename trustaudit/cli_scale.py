"""``trustaudit audit-many``: audit many bundles in parallel (local process pool or a Dask cluster).

Kept light to import: the executors, the engine and rich are imported inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

EXIT_OK, EXIT_GATE, EXIT_INPUT = 0, 1, 2


def register(app: typer.Typer) -> None:
    """Add the ``audit-many`` command to ``app``."""

    @app.command("audit-many")
    def audit_many_cmd(
        bundles: Annotated[
            list[Path],
            typer.Argument(metavar="BUNDLES", help="Bundle directories, or directories holding bundles"),
        ],
        executor: Annotated[
            str, typer.Option("--executor", "-e", help="local (process pool), serial, or dask://HOST:PORT")
        ] = "local",
        workers: Annotated[
            int | None, typer.Option("--workers", "-w", min=1, help="Local worker processes (default: CPUs)")
        ] = None,
        out: Annotated[
            Path, typer.Option("--out", "-o", help="Directory for OUT/<bundle>/report.json and OUT/summary.json")
        ] = Path("trustaudit-out"),
        checks: Annotated[
            list[str] | None, typer.Option("--checks", "-c", help="Check ids or patterns (fairness.*); repeatable")
        ] = None,
        rubric: Annotated[str | None, typer.Option(help="Rubric YAML file or packaged rubric name")] = None,
        seed: Annotated[int, typer.Option(help="Seed for sampling and bootstrap (same for every bundle)")] = 0,
        allow_unsafe_pickle: Annotated[
            bool, typer.Option("--allow-unsafe-pickle", help="Allow joblib/pickle models (runs code from the file)")
        ] = False,
        trust_type: Annotated[list[str] | None, typer.Option(
            "--trust-type", help="Trust this exact skops type (after reviewing it); repeatable")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only one verdict line per bundle")] = False,
    ) -> None:
        """Audit many bundles in parallel: OUT/<bundle>/report.json per bundle and OUT/summary.json.

        Exit 0 when every bundle passes, 1 when a gate failed, 2 when a bundle could not be audited.
        """
        code = run_audit_many(bundles, executor=executor, workers=workers, out=out, checks=checks,
                              rubric=rubric, seed=seed, allow_unsafe_pickle=allow_unsafe_pickle, quiet=quiet,
                              trusted_types=tuple(trust_type or ()))
        raise typer.Exit(code)


def _error(message: str) -> int:
    typer.echo("error: " + " ".join(message.split()), err=True)
    return EXIT_INPUT


def run_audit_many(
    bundles: list[Path],
    *,
    executor: str = "local",
    workers: int | None = None,
    out: Path = Path("trustaudit-out"),
    checks: list[str] | None = None,
    rubric: str | None = None,
    seed: int = 0,
    allow_unsafe_pickle: bool = False,
    quiet: bool = False,
    trusted_types: tuple[str, ...] = (),
) -> int:
    import time

    from rich.console import Console
    from rich.markup import escape

    from trustaudit.errors import TrustAuditError
    from trustaudit.executors import resolve_executor
    from trustaudit.scale import BundleOutcome, audit_many_outcomes, expand_bundles, write_summary

    console = Console(highlight=False, soft_wrap=False)
    err = Console(stderr=True, highlight=False)
    try:
        found = expand_bundles(bundles)
        if rubric is not None:  # fail once, here, rather than once per bundle on the workers
            from trustaudit.rubrics import load_rubric, validate_against_registry

            validate_against_registry(load_rubric(rubric))
        if checks:
            from trustaudit.checks import registry

            registry.select(list(checks))
        ex = resolve_executor(executor, workers=workers)
    except TrustAuditError as exc:
        return _error(exc.one_line())
    colors = {"pass": "green", "warn": "yellow", "fail": "red", "error": "magenta", "skipped": "dim"}
    done = 0

    def progress(o: BundleOutcome) -> None:
        nonlocal done
        done += 1
        if quiet:
            return
        if o.ok:
            verdict = o.report.verdict.value
            err.print(f"[{done}/{len(found)}] {escape(o.name)}: [{colors[verdict]}]{verdict}[/] ({o.wall_s:.1f}s)")
        else:
            err.print(f"[{done}/{len(found)}] {escape(o.name)}: [magenta]error[/] {escape(o.error or '')}")

    t0 = time.perf_counter()
    try:
        with ex:
            if not quiet:
                err.print(f"auditing {len(found)} bundle(s) on {ex.describe()}")
            outcomes = audit_many_outcomes(
                found, executor=ex, rubric=rubric, checks=checks, seed=seed, out_dir=out,
                allow_unsafe_pickle=allow_unsafe_pickle, callback=progress, trusted_types=trusted_types,
            )
            described = ex.describe()
    except TrustAuditError as exc:
        return _error(exc.one_line())
    elapsed = time.perf_counter() - t0
    try:
        summary = write_summary(outcomes, out, executor=described)
    except OSError as exc:
        return _error(f"cannot write to {out}: {exc.strerror or exc}")

    if quiet:
        for o in outcomes:
            typer.echo(f"{o.name}: {o.report.verdict.value if o.ok else 'error'}")
    else:
        _print_table(console, outcomes, colors)
        console.print(f"{len(outcomes)} bundle(s) in {elapsed:.1f}s on {escape(described)}; summary: {summary}")
    if any(not o.ok for o in outcomes):
        return EXIT_INPUT
    return EXIT_OK if all(o.report.passed for o in outcomes) else EXIT_GATE


def _print_table(console: Any, outcomes: list[Any], colors: dict[str, str]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_lines=False)
    for col in ("bundle", "model", "rows", "verdict", "checks", "time", "report / error"):
        table.add_column(col, overflow="fold", justify="right" if col in ("rows", "time") else "left")
    for o in outcomes:
        if not o.ok:
            table.add_row(escape(o.name), "", "", "[magenta]error[/]", "", f"{o.wall_s:.1f}s", escape(o.error or ""))
            continue
        r = o.report
        v = r.verdict.value
        counts = ", ".join(f"{k} {n}" for k, n in r.counts.items() if n)
        table.add_row(escape(o.name), escape(f"{r.bundle.name} {r.bundle.version}"), str(r.bundle.n_rows),
                      f"[{colors[v]}]{v}[/]", counts, f"{o.wall_s:.1f}s", escape(f"{o.name}/report.json"))
    console.print(table)
