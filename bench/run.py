"""trustaudit benchmark: wall time, CPU time and peak memory per check family at 16k, 100k and 1M rows.

The single entry point for performance figures (see bench/README.md)::

    .venv/bin/python bench/run.py                          # every family, 16k / 100k / 1M rows, speed-up
    .venv/bin/python bench/run.py --sizes 16k,100k --families fairness --no-many
    .venv/bin/python bench/run.py --quick                  # 16k and 100k only, no 8-bundle speed-up

What it does
------------
1. Builds the datasets: the Adult sample bundle as it is (16,281 evaluation rows) and up-samples of it to 100k and
   1M rows (rows drawn with replacement, seeded; numeric feature columns get small seeded Gaussian noise, 2% of the
   column's standard deviation, rounded and clipped for integer columns; label, prediction and score columns are
   untouched). The up-sampled bundles are written once as Parquet under ``--cache-dir`` with the same model,
   training data and manifest.
2. For every check family registered in the ``trustaudit.checks`` entry-point group (plus the pseudo-families
   ``load`` and ``predictions``, and ``all`` = the whole default audit) and every size, runs one **fresh
   subprocess** that imports and warms up trustaudit on a small slice (so library imports are not counted), resets
   the kernel's peak-RSS counter, then loads the bundle and audits it with only that family's checks. It reports
   wall and CPU seconds of the family's checks (the shared predictions are timed separately and subtracted) and the
   peak resident memory above the process's baseline before the data was loaded (Linux ``/proc/self/clear_refs`` +
   ``VmHWM``; elsewhere ``resource.getrusage`` maxima, which then include the warm-up).
3. For families with a direct baseline (load, predictions, fairness, explainability) runs the underlying library
   (pandas/skops, the model's ``predict_proba``, aif360, shap) directly on the same data in its own subprocess and
   prints the overhead ratio trustaudit / direct.
4. Audits 8 bundles with ``audit_many`` on 1 worker and on N workers (local process pool, and a local Dask cluster
   when ``distributed`` is installed) and prints the speed-up.

Targets (issue 9): fairness grows linearly with rows; sampled (expensive) checks take at most 2x at 1M rows what
they take at 100k; peak memory of the 1M-row audit at most 3x the in-memory size of the data; overhead against the
direct library calls at most 1.2.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = {"16k": None, "100k": 100_000, "1M": 1_000_000}
AUTO_REPEAT = {"16k": 3, "100k": 2, "1M": 1}  # timed runs per case (the minimum is reported); 'all' runs once
DEFAULT_BUNDLE = "adult-income-hgb"
MANY_BUNDLES = ["adult-income-hgb", "adult-income-logreg", "adult-income-logreg-onnx", "adult-income-predictions",
                "german-credit"]
RESULT_TAG = "BENCH-RESULT "
NOISE_SD = 0.02  # fraction of a numeric column's standard deviation


# ================================================================================================================
# datasets
# ================================================================================================================


def upsample(df: Any, n: int, *, seed: int = 0, skip: frozenset[str] | set[str] = frozenset()) -> Any:
    """``n`` rows drawn with replacement from ``df``, with small seeded noise on numeric columns (not in skip)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    out = df.iloc[rng.integers(0, len(df), n)].reset_index(drop=True)
    for col in out.columns:
        if col in skip or not pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col]):
            continue
        src = df[col]
        sd = float(src.std()) * NOISE_SD
        if not np.isfinite(sd) or sd == 0:
            continue
        vals = out[col].to_numpy(dtype=np.float64, na_value=np.nan)
        noisy = vals + rng.normal(0.0, sd, n)
        if pd.api.types.is_integer_dtype(src):
            noisy = np.clip(np.rint(noisy), src.min(), src.max())
            out[col] = noisy.astype(src.dtype)
        else:
            out[col] = np.clip(noisy, src.min(), src.max())
    return out


