"""``trustaudit gate``, ``trustaudit baseline update`` and ``trustaudit lint``: trustaudit as a CI gate.

Exit codes: 0 the gate passes, 1 it fails, 2 bad input. Only light modules are imported at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from trustaudit.gate import GateResult
    from trustaudit.results import AuditReport

EXIT_OK, EXIT_GATE, EXIT_INPUT = 0, 1, 2
FAIL_ON = ("fail", "warn")


def _error(message: str) -> int:
    typer.echo("error: " + " ".join(message.split()), err=True)
    return EXIT_INPUT


def _report_path(path: Path) -> Path:
    return path / "report.json" if path.is_dir() else path


def run_gate(
    report: AuditReport,
    *,
    report_path: Path | None = None,
    rubric: str | None = None,
    baseline: Path | None = None,
    fail_on: str = "fail",
    junit: Path | None = None,
    sarif: Path | None = None,
    summary: Path | None = None,
    allow_missing: bool = False,
    quiet: bool = False,
) -> int:
    """Gate a report and write the CI outputs; returns the exit code (used by ``gate`` and ``audit --gate``)."""
    from trustaudit.errors import TrustAuditError

    if fail_on not in FAIL_ON:
        return _error(f"--fail-on must be 'fail' or 'warn', not '{fail_on}'")
    from trustaudit.pipeline import GateOptions, gate_report

    opts = GateOptions(fail_on=fail_on, baseline=baseline, junit=junit, sarif=sarif, summary=summary, rubric=rubric,
                       allow_missing=allow_missing)
    try:
        result, written = gate_report(report, report_path, opts)
    except TrustAuditError as exc:
        return _error(exc.one_line())
    print_gate(result, written, quiet=quiet)
    return result.exit_code


def print_gate(result: GateResult, written: list[Path], *, quiet: bool = False) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    verdict = "PASSED" if result.passed else "FAILED"
    if quiet:
        typer.echo(f"gate {verdict.lower()}")
        return
    console = Console(highlight=False, soft_wrap=False)
    color = "green" if result.passed else "red"
    r = result.rubric
    console.print(
        f"[bold]{escape(result.bundle_name)}[/] {escape(result.bundle_version)} · rubric "
        f"{escape(r.name)} {escape(r.version)}{' (re-judged)' if result.rejudged else ''} · "
        f"fail on {result.fail_on}" + (f" · baseline {escape(result.baseline)}" if result.baseline else "")
    )
    problems = result.problems()
    if problems:
        grouped: dict[tuple[str, str], list[Any]] = {}
        for f in problems:
            grouped.setdefault((f.check_id, f.condition), []).append(f)
        table = Table(title="conditions not met", show_lines=False)
        for col in ("check", "condition", "status", "subjects", "first subject", "observed"):
            table.add_column(col, overflow="fold")
        for (cid, text), fs in grouped.items():
            n_fail = sum(1 for f in fs if f.status.value == "fail")
            n_warn = len(fs) - n_fail
            first = fs[0]
            obs = "n/a" if first.observed is None else f"{first.observed:.4g}"
            if first.change is not None:
                obs += f" (change {first.change:+.4g})"
            status = "[red]fail[/]" if n_fail else "[yellow]warn[/]"
            tally = ", ".join(
                t for t in (f"{n_fail} fail" if n_fail else "", f"{n_warn} warn" if n_warn else "") if t
            )
            table.add_row(cid, escape(text), status, tally, escape(first.subject or ""), obs)
        console.print(table)
    for c in result.checks:
        if c.status.value == "error":
            console.print(f"[magenta]error[/] {escape(c.check_id)}: {escape(c.error or '')}")
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    for reason in result.reasons():
        console.print(f"[{color}]✗[/] {escape(reason)}")
    counts = ", ".join(f"{k} {v}" for k, v in result.counts().items() if v)
    console.print(f"gate: [bold {color}]{verdict}[/] ({'conditions: ' + counts if counts else 'no conditions'})")
    for p in written:
        console.print(f"wrote {p}")


def _load(report: Path) -> tuple[AuditReport, Path] | int:
    from trustaudit.api import load_report
    from trustaudit.errors import TrustAuditError

    path = _report_path(report)
    try:
        return load_report(path), path
    except TrustAuditError as exc:
        return _error(exc.one_line())


RubricOpt = Annotated[
    str | None,
    typer.Option(
        "--rubric", "-r", help="Re-judge the report's metrics with this rubric (YAML file or packaged name)"
    ),
]
BaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--baseline", "-b", help="Baseline file (trustaudit baseline update) or a previous report.json"
    ),
]
FailOnOpt = Annotated[
    str,
    typer.Option(
        "--fail-on", help="fail: fail the gate on failed conditions and errors; warn: on warnings too"
    ),
]
JunitOpt = Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here")]
SarifOpt = Annotated[Path | None, typer.Option("--sarif", help="Write SARIF 2.1.0 here")]


def register(app: typer.Typer) -> None:
    """Add ``gate``, ``baseline update`` and ``lint`` to the trustaudit CLI."""

    @app.command("gate")
    def gate_command(
        report: Annotated[Path, typer.Argument(help="report.json, or the directory holding it")],
        rubric: RubricOpt = None,
        baseline: BaselineOpt = None,
        fail_on: FailOnOpt = "fail",
        junit: JunitOpt = None,
        sarif: SarifOpt = None,
        summary: Annotated[
            Path | None,
            typer.Option(
                "--summary",
                help="Write the Markdown summary here (it also goes to $GITHUB_STEP_SUMMARY when set)",
            ),
        ] = None,
        allow_missing: Annotated[
            bool,
            typer.Option(
                "--allow-missing",
                help="Skip, rather than fail, checks the rubric names that the report lacks",
            ),
        ] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the verdict")] = False,
    ) -> None:
        """Decide pass or fail from an existing report, without re-running checks.

        Exit 0 the gate passes, 1 it fails (a failed condition or a check in error; with --fail-on warn, a
        warning too), 2 bad input.
        """
        loaded = _load(report)
        if isinstance(loaded, int):
            raise typer.Exit(loaded)
        rep, path = loaded
        code = run_gate(
            rep,
            report_path=path,
            rubric=rubric,
            baseline=baseline,
            fail_on=fail_on,
            junit=junit,
            sarif=sarif,
            summary=summary,
            allow_missing=allow_missing,
            quiet=quiet,
        )
        raise typer.Exit(code)

    baseline_app = typer.Typer(help="Regression baselines for the gate.", no_args_is_help=True)

    @baseline_app.command("update")
    def baseline_update(
        report: Annotated[Path, typer.Argument(help="The accepted report.json (or its directory)")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Baseline file to write")] = Path(
            "trustaudit-baseline.json"
        ),
        rubric: RubricOpt = None,
        metrics: Annotated[
            list[str] | None,
            typer.Option(
                "--metric", "-m", help="Keep only metrics whose name matches (glob; repeatable). Default: all"
            ),
        ] = None,
    ) -> None:
        """Write the baseline file (metrics with intervals and open findings) from an accepted report."""
        from trustaudit.errors import TrustAuditError
        from trustaudit.gate.baseline import baseline_from_report, write_baseline

        loaded = _load(report)
        if isinstance(loaded, int):
            raise typer.Exit(loaded)
        rep, _ = loaded
        try:
            b = baseline_from_report(rep, rubric=rubric, metrics=metrics)
            path = write_baseline(b, out)
        except TrustAuditError as exc:
            raise typer.Exit(_error(exc.one_line())) from None
        except OSError as exc:
            raise typer.Exit(_error(f"cannot write {out}: {exc.strerror or exc}")) from None
        n = sum(len(v) for v in b.metrics.values())
        typer.echo(
            f"wrote {path}: {n} metric(s) from {len(b.metrics)} check(s), {len(b.findings)} open finding(s) "
            f"(report {rep.report_id})"
        )

    app.add_typer(baseline_app, name="baseline")

    @app.command("lint")
    def lint_command(
        paths: Annotated[
            list[Path],
            typer.Argument(
                help="Files to check: trustaudit.yaml manifests (or bundle directories), rubrics, MOT model.yml"
            ),
        ],
        kind: Annotated[
            str | None,
            typer.Option("--kind", help="Read every file as: manifest, rubric or openness (default: detect)"),
        ] = None,
    ) -> None:
        """Validate manifests, rubrics and openness files fast (no model or data loaded): for pre-commit."""
        from trustaudit.gate.lint import lint_paths

        if kind not in (None, "manifest", "rubric", "openness"):
            raise typer.Exit(_error(f"--kind must be manifest, rubric or openness, not '{kind}'"))
        results = lint_paths(paths, kind)  # type: ignore[arg-type]
        for res in results:
            for w in res.warnings:
                typer.echo(f"warning: {w}", err=True)
            for e in res.errors:
                typer.echo(f"error: {e}", err=True)
        checked = [r for r in results if r.kind is not None or r.errors]
        bad = [r for r in results if not r.ok]
        if bad:
            raise typer.Exit(EXIT_INPUT)
        typer.echo(
            f"ok: {len(checked)} trustaudit file(s) valid"
            + (
                f", {len(results) - len(checked)} other file(s) ignored"
                if len(results) > len(checked)
                else ""
            )
        )
