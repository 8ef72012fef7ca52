"""Audit many bundles (and grade many openness files) in parallel on an executor.

:func:`audit_many` runs one :func:`trustaudit.api.audit` per bundle on a local process pool (default), a Dask
cluster (``executor="dask://HOST:PORT"``) or in this process (``"serial"``). Each bundle's audit is independent
and seeded, so the reports are the same whatever the executor, and they come back in the order of the inputs.
Only the run-time fields differ (``report_id``, ``created_at``, ``duration_s``, ``prediction_s``, each check's
``duration_s``; :data:`VOLATILE_FIELDS`) and the timings checks keep in their evidence; :func:`comparable` drops them.

:func:`openness_many` does the same for Model Openness Framework files with
:func:`trustaudit.openness.score_openness`.
"""

from __future__ import annotations

import contextlib
import re
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustaudit.errors import TrustAuditError
from trustaudit.executors import Executor, owned_executor

if TYPE_CHECKING:
    from trustaudit.results import AuditReport
    from trustaudit.rubrics import Rubric

__all__ = [
    "VOLATILE_FIELDS",
    "AuditManyError",
    "BundleOutcome",
    "audit_many",
    "audit_many_outcomes",
    "comparable",
    "expand_bundles",
    "is_timing_key",
    "openness_many",
    "output_names",
    "write_summary",
]

MANIFEST = "trustaudit.yaml"

#: Fields of report.json that depend on when and how fast the audit ran, not on what it measured.
VOLATILE_FIELDS = ("report_id", "created_at", "duration_s", "prediction_s")


class AuditManyError(TrustAuditError):
    """One or more bundles could not be audited (bad input); the message lists them."""


@dataclass(frozen=True)
class BundleOutcome:
    """What auditing one bundle gave: a report (as report.json text) or the one-line reason it could not run."""

    index: int
    path: str
    name: str  # unique, filesystem-safe name for this bundle's output directory
    report_json: str | None
    error: str | None
    wall_s: float

    @property
    def ok(self) -> bool:
        return self.report_json is not None

    @cached_property
    def report(self) -> AuditReport:
        """The parsed report (parsed once)."""
        from trustaudit.results import AuditReport

        if self.report_json is None:
            raise AuditManyError(f"{self.path}: {self.error}")
        return AuditReport.from_json(self.report_json)


@dataclass(frozen=True)
class _AuditTask:
    index: int
    path: str
    name: str
    rubric: Any
    checks: list[str] | None
    seed: int
    params: dict[str, dict[str, Any]] | None
    out_dir: str | None
    allow_unsafe_pickle: bool
    trusted_types: tuple[str, ...] = ()


def _audit_task(task: _AuditTask) -> BundleOutcome:
    """Audit one bundle (runs on a worker). Bad input becomes the outcome's error, never an exception."""
    from trustaudit.api import audit
    from trustaudit.pipeline import run_audit

    t0 = time.perf_counter()
    try:
        if task.out_dir is not None:  # the one pipeline: report.json, attestation and artefacts in out_dir
            report = run_audit(
                task.path, task.out_dir, rubric=task.rubric, checks=task.checks, seed=task.seed, params=task.params,
                allow_unsafe_pickle=task.allow_unsafe_pickle, trusted_types=task.trusted_types,
            ).report
        else:
            report = audit(
                task.path, rubric=task.rubric, checks=task.checks, seed=task.seed, params=task.params,
                allow_unsafe_pickle=task.allow_unsafe_pickle, trusted_types=task.trusted_types,
            )
        text, error = report.to_json(), None
    except TrustAuditError as exc:
        text, error = None, exc.one_line()
    except Exception as exc:  # an unexpected failure on one bundle must not lose the others' reports
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
        first = str(exc).splitlines()[0] if str(exc) else ""
        text, error = None, f"{type(exc).__name__}: {first}{where}"
    return BundleOutcome(task.index, task.path, task.name, text, error, time.perf_counter() - t0)


def expand_bundles(paths: Sequence[str | Path]) -> list[Path]:
    """Bundle directories from the arguments: a bundle directory (holding trustaudit.yaml) is taken as is; any
    other directory contributes its immediate subdirectories that are bundles, sorted by name. Duplicates
    (same resolved path) are dropped, keeping the first occurrence."""
    out: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_file() and p.name == MANIFEST:
            p = p.parent
        if not p.exists():
            raise AuditManyError(f"{p} does not exist")
        if not p.is_dir():
            raise AuditManyError(f"{p} is not a bundle directory (no {MANIFEST})")
        if (p / MANIFEST).is_file():
            found = [p]
        else:
            found = sorted((c for c in p.iterdir() if c.is_dir() and (c / MANIFEST).is_file()),
                           key=lambda c: c.name)
            if not found:
                raise AuditManyError(f"{p} holds no bundle ({MANIFEST} in it or in a subdirectory)")
        for b in found:
            key = b.resolve()
            if key not in seen:
                seen.add(key)
                out.append(b)
    return out


