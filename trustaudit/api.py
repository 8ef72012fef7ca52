"""The Python API. The CLI is a thin layer over these functions."""

from __future__ import annotations

import functools
import platform
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trustaudit.bundle.loader import (
    Bundle,
    check_task,
    load_bundle,
    resolve_protected,
    validate_data,
)
from trustaudit.bundle.manifest import Manifest
from trustaudit.bundle.models import check_columns, wrap_estimator
from trustaudit.checks import registry
from trustaudit.checks.base import Check, CheckOutput
from trustaudit.context import AuditContext, progress_reporter
from trustaudit.errors import BundleError, SkipCheck, TrustAuditError
from trustaudit.results import AuditReport, BundleIdentity, CheckResult, Status, ToolInfo
from trustaudit.results.io import atomic_write, load_report, write_report  # noqa: F401 (part of the API)
from trustaudit.rubrics import (
    SEED_MARGIN_SE,
    Rubric,
    judge_check,
    load_rubric,
    seed_sensitive,
    validate_against_registry,
)
from trustaudit.version import __version__

ProgressFn = Callable[[str, str, int, int], None]  # (check_id, phase 'start'|'end', index, total)

_PACKAGES = ("numpy", "pandas", "scikit-learn", "aif360", "skops", "onnxruntime", "pydantic", "shap",
             "adversarial-robustness-toolbox", "xgboost-cpu", "xgboost", "lightgbm")


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def in_memory_bundle(
    model: Any,
    data: Any,
    *,
    label: str,
    favorable_label: Any,
    protected: Mapping[str, Any],
    name: str = "in-memory-model",
    version: str = "0",
    prediction: str | None = None,
    score: str | None = None,
    features: list[str] | None = None,
    training_data: Any = None,
    training_label: str | None = None,
    description: str | None = None,
    immutable: list[str] | None = None,
    lineage: Mapping[str, Any] | None = None,
    task: str | None = None,
) -> Bundle:
    """Build a :class:`Bundle` from an in-memory estimator (or None with a prediction column) and a DataFrame.

    The keyword arguments are the manifest's keys (docs/manifest.md): ``prediction``, ``score`` and ``features``
    of its ``data:`` section, ``training_data`` (a DataFrame; ``training_label`` when its label column has another
    name), ``immutable`` columns, a ``lineage`` section (a dict, as in trustaudit.yaml) and ``task``."""
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise BundleError("data must be a pandas DataFrame")
    if training_data is not None and not isinstance(training_data, pd.DataFrame):
        raise BundleError(f"training_data must be a pandas DataFrame, not {type(training_data).__name__}")
    raw: dict[str, Any] = {
        "trustaudit": 1,
        "name": name,
        "version": version,
        "task": task or "binary-classification",
        "description": description,
        "data": {"path": "<in-memory>", "label": label, "favorable_label": favorable_label,
                 "prediction": prediction, "score": score, "features": features},
        "protected": {k: (v if isinstance(v, dict) and not set(v) <= {"min", "max"} else {"privileged": v})
                      for k, v in protected.items()},
    }
    if immutable is not None:
        raw["immutable"] = list(immutable)
    if lineage is not None:
        raw["lineage"] = dict(lineage)
    if training_data is not None:
        raw["training_data"] = {"path": "<in-memory>", "label": training_label}
    if model is not None:
        raw["model"] = {"path": "<in-memory>", "format": "skops"}
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as err:
        from trustaudit.bundle.manifest import format_validation_error

        raise BundleError(format_validation_error(err, "audit() arguments")) from None
    validate_data(manifest, data, "the DataFrame")
    check_task(manifest, data)
    resolve_protected(data, manifest.protected)
    adapter = wrap_estimator(model, str(manifest.task)) if model is not None else None
    bundle = Bundle(manifest, None, data, adapter, [], training_data)
    if adapter is not None:
        check_columns(adapter, data)
        from trustaudit.bundle.loader import check_model_task

        check_model_task(adapter, str(manifest.task))
    return bundle


