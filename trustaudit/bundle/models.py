"""Model loaders and a uniform adapter over them.

Safe formats load by default: skops (scikit-learn), ONNX (onnxruntime), XGBoost/LightGBM native files and an
MLflow model directory whose flavour is ONNX or a skops/pickled scikit-learn model. joblib and pickle files run
arbitrary code when loaded, so they load only with an explicit opt-in (``allow_unsafe_pickle=True`` /
``--allow-unsafe-pickle``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trustaudit.errors import ModelLoadError

# skops: beyond the types skops itself trusts (scikit-learn estimators, numpy/scipy containers), these exact
# type names are trusted by default. They are scikit-learn's internal state holders (tree structures, fitted
# calibrators, optimiser state) that skops reports for common estimators; none of them is a callable that runs
# code on load. Never a module prefix: a prefix such as "builtins." lets a file name ``builtins.exec`` (or
# ``os.system``) as a constructor and run it while loading. Any other type must be allowed by the *auditor*
# (``--trust-type`` on the command line, ``trusted_types`` in the server's configuration), never by the bundle.
VETTED_SKOPS_TYPES = frozenset({
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.utils._bunch.Bunch",
})

PICKLE_REFUSED = (
    "{path}: refusing to load a {fmt} file: unpickling runs arbitrary code from the file. "
    "Convert it once to skops (python -c \"import joblib, skops.io as sio; "
    "sio.dump(joblib.load('{path}'), 'model.skops')\") and set model.format: skops, "
    "or pass --allow-unsafe-pickle (API: allow_unsafe_pickle=True) if you trust this file"
)


class ModelAdapter:
    """Uniform view of a loaded model: ``predict_proba`` on a DataFrame (classifiers) or ``predict_values``
    (regressors), its classes and feature names. ``task`` is ``"regression"`` for a regressor, else the
    classification task (binary or multiclass: the number of ``classes`` tells)."""

    def __init__(
        self,
        native: Any,
        fmt: str,
        classes: list[Any],
        feature_names: list[str] | None,
        proba_fn: Any,
        type_name: str,
        *,
        value_fn: Any = None,
    ) -> None:
        self.native = native
        self.format = fmt
        self.classes = classes
        self.feature_names = feature_names
        self._proba_fn = proba_fn
        self._value_fn = value_fn
        self.type_name = type_name

    @property
    def task(self) -> str:
        if self._proba_fn is None:
            return "regression"
        return "multiclass-classification" if len(self.classes) > 2 else "binary-classification"

    def predict_values(self, X: pd.DataFrame) -> np.ndarray:
        """A regressor's predicted values (float64, one per row)."""
        if self._value_fn is None:
            raise ModelLoadError(f"the {self.type_name} model is a classifier; it predicts classes, not values")
        return np.asarray(self._value_fn(X), dtype=float).reshape(len(X), -1)[:, 0]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if self._proba_fn is None:
            raise ModelLoadError(f"the {self.type_name} model is a regressor; it has no class probabilities")
        proba = np.asarray(self._proba_fn(X), dtype=float)
        if proba.ndim == 1:  # boosters return P(class 1)
            proba = np.column_stack([1.0 - proba, proba])
        return proba

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self._proba_fn is None:
            return self.predict_values(X)
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


def _sklearn_adapter(est: Any, fmt: str, task: str = "binary-classification") -> ModelAdapter:
    names = getattr(est, "feature_names_in_", None)
    if task == "regression":
        from sklearn.base import is_classifier

        if is_classifier(est) or not hasattr(est, "predict"):
            raise ModelLoadError(
                f"the {type(est).__name__} model is a classifier (or has no predict) but task is regression; "
                "fix task in the manifest"
            )
        return ModelAdapter(est, fmt, [], [str(n) for n in names] if names is not None else None, None,
                            f"{type(est).__module__}.{type(est).__name__}", value_fn=est.predict)
    if not hasattr(est, "predict_proba"):
        raise ModelLoadError(
            f"the {type(est).__name__} model has no predict_proba; trustaudit needs a probabilistic classifier "
            "(for a regressor set task: regression; or give predictions in the data with data.prediction)"
        )
    classes = list(getattr(est, "classes_", []))
    return ModelAdapter(
        est,
        fmt,
        classes,
        [str(n) for n in names] if names is not None else None,
        est.predict_proba,
        f"{type(est).__module__}.{type(est).__name__}",
    )