def output_names(bundles: Sequence[Path]) -> list[str]:
    """A unique, filesystem-safe output directory name per bundle: its directory name, ``-2``, ``-3``... on
    repeats (in input order)."""
    names: list[str] = []
    used: set[str] = set()
    for b in bundles:
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", b.resolve().name).strip("-.") or "bundle"
        name, k = base, 2
        while name.lower() in used:
            name, k = f"{base}-{k}", k + 1
        used.add(name.lower())
        names.append(name)
    return names


def audit_many_outcomes(
    paths: Sequence[str | Path],
    *,
    executor: str | Executor | None = "local",
    workers: int | None = None,
    rubric: str | Path | Rubric | None = None,
    checks: list[str] | None = None,
    seed: int = 0,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    out_dir: str | Path | None = None,
    allow_unsafe_pickle: bool = False,
    callback: Callable[[BundleOutcome], None] | None = None,
    trusted_types: Sequence[str] = (),
) -> list[BundleOutcome]:
    """Audit every bundle on the executor; one :class:`BundleOutcome` per bundle, in input order.

    With ``out_dir``, each bundle's checks write their artefacts to ``out_dir/<name>`` (a path the workers must
    be able to write; see :func:`output_names`) — report.json is written by :func:`write_summary` or the CLI.
    ``callback`` gets each outcome as it finishes (completion order).
    """
    bundles = expand_bundles(paths)
    names = output_names(bundles)
    rub = str(rubric) if isinstance(rubric, Path) else rubric
    plain_params = {k: dict(v) for k, v in params.items()} if params else None
    tasks = [
        _AuditTask(i, str(b), names[i], rub, list(checks) if checks else None, seed, plain_params,
                   str(Path(out_dir) / names[i]) if out_dir is not None else None, allow_unsafe_pickle,
                   tuple(trusted_types))
        for i, b in enumerate(bundles)
    ]
    # largest bundles first (longest-processing-time scheduling): a big bundle started last would leave the other
    # workers idle while it runs. Results are put back in input order.
    order = sorted(range(len(tasks)), key=lambda i: (-_bundle_bytes(bundles[i]), i))
    with owned_executor(executor, workers) as ex:
        cb = (lambda _j, outcome: callback(outcome)) if callback is not None else None
        done: list[BundleOutcome] = ex.map(_audit_task, [tasks[i] for i in order], callback=cb)
    by_input = dict(zip(order, done))
    return [by_input[i] for i in range(len(tasks))]


def _bundle_bytes(path: Path) -> int:
    """Size of a bundle's files: a cheap estimate of how long its audit takes."""
    total = 0
    try:
        for f in path.rglob("*"):
            with contextlib.suppress(OSError):
                if f.is_file() and not f.is_symlink():
                    total += f.stat().st_size
    except OSError:
        pass
    return total


def audit_many(
    paths: Sequence[str | Path],
    *,
    executor: str | Executor | None = "local",
    workers: int | None = None,
    rubric: str | Path | Rubric | None = None,
    checks: list[str] | None = None,
    seed: int = 0,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    out_dir: str | Path | None = None,
    allow_unsafe_pickle: bool = False,
    trusted_types: Sequence[str] = (),
) -> list[AuditReport]:
    """Audit many bundles in parallel; the reports in input order.

    ``paths`` are bundle directories or directories of bundles (:func:`expand_bundles`). ``executor`` is
    ``"local"`` (process pool of ``workers`` processes, default one per CPU), ``"serial"``,
    ``"dask://HOST:PORT"`` or an :class:`~trustaudit.executors.Executor` (left open for reuse). The other
    arguments are those of :func:`trustaudit.api.audit`, applied to every bundle. Raises
    :class:`AuditManyError` naming every bundle that could not be audited (after all the others ran); use
    :func:`audit_many_outcomes` to get the reports of the good bundles as well.

    Examples
    --------
    >>> reports = audit_many(["sample_models"], checks=["fairness.*"])             # doctest: +SKIP
    >>> [r.verdict.value for r in reports]                                         # doctest: +SKIP
    """
    outcomes = audit_many_outcomes(
        paths, executor=executor, workers=workers, rubric=rubric, checks=checks, seed=seed, params=params,
        out_dir=out_dir, allow_unsafe_pickle=allow_unsafe_pickle, trusted_types=trusted_types,
    )
    bad = [o for o in outcomes if not o.ok]
    if bad:
        lines = "; ".join(f"{o.path}: {o.error}" for o in bad)
        raise AuditManyError(f"{len(bad)} of {len(outcomes)} bundle(s) could not be audited: {lines}")
    return [o.report for o in outcomes]


def is_timing_key(key: str) -> bool:
    """Whether an evidence key names a run-time measurement (``elapsed_s``, ``fit_seconds``, ``predict_s``...)."""
    k = key.lower()
    return k.endswith(("_s", "seconds")) or k in ("elapsed", "duration", "wall", "cpu")