#: The packaged rubric an audit uses when neither the caller nor the manifest names one, per task.
TASK_RUBRICS = {"binary-classification": "default", "multiclass-classification": "default-multiclass",
                "regression": "default-regression"}


def _selected_for_task(cid: str, task: str, patterns: list[str]) -> bool:
    """A check written for other tasks (it declares ``tasks`` without this one, e.g. fairness.regression on a
    binary classifier) runs only when named exactly; a check that predates the task (``tasks`` not declared)
    stays selected and is skipped with its "not applicable" reason, so the report says what was not assessed."""
    if cid in patterns:
        return True
    try:
        cls = registry.load(cid)
    except registry.PluginLoadError:
        return True  # recorded as an error result by the audit
    declared = getattr(cls, "tasks", None)
    return declared is None or task in declared


def _run_check(cls: type[Check], ctx: AuditContext, params: dict[str, Any]) -> CheckResult:
    base: dict[str, Any] = {"check_id": cls.id, "category": cls.category, "version": cls.version, "title": cls.title}
    t0 = time.perf_counter()
    try:
        p = cls.Params.model_validate(params)
    except ValidationError as err:
        first = err.errors()[0]
        msg = f"invalid parameter '{'.'.join(str(x) for x in first['loc'])}': {first['msg']}"
        return CheckResult(**base, status=Status.ERROR, error=msg, params=params)
    base["params"] = p.model_dump(mode="json")
    check = cls()
    reason = check.skip_reason(ctx)
    if reason is not None:
        return CheckResult(**base, status=Status.SKIPPED, skipped_reason=reason)
    try:
        out: CheckOutput = check.run(ctx, p)
    except SkipCheck as skip:
        return CheckResult(**base, status=Status.SKIPPED, skipped_reason=str(skip),
                           duration_s=time.perf_counter() - t0)
    except TrustAuditError as exc:
        return CheckResult(**base, status=Status.ERROR, error=exc.one_line(), duration_s=time.perf_counter() - t0)
    except SystemExit as exc:  # a plug-in calling sys.exit() must not end the audit
        return CheckResult(**base, status=Status.ERROR, duration_s=time.perf_counter() - t0,
                           error=f"the check called sys.exit({exc.code!r}); a check must return its results")
    except Exception as exc:  # a failing check never aborts the audit
        return CheckResult(**base, status=Status.ERROR, error=_describe(exc), duration_s=time.perf_counter() - t0)
    if not isinstance(out, CheckOutput):
        return CheckResult(**base, status=Status.ERROR, duration_s=time.perf_counter() - t0,
                           error=f"the check returned {type(out).__name__}, not a CheckOutput")
    try:
        return CheckResult(
            **base,
            status=Status.PASS,
            summary=out.summary,
            metrics=out.metrics,
            tables=out.tables,
            evidence=out.evidence,
            artifacts=out.artifacts,
            warnings=out.warnings,
            duration_s=time.perf_counter() - t0,
        )
    except ValidationError as err:  # metrics, tables or evidence that do not fit the result model
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        return CheckResult(**base, status=Status.ERROR, duration_s=time.perf_counter() - t0,
                           error=f"the check returned an invalid result: {where}: {first['msg']}")


