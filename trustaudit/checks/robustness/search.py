"""A batched, score-based search for valid adversarial rows, for models without gradients (tree ensembles,
ONNX, boosters, any ``predict_proba``).

Why not ART: ART's decision-based attacks (HopSkipJump, Boundary, SignOPT, GeoDA) attack one row at a time with
about a hundred *sequential* model calls per row, so their cost is the model's per-call latency times the rows
(HopSkipJump took 0.1-1 s per row on the sample bundles: minutes for the several hundred rows a +-0.05 interval
needs); its score-based SquareAttack and SimBA only take image-shaped inputs, and ZOO's finite differences see no
gradient on a piecewise-constant tree ensemble. This search makes the same kind of queries (the real model's
class probabilities on valid rows), but for every attacked row at once: each step is one model call on
thousands of candidate rows.

For each budget ``eps`` (ascending), over the rows not yet broken within ``eps``:

1. **structured candidates**: every corner of the L-infinity box of the mutable numeric features (``2^k`` sign
   patterns; ``corners`` random patterns when there are more) and every single-feature move to ``+-eps``. On a
   monotone model (a linear one) the best corner is the optimal L-infinity attack, so the search finds what FGSM
   finds; the best candidate (lowest margin) of each row, or the best point of the previous budget, is its start;
2. **random search** on the margin ``p(true class) - p(other class)`` (multiclass: the largest other class's
   probability, an untargeted margin) (as in Square Attack, Andriushchenko et al.
   2020): each step proposes ``candidates`` rows per attacked row, each changing a random number of mutable
   features of the current point to a random face value (``+-eps``) or a uniform value in the box (a mutable
   categorical column, with ``categorical: free``, to a random observed category), and keeps the best one when
   it lowers the margin; a row stops when it is adversarial;
3. **refinement**: each adversarial row found is moved back toward the original row by bisection on the segment
   between them (``refine_steps`` model calls), so its distance is close to the smallest along that direction.

Every candidate is projected to a valid row (:meth:`TabularSpace.project`: protected and immutable columns
fixed, one-hot kept, integers integers, observed ranges, change within the budget) *before* it is scored. The
work is a count fixed by the parameters: per attacked row and budget, ``queries`` model evaluations at most
(structured candidates first, then ``candidates`` per step), plus ``refine_steps`` per adversarial row found.
Random draws come from the audit's seeded generators, one per budget; nothing depends on the clock except the
safety stop (``deadline``), which the caller reports as such.

What it finds: a valid adversarial row within the budget for rows whose decision flips at a corner, along one
feature, or somewhere the random search reaches within its queries. What it misses: small regions of the box
that no candidate lands in (a tree ensemble can have those). Every row it reports is adversarial for the real
model, so its attack success rate is a lower bound on the true one, and adversarial accuracy an upper bound on
robust accuracy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trustaudit.checks.robustness.constraints import TabularSpace
from trustaudit.context import report_progress


@dataclass
class SearchResult:
    """Per attacked row (positions in ``rows``): the closest adversarial point found (subspace), its numeric
    distance (inf: none found) and the count of model evaluations."""

    rows: np.ndarray  # sample positions of the attacked rows
    dist: np.ndarray
    points: np.ndarray  # subspace points (the clean row where nothing was found)
    found_at: np.ndarray  # budget of the search that found the row (nan: none)
    queries: np.ndarray  # model evaluations per attacked row
    stopped_early: bool = False
    per_budget: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Problem:
    space: TabularSpace
    sub: TabularSpace
    mut: np.ndarray
    Z0: np.ndarray  # full rows of the attacked rows
    S0: np.ndarray  # their mutable dims
    base: np.ndarray  # evaluation row of each attacked row
    label: np.ndarray  # class index (model order) of the true label
    numpos: np.ndarray  # numeric positions in the subspace
    groups: list[np.ndarray]  # one-hot groups (subspace positions) an attack may change
    choices: list[np.ndarray]  # per group: the selectable positions
    grids: list[np.ndarray]  # per numeric position: sorted values observed in the data (z units)

    def score(self, S: np.ndarray, who: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(margin, adversarial) of subspace points ``S`` of attacked rows ``who`` by the fast path."""
        if not len(S):
            return np.zeros(0), np.zeros(0, dtype=bool)
        Z = self.Z0[who].copy()
        Z[:, self.mut] = S
        proba = self.space.predict_proba(Z, self.base[who])
        lab = self.label[who]
        r = np.arange(len(S))
        if proba.shape[1] == 2:
            margin = proba[r, lab] - proba[r, 1 - lab]
        else:  # multiclass, untargeted: p(true class) - the largest probability of any other class
            other = proba.copy()
            other[r, lab] = -np.inf
            margin = proba[r, lab] - other.max(axis=1)
        return margin, proba.argmax(axis=1) != lab


