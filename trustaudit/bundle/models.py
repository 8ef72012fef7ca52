"""Model loaders and a uniform adapter over them.

Safe formats load by default: skops (scikit-learn), ONNX (onnxruntime), XGBoost/LightGBM native files and an
MLflow model directory whose flavour is ONNX or a skops/pickled scikit-learn model. joblib and pickle files run
arbitrary code when loaded, so they load only with an explicit opt-in (``allow_unsafe_pickle=True`` /
``--allow-unsafe-pickle``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trustaudit.errors import ModelLoadError

# skops: types from these packages are trusted by default (scikit-learn estimators and their numeric state).
TRUSTED_TYPE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")

PICKLE_REFUSED = (
    "{path}: refusing to load a {fmt} file: unpickling runs arbitrary code from the file. "
    "Convert it once to skops (python -c \"import joblib, skops.io as sio; "
    "sio.dump(joblib.load('{path}'), 'model.skops')\") and set model.format: skops, "
    "or pass --allow-unsafe-pickle (API: allow_unsafe_pickle=True) if you trust this file"
)


class ModelAdapter:
    """Uniform view of a loaded model: ``predict_proba`` on a DataFrame, its classes and feature names."""

    def __init__(
        self,
        native: Any,
        fmt: str,
        classes: list[Any],
        feature_names: list[str] | None,
        proba_fn: Any,
        type_name: str,
    ) -> None:
        self.native = native
        self.format = fmt
        self.classes = classes
        self.feature_names = feature_names
        self._proba_fn = proba_fn
        self.type_name = type_name

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        proba = np.asarray(self._proba_fn(X), dtype=float)
        if proba.ndim == 1:  # boosters return P(class 1)
            proba = np.column_stack([1.0 - proba, proba])
        return proba

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        proba = self.predict_proba(X)
        return np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)]

    @property
    def sklearn_estimator(self) -> Any | None:
        """The scikit-learn estimator when there is one (for gradient/tree-aware checks)."""
        try:
            from sklearn.base import BaseEstimator
        except ImportError:  # pragma: no cover
            return None
        return self.native if isinstance(self.native, BaseEstimator) else None


def _sklearn_adapter(est: Any, fmt: str) -> ModelAdapter:
    if not hasattr(est, "predict_proba"):
        raise ModelLoadError(
            f"the {type(est).__name__} model has no predict_proba; trustaudit needs a probabilistic classifier "
            "(or give predictions in the data with data.prediction)"
        )
    classes = list(getattr(est, "classes_", []))
    names = getattr(est, "feature_names_in_", None)
    return ModelAdapter(
        est,
        fmt,
        classes,
        [str(n) for n in names] if names is not None else None,
        est.predict_proba,
        f"{type(est).__module__}.{type(est).__name__}",
    )


def load_skops(path: Path, extra_trusted: list[str] | None = None) -> ModelAdapter:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise ModelLoadError(f"{path} is not a readable skops file ({exc}); re-save it with skops.io.dump") from None
    allowed = set(extra_trusted or [])
    refused = [t for t in untrusted if not t.startswith(TRUSTED_TYPE_PREFIXES) and t not in allowed]
    if refused:
        raise ModelLoadError(
            f"{path}: skops file uses types that are not trusted by default: {', '.join(sorted(refused))}; "
            "review them and list them under model.trusted_types in trustaudit.yaml if you trust them"
        )
    try:
        est = sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise ModelLoadError(f"{path}: could not load skops model: {exc}") from None
    return _sklearn_adapter(est, "skops")


def load_unsafe_pickle(path: Path, fmt: str, allow: bool) -> ModelAdapter:
    if not allow:
        raise ModelLoadError(PICKLE_REFUSED.format(path=path, fmt=fmt))
    import joblib

    try:
        est = joblib.load(path)  # explicit opt-in given (allow_unsafe_pickle)
    except Exception as exc:
        raise ModelLoadError(f"{path}: could not unpickle the model: {exc}") from None
    return _sklearn_adapter(est, fmt)


def _onnx_feed(sess: Any, X: pd.DataFrame) -> dict[str, np.ndarray]:
    inputs = sess.get_inputs()
    feed: dict[str, np.ndarray] = {}
    if len(inputs) == 1 and inputs[0].name not in X.columns:
        feed[inputs[0].name] = X.to_numpy(dtype=np.float32)
        return feed
    for inp in inputs:
        if inp.name not in X.columns:
            raise ModelLoadError(f"ONNX model input '{inp.name}' is not a column of the data")
        col = X[inp.name]
        if "string" in inp.type:
            arr = col.astype(object).where(col.notna(), "").astype(str).to_numpy(dtype=object)
        elif "int64" in inp.type:
            arr = col.to_numpy(dtype=np.int64)
        elif "double" in inp.type:
            arr = col.to_numpy(dtype=np.float64)
        else:
            arr = col.to_numpy(dtype=np.float32)
        feed[inp.name] = arr.reshape(-1, 1)
    return feed


def load_onnx(path: Path) -> ModelAdapter:
    import onnxruntime as ort

    try:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 3
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelLoadError(f"{path} is not a valid ONNX model: {str(exc).splitlines()[0]}") from None
    outputs = sess.get_outputs()
    prob_out = next(o for o in outputs if o.name == _prob_name(sess))
    label_out = next((o for o in outputs if "label" in o.name.lower()), None)
    if "seq" in prob_out.type or "map" in prob_out.type:
        raise ModelLoadError(
            f"{path}: ONNX probabilities are a ZipMap; convert with skl2onnx options={{'zipmap': False}}"
        )
    meta = sess.get_modelmeta().custom_metadata_map
    classes: list[Any]
    if "classes" in meta:
        classes = [c for c in meta["classes"].split(",")]
    else:
        classes = []
    names = [i.name for i in sess.get_inputs()]

    def proba(X: pd.DataFrame) -> np.ndarray:
        res = sess.run([prob_out.name], _onnx_feed(sess, X))
        return np.asarray(res[0])

    adapter = ModelAdapter(sess, "onnx", classes, names if len(names) > 1 else None, proba, "onnxruntime")
    if not classes and label_out is not None:
        adapter._onnx_label_output = label_out.name  # type: ignore[attr-defined]
    return adapter


def _onnx_classes_from_labels(adapter: ModelAdapter, X: pd.DataFrame) -> None:
    """Infer ONNX class labels by matching the label output with argmax of probabilities."""
    name = getattr(adapter, "_onnx_label_output", None)
    if adapter.classes or name is None:
        return
    sess = adapter.native
    labels, proba = sess.run([name, _prob_name(sess)], _onnx_feed(sess, X))
    labels = np.asarray(labels).ravel()
    idx = np.asarray(proba).argmax(axis=1)
    classes: dict[int, Any] = {}
    for i, lab in zip(idx, labels):
        classes.setdefault(int(i), lab.item() if hasattr(lab, "item") else lab)
    k = np.asarray(proba).shape[1]
    if len(classes) < k and k == 2:
        # only one class observed; the binary case with int labels is 0/1
        only = next(iter(classes.values()))
        if isinstance(only, (int, np.integer)):
            classes = {0: 0, 1: 1}
    adapter.classes = [classes.get(i, i) for i in range(k)]


def _prob_name(sess: Any) -> str:
    outputs = sess.get_outputs()
    return next((o for o in outputs if "prob" in o.name.lower()), outputs[-1]).name


def load_xgboost(path: Path) -> ModelAdapter:
    try:
        import xgboost as xgb
    except ImportError:
        raise ModelLoadError(
            "format 'xgboost' needs the xgboost package: pip install 'trustaudit[boost]'"
        ) from None
    booster = xgb.Booster()
    try:
        booster.load_model(str(path))
    except Exception as exc:
        raise ModelLoadError(f"{path} is not an XGBoost model file (.json/.ubj): {str(exc).splitlines()[0]}") from None
    names = booster.feature_names

    def proba(X: pd.DataFrame) -> np.ndarray:
        cols = names or list(X.columns)
        dm = xgb.DMatrix(X[cols] if names else X, enable_categorical=True)
        return np.asarray(booster.predict(dm))

    return ModelAdapter(booster, "xgboost", [0, 1], list(names) if names else None, proba, "xgboost.Booster")


def load_lightgbm(path: Path) -> ModelAdapter:
    try:
        import lightgbm as lgb
    except ImportError:
        raise ModelLoadError(
            "format 'lightgbm' needs the lightgbm package: pip install 'trustaudit[boost]'"
        ) from None
    try:
        booster = lgb.Booster(model_file=str(path))
    except Exception as exc:
        raise ModelLoadError(f"{path} is not a LightGBM model file: {str(exc).splitlines()[0]}") from None
    names = booster.feature_name()

    def proba(X: pd.DataFrame) -> np.ndarray:
        return np.asarray(booster.predict(X[names] if names else X))

    return ModelAdapter(booster, "lightgbm", [0, 1], list(names) if names else None, proba, "lightgbm.Booster")


def load_mlflow(path: Path, allow_unsafe_pickle: bool, resolve: Any) -> ModelAdapter:
    """Read an MLflow model directory from its ``MLmodel`` file (hand-parsed: MLmodel is a documented YAML
    file, and the mlflow package is a very large dependency for reading it)."""
    import yaml

    mlmodel = path / "MLmodel"
    if not path.is_dir() or not mlmodel.is_file():
        raise ModelLoadError(f"{path} is not an MLflow model directory (no MLmodel file)")
    try:
        spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        raise ModelLoadError(f"{mlmodel} is not valid YAML") from None
    flavors = spec.get("flavors") if isinstance(spec, dict) else None
    if not isinstance(flavors, dict):
        raise ModelLoadError(f"{mlmodel} has no 'flavors' section")
    if "onnx" in flavors:
        return load_onnx(resolve(path, flavors["onnx"].get("data", "model.onnx")))
    if "sklearn" in flavors:
        fl = flavors["sklearn"]
        file = resolve(path, fl.get("pickled_model", "model.pkl"))
        ser = str(fl.get("serialization_format", "cloudpickle"))
        if ser == "skops" or file.suffix == ".skops":
            return load_skops(file)
        return load_unsafe_pickle(file, f"MLflow sklearn ({ser})", allow_unsafe_pickle)
    raise ModelLoadError(
        f"{mlmodel}: flavours {', '.join(flavors)} are not supported; trustaudit reads the sklearn and onnx flavours"
    )


def check_columns(adapter: ModelAdapter, X: pd.DataFrame) -> None:
    """Fail early, with names, when the model's inputs and the data's columns do not match."""
    if not adapter.feature_names:
        return
    missing = [c for c in adapter.feature_names if c not in X.columns]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ModelLoadError(
            f"the model expects columns missing from the data: {shown}; add them to the data or fix data.features"
        )


def finish_onnx(adapter: ModelAdapter, X: pd.DataFrame) -> None:
    if adapter.format == "onnx":
        _onnx_classes_from_labels(adapter, X.head(512))


def wrap_estimator(model: Any) -> ModelAdapter:
    """Adapter for an in-memory model given to the Python API."""
    if isinstance(model, ModelAdapter):
        return model
    if hasattr(model, "predict_proba"):
        return _sklearn_adapter(model, "in-memory")
    raise ModelLoadError(
        f"unsupported model object {type(model).__name__}: pass an estimator with predict_proba "
        "(scikit-learn API) or a bundle directory"
    )