def _describe(exc: BaseException) -> str:
    """One line: the exception type, its first line and where it was raised."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}{where}"


def _plugin_error(check_id: str, message: str) -> CheckResult:
    """The result of a registered check whose code could not be loaded."""
    return CheckResult(check_id=check_id, category=check_id.split(".", 1)[0], version="unknown", title=check_id,
                       status=Status.ERROR, error=message)


def apply_rubric(result: CheckResult, rubric: Rubric) -> CheckResult:
    """Judge a check's metrics against the rubric's conditions; set the check's status
    (:func:`trustaudit.rubrics.judge_check`, the one judge the gate uses too)."""
    return judge_check(result, rubric)


def _judge(res: CheckResult, rub: Rubric) -> CheckResult:
    try:
        return apply_rubric(res, rub)
    except Exception as exc:  # metrics the rubric cannot judge (e.g. a plug-in's odd values)
        res.status, res.error = Status.ERROR, f"judging the check's metrics failed: {_describe(exc)}"
        return res


def widen_if_seed_sensitive(cls: type[Check], ctx: AuditContext, params: dict[str, Any], res: CheckResult,
                            rub: Rubric) -> CheckResult:
    """Re-run a check on a wider sample when a verdict could depend on the seed (issue 15: stable verdicts).

    A condition whose deciding point (interval edge, or estimate) lies within
    :data:`~trustaudit.rubrics.SEED_MARGIN_SE` standard errors of its bound could be judged differently with
    another sample of rows. The check is then re-run with the parameters of its :meth:`Check.widened` (every
    evaluation row where it can) and that result is judged instead; the report says so in the check's evidence
    (``widened``) and warnings. A check that cannot grow keeps its result with a warning naming the conditions."""
    if res.status in (Status.ERROR, Status.SKIPPED):
        return res
    near = [c for c in res.conditions if seed_sensitive(c)]
    if not near:
        return res
    names = "; ".join(f"{c.condition} [{c.subject}]" if c.subject else c.condition for c in near[:4])
    # A near condition moves between pass and its severity; the check's status (the worst) cannot change when
    # the conditions far from their bounds already reach that severity.
    floor = Status.worst([c.status for c in res.conditions if c not in near and c.status != Status.SKIPPED],
                         default=Status.PASS)
    if Status.worst([floor, *(Status(c.severity) for c in near)]) == floor:
        res.warnings.append(f"seed-sensitive: {names} lies within {SEED_MARGIN_SE:g} standard errors of its "
                            f"bound, so another seed may judge it differently; the check's status ({floor.value}) "
                            "does not depend on it")
        return res
    try:
        wider = cls().widened(ctx, cls.Params.model_validate(params))
    except Exception:  # a plug-in's widened() failing leaves its first result
        wider = None
    if not wider:
        res.warnings.append(f"seed-sensitive: {names} lies within {SEED_MARGIN_SE:g} standard errors of its "
                            "bound, so another seed may judge it differently (the check cannot use more rows)")
        return res
    again = _judge(_run_check(cls, ctx, {**params, **wider}), rub)
    if again.status == Status.ERROR:
        res.warnings.append(f"seed-sensitive: {names} lies within {SEED_MARGIN_SE:g} standard errors of its "
                            f"bound; re-running on a wider sample failed ({again.error})")
        return res
    still = [c for c in again.conditions if seed_sensitive(c)]
    again.evidence["widened"] = {
        "reason": f"{names}: within {SEED_MARGIN_SE:g} standard errors of the bound at the first sample",
        "params": dict(wider),
        "first_status": res.status.value,
    }
    again.warnings.append(f"re-run on a wider sample ({', '.join(f'{k}={v}' for k, v in wider.items())}): "
                          f"{names} was within {SEED_MARGIN_SE:g} standard errors of its bound"
                          + (", and still is: its verdict rests on every row the check can use" if still else ""))
    return again


def verdict_of(checks: list[CheckResult]) -> Status:
    statuses = [c.status for c in checks if c.status != Status.SKIPPED]
    return Status.worst(statuses, default=Status.PASS)


def audit(
    bundle: str | Path | Bundle | Any,
    data: Any = None,
    *,
    label: str | None = None,
    favorable_label: Any = None,
    protected: Mapping[str, Any] | None = None,
    prediction: str | None = None,
    score: str | None = None,
    features: list[str] | None = None,
    training_data: Any = None,
    training_label: str | None = None,
    description: str | None = None,
    immutable: list[str] | None = None,
    lineage: Mapping[str, Any] | None = None,
    task: str | None = None,
    rubric: str | Path | Rubric | None = None,
    checks: list[str] | None = None,
    seed: int = 0,
    out_dir: str | Path | None = None,
    allow_unsafe_pickle: bool = False,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProgressFn | bool | None = None,
    name: str | None = None,
    version: str | None = None,
    executor: Any = None,
    workers: int | None = None,
    trusted_types: Collection[str] = (),
) -> AuditReport:
    """Audit a model bundle, or an in-memory model and DataFrame.

    Examples
    --------
    >>> report = audit("sample_models/adult-income-hgb")                          # doctest: +SKIP
    >>> report = audit(clf, df, label="income", favorable_label=">50K",
    ...                protected={"sex": ["Male"]})                                 # doctest: +SKIP
    >>> report.verdict                                                              # doctest: +SKIP

    An in-memory audit takes the manifest's keys as arguments: ``label``, ``favorable_label``, ``protected``
    (``{"sex": ["Male"], "age": ">= 25"}``), ``prediction``/``score`` columns (audit without a model: pass None
    as the model), ``features``, ``training_data`` (a DataFrame: the leakage, skew and membership-inference checks
    need it; ``training_label`` when its label column is named differently), ``immutable``, ``lineage`` (the
    manifest's lineage section as a dict), ``task``, ``name``, ``version`` and ``description``. With a bundle
    directory they come from its trustaudit.yaml, and passing any of them is an error.

    ``checks`` takes check ids or glob patterns (``fairness.*``). ``params`` overrides check parameters
    (``{"fairness.model": {"bootstrap": 200}}``). ``out_dir`` is where checks write artefacts (plots); without it
    they go to a temporary folder kept as long as the report (``report.artifact_dir``), so that
    :func:`write_report` (which writes report.json and copies them) and the notebook display show them.

    ``progress``: True prints one line per check as it starts and ends (status, time); or a callable
    ``progress(check_id, phase, index, total)`` with phase ``"start"`` or ``"end"``. A callable that also has a
    ``check_done(result, index, total)`` method gets each check's judged :class:`CheckResult`.

    ``executor`` (``"local"``, ``"dask://HOST:PORT"`` or a :class:`trustaudit.executors.Executor`) splits the
    checks' row-parallel work (SHAP values of the sampled rows) across its ``workers``; the report is the same
    whatever the executor. By default everything runs in this process.

    ``trusted_types`` are exact skops type names you (the auditor) reviewed and trust beyond skops' defaults;
    a bundle's own ``model.trusted_types`` is never trusted on its word.
    """
    in_memory = {"data": data, "label": label, "favorable_label": favorable_label, "protected": protected,
                 "prediction": prediction, "score": score, "features": features, "training_data": training_data,
                 "training_label": training_label, "description": description, "immutable": immutable,
                 "lineage": lineage, "task": task, "name": name, "version": version}
    if isinstance(bundle, (str, Path, Bundle)):
        _refuse_in_memory(bundle, in_memory)
    if executor is not None:
        from trustaudit.executors import use_executor

        with use_executor(executor, workers=workers):
            return audit(
                bundle, rubric=rubric, checks=checks, seed=seed, out_dir=out_dir,
                allow_unsafe_pickle=allow_unsafe_pickle, params=params, progress=progress,
                trusted_types=trusted_types, **in_memory,
            )
    t_start = time.perf_counter()
    if progress is True:
        progress = TextProgress()
    elif progress is False:
        progress = None
    if isinstance(bundle, Bundle):
        b = bundle
    elif isinstance(bundle, (str, Path)):
        b = load_bundle(bundle, allow_unsafe_pickle=allow_unsafe_pickle, trusted_types=trusted_types)
    else:
        needs = [k for k in ("data", "label") if in_memory[k] is None]
        if favorable_label is None and task in (None, "binary-classification"):
            needs.append("favorable_label")
        if needs:
            raise BundleError(
                f"an in-memory audit needs {', '.join(f'{k}=' for k in needs)} (data= a DataFrame with the label "
                "column; and protected= for the fairness checks), or give a bundle directory instead of the model"
            )
        b = in_memory_bundle(bundle, data, label=str(label), favorable_label=favorable_label,
                             protected=protected or {}, name=name or "in-memory-model", version=version or "0",
                             prediction=prediction, score=score, features=features, training_data=training_data,
                             training_label=training_label, description=description, immutable=immutable,
                             lineage=lineage, task=task)

    if rubric is None and b.manifest.rubric:
        rubric = str(b.resolve(b.manifest.rubric, "rubric")) if b.manifest.rubric.endswith((".yaml", ".yml")) \
            else b.manifest.rubric
    if rubric is None:  # the packaged default rubric of the bundle's task
        rubric = TASK_RUBRICS.get(str(b.manifest.task), "default")
    rub = rubric if isinstance(rubric, Rubric) else load_rubric(rubric)
    validate_against_registry(rub)

    patterns = checks or rub.run
    check_ids = registry.select(list(patterns) if patterns else None)
    check_ids = [c for c in check_ids if rub.policy(c).enabled or checks]
    check_ids = [c for c in check_ids if _selected_for_task(c, str(b.manifest.task), list(patterns or []))]

    artifact_tmp: _ArtifactDir | None = None
    if out_dir is not None:
        out_path = Path(out_dir)
        out_path.mkdir(parents=True, exist_ok=True)
    else:  # plots still come along: write_report copies them, the notebook display embeds them
        artifact_tmp = _ArtifactDir()
        out_path = artifact_tmp.path
    ctx = AuditContext(b, seed=seed, out_dir=out_path)
    results: list[CheckResult] = []
    for i, cid in enumerate(check_ids):
        if progress:
            progress(cid, "start", i, len(check_ids))
        try:
            cls = registry.load(cid)
        except registry.PluginLoadError as exc:
            res = _plugin_error(cid, exc.one_line())
        else:
            merged = {**rub.policy(cid).params, **((params or {}).get(cid, {}))}
            work = getattr(progress, "work", None)
            with progress_reporter(functools.partial(work, cid) if callable(work) else None):
                res = _run_check(cls, ctx, merged)
                res = _judge(res, rub)
                res = widen_if_seed_sensitive(cls, ctx, merged, res, rub)
        results.append(res)
        if progress:
            progress(cid, "end", i, len(check_ids))
            done = getattr(progress, "check_done", None)
            if callable(done):
                done(res, i, len(check_ids))

    counts = {s.value: sum(1 for r in results if r.status == s) for s in Status}
    spec = b.manifest.data
    identity = BundleIdentity(
        name=b.manifest.name,
        version=b.manifest.version,
        task=b.manifest.task,
        description=b.manifest.description,
        source=str(b.root) if b.root is not None else "in-memory",
        model_format=b.model.format if b.model is not None else None,
        model_type=b.model.type_name if b.model is not None else None,
        files=b.files,
        manifest_sha256=b.manifest_sha256,
        n_rows=len(b.data),
        label=spec.label,
        favorable_label=str(spec.favorable_label) if spec.favorable_label is not None else "",
        protected={k: v.describe() for k, v in b.manifest.protected.items()},
    )
    report = AuditReport(
        report_id=str(uuid.uuid4()),
        created_at=datetime.now(timezone.utc),
        tool=ToolInfo(version=__version__, python=platform.python_version(), platform=sys.platform),
        packages=package_versions(),
        bundle=identity,
        seed=seed,
        rubric=rub.ref(),
        checks=results,
        verdict=verdict_of(results),
        counts=counts,
        duration_s=time.perf_counter() - t_start,
        prediction_s=ctx.prediction_s,
        warnings=b.warnings,
    )
    report._artifact_dir, report._artifact_tmp = out_path, artifact_tmp
    return report


class _ArtifactDir:
    """A temporary folder for the artefacts of an audit without ``out_dir``, removed when the last report holding
    it is garbage-collected (or at exit). Copies of a report share it."""

    def __init__(self) -> None:
        import shutil
        import weakref

        self.path = Path(tempfile.mkdtemp(prefix="trustaudit-artifacts-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.path), ignore_errors=True)


def _refuse_in_memory(bundle: Any, given: Mapping[str, Any]) -> None:
    """A bundle takes its options from trustaudit.yaml: in-memory arguments beside it are an error, never
    silently ignored."""
    names = [k for k, v in given.items() if v is not None]
    if not names:
        return
    what = f"the bundle directory '{bundle}'" if isinstance(bundle, (str, Path)) else "a loaded Bundle"
    args = ", ".join(f"{k}=" for k in names)
    raise BundleError(
        f"{args} {'applies' if len(names) == 1 else 'apply'} to an in-memory model and DataFrame only; "
        f"{what} takes them from its trustaudit.yaml: edit the manifest, or pass the model and data to audit()"
    )


class TextProgress:
    """Plain-text progress for notebooks, scripts and logs: one line as each check starts and one as it ends,
    with its status, its time and the audit's elapsed time (no terminal escape codes)::

        [ 3/14] robustness.adversarial ...
        [ 3/14] robustness.adversarial: fail in 56.2s (elapsed 80.1s)

    A check's long loop adds a line at most every ``every_s`` seconds (``every_s=0``: none)::

                robustness.adversarial: 3/5 budgets

    ``stream`` defaults to ``sys.stdout`` at the time of each line (a notebook's output cell)."""

    def __init__(self, stream: Any = None, *, starts: bool = True, every_s: float = 15.0) -> None:
        self.stream = stream
        self.starts = starts
        self.every_s = every_s
        self._t0: float | None = None
        self._last: tuple[str, float] | None = None

    def _write(self, line: str) -> None:
        stream = self.stream if self.stream is not None else sys.stdout
        stream.write(line + "\n")
        stream.flush()

    @staticmethod
    def _pos(i: int, total: int) -> str:
        return f"[{i + 1:>{len(str(total))}}/{total}]"

    def __call__(self, cid: str, phase: str, i: int, total: int) -> None:
        if self._t0 is None:
            self._t0 = time.perf_counter()
        if phase == "start" and self.starts:
            self._write(f"{self._pos(i, total)} {cid} ...")

    def work(self, cid: str, done: int, total: int, unit: str) -> None:
        """How far a long loop inside a check is (rows explained, rows attacked, budgets searched): a line at
        most every ``every_s`` seconds, the first one ``every_s`` after the loop began (short loops print none)."""
        now = time.perf_counter()
        if self._last is None or self._last[0] != cid:
            self._last = (cid, now)
            return
        if self.every_s > 0 and now - self._last[1] >= self.every_s and 0 < done < total:
            self._last = (cid, now)
            self._write(f"        {cid}: {done}/{total} {unit}")

    def check_done(self, result: CheckResult, i: int, total: int) -> None:
        elapsed = time.perf_counter() - (self._t0 or time.perf_counter())
        why = result.skipped_reason if result.status == Status.SKIPPED else result.error
        self._write(f"{self._pos(i, total)} {result.check_id}: {result.status.value} in {result.duration_s:.1f}s "
                    f"(elapsed {elapsed:.1f}s)" + (f": {why}" if why else ""))


def validate(bundle: str | Path, *, allow_unsafe_pickle: bool = False, trusted_types: Collection[str] = ()) -> Bundle:
    """Check a bundle without running any check (loads the manifest, data and model)."""
    from trustaudit.lineage import validate_lineage  # the lineage section and the MLmodel / card / BOM it has
    return validate_lineage(load_bundle(bundle, allow_unsafe_pickle=allow_unsafe_pickle, trusted_types=trusted_types))
