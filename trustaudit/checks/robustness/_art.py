"""Thin glue between the robustness checks and the Adversarial Robustness Toolbox (ART).

ART is imported lazily (it is slow to import and warns about PyTorch). Everything here is plumbing: building the
ART estimator that fits the model (gradients where ART has them, a black-box wrapper otherwise), keeping ART's
global-numpy randomness reproducible, and bounding black-box attacks by a query budget and a deadline.
"""

from __future__ import annotations

import contextlib
import copy
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np


def import_art() -> Any:
    """Import the ART modules we use, without ART's 'PyTorch not found' warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*PyTorch not found.*")
        warnings.filterwarnings("ignore", category=UserWarning, module="art.*")
        import art
        import art.attacks.evasion
        import art.attacks.inference.membership_inference
        import art.estimators.classification
    return art


def art_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("adversarial-robustness-toolbox")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


@contextlib.contextmanager
def seeded_global_numpy(seed: int) -> Iterator[None]:
    """Seed numpy's global generator for the duration (HopSkipJump draws from it), then restore its state."""
    state = np.random.get_state()
    np.random.seed(seed % (2**32))
    try:
        yield
    finally:
        np.random.set_state(state)


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run native thread pools (OpenMP, BLAS) single-threaded: black-box attacks make thousands of tiny model
    calls, and on a busy machine thread start-up and contention make each call 10-100x slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=1):
        yield


def gradient_kind(estimator: Any) -> str | None:
    """'logreg' or 'svc' when ART can give loss gradients for this final estimator, else None."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    if isinstance(estimator, LogisticRegression):
        return "logreg"
    if isinstance(estimator, SVC) and getattr(estimator, "kernel", None) in ("linear", "rbf", "poly"):
        return "svc"
    return None


def is_decision_tree(estimator: Any) -> bool:
    from sklearn.tree import DecisionTreeClassifier

    return isinstance(estimator, DecisionTreeClassifier)


def folded_logistic_regression(lr: Any, mean: np.ndarray, scale: np.ndarray) -> Any:
    """A copy of a fitted LogisticRegression that takes z = (t - mean) / scale instead of t.

    ``coef_z = coef * scale`` and ``intercept_z = intercept + coef @ mean``, so ``lr_z(z) == lr(t)`` exactly.
    (Folding the standardisation into the model, instead of ART's ``preprocessing=``, avoids ART 1.20's
    ``ScikitlearnLogisticRegression.loss_gradient``, which applies the preprocessing twice when computing the
    predicted probabilities.)
    """
    out = copy.deepcopy(lr)
    out.coef_ = np.asarray(lr.coef_, dtype=np.float64) * scale
    out.intercept_ = np.asarray(lr.intercept_, dtype=np.float64) + np.asarray(lr.coef_) @ mean
    return out


def gradient_classifier(estimator: Any, mean: np.ndarray, scale: np.ndarray, clip: tuple[np.ndarray, np.ndarray]) -> Any:
    """ART classifier with loss gradients over the standardised space z."""
    art = import_art()
    cls = art.estimators.classification
    kind = gradient_kind(estimator)
    if kind == "logreg":
        return cls.SklearnClassifier(model=folded_logistic_regression(estimator, mean, scale), clip_values=clip)
    if kind == "svc":
        # z -> t = z * scale + mean, written as ART's (subtrahend, divisor): (z - (-mean / scale)) / (1 / scale)
        return cls.SklearnClassifier(model=estimator, clip_values=clip, preprocessing=(-mean / scale, 1.0 / scale))
    raise ValueError(f"no gradients for {type(estimator).__name__}")


class QueryBudgetExceeded(Exception):
    """Raised inside a black-box attack when a row's query budget or the check's deadline is used up."""


class CountingPredictor:
    """predict_fn for ART's BlackBoxClassifier that counts model queries per row, enforces a per-row budget and
    a deadline, and remembers the closest adversarial point it has seen for the current row (so a row whose
    budget runs out still reports the best example the attack had found)."""

    def __init__(self, predict: Callable[[np.ndarray, int], np.ndarray], max_queries: int, deadline: float,
                 distance: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        self._predict = predict
        self.max_queries = max_queries
        self.deadline = deadline
        self._distance = distance
        self.total = 0
        self.row_queries = 0
        self.row: int = -1
        self.z0: np.ndarray | None = None
        self.label: int = -1
        self.best: np.ndarray | None = None
        self.best_dist = np.inf
        self.deadline_hit = False

    def start_row(self, row: int, z0: np.ndarray, label: int) -> None:
        self.row, self.z0, self.label = row, z0, label
        self.row_queries = 0
        self.best, self.best_dist = None, np.inf

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        if time.perf_counter() > self.deadline:
            self.deadline_hit = True
            raise QueryBudgetExceeded("deadline")
        if self.row_queries + len(Z) > self.max_queries:
            raise QueryBudgetExceeded("queries")
        self.row_queries += len(Z)
        self.total += len(Z)
        proba = self._predict(np.asarray(Z, dtype=np.float64), self.row)
        if self.z0 is not None:
            adv = proba.argmax(axis=1) != self.label
            if adv.any():
                d = self._distance(np.asarray(Z[adv], dtype=np.float64), self.z0)
                k = int(np.argmin(d))
                if d[k] < self.best_dist:
                    self.best_dist = float(d[k])
                    self.best = np.asarray(Z[adv][k], dtype=np.float64).copy()
        return proba
