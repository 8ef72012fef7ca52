"""The statistics of trustaudit's evidence: intervals for proportions, their differences and ratios, and bootstraps.

One module, one policy, so that every check reports the same kind of interval for the same kind of number:

* **A proportion** k/n: the Wilson score interval, from :func:`scipy.stats.binomtest` (``proportion_ci(method=
  'wilson')``). Its coverage stays close to nominal for small n and for rates near 0 or 1, where the Wald interval
  fails, and it always contains k/n.
* **A difference** p1 - p2 of independent proportions: Newcombe's hybrid score interval (method 10 of Newcombe
  1998), i.e. MOVER (Zou & Donner 2008) applied to the two Wilson intervals.
* **A ratio** p1 / p2: MOVER on the log scale with the two Wilson intervals (the log-ratio is a difference of
  logs; Donner & Zou 2012). At p1 = 0 the log scale breaks; the interval is then [0, u1 / p2], the limit of the
  log-scale bounds as p1 -> 0.
* **A sum** of independent estimates with their intervals (e.g. an average of two differences): MOVER.
* **Anything else** (an entropy index, a statistic of rows): a seeded bootstrap with the BCa interval (bias
  corrected and accelerated, Efron 1987). :func:`bootstrap_bca` is a thin wrapper of :func:`scipy.stats.bootstrap`
  for statistics of rows; :func:`bca_interval` takes bootstrap values the caller drew (e.g. multinomial draws of
  cell counts, which is resampling rows when the statistic depends only on the counts) with the jackknife values
  needed for the acceleration.

Every interval contains its point estimate. BCa does not guarantee it (when fewer than about 2.5 % of the
resamples fall on one side of the estimate, its adjusted percentiles both land on the other side); then, and
when BCa is undefined (an infinite bias correction, no spread), the interval falls back to the percentile interval
widened to the estimate, and ``Interval.method`` says so.

**Empty groups**: a proportion with n = 0 (or a difference/ratio with an empty side, or a ratio with p2 = 0) has
no value and no interval, and is not judged (:func:`rate_metric`, :func:`difference_metric`).

Hand-written here: Newcombe, the MOVER combinations and the BCa adjustment on caller-drawn resamples. scipy has
no interval for differences or ratios of proportions (``relative_risk`` gives only the Katz interval, undefined
at zero counts), and ``scipy.stats.bootstrap`` resamples rows: its BCa jackknife costs n evaluations of the
statistic on n - 1 rows, O(n^2), where a statistic of cell counts needs one evaluation per non-empty cell. The
tests compare each with statsmodels or scipy (``tests/engine/test_stats_evidence.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from trustaudit.results import Interval, Metric

EMPTY_NOTE = "no rows to measure: undefined"

Bounds = tuple[float, float]


def z_value(level: float) -> float:
    """Two-sided standard normal quantile: 1.96 for level 0.95."""
    return float(ndtri(0.5 + level / 2.0))


# -- proportions, differences, ratios ------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def wilson(k: int, n: int, level: float = 0.95) -> Bounds | None:
    """Wilson score interval for k successes out of n (scipy's binomtest); None when n == 0."""
    from scipy.stats import binomtest

    k, n = int(k), int(n)
    if n <= 0:
        return None
    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    p = k / n
    return min(float(ci.low), p), max(float(ci.high), p)  # rounding: k == n gave 0.9999999999999998


def mover_difference(d1: float, ci1: Bounds, d2: float, ci2: Bounds) -> Bounds:
    """MOVER interval for theta1 - theta2 of independent estimates d1, d2 with intervals ci1, ci2."""
    (l1, u1), (l2, u2) = ci1, ci2
    d = d1 - d2
    return d - math.hypot(d1 - l1, u2 - d2), d + math.hypot(u1 - d1, d2 - l2)


def mover_sum(d1: float, ci1: Bounds, d2: float, ci2: Bounds) -> Bounds:
    """MOVER interval for theta1 + theta2 of independent estimates d1, d2 with intervals ci1, ci2."""
    (l1, u1), (l2, u2) = ci1, ci2
    s = d1 + d2
    return s - math.hypot(d1 - l1, d2 - l2), s + math.hypot(u1 - d1, u2 - d2)


def newcombe(k1: int, n1: int, k2: int, n2: int, level: float = 0.95) -> Bounds | None:
    """Newcombe's hybrid score interval for p1 - p2 (independent samples); None when a group is empty."""
    w1, w2 = wilson(k1, n1, level), wilson(k2, n2, level)
    if w1 is None or w2 is None:
        return None
    lo, hi = mover_difference(k1 / n1, w1, k2 / n2, w2)
    return max(-1.0, lo), min(1.0, hi)


def ratio_interval(k1: int, n1: int, k2: int, n2: int, level: float = 0.95) -> Bounds | None:
    """Interval for p1 / p2: MOVER on the log scale with Wilson intervals. None when undefined (n1, n2 or k2 is 0)."""
    w1, w2 = wilson(k1, n1, level), wilson(k2, n2, level)
    if w1 is None or w2 is None or k2 <= 0:
        return None
    p1, p2 = k1 / n1, k2 / n2
    (l1, u1), (l2, u2) = w1, w2
    if k1 <= 0:
        return 0.0, u1 / p2
    lo, hi = mover_difference(math.log(p1), (math.log(l1), math.log(u1)), math.log(p2), (math.log(l2), math.log(u2)))
    r = p1 / p2
    return min(math.exp(lo), r), max(math.exp(hi), r)


# -- metrics ---------------------------------------------------------------------------------------------------


def interval(bounds: Bounds | None, level: float, method: str) -> Interval | None:
    if bounds is None or not all(math.isfinite(b) for b in bounds):
        return None
    return Interval(low=float(bounds[0]), high=float(bounds[1]), level=level, method=method)


def _empty(fields: dict[str, Any]) -> dict[str, Any]:
    note = fields.pop("note", None)
    fields.pop("judged", None)
    return {**fields, "judged": False, "note": f"{EMPTY_NOTE} ({note})" if note else EMPTY_NOTE}


def rate_metric(name: str, k: int, n: int, level: float = 0.95, **fields: Any) -> Metric:
    """k/n as a Metric with its Wilson interval; n == 0: value None, no interval, not judged."""
    if n <= 0:
        return Metric(name=name, value=None, ci=None, n=n, **_empty(fields))
    return Metric(name=name, value=k / n, ci=interval(wilson(k, n, level), level, "wilson"), n=n, **fields)


def difference_metric(name: str, k1: int, n1: int, k2: int, n2: int, level: float = 0.95, **fields: Any) -> Metric:
    """p1 - p2 as a Metric with Newcombe's interval (n = n1 + n2); an empty side: None, no interval, not judged."""
    if n1 <= 0 or n2 <= 0:
        return Metric(name=name, value=None, ci=None, n=n1 + n2, **_empty(fields))
    return Metric(name=name, value=k1 / n1 - k2 / n2, n=n1 + n2,
                  ci=interval(newcombe(k1, n1, k2, n2, level), level, "newcombe-wilson"), **fields)


# -- bootstrap -------------------------------------------------------------------------------------------------


def multinomial_bootstrap(counts: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, cells) resampled cell counts: resampling the rows with replacement when a statistic depends on
    the rows only through how many fall in each cell."""
    counts = np.asarray(counts, dtype=np.int64)
    n = int(counts.sum())
    if n == 0:
        return np.zeros((n_boot, len(counts)), dtype=np.int64)
    return rng.multinomial(n, counts / n, size=n_boot)


def jackknife_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-row-out cell counts: one row per non-empty cell (every row of a cell leaves the same counts),
    with the number of rows it stands for as its weight."""
    counts = np.asarray(counts, dtype=np.int64)
    nz = np.flatnonzero(counts)
    return counts[None, :] - np.eye(len(counts), dtype=np.int64)[nz], counts[nz].astype(np.float64)


def _quantiles(x: np.ndarray, qs: np.ndarray) -> np.ndarray:
    return np.quantile(x, np.clip(qs, 0.0, 1.0))


def bca_interval(theta: float, boot: np.ndarray, jack: np.ndarray, jack_weights: np.ndarray | None = None,
                 level: float = 0.95, min_defined: float = 0.9) -> Interval | None:
    """BCa interval from bootstrap values ``boot`` and leave-one-out values ``jack`` (weighted by
    ``jack_weights``: rows each stands for). None when the estimate is undefined or the statistic is undefined
    (not finite) in more than ``1 - min_defined`` of the resamples.

    The bias correction counts ties with the estimate as half below (a discrete statistic has many). When BCa is
    undefined or its interval misses the estimate, the percentile interval widened to the estimate is returned
    and the method says why.
    """
    n_boot = len(boot)
    if not math.isfinite(theta) or n_boot == 0:
        return None
    tb = boot[np.isfinite(boot)]
    if len(tb) < min_defined * n_boot:
        return None
    alpha = (1.0 - level) / 2.0
    lo_pct, hi_pct = (float(v) for v in _quantiles(tb, np.array([alpha, 1.0 - alpha])))
    if np.allclose(tb, theta, rtol=1e-12, atol=1e-15):  # a constant statistic, up to rounding
        return Interval(low=theta, high=theta, level=level,
                        method=f"bootstrap-bca ({n_boot}): every resample equals the estimate")
    if tb.min() == tb.max():
        return _widened(theta, lo_pct, hi_pct, level, n_boot, "no spread in the resamples")
    below = (np.count_nonzero(tb < theta) + 0.5 * np.count_nonzero(tb == theta)) / len(tb)
    z0 = float(ndtri(below))
    ok = np.isfinite(jack)
    w = np.ones(len(jack)) if jack_weights is None else np.asarray(jack_weights, dtype=np.float64)
    jv, jw = np.asarray(jack, dtype=np.float64)[ok], w[ok]
    if not math.isfinite(z0) or jw.sum() <= 0:
        return _widened(theta, lo_pct, hi_pct, level, n_boot, "the estimate lies outside every resample")
    dev = np.sum(jw * jv) / jw.sum() - jv
    den = np.sum(jw * dev**2)
    accel = float(np.sum(jw * dev**3) / (6.0 * den**1.5)) if den > 0 else 0.0
    z = np.array([ndtri(alpha), ndtri(1.0 - alpha)])
    shifted = z0 + z
    denom = 1.0 - accel * shifted
    if np.any(denom <= 0):
        return _widened(theta, lo_pct, hi_pct, level, n_boot, f"acceleration {accel:.3g} too large")
    lo, hi = (float(v) for v in _quantiles(tb, ndtr(z0 + shifted / denom)))
    if not lo <= theta <= hi:
        return _widened(theta, lo_pct, hi_pct, level, n_boot,
                        f"BCa interval [{lo:.3g}, {hi:.3g}] excludes the estimate (bias z0 = {z0:.2f})")
    return Interval(low=lo, high=hi, level=level, method=f"bootstrap-bca ({n_boot})")


def _widened(theta: float, lo: float, hi: float, level: float, n_boot: int, why: str) -> Interval:
    return Interval(low=min(lo, theta), high=max(hi, theta), level=level,
                    method=f"bootstrap-percentile ({n_boot}) widened to the estimate (BCa not used: {why})")


def bca_counts(statistic: Callable[[np.ndarray], np.ndarray], counts: np.ndarray, n_boot: int,
               rng: np.random.Generator, level: float = 0.95) -> Interval | None:
    """BCa interval of a statistic of cell counts (``statistic`` maps (m, cells) counts to m values), from
    ``n_boot`` multinomial resamples and the exact leave-one-row-out jackknife."""
    counts = np.asarray(counts, dtype=np.int64)
    theta = float(statistic(counts[None, :])[0])
    jack, weights = jackknife_counts(counts)
    return bca_interval(theta, statistic(multinomial_bootstrap(counts, n_boot, rng)), statistic(jack), weights,
                        level)


def bootstrap_bca(data: tuple[np.ndarray, ...], statistic: Callable[..., Any], n_resamples: int,
                  rng: np.random.Generator, level: float = 0.95, **kwargs: Any) -> Interval | None:
    """BCa interval of a statistic of rows, by :func:`scipy.stats.bootstrap` (``method='BCa'``; ``statistic``
    must accept ``axis``, see scipy). Falls back to the percentile interval widened to the estimate when scipy's
    BCa is undefined (degenerate resamples: scipy warns and returns NaN) or misses the estimate."""
    import warnings

    from scipy.stats import bootstrap

    theta = float(statistic(*data, axis=-1))
    if not math.isfinite(theta):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DegenerateDataWarning: handled below
        res = bootstrap(data, statistic, n_resamples=n_resamples, confidence_level=level, method="BCa",
                        random_state=rng, **kwargs)
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if math.isfinite(lo) and math.isfinite(hi) and lo <= theta <= hi:
        return Interval(low=lo, high=hi, level=level, method=f"bootstrap-bca ({n_resamples})")
    dist = np.asarray(res.bootstrap_distribution, dtype=np.float64)
    dist = dist[np.isfinite(dist)]
    if len(dist) == 0:
        return None
    if dist.min() == dist.max() == theta:
        return Interval(low=theta, high=theta, level=level,
                        method=f"bootstrap-bca ({n_resamples}): every resample equals the estimate")
    alpha = (1.0 - level) / 2.0
    plo, phi = (float(v) for v in _quantiles(dist, np.array([alpha, 1.0 - alpha])))
    why = "undefined" if not (math.isfinite(lo) and math.isfinite(hi)) else f"[{lo:.3g}, {hi:.3g}] excludes it"
    return _widened(theta, plo, phi, level, n_resamples, f"scipy's BCa interval {why}")
