"""``trustaudit init``: write a manifest for a model file and a data file, inferring what it can."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from trustaudit.bundle.loader import read_table
from trustaudit.bundle.manifest import MANIFEST_NAME, parse_manifest
from trustaudit.errors import BundleError

FORMATS = {".skops": "skops", ".onnx": "onnx", ".ubj": "xgboost", ".joblib": "joblib", ".pkl": "pickle",
           ".pickle": "pickle"}
LABEL_NAMES = ("label", "target", "y", "class", "outcome", "income", "credit", "default")
PROTECTED_NAMES = {
    "sex": None, "gender": None, "race": None, "ethnicity": None, "age": ">= 25", "religion": None,
    "nationality": None, "native-country": None, "marital-status": None, "disability": None,
}


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        raise BundleError(
            f"{path} is outside the bundle directory {root}; copy it into the bundle first"
        ) from None


def _format_of(model: Path) -> str:
    if model.is_dir():
        if (model / "MLmodel").is_file():
            return "mlflow"
        raise BundleError(f"{model} is a directory without an MLmodel file; give a model file")
    if model.suffix == ".json":
        return "xgboost"
    if model.suffix == ".txt":
        return "lightgbm"
    fmt = FORMATS.get(model.suffix.lower())
    if fmt is None:
        raise BundleError(
            f"cannot tell the format of {model.name}; supported: .skops, .onnx, .json/.ubj (xgboost), "
            ".txt (lightgbm), an MLflow directory, .joblib/.pkl (unsafe, opt-in)"
        )
    return fmt


def _model_hints(model: Path | None, fmt: str | None) -> tuple[list[str], list[str]]:
    """(classes, feature names) of a safely loadable model, to tell the label from the features."""
    if model is None or fmt not in ("skops", "onnx"):
        return [], []
    from trustaudit.bundle import models as M

    try:
        adapter = M.load_skops(model) if fmt == "skops" else M.load_onnx(model)
    except Exception:
        return [], []
    return [str(c) for c in adapter.classes], list(adapter.feature_names or [])


def _infer_label(df: Any, classes: list[str] | None = None, features: list[str] | None = None) -> str:
    features = features or []
    candidates = [c for c in df.columns if str(c) not in features and df[c].nunique() == 2]
    if classes:
        for c in candidates:
            if {str(v) for v in df[c].dropna().unique()} == set(classes):
                return str(c)
    lowered = {str(c).lower(): str(c) for c in candidates}
    for n in LABEL_NAMES:
        if n in lowered and df[lowered[n]].nunique() == 2:
            return lowered[n]
    if len(candidates) == 1:
        return str(candidates[0])
    last = str(df.columns[-1])
    if last in [str(c) for c in candidates]:
        return last
    raise BundleError("cannot infer the label column; pass --label COLUMN")


def _infer_favorable(series: Any) -> Any:
    values = list(series.dropna().unique())
    for good in (1, "1", True, "yes", "Yes", "good", ">50K", "approved", "positive"):
        for v in values:
            if str(v) == str(good):
                return v.item() if hasattr(v, "item") else v
    # the rarer class is usually the favourable outcome being granted
    v = series.value_counts().idxmin()
    return v.item() if hasattr(v, "item") else v


def scaffold(
    model: Path | None,
    data: Path | None,
    out: Path,
    *,
    label: str | None = None,
    favorable: str | None = None,
    name: str | None = None,
    force: bool = False,
) -> Path:
    if data is None:
        raise BundleError("give a data file: trustaudit init MODEL DATA --out BUNDLE_DIR")
    out.mkdir(parents=True, exist_ok=True)
    target = out / MANIFEST_NAME
    if target.exists() and not force:
        raise BundleError(f"{target} already exists; pass --force to overwrite it")
    if not data.is_file():
        raise BundleError(f"data file {data} does not exist")
    df = read_table(data)
    fmt = _format_of(model) if model is not None else None
    classes, features = _model_hints(model, fmt)
    lab = label or _infer_label(df, classes, features)
    if lab not in df.columns:
        raise BundleError(f"label column '{lab}' is not in {data.name}")
    fav: Any = favorable if favorable is not None else _infer_favorable(df[lab])
    protected: dict[str, Any] = {}
    for col in df.columns:
        key = str(col).lower()
        if key in PROTECTED_NAMES and col != lab:
            thr = PROTECTED_NAMES[key]
            if thr is not None and str(df[col].dtype).startswith(("int", "float")):
                protected[str(col)] = {"privileged": thr}
            else:
                top = df[col].value_counts().idxmax()
                protected[str(col)] = {"privileged": [top.item() if hasattr(top, "item") else top]}
    manifest: dict[str, Any] = {
        "trustaudit": 1,
        "name": name or out.resolve().name,
        "version": "0.1.0",
        "task": "binary-classification",
    }
    pred_col = next((c for c in df.columns if str(c).lower() in ("prediction", "pred", "y_pred")), None)
    if model is not None:
        manifest["model"] = {"path": _rel(model, out), "format": fmt}
    elif pred_col is None:
        raise BundleError("without a model the data needs a prediction column; give MODEL or add 'prediction'")
    manifest["data"] = {"path": _rel(data, out), "label": lab, "favorable_label": fav,
                        "prediction": None if model is not None else str(pred_col), "score": None}
    manifest["protected"] = protected
    text = (
        "# trustaudit bundle manifest (format 1): generated by 'trustaudit init'; review every value.\n"
        "# Keys are documented in docs/manifest.md. Protected attributes were guessed from column names.\n"
        + yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)
    )
    parse_manifest(text, str(target))  # what we write must validate
    target.write_text(text, encoding="utf-8")
    return target
