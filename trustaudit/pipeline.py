"""One audit pipeline behind every entry point: bundle -> report.json -> attestation -> renders -> gate outputs.

``trustaudit audit``, ``trustaudit audit-many``, the service's local workers and its Dask workers, and Python
users (:func:`run_audit`) all go through :func:`run_audit`, so an audit writes the same files whichever way it
was started: ``report.json``, ``attestation.intoto.json`` (an in-toto Statement pinning the audited files and the
report), the checks' artefacts (plots), the requested renderings (HTML, PDF, Markdown) and, when gating, the gate's
JUnit and SARIF files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trustaudit.gate import GateResult
    from trustaudit.results import AuditReport

#: The files every audit writes (besides the checks' artefacts and the requested renderings).
CORE_FILES = ("report.json", "attestation.intoto.json")


@dataclass(frozen=True)
class GateOptions:
    """Gate the report as ``trustaudit gate`` does (see :func:`trustaudit.gate.gate`)."""

    fail_on: str = "fail"
    baseline: Path | None = None
    junit: Path | None = None
    sarif: Path | None = None
    summary: Path | None = None  # Markdown summary
    rubric: Any = None  # re-judge with this rubric (default: the report's own)
    allow_missing: bool = False


@dataclass
class AuditRun:
    """What one pass of the pipeline produced."""

    report: AuditReport
    out_dir: Path
    report_path: Path
    attestation_path: Path
    renders: dict[str, Path] = field(default_factory=dict)
    gate: GateResult | None = None
    gate_files: list[Path] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 pass, 1 the rubric (or the gate) failed: the CLI's exit code."""
        if self.gate is not None:
            return self.gate.exit_code
        return 0 if self.report.passed else 1

    def files(self) -> list[str]:
        """Every file under the output folder, relative to it (sorted)."""
        return sorted(p.relative_to(self.out_dir).as_posix() for p in self.out_dir.rglob("*") if p.is_file())


def run_audit(
    bundle: Any,
    out_dir: str | Path,
    *,
    formats: Sequence[str] = (),
    gate: GateOptions | None = None,
    rubric: Any = None,
    checks: list[str] | None = None,
    seed: int = 0,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    allow_unsafe_pickle: bool = False,
    trusted_types: Collection[str] = (),
    progress: Any = None,
    executor: Any = None,
    workers: int | None = None,
    path_alias: tuple[str, str] | None = None,
    sign_key: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    **in_memory: Any,
) -> AuditRun:
    """Audit ``bundle`` and write everything an audit writes into ``out_dir``.

    The arguments of :func:`trustaudit.api.audit` apply (``in_memory`` takes its in-memory options: ``data``,
    ``label``, ``favorable_label``, ``protected``, ``name``, ``version``). ``formats`` are renderings to add
    (``html``, ``pdf``, ``md``); ``gate`` also judges the report as the CI gate does and writes its JUnit/SARIF.
    ``path_alias`` = (path, shown) replaces a temporary bundle path by the one users know (the service's Dask
    workers audit a copy) before anything is written, so the attestation pins the report as published.
    ``sign_key`` (a PEM Ed25519 / ECDSA P-256 private key) writes the attestation as a signed DSSE envelope
    (:mod:`trustaudit.lineage.signing`); the key is read before the audit runs.
    ``log`` receives one line per step after the audit (each file written, each rendering as it starts and
    where it went), for a command line or a notebook to show.
    Raises :class:`~trustaudit.errors.TrustAuditError` on bad input, before writing anything.
    """
    from trustaudit.api import audit
    from trustaudit.lineage.attestation import write_attestation
    from trustaudit.results.io import write_report

    if sign_key is not None:  # a bad key is bad input: say so before auditing
        from trustaudit.lineage.signing import load_signer

        load_signer(sign_key)
    out = Path(out_dir)
    report = audit(
        bundle, rubric=rubric, checks=checks, seed=seed, out_dir=out, allow_unsafe_pickle=allow_unsafe_pickle,
        params=params, progress=progress, executor=executor, workers=workers, trusted_types=trusted_types,
        **in_memory,
    )
    if path_alias is not None:
        report = _alias(report, *path_alias)
    report_path = write_report(report, out)
    attestation = write_attestation(report, out, sign_key=sign_key)
    run = AuditRun(report=report, out_dir=out, report_path=report_path, attestation_path=attestation)
    say = log or (lambda line: None)
    say(f"wrote {report_path}")
    say(f"wrote {attestation}")
    for fmt in formats:
        say(f"rendering {fmt} ...")
        t0 = time.perf_counter()
        run.renders[fmt] = render(report, fmt, out)
        say(f"wrote {run.renders[fmt]} ({_size(run.renders[fmt])}, {time.perf_counter() - t0:.1f}s)")
    if gate is not None:
        run.gate, run.gate_files = gate_report(report, report_path, gate)
        for p in run.gate_files:
            say(f"wrote {p}")
    return run


