"""Load and validate a model bundle: manifest, safe path resolution, data, model, protected attributes."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trustaudit.bundle import models as M
from trustaudit.bundle.manifest import (
    BINARY,
    MANIFEST_NAME,
    MULTICLASS,
    REGRESSION,
    SUPPORTED_TASKS,
    DataSpec,
    Manifest,
    ProtectedSpec,
    load_manifest,
)
from trustaudit.errors import BundleError, ModelLoadError
from trustaudit.results import FileDigest


def resolve_inside(root: Path, rel: str | Path, what: str = "path") -> Path:
    """Resolve ``rel`` against ``root`` and refuse anything that ends up outside it.

    Absolute paths, ``..`` segments that climb out and symlinks pointing outside are all refused.
    """
    rel_s = str(rel)
    if not rel_s.strip():
        raise BundleError(f"{what} is empty; give a path relative to the bundle directory")
    p = Path(rel_s)
    if p.is_absolute() or rel_s.startswith(("/", "\\")) or (len(rel_s) > 1 and rel_s[1] == ":"):
        raise BundleError(f"{what} '{rel_s}' is absolute; use a path relative to the bundle directory")
    root_r = root.resolve()
    target = (root_r / p).resolve()
    if target != root_r and root_r not in target.parents:
        reason = "is a symlink pointing" if (root_r / p).is_symlink() or ".." not in p.parts else "leads"
        raise BundleError(
            f"{what} '{rel_s}' {reason} outside the bundle ({target}); keep every file inside the bundle directory"
        )
    return target


def sha256_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode())
            hf, n = sha256_file(f)
            h.update(hf.encode())
            size += n
        return h.hexdigest(), size
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def read_table(path: Path, what: str = "data", sep: str | None = None) -> pd.DataFrame:
    """Read a CSV (``sep``: its field delimiter, default ``,``) or Parquet file."""
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            import pyarrow.parquet as pq

            # one column block per column, Arrow buffers released as they are converted: the peak is 1.2x the
            # data instead of pd.read_parquet's 1.9x (1M Adult rows: 227 MB vs 342 MB above the baseline)
            return pq.read_table(path).to_pandas(self_destruct=True, split_blocks=True)
        if name.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zst", ".txt")):
            return pd.read_csv(path, low_memory=False, sep=sep or ",")
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BundleError(f"{what} file {path.name} could not be read: {first}") from None
    raise BundleError(f"{what} file {path.name}: unsupported type; use CSV (.csv, .csv.gz) or Parquet (.parquet)")


@dataclass
class ProtectedAttribute:
    """A protected attribute resolved against the data: a boolean mask of privileged rows."""

    name: str
    spec: ProtectedSpec
    privileged: np.ndarray  # bool per row
    valid: np.ndarray  # bool per row: value present (and in privileged/unprivileged sets)
    values: pd.Series  # the raw column (for per-value groups)

    @property
    def is_threshold(self) -> bool:
        return self.spec.threshold() is not None

    def describe(self) -> str:
        return self.spec.describe()


def _per_distinct(series: pd.Series, fn: Any) -> tuple[np.ndarray, list[Any]] | None:
    """(code per row, ``fn`` of each distinct value) with ``fn`` called once per distinct value instead of once
    per row (seconds on a million rows); -1 codes a missing value. None for object columns: distinct objects
    such as ``True`` and ``1`` hash alike but print differently, so those keep the per-row path."""
    if series.dtype == object:
        return None
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return np.asarray(codes), [fn(u) for u in uniques]


def _value_matches(series: pd.Series, values: list[Any]) -> np.ndarray:
    wanted = {str(v) for v in values}
    fast = _per_distinct(series, str)
    if fast is not None:
        codes, texts = fast
        return np.isin(codes, [i for i, t in enumerate(texts) if t in wanted])
    as_str = series.astype(object).where(series.notna(), None).map(lambda v: None if v is None else str(v))
    return as_str.isin(wanted).to_numpy()


def resolve_protected(df: pd.DataFrame, protected: dict[str, ProtectedSpec]) -> dict[str, ProtectedAttribute]:
    out: dict[str, ProtectedAttribute] = {}
    for name, spec in protected.items():
        if name not in df.columns:
            close = _closest(name, list(df.columns))
            raise BundleError(
                f"protected attribute '{name}' is not a column of the data{close}; fix protected: in the manifest"
            )
        col = df[name]
        present = col.notna().to_numpy()
        thr = spec.threshold()
        if thr is not None:
            if not pd.api.types.is_numeric_dtype(col):
                kind = "range" if thr.is_range else "threshold"
                raise BundleError(
                    f"protected attribute '{name}' uses the numeric {kind} '{thr}' but the column is not numeric"
                    f" ({col.dtype}); give a list of privileged values instead"
                )
            priv = np.asarray(thr.mask(col.fillna(np.nan).to_numpy()), dtype=bool) & present
            valid = present
        else:
            assert isinstance(spec.privileged, list)
            priv = _value_matches(col, spec.privileged)
            if not priv.any():
                seen = ", ".join(sorted({str(v) for v in col.dropna().unique()})[:8])
                raise BundleError(
                    f"privileged value(s) {spec.privileged} of '{name}' never occur in the data "
                    f"(values seen: {seen}); fix protected.{name}.privileged"
                )
            if spec.unprivileged is not None:
                unpriv = _value_matches(col, spec.unprivileged)
                if not unpriv.any():
                    raise BundleError(
                        f"unprivileged value(s) {spec.unprivileged} of '{name}' never occur in the data; "
                        f"fix protected.{name}.unprivileged"
                    )
                valid = priv | unpriv
            else:
                valid = present
        if not (valid & ~priv).any():
            raise BundleError(
                f"protected attribute '{name}': the unprivileged group is empty (every row is privileged); "
                "check the privileged definition"
            )
        if not (valid & priv).any():
            raise BundleError(f"protected attribute '{name}': the privileged group is empty; check its definition")
        out[name] = ProtectedAttribute(name, spec, priv, valid, col)
    return out


def _closest(name: str, choices: list[str]) -> str:
    import difflib

    m = difflib.get_close_matches(name, [str(c) for c in choices], n=1)
    return f" (did you mean '{m[0]}'?)" if m else ""


def encode_labels(series: pd.Series, favorable: Any, what: str, *, require_favorable: bool = True) -> np.ndarray:
    """1 where the value equals the favourable label, else 0 (compared as text so 1 == '1').

    ``require_favorable``: refuse a column where the favourable value never occurs (a mistyped favorable_label
    in the label column); predictions may legitimately never be favourable (a model that refuses everyone)."""
    if series.isna().any():
        n = int(series.isna().sum())
        raise BundleError(f"{what} has {n} missing value(s); drop or fill those rows before auditing")
    fav = label_text(favorable)
    fast = _per_distinct(series, label_text)
    if fast is not None:
        codes, texts = fast
        y = np.isin(codes, [i for i, t in enumerate(texts) if t == fav])
        distinct = set(texts)
    else:
        text = series.map(label_text)
        y = (text == fav).to_numpy()
        distinct = set(text.unique())
    if require_favorable and not y.any():
        seen = ", ".join(sorted(distinct)[:8])
        raise BundleError(
            f"favorable_label {favorable!r} never occurs in {what} (values seen: {seen}); fix data.favorable_label"
        )
    return y.astype(np.int8)


def _distinct_texts(series: pd.Series) -> list[str]:
    fast = _per_distinct(series, label_text)
    texts = fast[1] if fast is not None else list(series.map(label_text).unique())
    return sorted(set(texts))


def check_predictions(pred: pd.Series, label: pd.Series, pred_name: str, label_name: str, favorable: Any) -> None:
    """Predicted labels must be values of the label column (compared as text, as :func:`encode_labels` does):
    predictions coded 0/1 for labels 'yes'/'no' would silently count every row as unfavourable."""
    if pred.isna().any():
        raise BundleError(f"prediction column '{pred_name}' has {int(pred.isna().sum())} missing value(s); "
                          "drop or fill those rows before auditing")
    preds, labels = _distinct_texts(pred), _distinct_texts(label)

    def listed(values: list[str]) -> str:
        return ", ".join(repr(v) for v in values[:6]) + (f" (+{len(values) - 6} more)" if len(values) > 6 else "")

    if not set(preds) & set(labels):
        raise BundleError(
            f"prediction column '{pred_name}' holds values {listed(preds)} but the labels ('{label_name}') are "
            f"{listed(labels)}; write the predictions with the label's values (favorable_label {favorable!r})"
        )
    extra = [v for v in preds if v not in labels]
    if extra and len(set(preds) | set(labels)) > 2:
        raise BundleError(
            f"prediction column '{pred_name}' holds values {listed(extra)} that are not labels ('{label_name}' "
            f"holds {listed(labels)}); a binary classifier's predictions use the label's two values"
        )


def label_text(v: Any) -> str:
    """A label value as text, the way labels, predictions and model classes are compared (1 == 1.0 == '1')."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


