"""The Python API. The CLI is a thin layer over these functions."""

from __future__ import annotations

import platform
import sys
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
from trustaudit.context import AuditContext
from trustaudit.errors import BundleError, SkipCheck, TrustAuditError
from trustaudit.results import AuditReport, BundleIdentity, CheckResult, Status, ToolInfo
from trustaudit.results.io import atomic_write, load_report, write_report  # noqa: F401 (part of the API)
from trustaudit.rubrics import Rubric, judge_check, load_rubric, validate_against_registry
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
) -> Bundle:
    """Build a :class:`Bundle` from an in-memory estimator (or None with a prediction column) and a DataFrame."""
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise BundleError("data must be a pandas DataFrame")
    raw = {
        "trustaudit": 1,
        "name": name,
        "version": version,
        "task": "binary-classification",
        "data": {"path": "<in-memory>", "label": label, "favorable_label": favorable_label,
                 "prediction": prediction, "score": score, "features": features},
        "protected": {k: (v if isinstance(v, dict) else {"privileged": v}) for k, v in protected.items()},
    }
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
    adapter = wrap_estimator(model) if model is not None else None
    bundle = Bundle(manifest, None, data, adapter, [], training_data)
    if adapter is not None:
        check_columns(adapter, data)
    return bundle


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
    rubric: str | Path | Rubric | None = None,
    checks: list[str] | None = None,
    seed: int = 0,
    out_dir: str | Path | None = None,
    allow_unsafe_pickle: bool = False,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProgressFn | None = None,
    name: str = "in-memory-model",
    version: str = "0",
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

    ``checks`` takes check ids or glob patterns (``fairness.*``). ``params`` overrides check parameters
    (``{"fairness.model": {"bootstrap": 200}}``). ``out_dir`` is where checks write artefacts (plots);
    :func:`write_report` writes report.json.

    ``executor`` (``"local"``, ``"dask://HOST:PORT"`` or a :class:`trustaudit.executors.Executor`) splits the
    checks' row-parallel work (SHAP values of the sampled rows) across its ``workers``; the report is the same
    whatever the executor. By default everything runs in this process.

    ``trusted_types`` are exact skops type names you (the auditor) reviewed and trust beyond skops' defaults;
    a bundle's own ``model.trusted_types`` is never trusted on its word.
    """
    if executor is not None:
        from trustaudit.executors import use_executor

        with use_executor(executor, workers=workers):
            return audit(
                bundle, data, label=label, favorable_label=favorable_label, protected=protected, rubric=rubric,
                checks=checks, seed=seed, out_dir=out_dir, allow_unsafe_pickle=allow_unsafe_pickle,
                params=params, progress=progress, name=name, version=version, trusted_types=trusted_types,
            )
    t_start = time.perf_counter()
    if isinstance(bundle, Bundle):
        b = bundle
    elif isinstance(bundle, (str, Path)):
        b = load_bundle(bundle, allow_unsafe_pickle=allow_unsafe_pickle, trusted_types=trusted_types)
    else:
        if data is None or label is None or favorable_label is None:
            raise BundleError(
                "an in-memory audit needs data=DataFrame, label= and favorable_label= (and protected=)"
            )
        b = in_memory_bundle(bundle, data, label=label, favorable_label=favorable_label,
                             protected=protected or {}, name=name, version=version)

    if rubric is None and b.manifest.rubric:
        rubric = str(b.resolve(b.manifest.rubric, "rubric")) if b.manifest.rubric.endswith((".yaml", ".yml")) \
            else b.manifest.rubric
    rub = rubric if isinstance(rubric, Rubric) else load_rubric(rubric)
    validate_against_registry(rub)

    patterns = checks or rub.run
    check_ids = registry.select(list(patterns) if patterns else None)
    check_ids = [c for c in check_ids if rub.policy(c).enabled or checks]

    out_path = Path(out_dir) if out_dir is not None else None
    if out_path is not None:
        out_path.mkdir(parents=True, exist_ok=True)
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
            res = _run_check(cls, ctx, merged)
            try:
                res = apply_rubric(res, rub)
            except Exception as exc:  # metrics the rubric cannot judge (e.g. a plug-in's odd values)
                res.status, res.error = Status.ERROR, f"judging the check's metrics failed: {_describe(exc)}"
        results.append(res)
        if progress:
            progress(cid, "end", i, len(check_ids))

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
        n_rows=len(b.data),
        label=spec.label,
        favorable_label=str(spec.favorable_label),
        protected={k: v.describe() for k, v in b.manifest.protected.items()},
    )
    return AuditReport(
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


def validate(bundle: str | Path, *, allow_unsafe_pickle: bool = False, trusted_types: Collection[str] = ()) -> Bundle:
    """Check a bundle without running any check (loads the manifest, data and model)."""
    from trustaudit.lineage import validate_lineage  # the lineage section and the MLmodel / card / BOM it has
    return validate_lineage(load_bundle(bundle, allow_unsafe_pickle=allow_unsafe_pickle, trusted_types=trusted_types))
