"""Small statistics for the explainability checks: BCa intervals of functions of row means, rank correlation,
association."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from trustaudit.results import Interval

__all__ = [
    "bootstrap_counts",
    "contingency",
    "cramers_v",
    "discretise",
    "mean_statistics",
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


def mean_statistics(
    columns: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    n_boot: int,
    rng: np.random.Generator,
    level: float,
) -> tuple[np.ndarray, list[Interval | None]]:
    """Estimates and BCa intervals of metrics that are functions of the column means of per-row quantities.

    ``columns`` is (rows, K); ``statistic`` maps means (m, K) to metrics (m, J). The estimates are
    ``statistic`` of the means of every row; the bootstrap resamples rows with replacement (``n_boot`` times,
    from ``rng``) and the BCa acceleration comes from the exact leave-one-row-out means. Intervals are
    :func:`trustaudit.stats.bca_interval`'s: they always contain the estimate (the percentile interval widened
    to it when BCa is undefined or misses it, with the reason in ``Interval.method``); None for a metric
    undefined in over 10% of the resamples. Without a bootstrap (``n_boot`` 0, or fewer than 2 rows) there are
    no intervals.

    Written here rather than with :func:`scipy.stats.bootstrap` because its jackknife evaluates the statistic on
    n subsets of n - 1 rows (O(n^2 K)); for a mean the leave-one-out values are (sum - row) / (n - 1).
    """
    from trustaudit.stats import bca_interval

    columns = np.asarray(columns, dtype=np.float64)
    n = len(columns)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.asarray(statistic(columns.mean(axis=0)[None, :]), dtype=np.float64)[0]
        if n_boot == 0 or n < 2:
            return est, [None] * len(est)
        boot = np.asarray(statistic(bootstrap_counts(n, n_boot, rng) @ columns / n), dtype=np.float64)
        jack = np.asarray(statistic((columns.sum(axis=0)[None, :] - columns) / (n - 1)), dtype=np.float64)
    # a metric that is constant over the rows (e.g. a linear model's group difference of a binary feature) differs
    # between resamples by rounding only: count such values as equal to the estimate
    for vals in (boot, jack):
        same = np.isclose(vals, est[None, :], rtol=1e-12, atol=1e-15)
        vals[same] = np.broadcast_to(est, vals.shape)[same]
    return est, [bca_interval(float(est[j]), boot[:, j], jack[:, j], level=level) for j in range(len(est))]


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
