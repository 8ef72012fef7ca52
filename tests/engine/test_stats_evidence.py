"""trustaudit.stats: the intervals against statsmodels and scipy (test-only oracles) and by simulated coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from trustaudit import stats as S

statsmodels = pytest.importorskip("statsmodels.stats.proportion")
SIMS = 2000


def _sm_wilson(k, n, level=0.95):
    return statsmodels.proportion_confint(k, n, alpha=1 - level, method="wilson")


@pytest.mark.parametrize("n", [1, 7, 30, 300, 16281])
def test_wilson_agrees_with_statsmodels_and_scipy(n):
    for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
        lo, hi = S.wilson(k, n)
        assert (lo, hi) == pytest.approx(_sm_wilson(k, n), abs=1e-12)
        ci = binomtest(k, n).proportion_ci(method="wilson")
        assert (lo, hi) == pytest.approx((ci.low, ci.high), abs=1e-12)
        assert 0.0 <= lo <= k / n <= hi <= 1.0
    assert S.wilson(n, n)[1] == 1.0 and S.wilson(0, n)[0] == 0.0  # exactly, not 0.9999999999999998
    assert S.wilson(3, 10, 0.99) == pytest.approx(_sm_wilson(3, 10, 0.99), abs=1e-12)


@pytest.mark.parametrize(("k1", "n1", "k2", "n2"),
                         [(56, 70, 48, 80), (0, 70, 48, 80), (5, 5, 0, 9), (1, 3, 250, 600), (2586, 16281, 5525, 32561)])
def test_newcombe_agrees_with_statsmodels(k1, n1, k2, n2):
    want = statsmodels.confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff")
    lo, hi = S.newcombe(k1, n1, k2, n2)
    assert (lo, hi) == pytest.approx(tuple(float(x) for x in want), abs=1e-12)
    assert lo <= k1 / n1 - k2 / n2 <= hi


@pytest.mark.parametrize(("k1", "n1", "k2", "n2"), [(10, 100, 30, 100), (3, 40, 20, 50), (500, 2000, 900, 3000),
                                                    (0, 100, 30, 100), (40, 40, 12, 60)])
def test_ratio_interval_is_close_to_the_score_interval(k1, n1, k2, n2):
    """MOVER on the log scale with Wilson intervals vs statsmodels' score (Koopman) interval for p1 / p2."""
    lo, hi = S.ratio_interval(k1, n1, k2, n2)
    s_lo, s_hi = (float(x) for x in statsmodels.confint_proportions_2indep(k1, n1, k2, n2, method="score",
                                                                            compare="ratio"))
    assert lo <= (k1 / n1) / (k2 / n2) <= hi
    assert lo == pytest.approx(s_lo, rel=0.1, abs=1e-3) and hi == pytest.approx(s_hi, rel=0.1)


def test_empty_groups_have_no_value_no_interval_and_are_not_judged():
    assert S.wilson(0, 0) is None
    assert S.newcombe(3, 10, 0, 0) is None and S.newcombe(0, 0, 3, 10) is None
    assert S.ratio_interval(3, 10, 0, 10) is None  # p2 = 0: the ratio is undefined
    for m in (S.rate_metric("r", 0, 0), S.difference_metric("d", 1, 5, 0, 0)):
        assert m.value is None and m.ci is None and not m.judged and m.note.startswith(S.EMPTY_NOTE)
    m = S.rate_metric("r", 2, 8, note="why")
    assert m.value == 0.25 and m.judged and m.ci.method == "wilson" and m.note == "why"


def _coverage(hits: np.ndarray) -> tuple[float, float]:
    """Observed coverage and its simulation standard error."""
    c = float(np.mean(hits))
    return c, float(np.sqrt(0.95 * 0.05 / len(hits)))


@pytest.mark.parametrize(("n", "p"), [(30, 0.1), (100, 0.5), (300, 0.03), (2000, 0.2)])
def test_wilson_coverage_on_simulated_binomials(n, p):
    ks = np.random.default_rng(0).binomial(n, p, SIMS)
    hits = np.array([lo <= p <= hi for lo, hi in (S.wilson(int(k), n) for k in ks)])
    c, se = _coverage(hits)
    assert abs(c - 0.95) < 4 * se + 0.015, c  # Wilson's coverage oscillates around nominal by ~1-2 points