def _corners(k: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Sign patterns of the corners of a k-dimensional box: all 2^k when that is at most ``limit``, else
    ``limit`` random ones (without repeats when possible)."""
    if k == 0:
        return np.zeros((0, 0))
    if 2 ** k <= limit:
        grid = (np.arange(2 ** k)[:, None] >> np.arange(k)[None, :]) & 1
        return np.asarray(grid * 2.0 - 1.0)
    return np.asarray(rng.choice([-1.0, 1.0], size=(limit, k)))


def search_attack(space: TabularSpace, Z0: np.ndarray, base: np.ndarray, label: np.ndarray,
                  budgets: tuple[float, ...], *, queries: int, candidates: int, corners: int, refine_steps: int,
                  rngs: dict[float, np.random.Generator], deadline: float,
                  grids: dict[int, np.ndarray] | None = None) -> SearchResult:
    """Search each row of ``Z0`` (full encoded rows, all to be attacked; ``label``: class index of the true
    label) at each budget; see the module docstring."""
    mut = np.flatnonzero(space.mutable)
    sub = space.subspace(mut)
    numpos = np.flatnonzero(~sub.is_cat)
    groups = [g for g in sub.groups.values() if sub.mutable[g].any()]
    choices = [g[sub.selectable[g]] for g in groups]
    m = len(Z0)
    S0 = np.asarray(Z0[:, mut], dtype=np.float64)
    grid_list = [np.sort(np.asarray((grids or {}).get(int(mut[j]), np.zeros(0)), dtype=np.float64))
                 for j in numpos]
    prob = _Problem(space, sub, mut, Z0, S0, np.asarray(base), np.asarray(label), numpos, groups, choices,
                    grid_list)
    res = SearchResult(rows=np.arange(m), dist=np.full(m, np.inf), points=S0.copy(),
                       found_at=np.full(m, np.nan), queries=np.zeros(m, dtype=np.int64))
    if m == 0 or not len(mut):
        return res
    everyone = np.arange(m)
    cur_margin, _ = prob.score(S0, everyone)  # the clean rows: where each row's search starts
    res.queries += 1
    cur = S0.copy()
    for done, eps in enumerate(budgets):
        report_progress(done, len(budgets), "budgets")
        if time.perf_counter() > deadline:
            res.stopped_early = True
            break
        rng = rngs[eps]
        active = np.flatnonzero(res.dist > eps + 1e-12)
        stats: dict[str, Any] = {"budget": eps, "rows": len(active), "found": 0}
        if not len(active):
            res.per_budget.append(stats)
            continue
        spent = np.zeros(m, dtype=np.int64)
        found = np.zeros(m, dtype=bool)
        hit_point = np.zeros_like(S0)
        # 1. structured candidates: corners and single-feature moves of the box
        k = len(numpos)
        signs = _corners(k, corners, rng)
        axis = np.vstack([np.eye(k), -np.eye(k)]) if k else np.zeros((0, 0))
        pattern = np.vstack([signs, axis]) if k else np.zeros((0, 0))
        if len(pattern):
            pattern = pattern[: max(queries - 1, 1)]
            c = len(pattern)
            who = np.repeat(active, c)
            S = np.repeat(S0[active], c, axis=0)
            S[:, numpos] += eps * np.tile(pattern, (len(active), 1))
            S = sub.project(S, S0[who], budget=eps)
            mg, adv = prob.score(S, who)
            spent[active] += c
            _keep_best(cur, cur_margin, found, hit_point, S, mg, adv, who, sub.numeric_distance(S, S0[who]))
        # 2. random search from the best point so far
        step_c = max(1, candidates)
        step = 0
        while True:
            todo = active[~found[active] & (spent[active] + step_c <= queries)]
            if not len(todo):
                break
            if time.perf_counter() > deadline:
                res.stopped_early = True
                break
            who = np.repeat(todo, step_c)
            line = step % 3 != 2 and len(numpos) > 0
            S = (_line(prob, cur[who], S0[who], eps, rng, step_c) if line
                 else _propose(prob, cur[who], S0[who], eps, rng))
            step += 1
            S = sub.project(S, S0[who], budget=eps)
            mg, adv = prob.score(S, who)
            spent[todo] += step_c
            _keep_best(cur, cur_margin, found, hit_point, S, mg, adv, who, sub.numeric_distance(S, S0[who]))
        res.queries += spent
        # 3. refinement toward the original row, then record
        new = np.flatnonzero(found)
        if len(new):
            pts, used = _refine(prob, new, hit_point[new], refine_steps)
            res.queries[new] += used
            d = sub.numeric_distance(pts, S0[new])
            better = d < res.dist[new]
            res.dist[new[better]] = d[better]
            res.points[new[better]] = pts[better]
            res.found_at[new[better]] = eps
        stats["found"] = len(new)
        stats["queries"] = int(spent.sum())
        res.per_budget.append(stats)
        if res.stopped_early:
            break
    return res


def _keep_best(cur: np.ndarray, cur_margin: np.ndarray, found: np.ndarray, hit_point: np.ndarray,
               S: np.ndarray, mg: np.ndarray, adv: np.ndarray, who: np.ndarray, dist: np.ndarray) -> None:
    """Per attacked row: move its current point to its best candidate when that lowers the margin (an
    adversarial candidate always wins), and remember its first adversarial candidate."""
    # adversarial candidates first, the closest of them first (the numeric distance is below 1e6 sd)
    key = np.where(adv, -1e6 + dist, mg)
    order = np.lexsort((key, who))  # by row, best first (stable: the first of equal candidates)
    first = np.ones(len(order), dtype=bool)
    first[1:] = who[order][1:] != who[order][:-1]
    pick = order[first]
    rows = who[pick]
    improve = (key[pick] < cur_margin[rows]) | (adv[pick] & ~found[rows])
    rows, pick = rows[improve], pick[improve]
    cur[rows] = S[pick]
    cur_margin[rows] = np.where(adv[pick], -np.inf, mg[pick])
    newly = adv[pick] & ~found[rows]
    hit_point[rows[newly]] = S[pick[newly]]
    found[rows[newly]] = True


def _propose(prob: _Problem, cur: np.ndarray, S0: np.ndarray, eps: float, rng: np.random.Generator) -> np.ndarray:
    """One candidate per row: a random number of the mutable features (numeric dims and one-hot groups) of the
    current point take a random value of the box (a face, +-eps, or a uniform draw) or a random category."""
    n = len(cur)
    S = cur.copy()
    k, g = len(prob.numpos), len(prob.groups)
    units = k + g
    count = rng.integers(1, units + 1, size=n)
    keys = rng.random((n, units))
    rank = np.argsort(np.argsort(keys, axis=1), axis=1)
    chosen = rank < count[:, None]
    if k:
        face = rng.random((n, k)) < 0.5
        sign = rng.choice([-1.0, 1.0], size=(n, k))
        uni = rng.uniform(-1.0, 1.0, size=(n, k))
        step = np.where(face, sign, uni) * eps
        num = S0[:, prob.numpos] + step
        S[:, prob.numpos] = np.where(chosen[:, :k], num, S[:, prob.numpos])
    for j, (grp, options) in enumerate(zip(prob.groups, prob.choices)):
        if not len(options):
            continue
        pick = options[rng.integers(0, len(options), size=n)]
        rows = np.flatnonzero(chosen[:, k + j])
        block = np.zeros((len(rows), len(grp)))
        block[np.arange(len(rows)), np.searchsorted(grp, pick[rows])] = 1.0
        S[np.ix_(rows, grp)] = block
    return S


def _line(prob: _Problem, cur: np.ndarray, S0: np.ndarray, eps: float, rng: np.random.Generator,
          c: int) -> np.ndarray:
    """A line scan per row (``c`` consecutive candidates each): one random mutable numeric feature of the current
    point takes ``c`` values of its budget range: values observed in the data inside the range (all of them when
    they are at most ``c``, else a stratified subset), the rest spread over the range (stratified, random
    offset). A tree ensemble is piecewise constant along each feature with its splits between observed values,
    so scanning one feature at a time over observed values finds the narrow intervals (e.g. one capital-gain
    amount) that random points in the whole box rarely hit."""
    n = len(cur) // c
    S = cur.copy()
    which = rng.integers(0, len(prob.numpos), size=n)
    feat = prob.numpos[which]
    z0 = S0[::c][np.arange(n), feat]
    u = -1.0 + 2.0 * (np.arange(c)[None, :] + rng.random((n, 1))) / c  # stratified over [-1, 1)
    vals = z0[:, None] + eps * u
    offset = rng.random(n)
    for w in np.unique(which):
        g = prob.grids[int(w)]
        if not len(g):
            continue
        sel = np.flatnonzero(which == w)
        lo = np.searchsorted(g, z0[sel] - eps - 1e-12, side="left")
        hi = np.searchsorted(g, z0[sel] + eps + 1e-12, side="right")
        m = hi - lo
        slots = np.arange(c)[None, :]
        take = np.minimum(m, c)[:, None]
        pos = lo[:, None] + np.where(m[:, None] <= c, slots,
                                     np.floor((slots + offset[sel][:, None]) * m[:, None] / c).astype(np.int64))
        pos = np.minimum(pos, len(g) - 1)
        vals[sel] = np.where(slots < take, g[pos], vals[sel])
    rows = np.arange(n * c)
    cols = np.repeat(feat, c)
    S[rows, cols] = vals.ravel()
    return S


def _refine(prob: _Problem, who: np.ndarray, adv: np.ndarray, steps: int) -> tuple[np.ndarray, int]:
    """Bisection on the segment from the clean row to each adversarial point: the point closest to the clean row
    that is still adversarial after projection. Returns the points and the model evaluations per row."""
    S0 = prob.S0[who]
    best = adv.copy()
    best_d = prob.sub.numeric_distance(best, S0)
    lo = np.zeros(len(who))
    hi = np.ones(len(who))
    for _ in range(steps):
        mid = (lo + hi) / 2.0
        P = prob.sub.project(S0 + mid[:, None] * (adv - S0), S0)
        _, is_adv = prob.score(P, who)
        hi = np.where(is_adv, mid, hi)
        lo = np.where(is_adv, lo, mid)
        d = prob.sub.numeric_distance(P, S0)
        closer = is_adv & (d <= best_d)
        best[closer] = P[closer]
        best_d[closer] = d[closer]
    return best, steps
