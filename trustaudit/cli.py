"""The ``trustaudit`` command line: a thin layer over :mod:`trustaudit.api`.

Exit codes: 0 the rubric passes, 1 the gate failed, 2 bad input or usage. Heavy libraries (aif360, shap, ART,
weasyprint) are imported only inside commands, so ``trustaudit --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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


def _show_version(value: bool) -> None:
    if value:
        from trustaudit.version import __version__

        typer.echo(f"trustaudit {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option(
        "--version", "-V", callback=_show_version, is_eager=True, help="Print the version and exit")] = False,
) -> None:
    """Audit ML models for fairness, robustness, explainability and lineage; grade release openness (MOF)."""


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


_COLORS = {"pass": "green", "warn": "yellow", "fail": "red", "error": "magenta", "skipped": "dim"}


def print_summary(report: Any, console: Any) -> None:
    """The audit's summary: one row per check (check ids never wrap; on a terminal narrower than 120 columns each
    summary is cut to one line), the conditions not met grouped by check, and the verdict with the counts of
    *checks* by status (the gate counts *conditions*)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    b = report.bundle
    console.print(f"[bold]{escape(b.name)}[/] {escape(b.version)} · {b.task} · {b.n_rows} rows")
    console.print(f"model {b.model_format or 'none (predictions)'} · rubric {escape(report.rubric.name)} "
                  f"{escape(report.rubric.version)} · seed {report.seed}")
    narrow = console.width < 120
    id_width = max([len("check"), *(len(c.check_id) for c in report.checks)])
    table = Table(box=box.SIMPLE_HEAD, show_lines=False, show_edge=False, pad_edge=False)
    table.add_column("check", no_wrap=True, width=id_width)
    table.add_column("status", no_wrap=True, width=7)
    table.add_column("time", justify="right", no_wrap=True, width=6)
    summary_width = max(12, console.width - id_width - 7 - 6 - 9)  # 9: three separators with their padding
    table.add_column("summary", overflow="ellipsis" if narrow else "fold", no_wrap=narrow, width=summary_width)
    for c in report.checks:
        st = c.status.value
        detail = c.summary or c.error or c.skipped_reason or ""
        table.add_row(escape(c.check_id), f"[{_COLORS[st]}]{st}[/]", f"{c.duration_s:.1f}s", escape(detail))
    console.print(table)
    bad = report.failures()
    if bad:
        print_conditions(bad, console)
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items() if v)
    color = _COLORS[report.verdict.value]
    console.print(f"verdict: [bold {color}]{report.verdict.value.upper()}[/] (checks: {counts}) "
                  f"in {report.duration_s:.1f}s")


def print_conditions(bad: list[tuple[Any, Any]], console: Any) -> None:
    """The conditions not met, grouped by check then condition: how many subjects violate each and the worst
    one (hanging indents, so nothing is cut at any width)."""
    from rich.markup import escape
    from rich.table import Table

    grouped: dict[str, dict[str, list[Any]]] = {}
    for c, cond in bad:
        grouped.setdefault(c.check_id, {}).setdefault(cond.condition, []).append(cond)
    n_conditions = sum(len(by_text) for by_text in grouped.values())
    console.print(f"[bold]conditions not met[/] ({n_conditions} conditions, {len(bad)} subjects):")
    for cid, by_text in grouped.items():
        console.print(f"  {escape(cid)}")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=3)
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for text, conds in by_text.items():
            worst = max(conds, key=lambda x: (x.status.rank,
                                              -abs(x.observed or 0) if ">" in text else abs(x.observed or 0)))
            n_fail = sum(1 for x in conds if x.status.value == "fail")
            n_warn = len(conds) - n_fail
            status = "fail" if n_fail else "warn"
            tally = ", ".join(t for t in (f"{n_fail} fail" if n_fail else "", f"{n_warn} warn" if n_warn else "")
                              if t)
            ci = f" [{_fmt(worst.ci.low)}, {_fmt(worst.ci.high)}]" if worst.ci else ""
            where = f"{escape(worst.subject)}: " if worst.subject else ""
            grid.add_row("", f"[{_COLORS[status]}]{status}[/]",
                         f"{escape(text)} ({tally}); worst {where}{_fmt(worst.observed)}{escape(ci)}")
        console.print(grid)