@pytest.mark.parametrize(("n1", "p1", "n2", "p2"), [(40, 0.2, 60, 0.3), (200, 0.05, 500, 0.08), (1000, 0.5, 300, 0.45)])
def test_difference_ratio_and_sum_coverage(n1, p1, n2, p2):
    rng = np.random.default_rng(1)
    k1, k2 = rng.binomial(n1, p1, SIMS), rng.binomial(n2, p2, SIMS)
    j1, j2 = rng.binomial(n2, p1, SIMS), rng.binomial(n1, p2, SIMS)  # a second independent difference
    diff, ratio, summed = [], [], []
    for a, b, c, d in zip(k1.tolist(), k2.tolist(), j1.tolist(), j2.tolist()):
        lo, hi = S.newcombe(a, n1, b, n2)
        diff.append(lo <= p1 - p2 <= hi)
        r = S.ratio_interval(a, n1, b, n2)
        ratio.append(r is not None and r[0] <= p1 / p2 <= r[1])
        d1, d2 = a / n1 - b / n2, c / n2 - d / n1
        lo, hi = S.mover_sum(d1, S.newcombe(a, n1, b, n2), d2, S.newcombe(c, n2, d, n1))
        summed.append(lo <= (p1 - p2) + (p1 - p2) <= hi)
    for name, hits in (("newcombe", diff), ("ratio", ratio), ("mover sum", summed)):
        c, se = _coverage(np.array(hits))
        assert c >= 0.95 - 4 * se - 0.015, (name, c)
        assert c <= 0.995, (name, c)  # not trivially wide


def test_bca_on_counts_equals_scipy_bca_on_rows():
    """A statistic of cell counts: multinomial draws + the grouped jackknife give scipy's BCa on the rows."""
    rng = np.random.default_rng(3)
    x = (rng.random(400) < 0.12).astype(float)
    counts = np.array([(x == 0).sum(), (x == 1).sum()])
    ours = S.bca_counts(lambda c: c[:, 1] / c.sum(axis=1), counts, 20000, np.random.default_rng(4))
    theirs = S.bootstrap_bca((x,), np.mean, 20000, np.random.default_rng(4))
    assert ours.method == theirs.method == "bootstrap-bca (20000)"
    assert (ours.low, ours.high) == pytest.approx((theirs.low, theirs.high), abs=0.004)
    # a non-linear statistic (odds), where the acceleration matters
    odds = S.bca_counts(lambda c: c[:, 1] / c[:, 0], counts, 20000, np.random.default_rng(5))
    ref = S.bootstrap_bca((x,), lambda v, axis: v.mean(axis=axis) / (1 - v.mean(axis=axis)), 20000,
                          np.random.default_rng(5))
    assert (odds.low, odds.high) == pytest.approx((ref.low, ref.high), rel=0.03)


def test_bca_degenerate_cases_contain_the_estimate():
    same = S.bca_interval(0.0, np.zeros(500), np.zeros(3))
    assert (same.low, same.high) == (0.0, 0.0) and "every resample equals the estimate" in same.method
    # the estimate below every resample (a non-negative statistic at 0): BCa's bias correction is infinite
    boot = np.random.default_rng(0).exponential(1e-6, 1000) + 1e-9
    out = S.bca_interval(0.0, boot, np.full(5, 1e-7))
    assert out.low == 0.0 <= out.high and "widened to the estimate" in out.method
    # fewer than 2.5% of resamples below the estimate: BCa's interval misses it
    boot = np.random.default_rng(1).normal(1.0, 0.1, 1000)
    theta = float(np.quantile(boot, 0.01))
    out = S.bca_interval(theta, boot, np.random.default_rng(2).normal(theta, 0.01, 50))
    assert out.low <= theta <= out.high and "excludes the estimate" in out.method
    assert S.bca_interval(0.5, np.full(1000, np.nan), np.zeros(3)) is None  # undefined in every resample
    rows = S.bootstrap_bca((np.ones(25),), np.mean, 500, np.random.default_rng(0))
    assert (rows.low, rows.high) == (1.0, 1.0)


def test_bca_contains_the_estimate_over_random_statistics():
    rng = np.random.default_rng(7)
    for _ in range(200):
        counts = rng.integers(0, 40, size=4)
        counts[rng.integers(0, 4)] += 1
        ci = S.bca_counts(lambda c: np.log1p(c[:, 0] * c[:, 3]) / (1 + c[:, 1] + c[:, 2]), counts, 300, rng)
        theta = float(np.log1p(counts[0] * counts[3]) / (1 + counts[1] + counts[2]))
        assert ci is not None and ci.low <= theta <= ci.high
