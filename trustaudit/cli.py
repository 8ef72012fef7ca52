"""The ``trustaudit`` command line: a thin layer over :mod:`trustaudit.api`.

Exit codes: 0 the rubric passes, 1 the gate failed, 2 bad input or usage. Heavy libraries (aif360, shap, ART,
weasyprint) are imported only inside commands, so ``trustaudit --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

app = typer.Typer(
    name="trustaudit",
    help="Audit ML models for fairness, robustness, explainability and lineage; grade release openness (MOF).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK, EXIT_GATE, EXIT_INPUT = 0, 1, 2


def fail_input(message: str) -> NoReturn:
    """Print a one-line error and exit 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_INPUT)


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def run_guarded(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call fn; turn trustaudit's input errors into a one-line message and exit code 2."""
    from trustaudit.errors import TrustAuditError

    try:
        return fn(*args, **kwargs)
    except TrustAuditError as exc:
        fail_input(exc.one_line())
    except FileNotFoundError as exc:
        fail_input(f"file not found: {exc.filename}")
    except PermissionError as exc:
        fail_input(f"permission denied: {exc.filename}")


def _fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v:.3f}" if abs(v) < 1000 else f"{v:.0f}"


def print_summary(report: Any, console: Any) -> None:
    from rich.table import Table

    b = report.bundle
    console.print(f"[bold]{b.name}[/] {b.version} · {b.task} · {b.n_rows} rows · model {b.model_format or 'none (predictions)'}")
    console.print(f"rubric {report.rubric.name} {report.rubric.version} · seed {report.seed}")
    table = Table(show_lines=False)
    table.add_column("check")
    table.add_column("status")
    table.add_column("time", justify="right")
    table.add_column("summary", overflow="fold")
    colors = {"pass": "green", "warn": "yellow", "fail": "red", "error": "magenta", "skipped": "dim"}
    for c in report.checks:
        st = c.status.value
        detail = c.summary or c.error or c.skipped_reason or ""
        table.add_row(c.check_id, f"[{colors[st]}]{st}[/]", f"{c.duration_s:.2f}s", detail)
    console.print(table)
    bad = report.failures()
    if bad:
        # one row per (check, condition): how many subjects violate it, and the worst one
        grouped: dict[tuple[str, str], list[Any]] = {}
        for c, cond in bad:
            grouped.setdefault((c.check_id, cond.condition), []).append(cond)
        t2 = Table(title="conditions not met", show_lines=False)
        for col in ("check", "condition", "status", "subjects", "worst subject", "observed [CI]"):
            t2.add_column(col, overflow="fold")
        for (cid, text), conds in grouped.items():
            worst = max(conds, key=lambda x: (x.status.rank, -abs(x.observed or 0) if ">" in text else abs(x.observed or 0)))
            n_fail = sum(1 for x in conds if x.status.value == "fail")
            n_warn = len(conds) - n_fail
            status = "fail" if n_fail else "warn"
            counts_txt = ", ".join(t for t in (f"{n_fail} fail" if n_fail else "", f"{n_warn} warn" if n_warn else "") if t)
            ci = f" [{_fmt(worst.ci.low)}, {_fmt(worst.ci.high)}]" if worst.ci else ""
            t2.add_row(cid, text, f"[{colors[status]}]{status}[/]", counts_txt, worst.subject or "",
                       f"{_fmt(worst.observed)}{ci}")
        console.print(t2)
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items() if v)
    color = colors[report.verdict.value]
    console.print(f"verdict: [bold {color}]{report.verdict.value.upper()}[/] ({counts}) in {report.duration_s:.1f}s")


