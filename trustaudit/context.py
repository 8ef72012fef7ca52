"""The audit context: the bundle plus everything expensive, computed once and shared by all checks."""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trustaudit.bundle.loader import Bundle, ProtectedAttribute, encode_labels, resolve_protected

ProgressReporter = Callable[[int, int, str], None]  # (done, total, unit)
_PROGRESS: contextvars.ContextVar[ProgressReporter | None] = contextvars.ContextVar("trustaudit_progress",
                                                                                    default=None)


def report_progress(done: int, total: int, unit: str = "rows") -> None:
    """Tell the audit's progress display how far the running check's long loop is (``done`` of ``total``
    ``unit``). For display only: it never changes what is computed, and a failing display is ignored."""
    fn = _PROGRESS.get()
    if fn is not None:
        with contextlib.suppress(Exception):  # a progress display never breaks a check
            fn(int(done), int(total), unit)


@contextmanager
def progress_reporter(fn: ProgressReporter | None) -> Iterator[None]:
    """Route :func:`report_progress` calls made inside the block to ``fn`` (the engine, around each check)."""
    token = _PROGRESS.set(fn)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


class AuditContext:
    """Shared, lazily computed state for one audit.

    Checks read ``y_true``, ``y_pred`` and ``scores`` (1 = favourable label) and never call the model for the
    full-data predictions themselves: they are computed once here. ``sample`` gives seeded samples stratified
    by protected group, cached per (size, purpose) so checks that ask for the same sample share it.
    """

    def __init__(self, bundle: Bundle, *, seed: int = 0, out_dir: Path | None = None) -> None:
        self.bundle = bundle
        self.seed = seed
        self.out_dir = out_dir
        self.prediction_s = 0.0
        self._samples: dict[tuple[int, str], np.ndarray] = {}
        self.cache: dict[str, Any] = {}  # for checks to share derived artefacts (e.g. a transformed matrix)

    # -- data -------------------------------------------------------------------------------------
    @property
    def manifest(self) -> Any:
        return self.bundle.manifest

    @property
    def data(self) -> pd.DataFrame:
        return self.bundle.data

    @property
    def model(self) -> Any:
        return self.bundle.model

    @property
    def training_data(self) -> pd.DataFrame | None:
        return self.bundle.training_data

    @property
    def n_rows(self) -> int:
        return len(self.bundle.data)

    @cached_property
    def feature_columns(self) -> list[str]:
        return self.bundle.feature_columns()

    @cached_property
    def X(self) -> pd.DataFrame:
        """The model's input columns (a view-like selection of the evaluation data)."""
        return self.bundle.data[self.feature_columns]

    @property
    def task(self) -> str:
        """The manifest's task: binary-classification, multiclass-classification or regression."""
        return str(self.bundle.manifest.task)

    @cached_property
    def y_true(self) -> np.ndarray:
        """1 where the label is favourable (binary-classification only; see :attr:`target` for the others)."""
        spec = self.bundle.spec
        if self.task != "binary-classification":
            raise RuntimeError(f"y_true is the binary favourable label; task is {self.task}: use ctx.target")
        return encode_labels(self.data[spec.label], spec.favorable_label, f"label column '{spec.label}'")

    @cached_property
    def protected(self) -> dict[str, ProtectedAttribute]:
        return resolve_protected(self.data, self.bundle.manifest.protected)

    # -- multiclass and regression ----------------------------------------------------------------
    @cached_property
    def target(self) -> np.ndarray:
        """The label per row: float64 values (regression) or label texts (classification, as :func:`label_text`)."""
        from trustaudit.bundle.loader import label_texts, numeric_column

        spec = self.bundle.spec
        what = f"label column '{spec.label}'"
        if self.task == "regression":
            return numeric_column(self.data[spec.label], what, "task regression needs a numeric target")
        return label_texts(self.data[spec.label], what)

    @cached_property
    def classes(self) -> list[str]:
        """Class labels as text (classification): the model's classes, else those of the labels, predictions
        and probability columns, sorted."""
        from trustaudit.bundle.loader import label_text

        if self.model is not None and self.model.classes:
            return [label_text(c) for c in self.model.classes]
        spec = self.bundle.spec
        seen = set(self.target)
        if spec.prediction is not None:
            seen |= set(self._target_predictions[0])
        if spec.probabilities:
            seen |= {label_text(k) for k in spec.probabilities}
        return sorted(seen)

    @cached_property
    def _target_predictions(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(prediction per row, class probabilities or None) for multiclass and regression; see :attr:`prediction`."""
        from trustaudit.bundle.loader import label_text, label_texts, numeric_column

        spec = self.bundle.spec
        t0 = time.perf_counter()
        proba: np.ndarray | None = None
        if self.task == "regression":
            if self.model is not None:
                pred = predict_values_chunked(self.model, self.X)
            else:
                assert spec.prediction is not None
                pred = numeric_column(self.data[spec.prediction], f"prediction column '{spec.prediction}'",
                                      "task regression needs predicted values")
        elif self.model is not None:
            proba = predict_proba_chunked(self.model, self.X)
            names = np.asarray([label_text(c) for c in self.model.classes], dtype=object)
            pred = names[proba.argmax(axis=1)]
        else:
            assert spec.prediction is not None
            pred = label_texts(self.data[spec.prediction], f"prediction column '{spec.prediction}'")
        self.prediction_s += time.perf_counter() - t0
        return pred, proba

    @property
    def prediction(self) -> np.ndarray:
        """The model's prediction per row: float64 values (regression) or class label texts (classification)."""
        return self._target_predictions[0]

    @cached_property
    def class_proba(self) -> np.ndarray | None:
        """Multiclass: (rows, classes) probabilities in the order of :attr:`classes`, from the model or the
        ``data.probabilities`` columns (a class without a column gets 0); None when neither gives them."""
        from trustaudit.bundle.loader import label_text

        if self.task == "regression":
            return None
        proba = self._target_predictions[1]
        if proba is not None:
            return proba
        spec = self.bundle.spec
        if not spec.probabilities:
            return None
        by_class = {label_text(k): v for k, v in spec.probabilities.items()}
        out = np.zeros((self.n_rows, len(self.classes)))
        for j, c in enumerate(self.classes):
            if c in by_class:
                out[:, j] = pd.to_numeric(self.data[by_class[c]]).to_numpy(dtype=float)
        return out

    def predict_output(self, X: pd.DataFrame) -> np.ndarray:
        """The model's output for new rows: values (regression, 1-D) or class probabilities (rows, classes)."""
        if self.model is None:
            raise RuntimeError("no model in this bundle")
        if self.task == "regression":
            return self.model.predict_values(X)
        return np.asarray(self.model.predict_proba(X))

    # -- predictions (computed once) --------------------------------------------------------------
    @cached_property
    def _predictions(self) -> tuple[np.ndarray, np.ndarray | None]:
        spec = self.bundle.spec
        t0 = time.perf_counter()
        scores: np.ndarray | None
        if self.model is not None:
            proba = predict_proba_chunked(self.model, self.X)
            fav_idx = self.favorable_index
            scores = proba[:, fav_idx]
            y_pred = (proba.argmax(axis=1) == fav_idx).astype(np.int8)
        else:
            assert spec.prediction is not None
            y_pred = encode_labels(self.data[spec.prediction], spec.favorable_label,
                                   f"prediction column '{spec.prediction}'", require_favorable=False)
            scores = (
                pd.to_numeric(self.data[spec.score]).to_numpy(dtype=float) if spec.score is not None else None
            )
        self.prediction_s += time.perf_counter() - t0
        return y_pred, scores

    @cached_property
    def favorable_index(self) -> int:
        """Column of predict_proba that holds the favourable label."""
        from trustaudit.bundle.loader import label_text

        fav = label_text(self.bundle.spec.favorable_label)
        classes = [label_text(c) for c in (self.model.classes if self.model is not None else [])]
        if fav in classes:
            return classes.index(fav)
        if classes == ["0", "1"]:
            # booster models output P(1); favourable must then be encoded as 1 in the label column
            return 1
        from trustaudit.errors import ModelLoadError

        raise ModelLoadError(
            f"favorable_label {self.bundle.spec.favorable_label!r} is not one of the model's classes {classes}; "
            "fix data.favorable_label"
        )

    @property
    def y_pred(self) -> np.ndarray:
        return self._predictions[0]

    @property
    def scores(self) -> np.ndarray | None:
        return self._predictions[1]

    def predict_favorable_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(favourable) for new rows (e.g. perturbed copies) through the same model."""
        if self.model is None:
            raise RuntimeError("no model in this bundle")
        return self.model.predict_proba(X)[:, self.favorable_index]

    # -- seeded randomness and sampling -----------------------------------------------------------
    def rng(self, purpose: str) -> np.random.Generator:
        """A generator seeded from the audit seed and a purpose string: independent and reproducible."""
        digest = hashlib.sha256(f"{self.seed}:{purpose}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def sample(self, n: int, purpose: str = "default", stratify: bool = True) -> np.ndarray:
        """Sorted row indices of a seeded sample of at most ``n`` rows, stratified by protected groups."""
        key = (n, purpose if not stratify else purpose + ":strat")
        if key in self._samples:
            return self._samples[key]
        total = self.n_rows
        if n >= total:
            idx = np.arange(total)
        else:
            rng = self.rng(f"sample:{purpose}")
            strata = self._strata() if stratify else np.zeros(total, dtype=np.int64)
            idx = _stratified_sample(strata, n, rng)
        self._samples[key] = idx
        return idx

    def _strata(self) -> np.ndarray:
        if "strata" not in self.cache:
            codes = np.zeros(self.n_rows, dtype=np.int64)
            for attr in self.protected.values():
                codes = codes * 2 + attr.privileged.astype(np.int64)
            outcome, levels = self._outcome_strata()
            codes = codes * levels + outcome
            self.cache["strata"] = codes
        return np.asarray(self.cache["strata"])

    def _outcome_strata(self) -> tuple[np.ndarray, int]:
        """(code per row, number of codes) of the outcome a sample is stratified by: the favourable label
        (binary), the class (multiclass) or the quartile of the target (regression)."""
        if self.task == "binary-classification":
            return self.y_true.astype(np.int64), 2
        if self.task == "regression":
            return _quantile_codes(self.target), 4
        codes, uniques = pd.factorize(self.target)
        return np.asarray(codes, dtype=np.int64), max(1, len(uniques))


def _quantile_codes(values: np.ndarray, k: int = 4) -> np.ndarray:
    edges = np.unique(np.quantile(values, np.linspace(0, 1, k + 1)[1:-1]))
    return np.searchsorted(edges, values, side="right").astype(np.int64)


#: Rows per call to the model when predicting on the evaluation data. A scikit-learn pipeline materialises its
#: transformed matrix (one-hot columns as float64) for every row it is given: at a million rows that was
#: 1.5 GB more peak memory than the data itself. Models score rows independently, so chunks give the same
#: predictions; data up to this size is predicted in one call, as before.
PREDICT_CHUNK_ROWS = 100_000


def predict_proba_chunked(model: Any, X: pd.DataFrame, chunk_rows: int = PREDICT_CHUNK_ROWS) -> np.ndarray:
    """``model.predict_proba(X)`` in blocks of ``chunk_rows`` rows (bounded peak memory), concatenated."""
    n = len(X)
    if n <= chunk_rows:
        return np.asarray(model.predict_proba(X))
    parts = [np.asarray(model.predict_proba(X.iloc[i : i + chunk_rows])) for i in range(0, n, chunk_rows)]
    return np.concatenate(parts, axis=0)


def predict_values_chunked(model: Any, X: pd.DataFrame, chunk_rows: int = PREDICT_CHUNK_ROWS) -> np.ndarray:
    """``model.predict_values(X)`` (a regressor) in blocks of ``chunk_rows`` rows, concatenated."""
    n = len(X)
    if n <= chunk_rows:
        return np.asarray(model.predict_values(X), dtype=float)
    return np.concatenate([np.asarray(model.predict_values(X.iloc[i : i + chunk_rows]), dtype=float)
                           for i in range(0, n, chunk_rows)])


def _stratified_sample(strata: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Proportional allocation (largest remainder), at least one row per stratum where possible."""
    values, counts = np.unique(strata, return_counts=True)
    total = counts.sum()
    exact = counts * n / total
    alloc = np.floor(exact).astype(int)
    alloc = np.maximum(alloc, np.minimum(1, counts))
    remainder = n - alloc.sum()
    if remainder > 0:
        order = np.argsort(-(exact - np.floor(exact)), kind="stable")
        for i in order[:remainder]:
            if alloc[i] < counts[i]:
                alloc[i] += 1
    picked = []
    for v, k in zip(values, alloc):
        rows = np.flatnonzero(strata == v)
        picked.append(rng.choice(rows, size=min(k, len(rows)), replace=False))
    return np.sort(np.concatenate(picked))
