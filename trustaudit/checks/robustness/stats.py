"""Small-sample statistics for robustness rates: Wilson intervals, Newcombe differences, median intervals.

Every rate the robustness checks report (accuracy, attack success, flip rate, membership-inference accuracy) is a
binomial proportion measured on a seeded sample, so it carries its sample size and a Wilson score interval, which
keeps its coverage close to nominal for small n and for rates near 0 or 1 (where the normal approximation
fails). A difference between two groups uses Newcombe's hybrid score interval (method 10 of Newcombe 1998), built
from the two Wilson intervals. The median of a sample (e.g. minimal adversarial perturbations) gets the
distribution-free order-statistic interval from the binomial distribution.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

from trustaudit.results import Interval, Metric


def _z(level: float) -> float:
    return NormalDist().inv_cdf(1.0 - (1.0 - level) / 2.0)


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval for k successes out of n (None when n == 0)."""
    if n <= 0:
        return None
    z = _z(level)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rows_for_half_width(half_width: float, level: float = 0.95) -> int:
    """Fewest rows n for which every Wilson interval k/n (any k) has a half-width of at most ``half_width``.

    The widest Wilson interval is at k/n = 1/2, where its half-width is z / (2 * sqrt(n + z^2)): so
    n = ceil(z^2 / (4 h^2) - z^2) (381 rows for h = 0.05 at 95%).
    """
    z = _z(level)
    return max(1, math.ceil(z * z / (4.0 * half_width * half_width) - z * z - 1e-9))


def max_half_width(n: int, level: float = 0.95) -> float | None:
    """The largest half-width a Wilson interval on n rows can have (at k/n = 1/2); None when n == 0."""
    if n <= 0:
        return None
    z = _z(level)
    return z / (2.0 * math.sqrt(n + z * z))


def newcombe(k1: int, n1: int, k2: int, n2: int, level: float = 0.95) -> tuple[float, float] | None:
    """Newcombe's hybrid score interval for p1 - p2 (independent samples); None when a group is empty."""
    w1, w2 = wilson(k1, n1, level), wilson(k2, n2, level)
    if w1 is None or w2 is None:
        return None
    p1, p2 = k1 / n1, k2 / n2
    d = p1 - p2
    low = d - math.sqrt((p1 - w1[0]) ** 2 + (w2[1] - p2) ** 2)
    high = d + math.sqrt((w1[1] - p1) ** 2 + (p2 - w2[0]) ** 2)
    return max(-1.0, low), min(1.0, high)


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


def interval(bounds: tuple[float, float] | None, level: float, method: str) -> Interval | None:
    if bounds is None or not all(math.isfinite(b) for b in bounds):
        return None
    return Interval(low=float(bounds[0]), high=float(bounds[1]), level=level, method=method)


def rate_metric(name: str, k: int, n: int, level: float = 0.95, **fields: Any) -> Metric:
    """A proportion k/n as a Metric with its Wilson interval (value None when n == 0)."""
    value = k / n if n > 0 else None
    note = fields.pop("note", None)
    if n == 0:
        note = note or "no rows"
    return Metric(name=name, value=value, ci=interval(wilson(k, n, level), level, "wilson"), n=n, note=note,
                  **fields)


def difference_metric(
    name: str, k1: int, n1: int, k2: int, n2: int, level: float = 0.95, **fields: Any
) -> Metric:
    """p1 - p2 as a Metric with Newcombe's interval; n is n1 + n2."""
    value = (k1 / n1 - k2 / n2) if n1 > 0 and n2 > 0 else None
    return Metric(name=name, value=value, ci=interval(newcombe(k1, n1, k2, n2, level), level, "newcombe-wilson"),
                  n=n1 + n2, **fields)