def _size(path: Path) -> str:
    try:
        n = path.stat().st_size
    except OSError:
        return "?"
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def parse_params(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``CHECK.PARAM=VALUE`` overrides (``--param``) as ``{check: {param: value}}``; values are JSON when they
    parse as JSON (``200``, ``[0.1, 0.2]``, ``true``), else text. Raises ValueError on a malformed item."""
    import json

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        cid, dot, name = key.rpartition(".")
        if not sep or not dot or not cid or not name:
            raise ValueError(f"--param '{item}': use CHECK.PARAM=VALUE, e.g. fairness.model.bootstrap=200")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        out.setdefault(cid, {})[name] = value
    return out


def _alias(report: AuditReport, path: str, shown: str) -> AuditReport:
    import json

    from trustaudit.results import AuditReport

    text = report.to_json().replace(json.dumps(path)[1:-1], json.dumps(shown)[1:-1])
    return AuditReport.from_json(text)


def render(report: AuditReport, fmt: str, out: Path) -> Path:
    """Render one format into ``out`` (the reports module; a one-line error when it is not installed)."""
    from trustaudit.errors import TrustAuditError

    try:
        import trustaudit.render as mod
    except ImportError:
        raise TrustAuditError(f"--format {fmt}: rendering is not available in this build") from None
    return Path(mod.render_to_dir(report, fmt, out))


def gate_report(report: AuditReport, report_path: Path | None, opts: GateOptions) -> tuple[GateResult, list[Path]]:
    """Judge the report as the CI gate does; write the JUnit, SARIF and Markdown files asked for (and the
    GitHub step summary when ``GITHUB_STEP_SUMMARY`` is set). Returns the result and the files written."""
    from trustaudit.errors import TrustAuditError
    from trustaudit.gate import gate
    from trustaudit.gate.baseline import load_baseline
    from trustaudit.gate.summary import to_markdown, write_step_summary

    baseline = load_baseline(opts.baseline) if opts.baseline is not None else None
    result = gate(report, rubric=opts.rubric, baseline=baseline, fail_on=opts.fail_on,  # type: ignore[arg-type]
                  allow_missing=opts.allow_missing)
    written: list[Path] = []
    try:
        if opts.junit is not None:
            from trustaudit.gate.junit import write_junit

            written.append(write_junit(result, opts.junit))
        if opts.sarif is not None:
            from trustaudit.gate.sarif import write_sarif

            written.append(write_sarif(result, opts.sarif, report_path=report_path))
        if opts.summary is not None:
            opts.summary.parent.mkdir(parents=True, exist_ok=True)
            opts.summary.write_text(to_markdown(result), encoding="utf-8")
            written.append(opts.summary)
        step = write_step_summary(result)
        if step is not None:
            written.append(step)
    except OSError as exc:
        raise TrustAuditError(f"cannot write output: {exc.strerror or exc} ({getattr(exc, 'filename', '')})") from None
    return result, written