def bundle_for(size: str, source: Path, cache: Path) -> Path:
    """The bundle directory for ``size`` under ``cache``: a copy of the source bundle for 16k (so that edits to
    sample_models/ during a run do not disturb it), an up-sample written as Parquet otherwise."""
    n = SIZES[size]
    if n is None:
        dst = cache / f"{source.name.removesuffix('-16k')}-16k"
        if dst == source:
            return source
        fingerprint = _source_fingerprint(source)
        stamp = dst / ".complete"
        if not (stamp.is_file() and stamp.read_text().strip() == fingerprint):
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(source, dst)
            stamp.write_text(fingerprint + "\n")
        return dst
    import yaml

    dst = cache / f"{source.name.removesuffix('-16k')}-{size}"
    stamp = dst / ".complete"
    fingerprint = _source_fingerprint(source)
    if stamp.is_file() and stamp.read_text().strip() == fingerprint:
        return dst
    from trustaudit.bundle.loader import read_table

    if dst.exists():
        shutil.rmtree(dst)
    manifest = yaml.safe_load((source / "trustaudit.yaml").read_text(encoding="utf-8"))
    data_rel = manifest["data"]["path"]
    shutil.copytree(source, dst, ignore=lambda d, names: [x for x in names if Path(d, x) == source / data_rel])
    df = read_table(source / data_rel)
    spec = manifest["data"]
    skip = {c for c in (spec.get("label"), spec.get("prediction"), spec.get("score")) if c}
    big = upsample(df, n, seed=0, skip=skip)
    new_rel = str(Path(data_rel).parent / "eval.parquet")
    (dst / new_rel).parent.mkdir(parents=True, exist_ok=True)
    big.to_parquet(dst / new_rel, index=False)
    manifest["data"]["path"] = new_rel
    manifest["name"] = f"{manifest['name']}-{size}"
    (dst / "trustaudit.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    stamp.write_text(fingerprint + "\n")
    return dst


def _source_fingerprint(source: Path) -> str:
    """A digest of the source bundle's files: the cached up-samples are rebuilt when the sample changes."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted(p for p in source.rglob("*") if p.is_file() and p.name != ".complete"):
        h.update(str(f.relative_to(source)).encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


# ================================================================================================================
# measurement helpers (run inside the case subprocess)
# ================================================================================================================


def _proc_status(key: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _maxrss_mb() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024.0 * 1024.0) if sys.platform == "darwin" else r / 1024.0


def rss_mb() -> float:
    v = _proc_status("VmRSS")
    return v if v is not None else _maxrss_mb()


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_mb() -> float:
    v = _proc_status("VmHWM")
    return v if v is not None else _maxrss_mb()


def cpu_s() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


MIN_TIME_S = 3.0  # cheap cases repeat until their timed runs add up to this (at most MAX_RUNS runs)
MAX_RUNS = 20


def _runs(repeat: int, walls: list[float]) -> Any:
    """Yield while fewer than ``repeat`` runs were timed, or the runs so far are too short to time reliably."""
    while len(walls) < repeat or (sum(walls) < MIN_TIME_S and len(walls) < MAX_RUNS):
        yield len(walls)


class Meter:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> Meter:
        self.w0, self.c0 = time.perf_counter(), cpu_s()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.w0
        self.cpu = cpu_s() - self.c0


def _family_checks(family: str) -> list[str]:
    from trustaudit.checks import registry

    if family == "all":
        return registry.select(None)
    return [c for c in registry.select([f"{family}.*"]) if registry.load(c).default_enabled]


def _small_bundle(path: Path, rows: int = 500) -> Any:
    """The first ``rows`` rows of a bundle, as an in-memory Bundle object (for warming up)."""
    from dataclasses import replace

    from trustaudit.bundle.loader import load_bundle

    b = load_bundle(path)
    return replace(b, data=b.data.iloc[:rows].reset_index(drop=True))


def _warm_up(source: Path, checks: list[str]) -> None:
    """Import and exercise everything the timed run will use, on a small slice of the sample bundle."""
    import warnings

    from trustaudit.api import audit
    from trustaudit.context import AuditContext

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = _small_bundle(source)
        if small.model is not None:
            _ = AuditContext(small).y_pred
        if checks:
            audit(small, checks=checks, out_dir=None)


def _data_mb(df: Any) -> float:
    return float(df.memory_usage(deep=True).sum()) / 1e6


def _fresh_context(b: Any, predicted: Any) -> Any:
    """A new audit context for bundle ``b`` that reuses the predictions of ``predicted`` (another context on the
    same bundle) and shares nothing else with it: the checks' own work is timed, not the model's."""
    from trustaudit.context import AuditContext

    ctx = AuditContext(b)
    ctx.__dict__["_predictions"] = predicted.__dict__["_predictions"]
    return ctx


def _run_checks(ctx: Any, checks: list[str], params: dict[str, Any]) -> list[Any]:
    """The engine's check loop (as trustaudit.api.audit runs it), on a given context."""
    from trustaudit.api import _run_check, apply_rubric
    from trustaudit.checks import registry
    from trustaudit.rubrics import load_rubric

    rub = load_rubric(None)
    results = []
    for cid in checks:
        merged = {**rub.policy(cid).params, **params.get(cid, {})}
        results.append(apply_rubric(_run_check(registry.load(cid), ctx, merged), rub))
    return results


# ---- trustaudit side -------------------------------------------------------------------------------------------


def case_trustaudit(family: str, bundle: Path, source: Path, params: dict[str, Any], repeat: int) -> dict[str, Any]:
    """One family on one bundle. ``load``/``predictions``: those steps. ``all``: the public ``audit()`` end to
    end (load excluded). Other families: the family's checks on contexts that share only the predictions."""
    import gc

    from trustaudit.api import audit
    from trustaudit.bundle.loader import load_bundle
    from trustaudit.context import AuditContext

    checks = _family_checks(family) if family not in ("load", "predictions") else []
    _warm_up(source, checks)
    gc.collect()
    base = rss_mb()
    exact_peak = reset_peak()
    out: dict[str, Any] = {"checks": checks, "exact_peak": exact_peak, "repeat": repeat}
    with Meter() as m_load:
        b = load_bundle(bundle)
    out.update(load_s=m_load.wall, load_cpu_s=m_load.cpu, rows=len(b.data), data_mb=_data_mb(b.data),
               resident_after_load_mb=rss_mb() - base)
    walls, cpus = [], []
    if family == "load":
        out["step_peak_mb"] = peak_mb() - base  # the first load (later ones run while it is still held)
        walls, cpus = [m_load.wall], [m_load.cpu]
        for _ in _runs(repeat, walls):
            with Meter() as m:
                load_bundle(bundle)
            walls.append(m.wall)
            cpus.append(m.cpu)
    elif family == "predictions":
        gc.collect()
        step_base = rss_mb()
        reset_peak()
        for _ in _runs(repeat, walls):
            with Meter() as m:
                _ = AuditContext(b).y_pred
            walls.append(m.wall)
            cpus.append(m.cpu)
            if len(walls) == 1:
                out["step_peak_mb"] = peak_mb() - step_base
    elif family == "all":
        for _ in _runs(repeat, walls):
            with Meter() as m:
                report = audit(b, params=params or None, out_dir=None)
            walls.append(m.wall)
            cpus.append(m.cpu)
            if len(walls) == 1:
                out["peak_mb"] = peak_mb() - base
        out.update(predict_s=report.prediction_s, statuses={c.check_id: c.status.value for c in report.checks},
                   check_s={c.check_id: round(c.duration_s, 3) for c in report.checks},
                   errors={c.check_id: c.error for c in report.checks if c.error})
    else:
        with Meter() as m_pred:
            predicted = AuditContext(b)
            if b.model is not None or b.spec.prediction is not None:
                _ = predicted.y_pred
        out.update(predict_s=m_pred.wall)
        gc.collect()
        step_base = rss_mb()
        reset_peak()
        for _ in _runs(repeat, walls):
            ctx = _fresh_context(b, predicted)
            with Meter() as m:
                results = _run_checks(ctx, checks, params)
            walls.append(m.wall)
            cpus.append(m.cpu)
            if len(walls) == 1:
                out["step_peak_mb"] = peak_mb() - step_base
                out["peak_mb"] = out["step_peak_mb"] + step_base - base
            del ctx
            gc.collect()
        out.update(statuses={c.check_id: c.status.value for c in results},
                   check_s={c.check_id: round(c.duration_s, 3) for c in results},
                   errors={c.check_id: c.error for c in results if c.error})
    out.setdefault("peak_mb", peak_mb() - base)
    out.update(wall_s=min(walls), cpu_s=min(cpus), walls=[round(w, 3) for w in walls])
    return out


# ---- direct library baselines ----------------------------------------------------------------------------------
# Each prepares its inputs outside the timed section and returns (what, call): ``call()`` is the library work
# trustaudit's step does, done the plain way.


def _direct_ctx(bundle: Path) -> Any:
    """The bundle loaded, labels and predictions computed (untimed): the inputs a direct caller starts from."""
    from trustaudit.bundle.loader import load_bundle
    from trustaudit.context import AuditContext

    ctx = AuditContext(load_bundle(bundle))
    _ = ctx.y_true, ctx.protected
    if ctx.model is not None or ctx.bundle.spec.prediction is not None:
        _ = ctx.y_pred
    return ctx


def direct_load(bundle: Path, params: dict[str, Any]) -> tuple[str, Any]:
    import skops.io as sio
    import yaml

    from trustaudit.bundle.loader import read_table

    manifest = yaml.safe_load((bundle / "trustaudit.yaml").read_text(encoding="utf-8"))
    model = manifest.get("model") or {}
    train = (manifest.get("training_data") or {}).get("path")

    def call() -> None:
        read_table(bundle / manifest["data"]["path"])
        if train:
            read_table(bundle / train)
        if model.get("format") == "skops":
            path = bundle / model["path"]
            sio.load(path, trusted=sio.get_untrusted_types(file=path))

    return "pandas read (eval + training data) + skops.io.load", call


def direct_predictions(bundle: Path, params: dict[str, Any]) -> tuple[str, Any]:
    from trustaudit.bundle.loader import load_bundle

    b = load_bundle(bundle)
    if b.model is None:
        raise LookupError("no model")
    cols = b.feature_columns()
    model = b.model
    # the column selection is inside the call: repeated calls on one DataFrame would reuse pandas' cached
    # conversions of its string columns, which a single real call does not get
    return "model.predict_proba(all rows) in one call", lambda: model.predict_proba(b.data[cols])


def direct_fairness(bundle: Path, params: dict[str, Any]) -> tuple[str, Any]:
    """aif360 as its documentation shows: one dataset pair over every row, one metric object per comparison,
    the same point estimates as the two fairness checks (no bootstrap, no result objects)."""
    import numpy as np
    import pandas as pd

    from trustaudit.checks.fairness import FairnessParams, _import_aif360, build_comparisons

    ctx = _direct_ctx(bundle)
    p = FairnessParams.model_validate(params.get("fairness.model", {}))
    comps = build_comparisons(ctx, p.intersections, p.per_value, p.max_values)
    y, yhat = ctx.y_true, ctx.y_pred
    aif360 = _import_aif360()

    def call() -> list[Any]:
        frame = pd.DataFrame({**{f"g{i}": c.codes.astype(np.float64) for i, c in enumerate(comps)},
                              "label": y.astype(np.float64)})
        kw = {"favorable_label": 1.0, "unfavorable_label": 0.0, "label_names": ["label"],
              "protected_attribute_names": [f"g{i}" for i in range(len(comps))]}
        ds = aif360.datasets.BinaryLabelDataset(df=frame, **kw)
        ds_pred = ds.copy(deepcopy=False)
        ds_pred.labels = yhat.astype(np.float64).reshape(-1, 1)
        values: list[Any] = []
        for i, c in enumerate(comps):
            groups = {"unprivileged_groups": [{f"g{i}": 0.0}], "privileged_groups": [{f"g{i}": 1.0}]}
            dm = aif360.metrics.BinaryLabelDatasetMetric(ds, **groups)
            values += [dm.num_instances(privileged=False), dm.num_instances(privileged=True),
                       dm.base_rate(privileged=False), dm.base_rate(privileged=True),
                       dm.statistical_parity_difference(), dm.disparate_impact()]
            cm = aif360.metrics.ClassificationMetric(ds, ds_pred, **groups)
            for priv in (False, True):
                values += [cm.selection_rate(privileged=priv), cm.true_positive_rate(privileged=priv),
                           cm.false_positive_rate(privileged=priv), cm.false_negative_rate(privileged=priv),
                           cm.positive_predictive_value(privileged=priv), cm.error_rate(privileged=priv)]
            values += [cm.statistical_parity_difference(), cm.disparate_impact(),
                       cm.equal_opportunity_difference(), cm.average_odds_difference(), cm.error_rate_difference()]
            if c.kind == "binary" and (c.codes >= 0).all():
                values.append(cm.between_group_theil_index())
            if i == 0:
                values.append(cm.theil_index())
        return values

    return f"aif360 metric classes on every row, {len(comps)} comparisons", call


def direct_explainability(bundle: Path, params: dict[str, Any]) -> tuple[str, Any]:
    """shap on the same samples: TreeExplainer (interventional) / LinearExplainer over the transformed sampled
    rows, against two background halves, as the explainability checks compute it."""
    import warnings

    import numpy as np

    from trustaudit.checks.explainability.attributions import ShapParams, import_shap

    ctx = _direct_ctx(bundle)
    est = ctx.model.sklearn_estimator if ctx.model is not None else None
    if est is None or not hasattr(est, "steps"):
        raise LookupError("direct baseline only for scikit-learn pipelines")
    sp = ShapParams.model_validate({k: v for k, v in params.get("explainability.shap", {}).items()
                                    if k in ShapParams.model_fields})
    shap = import_shap()
    pre, final = est[:-1], est.steps[-1][1]
    kind = "tree" if any(hasattr(final, a) for a in ("n_iter_", "estimators_", "tree_")) \
        else "linear" if hasattr(final, "coef_") else None
    if kind is None:
        raise LookupError(f"no fast explainer for {type(final).__name__}")
    rows = ctx.sample(sp.rows, "explainability.rows")
    halves = [ctx.sample(max(1, sp.background // 2), f"explainability.background.{h}") for h in "ab"]
    X = ctx.X

    def call() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Z = np.asarray(pre.transform(X.iloc[rows]), dtype=np.float64)
            for bidx in halves:
                B = np.asarray(pre.transform(X.iloc[bidx]), dtype=np.float64)
                if kind == "tree":
                    shap.TreeExplainer(final, data=B, feature_perturbation="interventional").shap_values(
                        Z, check_additivity=False)
                else:
                    shap.LinearExplainer(final, B).shap_values(Z)

    return f"shap {kind} explainer on the sampled rows ({len(rows)} x 2 backgrounds of {len(halves[0])})", call


DIRECT = {"load": direct_load, "predictions": direct_predictions, "fairness": direct_fairness,
          "explainability": direct_explainability}


def case_direct(family: str, bundle: Path, source: Path, params: dict[str, Any], repeat: int) -> dict[str, Any]:
    import gc

    if family not in DIRECT:
        return {"skipped": "no direct baseline"}
    try:
        what, call = DIRECT[family](bundle, params)  # imports the library (untimed)
        if family == "load":  # warm up on the small bundle, as the trustaudit side does (skops imports the
            DIRECT["load"](source, params)[1]()  # model's modules on first load; first reads fault pages in)
    except (LookupError, ImportError) as exc:
        return {"skipped": str(exc)}
    out: dict[str, Any] = {"what": what}
    walls, cpus = [], []
    gc.collect()
    base = rss_mb()
    reset_peak()
    for _ in _runs(repeat, walls):
        with Meter() as m:
            call()
        walls.append(m.wall)
        cpus.append(m.cpu)
        if len(walls) == 1:
            out["step_peak_mb"] = peak_mb() - base
    out.update(wall_s=min(walls), cpu_s=min(cpus), walls=[round(w, 3) for w in walls])
    return out


DIRECT_FAMILIES = tuple(DIRECT)


def run_case(spec: dict[str, Any]) -> dict[str, Any]:
    bundle, source = Path(spec["bundle"]), Path(spec["source"])
    if spec["mode"] == "direct":
        return case_direct(spec["family"], bundle, source, spec.get("params", {}), int(spec.get("repeat", 1)))
    return case_trustaudit(spec["family"], bundle, source, spec.get("params", {}), int(spec.get("repeat", 1)))


# ================================================================================================================
# orchestration (parent process)
# ================================================================================================================


def spawn_case(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "2")
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONWARNINGS"] = "ignore"
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, __file__, "--case", json.dumps(spec)], capture_output=True,
                              text=True, env=env, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f}s"}
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith(RESULT_TAG):
            res: dict[str, Any] = json.loads(line[len(RESULT_TAG):])
            res["process_s"] = time.perf_counter() - t0
            return res
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": f"exit {proc.returncode}: {' | '.join(tail)}"}


def families_registered() -> list[str]:
    from trustaudit.checks import registry

    fams: list[str] = []
    for cid in registry.available():
        fam = cid.split(".", 1)[0]
        if fam not in fams:
            fams.append(fam)
    return fams


def fmt_s(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.2f}" if v < 100 else f"{v:.0f}"


def fmt_mb(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def fmt_x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))


def bench_families(args: argparse.Namespace, source: Path, cache: Path, params: dict[str, Any]) -> dict[str, Any]:
    sizes = [s for s in args.sizes.split(",") if s]
    for s in sizes:
        if s not in SIZES:
            raise SystemExit(f"unknown size {s!r}; choose from {', '.join(SIZES)}")
    registered = families_registered()
    fams = [f for f in args.families.split(",") if f] if args.families else \
        ["load", "predictions", *registered, "all"]
    results: dict[str, Any] = {}
    bundles = {}
    source = bundle_for("16k", source, cache)  # warm-ups read the cached copy too
    for s in sizes:
        t0 = time.perf_counter()
        bundles[s] = bundle_for(s, source, cache)
        print(f"dataset {s}: {bundles[s]} ({time.perf_counter() - t0:.1f}s)", flush=True)
    for fam in fams:
        for s in sizes:
            for mode in ("trustaudit", "direct"):
                if mode == "direct" and (args.no_direct or fam not in DIRECT_FAMILIES):
                    continue
                repeat = 1 if fam == "all" else args.repeat or AUTO_REPEAT[s]
                spec = {"mode": mode, "family": fam, "bundle": str(bundles[s]), "source": str(source),
                        "params": params, "repeat": repeat}
                res = spawn_case(spec, args.timeout)
                results.setdefault(fam, {}).setdefault(s, {})[mode] = res
                state = res.get("error") or res.get("skipped") or (
                    f"wall {fmt_s(res.get('wall_s'))}s cpu {fmt_s(res.get('cpu_s'))}s "
                    f"step peak {fmt_mb(res.get('step_peak_mb'))} MB audit peak {fmt_mb(res.get('peak_mb'))} MB")
                print(f"  {fam:<15} {s:>5} {mode:<10} {state}", flush=True)
    return {"sizes": sizes, "families": fams, "results": results}


def report_families(data: dict[str, Any]) -> list[str]:
    """Print the tables; return the list of target verdict lines."""
    sizes, fams, results = data["sizes"], data["families"], data["results"]
    rows = []
    for fam in fams:
        for s in sizes:
            r = results.get(fam, {}).get(s, {})
            t, d = r.get("trustaudit", {}), r.get("direct", {})
            note = t.get("error") or ""
            errs = t.get("errors") or {}
            if errs:
                note = "; ".join(f"{k}: error" for k in errs)
            skipped = [k for k, v in (t.get("statuses") or {}).items() if v == "skipped"]
            if skipped:
                note = (note + "; " if note else "") + f"skipped {', '.join(skipped)}"
            ratio = (t["wall_s"] / d["wall_s"]) if t.get("wall_s") and d.get("wall_s") else None
            cratio = (t["cpu_s"] / d["cpu_s"]) if t.get("cpu_s") and d.get("cpu_s") else None
            rows.append([fam, s, str(t.get("rows", "-")), fmt_s(t.get("wall_s")), fmt_s(t.get("cpu_s")),
                         fmt_mb(t.get("step_peak_mb")), fmt_mb(t.get("peak_mb")), fmt_mb(t.get("data_mb")),
                         fmt_s(d.get("wall_s")), fmt_s(d.get("cpu_s")), fmt_mb(d.get("step_peak_mb")),
                         fmt_x(ratio), fmt_x(cratio), note or d.get("skipped", "")])
    print_table("Per family: seconds of the family's checks (shared predictions excluded; 'all' = whole audit "
                "with predictions), minimum of the repeats; step MB = peak RSS of that step above the RSS before "
                "it; audit MB = peak RSS of load + predictions + step above the pre-load baseline",
                ["family", "size", "rows", "wall s", "cpu s", "step MB", "audit MB", "data MB", "direct s",
                 "direct cpu", "direct MB", "overhead", "cpu ovh", "notes"], rows)

    verdicts: list[str] = []
    if "100k" in sizes and "1M" in sizes:
        grow_rows = []
        for fam in fams:
            a = results.get(fam, {}).get("100k", {}).get("trustaudit", {})
            b = results.get(fam, {}).get("1M", {}).get("trustaudit", {})
            g = b["wall_s"] / a["wall_s"] if a.get("wall_s") and b.get("wall_s") else None
            gc = b["cpu_s"] / a["cpu_s"] if a.get("cpu_s") and b.get("cpu_s") else None
            gm = b["peak_mb"] / a["peak_mb"] if a.get("peak_mb") and b.get("peak_mb") else None
            grow_rows.append([fam, fmt_x(g), fmt_x(gc), fmt_x(gm)])
        print_table("Growth from 100k to 1M rows (10x the rows; linear = 10x, sampled checks: target <= 2x)",
                    ["family", "wall", "cpu", "peak memory"], grow_rows)
    if "1M" in sizes and "all" in results:
        t = results["all"].get("1M", {}).get("trustaudit", {})
        if t.get("peak_mb") and t.get("data_mb"):
            ratio = t["peak_mb"] / t["data_mb"]
            verdicts.append(f"peak memory of the 1M-row audit: {t['peak_mb']:.0f} MB = {ratio:.2f}x the data "
                            f"({t['data_mb']:.0f} MB in memory); target <= 3x: {'met' if ratio <= 3 else 'NOT met'}")
    return verdicts


# ---- audit-many speed-up ---------------------------------------------------------------------------------------


def many_bundles(cache: Path, n: int = 8) -> list[Path]:
    root = cache / "many"
    out = []
    for i in range(n):
        name = MANY_BUNDLES[i % len(MANY_BUNDLES)]
        dst = root / f"{i + 1:02d}-{name}"
        if not (dst / "trustaudit.yaml").is_file():
            shutil.copytree(ROOT / "sample_models" / name, dst, dirs_exist_ok=True)
        out.append(dst)
    return out


def _warm_worker(_: int) -> int:
    """Import what an audit needs (runs on a worker before the timed runs)."""
    import time as _time

    import sklearn.ensemble  # noqa: F401
    import skops.io  # noqa: F401

    import trustaudit.api  # noqa: F401
    from trustaudit.checks.fairness import _import_aif360

    _import_aif360()
    _time.sleep(0.5)  # keep this worker busy so that the next warm-up task goes to another one
    return os.getpid()


def _many_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in a subprocess: audit_many on one executor, first with cold workers (start-up and imports included),
    then again on the same, now warm, workers. Wall seconds of both and a fingerprint of the reports."""
    import hashlib

    from trustaudit.executors import DaskExecutor, LocalExecutor
    from trustaudit.scale import audit_many, comparable

    paths = spec["bundles"]
    checks = spec["checks"]
    params = spec.get("params") or None
    kind, n = spec["executor"], int(spec["workers"])
    cluster = None
    t_start = time.perf_counter()
    if kind == "dask":
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        ex: Any = DaskExecutor(cluster.scheduler_address)
    else:
        ex = LocalExecutor(n)
    try:
        t0 = time.perf_counter()
        reports = audit_many(paths, executor=ex, checks=checks, params=params)
        cold = time.perf_counter() - t0
        if kind == "dask":
            ex.client.run(_warm_worker, 0)
        else:
            ex.map(_warm_worker, list(range(2 * n)))
        t0 = time.perf_counter()
        again = audit_many(paths, executor=ex, checks=checks, params=params)
        warm = time.perf_counter() - t0
    finally:
        ex.close()
        if cluster is not None:
            cluster.close()
    def digests(reps: list[Any]) -> list[dict[str, str]]:
        """Per report, per check: a fingerprint of everything but run-time fields."""
        out = []
        for r in reps:
            data = comparable(r)
            checks = {c["check_id"]: c for c in data.pop("checks")}
            row = {cid: hashlib.sha256(json.dumps(c, sort_keys=True).encode()).hexdigest()[:12]
                   for cid, c in checks.items()}
            row["(report)"] = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
            out.append(row)
        return out

    first, second = digests(reports), digests(again)
    differ = [f"{Path(paths[i]).name}:{cid}" for i, (a, b) in enumerate(zip(first, second)) for cid in a
              if a[cid] != b.get(cid)]
    return {"cold_s": cold, "warm_s": warm, "cluster_start_s": t0 - t_start - cold, "digests": first,
            "repeat_differs": differ, "verdicts": [r.verdict.value for r in reports]}


def bench_many(args: argparse.Namespace, cache: Path, params: dict[str, Any]) -> dict[str, Any]:
    from trustaudit.executors import usable_cpus

    bundles = [str(p) for p in many_bundles(cache)]
    checks = None if args.many_checks == "default" else [c for c in args.many_checks.split(",") if c]
    n = args.many_workers or usable_cpus()
    kinds = ["local"]
    try:
        import distributed  # noqa: F401

        kinds.append("dask")
    except ImportError:
        print("  (distributed not installed: no Dask figures; pip install 'trustaudit[dask]')")
    out: dict[str, Any] = {}
    for kind in kinds:
        for workers in (1, n):
            spec = {"mode": "many", "bundles": bundles, "checks": checks, "executor": kind, "workers": workers,
                    "params": params}
            res = spawn_case(spec, args.timeout * 4)
            out[f"{kind}:{workers}"] = res
            state = res.get("error") or f"cold {fmt_s(res.get('cold_s'))}s, warm {fmt_s(res.get('warm_s'))}s"
            print(f"  audit-many {kind:<6} {workers} worker(s): {state}", flush=True)
    return {"workers": n, "checks": args.many_checks, "bundles": len(bundles), "kinds": kinds, "results": out}


def report_many(data: dict[str, Any]) -> None:
    res, n = data["results"], data["workers"]
    rows = []
    for kind in data["kinds"]:
        one, many = res.get(f"{kind}:1", {}), res.get(f"{kind}:{n}", {})
        for phase in ("cold", "warm"):
            a, b = one.get(f"{phase}_s"), many.get(f"{phase}_s")
            rows.append([f"{kind} ({phase} workers)", fmt_s(a), fmt_s(b), fmt_x(a / b if a and b else None)])
    print_table(f"audit-many on {data['bundles']} bundles, 1 vs {n} workers (checks: {data['checks']}); cold = "
                "first run on new workers (start-up and imports included), warm = the same run again",
                ["executor", "1 worker s", f"{n} workers s", "speed-up"], rows)
    runs = {k: r["digests"] for k, r in res.items() if r.get("digests")}
    differ: set[str] = set()
    if runs:
        ref_key, ref = next(iter(runs.items()))
        for k, d in runs.items():
            for i, (a, b) in enumerate(zip(ref, d)):
                differ |= {f"bundle {i + 1}: {cid} ({ref_key} vs {k})" for cid in a if a[cid] != b.get(cid)}
    for r in res.values():
        differ |= {f"{x} (cold vs warm run)" for x in r.get("repeat_differs", [])}
    print("reports identical across executors, worker counts and repeats: "
          + ("yes" if not differ else "NO, in: " + "; ".join(sorted(differ))))


# ================================================================================================================


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="16k,100k,1M", help="comma-separated: 16k,100k,1M")
    ap.add_argument("--families", default="", help="comma-separated families (default: load, predictions, every "
                    "registered family, all; 'none': only the audit-many speed-up)")
    ap.add_argument("--bundle", default=DEFAULT_BUNDLE, help="sample bundle to up-sample (sample_models/<name>)")
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "trustaudit-bench")
    ap.add_argument("--params", default="", help='JSON check parameters, e.g. {"fairness.model": {"bootstrap": 200}}')
    ap.add_argument("--repeat", type=int, default=0, help="timed runs per case, minimum reported (default: 3 at "
                    "16k, 2 at 100k, 1 at 1M; the whole-audit case 'all' runs once)")
    ap.add_argument("--no-direct", action="store_true", help="skip the direct library baselines")
    ap.add_argument("--no-many", action="store_true", help="skip the audit-many speed-up")
    ap.add_argument("--many-checks", default="fairness.*,lineage.*",
                    help="checks for audit-many (comma-separated patterns, or 'default' for the full audit)")
    ap.add_argument("--many-workers", type=int, default=0, help="workers for the parallel audit-many run "
                    "(default: CPUs)")
    ap.add_argument("--quick", action="store_true", help="16k and 100k only, no audit-many")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per case")
    ap.add_argument("--json", type=Path, default=None, help="also write every measurement to this file")
    ap.add_argument("--case", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.case is not None:  # subprocess mode
        import warnings

        warnings.simplefilter("ignore")
        spec = json.loads(args.case)
        res = _many_case(spec) if spec["mode"] == "many" else run_case(spec)
        print(RESULT_TAG + json.dumps(res, default=str), flush=True)
        return 0

    if args.quick:
        args.sizes, args.no_many = "16k,100k", True
    params = json.loads(args.params) if args.params else {}
    source = ROOT / "sample_models" / args.bundle
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    import platform

    from trustaudit.executors import usable_cpus

    print(f"trustaudit bench: Python {platform.python_version()}, {usable_cpus()} CPUs, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, bundle {args.bundle}", flush=True)
    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    verdicts: list[str] = []
    if args.families != "none":
        out["families"] = bench_families(args, source, args.cache_dir, params)
    if not args.no_many:
        print("\naudit-many speed-up", flush=True)
        out["many"] = bench_many(args, args.cache_dir, params)
    if "families" in out:
        verdicts = report_families(out["families"])
    if "many" in out:
        report_many(out["many"])
    for v in verdicts:
        print(v)
    print(f"\nbench finished in {time.perf_counter() - t0:.0f}s")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