@app.command()
def audit(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory holding trustaudit.yaml")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for report.json and artefacts")] = Path(
        "trustaudit-out"
    ),
    checks: Annotated[
        list[str] | None, typer.Option("--checks", "-c", help="Check ids or patterns (fairness.*); repeatable")
    ] = None,
    rubric: Annotated[str | None, typer.Option(help="Rubric YAML file or packaged rubric name")] = None,
    seed: Annotated[int, typer.Option(help="Seed for sampling and bootstrap")] = 0,
    allow_unsafe_pickle: Annotated[
        bool, typer.Option("--allow-unsafe-pickle", help="Allow joblib/pickle models (runs code from the file)")
    ] = False,
    trust_type: Annotated[list[str] | None, typer.Option(
        "--trust-type", help="Trust this exact skops type (after reviewing it); repeatable")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the verdict line")] = False,
    formats: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help="Also render: html, pdf, md (needs the reports module)"),
    ] = None,
    gate: Annotated[bool, typer.Option("--gate", help="Gate the report as 'trustaudit gate' does")] = False,
    baseline: Annotated[Path | None, typer.Option(
        "--baseline", help="Gate against this baseline file or previous report.json (implies --gate)")] = None,
    fail_on: Annotated[str, typer.Option(
        "--fail-on", help="fail (default) or warn: what fails the gate (implies --gate when warn)")] = "fail",
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here (implies --gate)")] = None,
    sarif: Annotated[Path | None, typer.Option("--sarif", help="Write SARIF 2.1.0 here (implies --gate)")] = None,
    executor: Annotated[str | None, typer.Option(
        "--executor", "-e", help="Split row-parallel work (SHAP) across workers: local or dask://HOST:PORT")] = None,
    workers: Annotated[int | None, typer.Option(help="Workers of a local --executor (default: CPUs)")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="Check parameter override CHECK.PARAM=VALUE (e.g. fairness.model.bootstrap=200)")] = None,
) -> None:
    """Audit a model bundle: write OUT/report.json and OUT/attestation.intoto.json (plus the checks' plots, the
    --format renderings and the gate's files) and print a summary. Exit 0 pass, 1 fail, 2 bad input."""
    from trustaudit.pipeline import GateOptions, parse_params, run_audit

    gating = gate or baseline is not None or fail_on != "fail" or junit is not None or sarif is not None
    if fail_on not in ("fail", "warn"):
        fail_input(f"--fail-on must be 'fail' or 'warn', not '{fail_on}'")
    if baseline is not None and not baseline.is_file():
        fail_input(f"baseline file {baseline} does not exist; create it with 'trustaudit baseline update REPORT'")

    console = _console()
    err_console = _console(stderr=True)
    status = None

    def progress(cid: str, phase: str, i: int, total: int) -> None:
        nonlocal status
        if quiet:
            return
        if phase == "start":
            if status is None:
                status = err_console.status(f"[{i + 1}/{total}] {cid}")
                status.start()
            else:
                status.update(f"[{i + 1}/{total}] {cid}")

    try:
        params = parse_params(param or [])
    except ValueError as exc:
        fail_input(str(exc))
    if formats:
        try:
            import trustaudit.render as render_mod
        except ImportError:
            fail_input("--format: rendering is not available in this build")
        formats = [run_guarded(render_mod.normalise_format, f) for f in formats]  # before the audit runs
    gate_opts = GateOptions(fail_on=fail_on, baseline=baseline, junit=junit, sarif=sarif) if gating else None
    try:
        run = run_guarded(
            run_audit, bundle, out, formats=list(formats or []), gate=gate_opts, rubric=rubric, checks=checks,
            seed=seed, params=params or None, allow_unsafe_pickle=allow_unsafe_pickle, progress=progress,
            executor=executor, workers=workers, trusted_types=trust_type or (),
        )
    finally:
        if status is not None:
            status.stop()
    report = run.report
    if quiet:
        typer.echo(f"{report.verdict.value}")
    else:
        print_summary(report, console)
        console.print(f"report: {run.report_path}")
        for fmt, p in run.renders.items():
            console.print(f"{fmt}: {p}")
    if run.gate is not None:
        from trustaudit.cli_gate import print_gate

        print_gate(run.gate, run.gate_files, quiet=quiet)
    raise typer.Exit(run.exit_code)


@app.command()
def validate(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory")],
    allow_unsafe_pickle: Annotated[bool, typer.Option("--allow-unsafe-pickle")] = False,
    trust_type: Annotated[list[str] | None, typer.Option(
        "--trust-type", help="Trust this exact skops type (after reviewing it); repeatable")] = None,
) -> None:
    """Check a bundle (manifest, files, data, model) without running any check."""
    from trustaudit import api

    b = run_guarded(api.validate, bundle, allow_unsafe_pickle=allow_unsafe_pickle, trusted_types=trust_type or ())
    m = b.manifest
    typer.echo(
        f"ok: {m.name} {m.version}: {len(b.data)} rows, label '{m.data.label}', "
        f"{len(m.protected)} protected attribute(s), model {b.model.format if b.model else 'none (predictions)'}"
    )