class CliProgress:
    """Progress of ``trustaudit audit`` on stderr. Not on a terminal (CI logs, redirected output): one plain line
    as each check starts and one as it ends (status, its time, the elapsed time), no escape codes. On a
    terminal: a live bar with the running check, and a line per finished check printed above it. ``log`` prints
    the steps after the audit (files written, renderings)."""

    def __init__(self, console: Any) -> None:
        from trustaudit.api import TextProgress

        self.console = console
        self.live = console.is_terminal and not console.is_dumb_terminal
        self.text = TextProgress(console.file)
        self.bar: Any = None
        self.task: Any = None
        self.spinner: Any = None
        self.t0: float | None = None

    def begin(self, message: str) -> None:
        """On a terminal, a spinner with what happens before the first check (nothing in a log, where a bad
        bundle's error stays the only line)."""
        if self.live:
            self.spinner = self.console.status(message)
            self.spinner.start()

    def __call__(self, cid: str, phase: str, i: int, total: int) -> None:
        import time

        if self.spinner is not None:
            self.spinner.stop()
            self.spinner = None
        if self.t0 is None:
            self.t0 = time.perf_counter()
        if not self.live:
            self.text(cid, phase, i, total)
            return
        if phase != "start":
            return
        if self.bar is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=20),
                                MofNCompleteColumn(), TimeElapsedColumn(), console=self.console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("", total=total)
        self.bar.update(self.task, description=cid, completed=i)

    def work(self, cid: str, done: int, total: int, unit: str) -> None:
        """On a terminal, the running check's loop in the bar ("robustness.adversarial 3/5 budgets"); a log
        keeps one line per check start and end."""
        if self.live and self.bar is not None:
            self.bar.update(self.task, description=f"{cid} {done}/{total} {unit}")

    def check_done(self, result: Any, i: int, total: int) -> None:
        import time

        from rich.markup import escape

        if not self.live:
            self.text.check_done(result, i, total)
            return
        st = result.status.value
        why = result.skipped_reason if st == "skipped" else result.error
        elapsed = time.perf_counter() - (self.t0 or time.perf_counter())
        line = (f"[{i + 1:>{len(str(total))}}/{total}] {escape(result.check_id)} [{_COLORS[st]}]{st}[/] "
                f"in {result.duration_s:.1f}s (elapsed {elapsed:.0f}s)" + (f"[dim]: {escape(why)}[/]" if why else ""))
        (self.bar.console if self.bar is not None else self.console).print(line, overflow="ellipsis",
                                                                           no_wrap=True)
        if self.bar is not None:
            self.bar.update(self.task, completed=i + 1)

    def log(self, line: str) -> None:
        self.stop()
        if self.live:
            from rich.markup import escape

            self.console.print(escape(line))
        else:
            self.text.stream.write(line + "\n")
            self.text.stream.flush()

    def stop(self) -> None:
        if self.spinner is not None:
            self.spinner.stop()
            self.spinner = None
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def make_progress(console: Any) -> CliProgress:
    return CliProgress(console)


