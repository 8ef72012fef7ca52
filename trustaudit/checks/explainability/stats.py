"""Small statistics for the explainability checks: bootstrap of row means, rank correlation, association."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trustaudit.checks.fairness import bootstrap_interval as interval

__all__ = [
    "bootstrap_counts",
    "contingency",
    "cramers_v",
    "discretise",
    "interval",
    "normalized_mutual_info",
    "spearman",
]


def bootstrap_counts(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) resampling counts: row i is drawn counts[b, i] times in resample b (rows with replacement)."""
    if n_boot == 0 or n == 0:
        return np.zeros((0, n))
    idx = rng.integers(0, n, size=(n_boot, n))
    offsets = (np.arange(n_boot) * n)[:, None]
    return np.bincount((idx + offsets).ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN when either side is constant."""
    ra = pd.Series(a).rank().to_numpy()
    rb = pd.Series(b).rank().to_numpy()
    if len(ra) < 2 or np.std(ra) == 0 or np.std(rb) == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def discretise(values: pd.Series, bins: int) -> np.ndarray:
    """Integer codes of a column for association measures: categories as they are (missing is its own code),
    numeric columns with more than ``bins`` distinct values cut at their quantiles."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        v = values.to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isfinite(v)
        finite = v if ok.all() else v[ok]
        if len(pd.unique(finite)) > bins:  # a hash table, not a sort of every row
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
            codes = np.searchsorted(edges, v, side="right")
            return np.where(np.isnan(v), -1, codes)
    try:  # on the column itself: string and categorical columns factorize without a Python object per row
        codes, _ = pd.factorize(values, use_na_sentinel=False)
    except TypeError:  # pragma: no cover - unhashable mixtures: as Python objects
        codes, _ = pd.factorize(values.astype(object), use_na_sentinel=False)
    return np.asarray(codes)


def contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Counts of each (a, b) pair of two integer-coded variables (codes >= -1, as :func:`discretise` gives);
    empty rows and columns dropped."""
    a1, b1 = a.astype(np.int64) + 1, b.astype(np.int64) + 1
    width = int(b1.max()) + 1
    table = np.bincount(a1 * width + b1, minlength=(int(a1.max()) + 1) * width).reshape(-1, width)
    return table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]


def cramers_v(table: np.ndarray) -> float:
    """Cramér's V of a contingency table (0: independent, 1: one variable determines the other)."""
    if min(table.shape) < 2:
        return 0.0
    from scipy.stats.contingency import association

    return float(association(table, method="cramer"))


def normalized_mutual_info(table: np.ndarray) -> float:
    """Mutual information over the mean of the two entropies (scikit-learn's ``normalized_mutual_info_score``
    with its default arithmetic normalisation), from a contingency table."""
    p = table / table.sum()
    pa, pb = p.sum(axis=1), p.sum(axis=0)
    nz = p > 0
    mi = float((p[nz] * np.log(p[nz] / np.outer(pa, pb)[nz])).sum())
    ha = float(-(pa[pa > 0] * np.log(pa[pa > 0])).sum())
    hb = float(-(pb[pb > 0] * np.log(pb[pb > 0])).sum())
    if ha == 0.0 or hb == 0.0:
        return 1.0 if ha == hb else 0.0
    return max(mi, 0.0) / ((ha + hb) / 2)