@dataclass
class Bundle:
    """A loaded bundle: everything an audit needs, with its file digests."""

    manifest: Manifest
    root: Path | None
    data: pd.DataFrame
    model: M.ModelAdapter | None
    files: list[FileDigest] = field(default_factory=list)
    training_data: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    #: what the auditor allowed when the model was loaded (reloads, e.g. for reproducibility, use the same)
    allow_unsafe_pickle: bool = False
    trusted_types: tuple[str, ...] = ()
    #: sha256 of trustaudit.yaml as loaded (None in memory): it says which files are the model and data and what
    #: the favourable label and protected groups are, so an attestation covers it too
    manifest_sha256: str | None = None

    def reload_model(self) -> M.ModelAdapter:
        """Load the model file again, under the same policy as the first load (no new consent)."""
        if self.root is None or self.manifest.model is None:
            raise BundleError("the bundle has no model file to reload")
        adapter, _ = _load_model(self.manifest, self.root, self.allow_unsafe_pickle, self.trusted_types)
        M.finish_onnx(adapter, self.data[self.feature_columns()])
        return adapter

    @property
    def spec(self) -> DataSpec:
        return self.manifest.data

    def feature_columns(self) -> list[str]:
        if self.spec.features:
            return list(self.spec.features)
        if self.model is not None and self.model.feature_names:
            return list(self.model.feature_names)
        drop = {self.spec.label, self.spec.prediction, self.spec.score}
        return [c for c in self.data.columns if c not in drop]

    def resolve(self, rel: str, what: str = "path") -> Path:
        if self.root is None:
            raise BundleError(f"{what} '{rel}' cannot be resolved for an in-memory audit")
        return resolve_inside(self.root, rel, what)


