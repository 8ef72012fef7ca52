"""Estimators a remedy produces, in a form trustaudit can audit again (``predict_proba`` on the data's columns).

:class:`GroupThresholdClassifier` is fairlearn's ``ThresholdOptimizer`` made deployable: the bundle's fitted
model followed by one threshold rule per group of a protected attribute. The rules are read from the fitted
``ThresholdOptimizer`` (``interpolated_thresholder_.interpolation_dict``: two threshold operations mixed with
probabilities ``p0``/``p1``, optionally a constant with probability ``p_ignore``) and kept as plain numbers, so a
skops file of it holds no fairlearn object. ``predict_proba`` returns fairlearn's probability of a favourable
decision (its ``_pmf_predict``); trustaudit (and ``predict``) take the more likely class, which makes the
classifier deterministic: the numbers the check reports are the numbers a re-audit of the saved model gives.

Hand-written here (about 60 lines) because fairlearn's own ``predict`` needs ``sensitive_features`` as a
separate argument and draws at random, which no audit of a model file can pass or reproduce.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = ["GroupThresholdClassifier", "ScorePassthrough", "apply_rules", "decide", "rules_from_fairlearn"]

#: A group's rule: [p0, op0, t0, p1, op1, t1, p_ignore, prediction_constant]; op is ">" or "<".
Rule = list[Any]


def rules_from_fairlearn(threshold_optimizer: Any) -> dict[str, Rule]:
    """The per-group rules of a fitted fairlearn ``ThresholdOptimizer``, as plain numbers."""
    out: dict[str, Rule] = {}
    for group, it in threshold_optimizer.interpolated_thresholder_.interpolation_dict.items():
        p_ignore = float(it["p_ignore"]) if "p_ignore" in it else 0.0
        const = float(it["prediction_constant"]) if "prediction_constant" in it else 0.0
        out[str(group)] = [float(it.p0), str(it.operation0.operator), float(it.operation0.threshold),
                           float(it.p1), str(it.operation1.operator), float(it.operation1.threshold),
                           p_ignore, const]
    return out


def _op(op: str, scores: np.ndarray, t: float) -> np.ndarray:
    return (scores > t if op == ">" else scores < t).astype(np.float64)


def apply_rules(rules: dict[str, Rule], scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Probability of a favourable decision per row (fairlearn's ``_pmf_predict``); a row whose group has no
    rule (missing attribute value) keeps the model's score."""
    scores = np.asarray(scores, dtype=np.float64)
    out = scores.copy()
    for group, (p0, op0, t0, p1, op1, t1, p_ignore, const) in rules.items():
        m = groups == group
        pmf = p0 * _op(op0, scores[m], t0) + p1 * _op(op1, scores[m], t1)
        out[m] = p_ignore * const + (1.0 - p_ignore) * pmf
    return out


def decide(pmf: np.ndarray, favorable_index: int) -> np.ndarray:
    """1 where argmax of the two-column probabilities (in the model's class order) is the favourable class,
    exactly as trustaudit turns ``predict_proba`` into predictions (numpy's argmax takes the first on a tie)."""
    pmf = np.asarray(pmf, dtype=np.float64)
    if favorable_index == 0:
        return (pmf >= 1.0 - pmf).astype(np.int8)
    return (pmf > 1.0 - pmf).astype(np.int8)


def group_of(frame: pd.DataFrame, attribute: str, spec: dict[str, Any]) -> np.ndarray:
    """'privileged' / 'unprivileged' per row ('' where the value is missing or in neither set), as the bundle's
    manifest defines the attribute (``spec``: its ``protected`` entry, e.g. ``{"privileged": ["Male"]}``)."""
    from trustaudit.bundle.loader import resolve_protected
    from trustaudit.bundle.manifest import ProtectedSpec

    attr = resolve_protected(frame, {attribute: ProtectedSpec.model_validate(spec)})[attribute]
    return np.where(~attr.valid, "", np.where(attr.privileged, "privileged", "unprivileged"))


class GroupThresholdClassifier(ClassifierMixin, BaseEstimator):
    """A fitted probabilistic classifier followed by per-group threshold rules (see the module docstring).

    ``features``: the columns the inner model reads; ``attribute``: the protected column the rules are keyed on
    (read from ``X`` at prediction time: the remedy needs it), ``spec`` its groups as in the bundle's manifest
    (``{"privileged": ["Male"]}``, ``{"privileged": ">= 25"}``). Fit with :func:`trustaudit.mitigate`; ``fit`` here only checks it.
    """

    def __init__(self, estimator: Any = None, features: list[str] | None = None, attribute: str = "",
                 spec: dict[str, Any] | None = None, rules: dict[str, Rule] | None = None, favorable_index: int = 1) -> None:
        self.estimator = estimator
        self.features = features
        self.attribute = attribute
        self.spec = spec
        self.rules = rules
        self.favorable_index = favorable_index

    def fit(self, X: Any = None, y: Any = None) -> GroupThresholdClassifier:
        if self.estimator is None or not self.rules:
            raise ValueError("GroupThresholdClassifier is built by trustaudit.mitigate (estimator and rules)")
        self.classes_ = np.asarray(self.estimator.classes_)
        cols = list(self.features or [])
        self.feature_names_in_ = np.asarray(cols + ([self.attribute] if self.attribute not in cols else []),
                                            dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        scores = np.asarray(self.estimator.predict_proba(X[list(self.features or [])]))[:, self.favorable_index]
        groups = group_of(X, self.attribute, self.spec or {})
        pmf = apply_rules(self.rules or {}, scores, groups)
        out = np.empty((len(pmf), 2), dtype=np.float64)
        out[:, self.favorable_index] = pmf
        out[:, 1 - self.favorable_index] = 1.0 - pmf
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.classes_)[self.predict_proba(X).argmax(axis=1)]


class ScorePassthrough(ClassifierMixin, BaseEstimator):
    """A 'prefit' estimator whose P(favourable) is its single input column: lets fairlearn's ThresholdOptimizer
    post-process scores alone (a predictions-only bundle's score column, or a model's scores computed once)."""

    def fit(self, X: Any = None, y: Any = None) -> ScorePassthrough:
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        s = np.asarray(X, dtype=np.float64).reshape(len(X), -1)[:, 0]
        return np.column_stack([1.0 - s, s])

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(np.int64)