@contextmanager
def working(message: str) -> Iterator[None]:
    """On a terminal, a transient spinner on stderr saying what the command is doing; nothing when stderr is
    not a terminal, so that a failure stays one ``error:`` line."""
    console = _console(stderr=True)
    if not console.is_terminal or console.is_dumb_terminal:
        yield
        return
    with console.status(message):
        yield


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
    sign_key: Annotated[Path | None, typer.Option(
        "--sign-key", help="Sign the attestation (DSSE) with this PEM Ed25519/ECDSA P-256 private key")] = None,
    model_key: Annotated[Path | None, typer.Option(
        "--model-key", help="Trusted public key of the model's OpenSSF signature (lineage.signature)")] = None,
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
    progress = None if quiet else make_progress(err_console)

    try:
        params = parse_params(param or [])
    except ValueError as exc:
        fail_input(str(exc))
    if model_key is not None:  # the auditor's key, not one the bundle ships, is what lineage.integrity trusts
        if not model_key.is_file():
            fail_input(f"--model-key {model_key} is not a file")
        params.setdefault("lineage.integrity", {})["model_key"] = str(model_key.resolve())
    if formats:
        try:
            import trustaudit.render as render_mod
        except ImportError:
            fail_input("--format: rendering is not available in this build")
        formats = [run_guarded(render_mod.normalise_format, f) for f in formats]  # before the audit runs
    gate_opts = GateOptions(fail_on=fail_on, baseline=baseline, junit=junit, sarif=sarif) if gating else None
    if progress is not None:
        progress.begin(f"auditing {bundle}: reading the bundle (manifest, data, model) ...")
    try:
        run = run_guarded(
            run_audit, bundle, out, formats=list(formats or []), gate=gate_opts, rubric=rubric, checks=checks,
            seed=seed, params=params or None, allow_unsafe_pickle=allow_unsafe_pickle, progress=progress,
            executor=executor, workers=workers, trusted_types=trust_type or (),
            sign_key=sign_key,
            log=progress.log if progress is not None else None,
        )
    finally:
        if progress is not None:
            progress.stop()
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

    with working(f"validating {bundle}: reading the manifest, data and model, digesting the files ..."):
        b = run_guarded(api.validate, bundle, allow_unsafe_pickle=allow_unsafe_pickle,
                        trusted_types=trust_type or ())
    m = b.manifest
    typer.echo(
        f"ok: {m.name} {m.version}: {len(b.data)} rows, label '{m.data.label}', "
        f"{len(m.protected)} protected attribute(s), model {b.model.format if b.model else 'none (predictions)'}"
    )


def _looks_like_data(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".csv", ".tsv", ".parquet", ".pq")) or ".csv." in name or ".tsv." in name


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
    sep: Annotated[str | None, typer.Option(
        "--sep", help="CSV delimiter (default: sniffed from the file; ',' ';' tab '|'). Write a tab as '\\t'")] = None,
    training_data: Annotated[Path | None, typer.Option(
        "--training-data", help="Training data file (default: a train*.csv/parquet beside DATA)")] = None,
    no_training_data: Annotated[bool, typer.Option(
        "--no-training-data", help="Do not look for training data beside DATA")] = False,
    protected: Annotated[list[str] | None, typer.Option(
        "--protected", help="COLUMN=DEFINITION, e.g. 'age=>= 25 and < 60', 'age=25..60', 'sex=Male'; repeatable")
    ] = None,
    trust_type: Annotated[list[str] | None, typer.Option(
        "--trust-type", help="Trust this exact skops type to read the model's classes; repeatable")] = None,
) -> None:
    """Scaffold trustaudit.yaml from a model file and a data file, inferring columns. Never prompts.

    Files outside --out are copied into it; the lineage section records their digests."""
    from trustaudit.scaffold import scaffold

    if sep == "\\t":
        sep = "\t"
    if data is None and model is not None and _looks_like_data(model):
        model, data = None, model  # `trustaudit init DATA --out DIR`: a predictions-only bundle
    if sep is not None and (len(sep) != 1 or sep in "\r\n\"" or sep.isalnum()):
        fail_input(f"--sep {sep!r}: give one delimiter character such as ',', ';', '|' or '\\t'")
    inputs = " and ".join(str(p) for p in (model, data) if p is not None) or "the files"
    with working(f"init: reading {inputs} (the model is loaded to read its columns) ..."):
        res = run_guarded(scaffold, model, data, out, label=label, favorable=favorable, name=name, force=force,
                          sep=sep, training_data=training_data, find_training=not no_training_data,
                          protected=protected, trusted_types=trust_type or ())
    for given, rel in res.copied:
        typer.echo(f"copied {given} -> {out / rel}")
    if res.sep != ",":
        typer.echo(f"delimiter: {res.sep!r} (data.sep)")
    for note in res.notes:
        typer.echo(f"note: {note}")
    if res.untrusted_types:
        typer.echo("the skops model needs types that are not trusted by default; review them before trusting:")
        for t in res.untrusted_types:
            typer.echo(f"  {t}")
    if res.unsafe_pickle:
        typer.echo("the model is a pickle: loading it runs code from the file; convert it to skops if you can")
    typer.echo(f"wrote {res.manifest}; review it, then run: {res.validate_command()}")


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