def _load_model(manifest: Manifest, root: Path, allow_unsafe_pickle: bool,
                trusted_types: Collection[str] = ()) -> tuple[M.ModelAdapter, Path]:
    assert manifest.model is not None
    spec = manifest.model
    path = resolve_inside(root, spec.path, "model.path")
    if not path.exists():
        raise BundleError(f"model file '{spec.path}' does not exist in the bundle; fix model.path")
    fmt = spec.format
    task = manifest.task
    if fmt == "skops":
        return M.load_skops(path, trusted_types, requested=spec.trusted_types, task=task), path
    if fmt == "onnx":
        return M.load_onnx(path, task=task), path
    if fmt == "xgboost":
        return M.load_xgboost(path, task=task), path
    if fmt == "lightgbm":
        return M.load_lightgbm(path, task=task), path
    if fmt == "mlflow":
        return M.load_mlflow(path, allow_unsafe_pickle, lambda base, rel: resolve_inside(base, rel, "MLmodel path"),
                             trusted_types, task=task), path
    if fmt in ("joblib", "pickle"):
        return M.load_unsafe_pickle(path, fmt, allow_unsafe_pickle, task=task), path
    raise ModelLoadError(f"unsupported model format '{fmt}'")  # pragma: no cover - Literal guards this


def validate_data(manifest: Manifest, df: pd.DataFrame, source: str) -> None:
    spec = manifest.data
    cols = list(df.columns)
    if len(df) == 0:
        raise BundleError(f"{source} has no rows")
    if spec.label not in df.columns:
        raise BundleError(f"label column '{spec.label}' is not in {source}{_closest(spec.label, cols)}; fix data.label")
    for key in ("prediction", "score"):
        col = getattr(spec, key)
        if col is not None and col not in df.columns:
            raise BundleError(f"data.{key} column '{col}' is not in {source}{_closest(col, cols)}")
    if spec.features:
        missing = [c for c in spec.features if c not in df.columns]
        if missing:
            raise BundleError(f"data.features names columns missing from {source}: {', '.join(missing)}")
    for name in manifest.immutable:
        if name not in df.columns:
            raise BundleError(f"immutable column '{name}' is not in {source}{_closest(name, cols)}")
    if manifest.model is None and spec.prediction is None:
        raise BundleError(
            "the manifest has neither a model nor data.prediction; add a model section or a column of predictions"
        )
    if manifest.task == REGRESSION:
        numeric_column(df[spec.label], f"label column '{spec.label}'", "task regression needs a numeric target")
        if spec.prediction is not None:
            numeric_column(df[spec.prediction], f"prediction column '{spec.prediction}'",
                           "task regression needs predicted values")
        return
    if manifest.task == MULTICLASS:
        validate_multiclass(manifest, df)
        return
    encode_labels(df[spec.label], spec.favorable_label, f"label column '{spec.label}'")
    if spec.prediction is not None:
        check_predictions(df[spec.prediction], df[spec.label], spec.prediction, spec.label, spec.favorable_label)
    if spec.score is not None:
        s = pd.to_numeric(df[spec.score], errors="coerce")
        if s.isna().any() or (s < 0).any() or (s > 1).any():
            raise BundleError(f"score column '{spec.score}' must hold probabilities between 0 and 1")