def _drop_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_timings(v) for k, v in value.items() if not (isinstance(k, str) and is_timing_key(k))}
    if isinstance(value, list):
        return [_drop_timings(v) for v in value]
    return value


def comparable(report: AuditReport) -> dict[str, Any]:
    """A report as a dict without what depends on when and how fast it ran, for comparing two runs.

    Drops the report's run-time fields (:data:`VOLATILE_FIELDS`), each check's ``duration_s``, and the timings
    checks record in their evidence: keys ending in ``_s`` or ``seconds`` (:func:`is_timing_key`).
    """
    data = report.model_dump(mode="json", exclude=set(VOLATILE_FIELDS))
    for check in data.get("checks", []):
        check.pop("duration_s", None)
        check["evidence"] = _drop_timings(check.get("evidence", {}))
    return data


def write_summary(outcomes: Sequence[BundleOutcome], out_dir: str | Path, *, executor: str = "") -> Path:
    """Write ``out_dir/<name>/report.json`` for each audited bundle and ``out_dir/summary.json`` for all."""
    import json

    from trustaudit.lineage.attestation import write_attestation
    from trustaudit.results.io import atomic_write, write_report

    out = Path(out_dir)
    rows = []
    for o in outcomes:
        row: dict[str, Any] = {"path": o.path, "name": o.name, "wall_s": round(o.wall_s, 3)}
        if o.ok:
            rep = o.report
            rel = Path(o.name) / "report.json"
            if not (out / rel).is_file() or not (out / o.name / "attestation.intoto.json").is_file():
                # audited without an out_dir on the worker: write what the pipeline writes
                write_report(rep, out / o.name)
                write_attestation(rep, out / o.name)
            row.update(status="audited", verdict=rep.verdict.value, passed=rep.passed, counts=rep.counts,
                       model=rep.bundle.name, version=rep.bundle.version, n_rows=rep.bundle.n_rows,
                       report=str(rel))
        else:
            row.update(status="error", error=o.error)
        rows.append(row)
    summary = {
        "executor": executor,
        "bundles": len(rows),
        "audited": sum(1 for r in rows if r["status"] == "audited"),
        "passed": sum(1 for r in rows if r.get("passed")),
        "failed": sum(1 for r in rows if r["status"] == "audited" and not r["passed"]),
        "errors": sum(1 for r in rows if r["status"] == "error"),
        "results": rows,
    }
    path = out / "summary.json"
    atomic_write(path, json.dumps(summary, indent=2) + "\n")
    return path


# -- openness over many files -----------------------------------------------------------------------------


def _openness_batch(batch: list[tuple[str, bool]]) -> list[tuple[str | None, str | None]]:
    """Grade a batch of openness files (runs on a worker): (result JSON, None) or (None, error) per file."""
    from trustaudit.openness import load_path, score_openness

    out: list[tuple[str | None, str | None]] = []
    for path, strict in batch:
        try:
            decl, root = load_path(Path(path))
            res = score_openness(decl, strict_mot=strict, bundle_root=root)
            out.append((res.model_dump_json(), None))
        except TrustAuditError as exc:
            out.append((None, exc.one_line()))
    return out


def openness_many(
    paths: Sequence[str | Path],
    *,
    executor: str | Executor | None = "local",
    workers: int | None = None,
    strict_mot: bool = False,
    batch_size: int | None = None,
    errors: str = "raise",
) -> list[Any]:
    """Grade many openness files (MOT model.yml, bundle directories, model cards) in parallel, in input order.

    Returns one :class:`trustaudit.openness.OpennessResult` per path (with ``errors="collect"``, a
    :class:`TrustAuditError` in place of a file that could not be read). Files are sent to workers in batches
    (``batch_size``, default: about four batches per worker), since scoring one file takes milliseconds.
    """
    try:
        from trustaudit.openness import OpennessResult
    except ImportError:  # pragma: no cover - the openness module ships with trustaudit
        raise TrustAuditError("openness scoring is not available in this build") from None
    if errors not in ("raise", "collect"):
        raise ValueError("errors must be 'raise' or 'collect'")
    items = [(str(p), strict_mot) for p in paths]
    if not items:
        return []
    with owned_executor(executor, workers) as ex:
        size = batch_size or max(1, -(-len(items) // (4 * ex.workers)))
        batches = [items[i : i + size] for i in range(0, len(items), size)]
        graded = [r for batch in ex.map(_openness_batch, batches) for r in batch]
    results: list[Any] = []
    failures: list[str] = []
    for (path, _), (text, err) in zip(items, graded):
        if text is not None:
            results.append(OpennessResult.model_validate_json(text))
        else:
            failures.append(f"{path}: {err}")
            results.append(TrustAuditError(f"{path}: {err}"))
    if failures and errors == "raise":
        raise TrustAuditError(f"{len(failures)} of {len(items)} file(s) could not be graded: " + "; ".join(failures))
    return results
