"""Wilson, Newcombe and median intervals against scipy and published values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from trustaudit.checks.robustness.stats import (
    difference_metric,
    median_interval,
    newcombe,
    rate_metric,
    wilson,
)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (5, 10), (10, 10), (1, 37), (859, 1000), (3, 3)])
def test_wilson_matches_scipy(k, n):
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson(k, n, 0.95)
    assert lo == pytest.approx(ref.low, abs=1e-12)
    assert hi == pytest.approx(ref.high, abs=1e-12)


def test_wilson_other_level_and_empty():
    ref = binomtest(7, 40).proportion_ci(confidence_level=0.9, method="wilson")
    assert wilson(7, 40, 0.9) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert wilson(0, 0) is None


def test_newcombe_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873-890, table II example (56/70 vs 48/80): method 10 gives
    # 0.0524 to 0.3339 for the difference 0.2.
    lo, hi = newcombe(56, 70, 48, 80, 0.95)
    assert lo == pytest.approx(0.0524, abs=5e-4)
    assert hi == pytest.approx(0.3339, abs=5e-4)
    assert newcombe(1, 5, 0, 0) is None


def test_median_interval_ranks_and_coverage():
    v = np.arange(1, 51, dtype=float)  # n = 50: the distribution-free 95% interval is [x_(18), x_(33)]
    med, lo, hi = median_interval(v, 0.95)
    assert med == 25.5
    assert (lo, hi) == (18.0, 33.0)
    l_rank = 18
    assert 1 - 2 * binom.cdf(l_rank - 1, 50, 0.5) >= 0.95
    assert 1 - 2 * binom.cdf(l_rank, 50, 0.5) < 0.95  # the next rank in would not cover
    # censored values (no adversarial example): +inf stays +inf
    med, lo, hi = median_interval(np.array([0.1, 0.2, np.inf, np.inf, np.inf]), 0.95)
    assert med == np.inf and hi == np.inf


def test_metric_helpers():
    m = rate_metric("attack_success_rate", 3, 12, 0.95, subject="eps=0.1")
    assert m.value == 0.25 and m.n == 12 and m.ci is not None and m.ci.method == "wilson"
    empty = rate_metric("x", 0, 0)
    # one empty-group rule for every family (trustaudit.stats): no value, no interval, not judged
    assert empty.value is None and empty.ci is None and not empty.judged and empty.note.startswith("no rows")
    empty_gap = difference_metric("gap", 0, 0, 3, 10)
    assert empty_gap.value is None and empty_gap.ci is None and not empty_gap.judged
    d = difference_metric("gap", 56, 70, 48, 80)
    assert d.value == pytest.approx(0.2) and d.n == 150 and d.ci is not None