@app.command()
def init(
    model: Annotated[Path | None, typer.Argument(help="Model file (omit for a predictions-only bundle)")] = None,
    data: Annotated[Path | None, typer.Argument(help="Evaluation data (CSV or Parquet)")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Bundle directory to write trustaudit.yaml into")] = Path(
        "."
    ),
    label: Annotated[str | None, typer.Option(help="Label column (default: inferred)")] = None,
    favorable: Annotated[str | None, typer.Option(help="Favourable label value (default: inferred)")] = None,
    name: Annotated[str | None, typer.Option(help="Model name (default: the directory name)")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing trustaudit.yaml")] = False,
) -> None:
    """Scaffold trustaudit.yaml from a model file and a data file, inferring columns. Never prompts."""
    from trustaudit.scaffold import scaffold

    path = run_guarded(scaffold, model, data, out, label=label, favorable=favorable, name=name, force=force)
    typer.echo(f"wrote {path}; review it, then run: trustaudit validate {out}")


@app.command("checks")
def list_checks(
    json_out: Annotated[bool, typer.Option("--json", help="Print as JSON")] = False,
) -> None:
    """List the registered checks (entry-point group trustaudit.checks) with their parameters."""
    import json

    from trustaudit.checks import registry

    rows: list[dict[str, Any]] = []
    for cid in registry.available():
        try:
            cls = registry.load(cid)
        except Exception as exc:  # a broken plug-in must not hide the others
            rows.append({"id": cid, "error": f"{type(exc).__name__}: {exc}"})
            continue
        schema = cls.Params.model_json_schema()
        params = {
            k: {"default": v.get("default"), "type": v.get("type", "any"), "description": v.get("description", "")}
            for k, v in schema.get("properties", {}).items()
        }
        metrics = [{"name": m.name, "description": m.description, "direction": m.direction, "unit": m.unit,
                    "subject": list(m.subject)} for m in cls.metrics]
        rows.append({"id": cid, "category": cls.category, "version": cls.version, "title": cls.title,
                     "default_enabled": cls.default_enabled, "requires": sorted(cls.requires), "params": params,
                     "metrics": metrics})
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    console = _console()
    from rich.table import Table

    table = Table()
    for col in ("check", "category", "requires", "parameters (default)"):
        table.add_column(col, overflow="fold")
    for r in rows:
        if "error" in r:
            table.add_row(r["id"], "[red]failed to load[/]", "", r["error"])
            continue
        ps = ", ".join(f"{k}={v['default']!r}" for k, v in r["params"].items())
        table.add_row(f"{r['id']}\n[dim]{r['title']}[/]", r["category"], ", ".join(r["requires"]), ps)
    console.print(table)


@app.command()
def schema(
    which: Annotated[str, typer.Argument(help="report | manifest | rubric")] = "report",
) -> None:
    """Print the JSON Schema of report.json, the bundle manifest or a rubric."""
    import json

    from trustaudit.schemas import json_schema

    try:
        typer.echo(json.dumps(json_schema(which), indent=2))
    except KeyError:
        fail_input(f"unknown schema '{which}'; choose report, manifest or rubric")


# Command groups contributed by the other modules (each defines register(app)); imported when present.
_PLUGIN_MODULES = (
    "trustaudit.cli_openness",
    "trustaudit.cli_render",
    "trustaudit.cli_gate",
    "trustaudit.cli_lineage",
    "trustaudit.cli_scale",
    "trustaudit.cli_serve",
)
for _mod in _PLUGIN_MODULES:
    try:
        importlib.import_module(_mod).register(app)
    except ModuleNotFoundError as _exc:
        if _exc.name != _mod:
            raise


def main() -> None:
    import os

    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # never show a traceback to a user; keep it available for debugging
        if os.environ.get("TRUSTAUDIT_DEBUG"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        typer.echo(f"error: internal error {type(exc).__name__}: {first} (set TRUSTAUDIT_DEBUG=1 for details)",
                   err=True)
        sys.exit(EXIT_INPUT)


if __name__ == "__main__":  # pragma: no cover
    main()