#: Most classes a multiclass-classification audit takes (per-class metrics for each group grow with it).
MAX_CLASSES = 50


def numeric_column(series: pd.Series, what: str, why: str) -> np.ndarray:
    """A numeric column as float64, refusing text, missing and infinite values (one line naming the problem)."""
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna() & series.notna()
    if bad.any():
        example = series[bad].iloc[0]
        raise BundleError(f"{what} holds non-numeric values such as {example!r}; {why}")
    if values.isna().any():
        raise BundleError(f"{what} has {int(values.isna().sum())} missing value(s); drop or fill those rows "
                          "before auditing")
    arr = values.to_numpy(dtype=float)
    if not np.isfinite(arr).all():
        raise BundleError(f"{what} holds infinite values; drop or fix those rows before auditing")
    return arr


def label_texts(series: pd.Series, what: str) -> np.ndarray:
    """A label column as text per row (compared the way :func:`label_text` does), refusing missing values."""
    if series.isna().any():
        raise BundleError(f"{what} has {int(series.isna().sum())} missing value(s); drop or fill those rows "
                          "before auditing")
    fast = _per_distinct(series, label_text)
    if fast is not None:
        codes, texts = fast
        return np.asarray(texts, dtype=object)[codes]
    return series.map(label_text).to_numpy(dtype=object)


def validate_multiclass(manifest: Manifest, df: pd.DataFrame) -> None:
    spec = manifest.data
    labels = _distinct_texts(df[spec.label])
    label_texts(df[spec.label], f"label column '{spec.label}'")
    if spec.favorable_label is not None and label_text(spec.favorable_label) not in labels:
        raise BundleError(f"favorable_label {spec.favorable_label!r} never occurs in label column '{spec.label}' "
                          f"(values seen: {', '.join(labels[:8])}); fix data.favorable_label or remove it")
    if spec.prediction is not None:
        preds = _distinct_texts(df[spec.prediction])
        label_texts(df[spec.prediction], f"prediction column '{spec.prediction}'")
        if not set(preds) & set(labels):
            raise BundleError(f"prediction column '{spec.prediction}' holds values {', '.join(preds[:6])} but the "
                              f"labels ('{spec.label}') are {', '.join(labels[:6])}; write the predictions with "
                              "the label's values")
    if spec.probabilities:
        missing = [c for c in spec.probabilities.values() if c not in df.columns]
        if missing:
            raise BundleError(f"data.probabilities names columns missing from the data: {', '.join(missing[:5])}")
        unknown = [k for k in spec.probabilities if label_text(k) not in labels and (
            spec.prediction is None or label_text(k) not in _distinct_texts(df[spec.prediction]))]
        if unknown:
            raise BundleError(f"data.probabilities names classes that are neither labels nor predictions: "
                              f"{', '.join(map(str, unknown[:5]))}; key it by the label's values")
        cols = list(spec.probabilities.values())
        p = df[cols].apply(pd.to_numeric, errors="coerce")
        if p.isna().any().any() or (p < 0).any().any() or (p > 1).any().any():
            raise BundleError("data.probabilities columns must hold probabilities between 0 and 1")
        sums = p.sum(axis=1).to_numpy()
        if not np.allclose(sums, 1.0, atol=1e-3):
            worst = float(sums[np.argmax(np.abs(sums - 1.0))])
            raise BundleError(f"data.probabilities columns must sum to 1 on every row (a row sums to {worst:.4g}); "
                              "give one column per class")


def check_task(manifest: Manifest, df: pd.DataFrame | None) -> None:
    if manifest.task not in SUPPORTED_TASKS:  # pragma: no cover - the Literal guards this
        raise BundleError(f"task '{manifest.task}' is not supported; use one of {', '.join(SUPPORTED_TASKS)}")
    if df is None:
        return
    label = manifest.data.label
    n = df[label].nunique(dropna=True)
    if manifest.task == BINARY and n > 2:
        hint = "set task: regression" if pd.api.types.is_float_dtype(df[label]) and n > MAX_CLASSES else \
            "set task: multiclass-classification"
        raise BundleError(
            f"label column '{label}' has {n} distinct values but task is binary-classification; {hint} "
            "(or give a binary label: favourable vs the rest)"
        )
    if manifest.task == MULTICLASS:
        if n < 2:
            raise BundleError(f"label column '{label}' has {n} distinct value(s); a classifier needs at least two")
        if n > MAX_CLASSES:
            raise BundleError(f"label column '{label}' has {n} distinct values, more than the {MAX_CLASSES} classes "
                              "a multiclass audit takes; for a numeric target set task: regression")
    if manifest.task == REGRESSION and n < 3:
        raise BundleError(f"label column '{label}' has only {n} distinct values; for a classifier set task: "
                          "binary-classification")


