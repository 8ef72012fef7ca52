"""Robustness-specific sample statistics: how many rows a rate needs, and the median's order-statistic interval.

Every rate the robustness checks report (accuracy, attack success, flip rate, membership-inference accuracy) is a
binomial proportion measured on a seeded sample: it carries its sample size and a Wilson score interval, and a
difference between two groups Newcombe's hybrid score interval. Those come from :mod:`trustaudit.stats`, the one
statistics module (re-exported here). The median of a sample (e.g. minimal adversarial perturbations) gets the
distribution-free order-statistic interval from the binomial distribution.
"""

from __future__ import annotations

import math

import numpy as np

from trustaudit.stats import difference_metric, interval, newcombe, rate_metric, wilson, z_value

__all__ = ["difference_metric", "interval", "max_half_width", "median_interval", "newcombe", "rate_metric",
           "rows_for_half_width", "wilson"]


def rows_for_half_width(half_width: float, level: float = 0.95) -> int:
    """Fewest rows n for which every Wilson interval k/n (any k) has a half-width of at most ``half_width``.

    The widest Wilson interval is at k/n = 1/2, where its half-width is z / (2 * sqrt(n + z^2)): so
    n = ceil(z^2 / (4 h^2) - z^2) (381 rows for h = 0.05 at 95%).
    """
    z = z_value(level)
    return max(1, math.ceil(z * z / (4.0 * half_width * half_width) - z * z - 1e-9))


def max_half_width(n: int, level: float = 0.95) -> float | None:
    """The largest half-width a Wilson interval on n rows can have (at k/n = 1/2); None when n == 0."""
    if n <= 0:
        return None
    z = z_value(level)
    return z / (2.0 * math.sqrt(n + z * z))


def median_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float] | None:
    """Median and its distribution-free interval [x_(l), x_(n-l+1)] from order statistics.

    ``l`` is the largest rank with P(Binomial(n, 1/2) < l) <= (1 - level) / 2, so the coverage is at least
    ``level``. Values may be +inf (censored: no adversarial example found); an infinite bound is returned as inf.
    """
    from scipy.stats import binom

    v = np.sort(np.asarray(values, dtype=float))
    n = len(v)
    if n == 0:
        return None
    med = float(np.median(v))
    alpha = 1.0 - level
    rank = int(binom.ppf(alpha / 2, n, 0.5))  # candidate 1-indexed rank of the lower bound
    while rank > 0 and binom.cdf(rank - 1, n, 0.5) > alpha / 2:
        rank -= 1
    if rank < 1:  # too few values for this level: the whole range
        return med, float(v[0]), float(v[-1])
    return med, float(v[rank - 1]), float(v[n - rank])