def refused_skops_types(untrusted: list[str], trusted_types: Collection[str] = ()) -> list[str]:
    """The types of a skops file that neither skops, the vetted list nor the auditor trusts (exact names)."""
    allowed = VETTED_SKOPS_TYPES | set(trusted_types)
    return sorted({str(t) for t in untrusted if t not in allowed})


def check_skops_types(path: Path, trusted_types: Collection[str] = (), requested: Collection[str] = ()) -> list[str]:
    """Read a skops file's schema (no object is built) and refuse it unless every type in it is trusted by skops,
    :data:`VETTED_SKOPS_TYPES` or the auditor's ``trusted_types`` (exact names). Returns the file's non-default
    types. ``requested`` are the types the bundle asks for: named in the error, never trusted on its word."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(f"{path} is not a readable skops file ({first}); re-save it with skops.io.dump") from None
    refused = refused_skops_types(untrusted, trusted_types)
    if refused:
        shown = ", ".join(refused[:8]) + (f" (+{len(refused) - 8} more)" if len(refused) > 8 else "")
        asked = " (the bundle's model.trusted_types lists them, but only the auditor can trust a type)" \
            if set(refused) <= set(requested) else ""
        raise ModelLoadError(
            f"{path}: refusing to load a skops file with types that are not trusted: {shown}{asked}; loading them "
            "can run code from the file. If you reviewed them and trust them, pass --trust-type TYPE for each "
            "(API: trusted_types=[...]; service: --trust-type)"
        )
    return [str(t) for t in untrusted]


def load_skops(path: Path, trusted_types: Collection[str] = (), requested: Collection[str] = (),
               task: str = "binary-classification") -> ModelAdapter:
    """Load a skops file, trusting only skops' own defaults, :data:`VETTED_SKOPS_TYPES` and ``trusted_types``
    (exact names the auditor allowed); see :func:`check_skops_types`."""
    import skops.io as sio

    untrusted = check_skops_types(path, trusted_types, requested)
    try:
        # every type in the file is now trusted by skops, the vetted list or the auditor: pass exactly those
        est = sio.load(path, trusted=untrusted)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(f"{path}: could not load skops model: {first}") from None
    return _sklearn_adapter(est, "skops", task)


def load_unsafe_pickle(path: Path, fmt: str, allow: bool, task: str = "binary-classification") -> ModelAdapter:
    if not allow:
        raise ModelLoadError(PICKLE_REFUSED.format(path=path, fmt=fmt))
    import joblib

    try:
        est = joblib.load(path)  # explicit opt-in given (allow_unsafe_pickle)
    except Exception as exc:
        raise ModelLoadError(f"{path}: could not unpickle the model: {exc}") from None
    return _sklearn_adapter(est, fmt, task)


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send what native libraries (LightGBM, XGBoost, onnxruntime) write straight to file descriptor 2 to
    /dev/null while loading a file: ``[LightGBM] [Fatal] ...`` lines would otherwise precede the one-line error."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (an embedded interpreter): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        with suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _shown(names: list[Any], k: int = 5) -> str:
    return ", ".join(f"'{n}'" for n in names[:k]) + (f" (+{len(names) - k} more)" if len(names) > k else "")


def onnx_column_array(input_type: str, values: Any) -> np.ndarray:
    """One column's values as the ONNX input of type ``input_type`` takes them (a 1-D array): text with missing
    values as '', int64, double or float. The one conversion behind the adapter's feed and the robustness checks'
    direct column-array runner."""
    if "string" in input_type:
        col = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
        return col.astype(object).where(col.notna(), "").astype(str).to_numpy(dtype=object)
    return np.asarray(values, dtype=_onnx_numeric_dtype(input_type))


def _onnx_numeric_dtype(input_type: str) -> Any:
    return np.int64 if "int64" in input_type else np.float64 if "double" in input_type else np.float32


def _onnx_feed(sess: Any, X: pd.DataFrame) -> dict[str, np.ndarray]:
    inputs = sess.get_inputs()
    feed: dict[str, np.ndarray] = {}
    if len(inputs) == 1 and inputs[0].name not in X.columns:
        inp = inputs[0]
        if "string" in inp.type:
            raise ModelLoadError(
                f"the ONNX model takes one string tensor '{inp.name}', which is not a column of the data; "
                f"export the model with one input per column (named as the columns)"
            )
        text = [c for c in X.columns
                if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]
        if text:
            raise ModelLoadError(
                f"the ONNX model takes one numeric tensor '{inp.name}' but the data's feature columns "
                f"{_shown(text)} hold text; give data.features with the numeric columns the model takes (in "
                "order), or export the model with its preprocessing (skl2onnx of the whole Pipeline, one input "
                "per column)"
            )
        shape = getattr(inp, "shape", None) or []
        width = shape[1] if len(shape) == 2 else None
        if isinstance(width, int) and width != X.shape[1]:
            raise ModelLoadError(
                f"the ONNX model's input '{inp.name}' takes {width} features but the data gives {X.shape[1]} "
                f"columns ({_shown(list(X.columns))}); give data.features with the {width} columns the model "
                "takes, in order"
            )
        try:
            feed[inp.name] = X.to_numpy(dtype=_onnx_numeric_dtype(inp.type))
        except (ValueError, TypeError) as exc:
            raise ModelLoadError(
                f"the data's feature columns cannot be given to the ONNX model's input '{inp.name}' "
                f"({_first_line(exc)}); give data.features with the numeric columns the model takes"
            ) from None
        return feed
    for inp in inputs:
        if inp.name not in X.columns:
            raise ModelLoadError(
                f"ONNX model input '{inp.name}' is not a column of the data; add the column or fix data.features"
            )
        col = X[inp.name]
        try:
            arr = onnx_column_array(inp.type, col)
        except (ValueError, TypeError) as exc:
            raise ModelLoadError(
                f"column '{inp.name}' cannot be given to the ONNX model's input of type {inp.type} "
                f"({_first_line(exc)}); fix the column's values or export the model with that column's type"
            ) from None
        feed[inp.name] = arr.reshape(-1, 1)
    return feed


def load_onnx(path: Path, task: str = "binary-classification") -> ModelAdapter:
    import onnxruntime as ort

    try:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        with native_stderr_silenced():
            sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelLoadError(f"{path} is not a valid ONNX model: {_first_line(exc)}") from None
    outputs = sess.get_outputs()
    if not outputs or not sess.get_inputs():
        raise ModelLoadError(f"{path}: the ONNX model has no inputs or no outputs; export the classifier again")
    if task == "regression":
        out = next((o for o in outputs if "tensor" in o.type and "string" not in o.type), None)
        if out is None or (len(outputs) > 1 and any("prob" in o.name.lower() for o in outputs)):
            raise ModelLoadError(f"{path}: the ONNX model is a classifier (outputs "
                                 f"{', '.join(o.name for o in outputs)}) but task is regression; fix task")
        in_names = [i.name for i in sess.get_inputs()]

        def values(X: pd.DataFrame) -> np.ndarray:
            return np.asarray(_onnx_run(sess, [out.name], X)[0])

        return ModelAdapter(sess, "onnx", [], in_names if len(in_names) > 1 else None, None, "onnxruntime",
                            value_fn=values)
    prob_out = next(o for o in outputs if o.name == prob_output_name(sess))
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
        return np.asarray(_onnx_run(sess, [prob_out.name], X)[0])

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
    labels, proba = _onnx_run(sess, [name, prob_output_name(sess)], X)
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


def _onnx_run(sess: Any, names: list[str], X: pd.DataFrame) -> list[Any]:
    """Run the session; a feed the model refuses (shape, type) is a :class:`ModelLoadError`."""
    feed = _onnx_feed(sess, X)
    try:
        return list(sess.run(names, feed))
    except Exception as exc:
        raise ModelLoadError(
            f"the ONNX model cannot score the data: {_first_line(exc)}; check data.features against the model's "
            "inputs"
        ) from None


def prob_output_name(sess: Any) -> str:
    """The ONNX session output that holds the class probabilities."""
    outputs = sess.get_outputs()
    return next((o for o in outputs if "prob" in o.name.lower()), outputs[-1]).name


def load_xgboost(path: Path, task: str = "binary-classification") -> ModelAdapter:
    try:
        import xgboost as xgb
    except ImportError:
        raise ModelLoadError(
            "format 'xgboost' needs the xgboost package: pip install 'trustaudit[boost]'"
        ) from None
    booster = xgb.Booster()
    try:
        with native_stderr_silenced():
            booster.load_model(str(path))
    except Exception as exc:
        raise ModelLoadError(f"{path} is not an XGBoost model file (.json/.ubj): {_first_line(exc)}") from None
    names = booster.feature_names

    def proba(X: pd.DataFrame) -> np.ndarray:
        cols = names or list(X.columns)
        dm = xgb.DMatrix(X[cols] if names else X, enable_categorical=True)
        return np.asarray(booster.predict(dm))

    return _booster_adapter(booster, "xgboost", names, proba, "xgboost.Booster", task)


def _booster_adapter(booster: Any, fmt: str, names: Any, fn: Any, type_name: str, task: str) -> ModelAdapter:
    """A native booster: its raw ``predict`` gives values (regression), P(class 1) (binary) or one column per
    class (multiclass: classes 0..k-1, set by :func:`probe` from the output's width)."""
    feature_names = list(names) if names else None
    if task == "regression":
        return ModelAdapter(booster, fmt, [], feature_names, None, type_name, value_fn=fn)
    return ModelAdapter(booster, fmt, [0, 1] if task == "binary-classification" else [], feature_names, fn,
                        type_name)


#: Loads a LightGBM model file with the bare C library in a child process: a malformed tree block makes
#: LightGBM 4 abort the whole process ('terminate called without an active exception', from an exception thrown
#: inside its OpenMP parse loop), which no ``except`` can catch. Only a file the child loaded is loaded here.
_LIGHTGBM_PROBE = """
import ctypes, sys
try:
    lib = ctypes.cdll.LoadLibrary(sys.argv[1])
except OSError:
    sys.exit(4)
n, h = ctypes.c_int(0), ctypes.c_void_p()
if lib.LGBM_BoosterCreateFromModelfile(ctypes.c_char_p(sys.argv[2].encode()), ctypes.byref(n), ctypes.byref(h)):
    lib.LGBM_GetLastError.restype = ctypes.c_char_p
    sys.stdout.write((lib.LGBM_GetLastError() or b"").decode("utf-8", "replace"))
    sys.exit(3)
lib.LGBM_BoosterFree(h)
"""


def _probe_lightgbm(path: Path, lib: Any) -> None:
    import subprocess

    libpath = getattr(lib, "_name", None)
    if not isinstance(libpath, str) or not Path(libpath).is_file():
        return  # an unusual build: load in-process as before
    try:
        res = subprocess.run([sys.executable, "-I", "-S", "-c", _LIGHTGBM_PROBE, libpath, str(path.resolve())],
                             capture_output=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    except (OSError, subprocess.SubprocessError):
        return
    if res.returncode in (0, 4):  # loaded, or the library cannot be loaded in a child: load in-process as before
        return
    detail = res.stdout.decode("utf-8", "replace").strip()
    if res.returncode == 3:
        raise ModelLoadError(f"{path} is not a LightGBM model file: {detail.splitlines()[0] if detail else 'unreadable'}")
    why = f"signal {-res.returncode}" if res.returncode < 0 else f"exit {res.returncode}"
    raise ModelLoadError(
        f"{path} is not a LightGBM model file: the LightGBM library aborts while reading it ({why}); the file "
        "is corrupt or truncated: save the model again with booster.save_model"
    )


def load_lightgbm(path: Path, task: str = "binary-classification") -> ModelAdapter:
    try:
        import lightgbm as lgb
    except ImportError:
        raise ModelLoadError(
            "format 'lightgbm' needs the lightgbm package: pip install 'trustaudit[boost]'"
        ) from None
    if not path.is_file():
        raise ModelLoadError(f"{path} is not a LightGBM model file (a directory?); give the model's .txt file")
    from lightgbm import basic

    _probe_lightgbm(path, getattr(basic, "_LIB", None))
    try:
        # LightGBM prints '[LightGBM] [Fatal] ...' to fd 2 before raising: capture it (the message is in exc)
        with native_stderr_silenced():
            booster = lgb.Booster(model_file=str(path))
    except Exception as exc:
        raise ModelLoadError(f"{path} is not a LightGBM model file: {_first_line(exc)}") from None
    names = booster.feature_name()

    def proba(X: pd.DataFrame) -> np.ndarray:
        return np.asarray(booster.predict(X[names] if names else X))

    return _booster_adapter(booster, "lightgbm", names, proba, "lightgbm.Booster", task)


def load_mlflow(path: Path, allow_unsafe_pickle: bool, resolve: Any, trusted_types: Collection[str] = (),
                task: str = "binary-classification") -> ModelAdapter:
    """Read an MLflow model directory from its ``MLmodel`` file (hand-parsed: MLmodel is a documented YAML
    file, and the mlflow package is a very large dependency for reading it)."""
    from trustaudit import yamlsafe

    mlmodel = path / "MLmodel"
    if not path.is_dir() or not mlmodel.is_file():
        raise ModelLoadError(f"{path} is not an MLflow model directory (no MLmodel file)")
    try:
        spec = yamlsafe.load(yamlsafe.read_text(mlmodel, "MLmodel file"), str(mlmodel))
    except yamlsafe.YamlInputError as exc:
        raise ModelLoadError(exc.one_line()) from None
    flavors = spec.get("flavors") if isinstance(spec, dict) else None
    if not isinstance(flavors, dict):
        raise ModelLoadError(f"{mlmodel} has no 'flavors' section")

    def flavour(name: str, key: str, default: str) -> str:
        fl = flavors[name]
        if fl is None:
            fl = {}
        if not isinstance(fl, dict):
            raise ModelLoadError(
                f"{mlmodel}: flavors.{name} must be a mapping (with '{key}:'), not {type(fl).__name__}"
            )
        value = fl.get(key, default)
        if not isinstance(value, str) or not value:
            raise ModelLoadError(f"{mlmodel}: flavors.{name}.{key} must be a file name, not {value!r}")
        return value

    if "onnx" in flavors:
        return load_onnx(resolve(path, flavour("onnx", "data", "model.onnx")), task)
    if "sklearn" in flavors:
        file = resolve(path, flavour("sklearn", "pickled_model", "model.pkl"))
        ser = flavour("sklearn", "serialization_format", "cloudpickle")
        if ser == "skops" or file.suffix == ".skops":
            return load_skops(file, trusted_types, task=task)
        return load_unsafe_pickle(file, f"MLflow sklearn ({ser})", allow_unsafe_pickle, task)
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
    """ONNX: score a few rows once (a feed the model refuses is a load error, not a failure in every check) and
    infer the class labels when the model's metadata does not list them."""
    if adapter.format == "onnx" and adapter.task == "regression":
        adapter.predict_values(X.head(8))
    elif adapter.format == "onnx":
        _onnx_run(adapter.native, [prob_output_name(adapter.native)], X.head(8))
        _onnx_classes_from_labels(adapter, X.head(512))


def probe(adapter: ModelAdapter, X: pd.DataFrame, rows: int = 8) -> None:
    """Score a few rows once at load time, for every format: data the model cannot take (text in a numeric
    feature, a missing category handling) is one load error instead of the same error in every check."""
    if adapter.format == "onnx" or len(X) == 0:
        return  # finish_onnx scores ONNX models with its own feed errors
    sample = X.head(rows)
    if adapter.task == "regression":
        try:
            with native_stderr_silenced():
                raw = np.asarray(adapter._value_fn(sample), dtype=float)
        except Exception as exc:
            raise ModelLoadError(
                f"the {adapter.type_name} model cannot score the data's first rows ({type(exc).__name__}: "
                f"{_first_line(exc)}); check the feature columns' types and values against what the model was "
                "trained on"
            ) from None
        if raw.size != len(sample) or not np.isfinite(raw).all():
            raise ModelLoadError(
                f"the {adapter.type_name} regressor returned {raw.shape} values for {len(sample)} rows (or "
                "non-finite values); trustaudit needs one predicted value per row"
            )
        return
    try:
        with native_stderr_silenced():
            proba = adapter.predict_proba(sample)
    except Exception as exc:
        raise ModelLoadError(
            f"the {adapter.type_name} model cannot score the data's first rows ({type(exc).__name__}: "
            f"{_first_line(exc)}); check the feature columns' types and values against what the model was trained on"
        ) from None
    if proba.ndim != 2 or proba.shape[0] != len(sample):
        raise ModelLoadError(
            f"the {adapter.type_name} model returned probabilities of shape {proba.shape} for {len(sample)} rows; "
            "trustaudit needs one row of class probabilities per data row"
        )
    if not adapter.classes and adapter.format in ("xgboost", "lightgbm"):
        adapter.classes = list(range(proba.shape[1]))  # a multiclass booster: classes 0..k-1


def wrap_estimator(model: Any, task: str = "binary-classification") -> ModelAdapter:
    """Adapter for an in-memory model given to the Python API."""
    if isinstance(model, ModelAdapter):
        return model
    if task == "regression":
        return _sklearn_adapter(model, "in-memory", task)
    if hasattr(model, "predict_proba"):
        return _sklearn_adapter(model, "in-memory")
    raise ModelLoadError(
        f"unsupported model object {type(model).__name__}: pass an estimator with predict_proba "
        "(scikit-learn API) or a bundle directory"
    )