def check_model_task(model: M.ModelAdapter, task: str) -> None:
    """The model's kind must fit the manifest's task (a classifier audited as a regressor measures nothing)."""
    if task == REGRESSION:
        if model.task != REGRESSION:
            raise ModelLoadError(
                f"the {model.type_name} model is a classifier (classes {', '.join(map(label_text, model.classes[:6]))}) "
                "but task is regression; "
                "fix task in the manifest"
            )
        return
    if model.task == REGRESSION:
        raise ModelLoadError(f"the {model.type_name} model is a regressor but task is {task}; set task: regression")
    k = len(model.classes)
    shown = ", ".join(label_text(c) for c in model.classes[:8]) + (" ..." if k > 8 else "")
    if task == BINARY and k and k != 2:
        raise ModelLoadError(
            f"the model has {k} classes ({shown}); set task: multiclass-classification to audit it "
            "(task is binary-classification)"
        )
    if task == MULTICLASS and k == 2:
        raise ModelLoadError("the model has 2 classes; set task: binary-classification for a binary classifier")


def load_bundle(path: str | Path, *, allow_unsafe_pickle: bool = False, load_model: bool = True,
                trusted_types: Collection[str] = ()) -> Bundle:
    """Load and validate a bundle directory. Raises :class:`BundleError`/:class:`ModelLoadError` on bad input.

    ``trusted_types``: exact skops type names the *auditor* trusts beyond skops' defaults and
    :data:`trustaudit.bundle.models.VETTED_SKOPS_TYPES` (the bundle's own ``model.trusted_types`` is never trusted).
    """
    root = Path(path)
    manifest = load_manifest(root)
    manifest_sha256 = sha256_file(root / MANIFEST_NAME)[0]
    files: list[FileDigest] = []
    data_path = resolve_inside(root, manifest.data.path, "data.path")
    if not data_path.is_file():
        raise BundleError(f"data file '{manifest.data.path}' does not exist in the bundle; fix data.path")
    check_task(manifest, None)
    df = read_table(data_path, "data", manifest.data.sep)
    validate_data(manifest, df, f"data file '{manifest.data.path}'")
    check_task(manifest, df)
    resolve_protected(df, manifest.protected)
    digest, size = sha256_file(data_path)
    files.append(FileDigest(path=manifest.data.path, role="data", sha256=digest, bytes=size))

    model: M.ModelAdapter | None = None
    if manifest.model is not None:
        mpath = resolve_inside(root, manifest.model.path, "model.path")
        if not mpath.exists():
            raise BundleError(f"model file '{manifest.model.path}' does not exist in the bundle; fix model.path")
        if load_model:
            model, mpath = _load_model(manifest, root, allow_unsafe_pickle, trusted_types)
        digest, size = sha256_file(mpath)
        files.insert(0, FileDigest(path=manifest.model.path, role="model", sha256=digest, bytes=size))

    training: pd.DataFrame | None = None
    if manifest.training_data is not None:
        tpath = resolve_inside(root, manifest.training_data.path, "training_data.path")
        if not tpath.is_file():
            raise BundleError(
                f"training data file '{manifest.training_data.path}' does not exist; fix training_data.path"
            )
        training = read_table(tpath, "training data", manifest.training_data.sep or manifest.data.sep)
        digest, size = sha256_file(tpath)
        files.append(
            FileDigest(path=manifest.training_data.path, role="training_data", sha256=digest, bytes=size)
        )
    bundle = Bundle(manifest, root, df, model, files, training, allow_unsafe_pickle=allow_unsafe_pickle,
                    trusted_types=tuple(trusted_types), manifest_sha256=manifest_sha256)
    if model is not None:
        M.check_columns(model, df)
        cols = bundle.feature_columns()
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise BundleError(f"feature columns missing from the data: {', '.join(missing[:5])}; fix data.features")
        M.finish_onnx(model, df[cols])
        M.probe(model, df[cols])
        check_model_task(model, manifest.task)
    return bundle
