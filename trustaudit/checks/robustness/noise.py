"""Non-adversarial robustness: how often do predictions flip under random, realistic perturbations?

Two kinds of perturbation of a seeded sample of valid rows (see :mod:`.constraints`):

* **Gaussian noise** on every mutable numeric feature, with standard deviation ``sigma`` times the feature's own
  standard deviation, for each level ``sigma``; rows are then projected back to valid rows (integers rounded to
  the nearest integer, values clipped to the observed range, protected and immutable columns unchanged).
* **Random category changes**: in each row, ``categorical_changes`` mutable categorical columns take a different
  category, drawn with the frequencies observed in the evaluation data.

The flip rate is the fraction of rows whose predicted label differs from the clean prediction (Wilson interval;
for a multiclass model any change of the arg-max class counts, untargeted),
per level, under the random category changes, per categorical column (table) and per protected group (with the
gap between groups). What is computed is fixed by the parameters and the seed (one perturbed copy of the sample
per level and per categorical column); ``time_budget_s`` is only a safety stop, and a run that hits it judges
nothing.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec
from trustaudit.checks.robustness import _art
from trustaudit.checks.robustness._common import (
    audit_labels,
    fmt,
    group_metrics,
    predicted_labels,
    stop_note,
    write_curve_svg,
)
from trustaudit.checks.robustness.constraints import TabularSpace
from trustaudit.checks.robustness.spaces import build_space
from trustaudit.checks.robustness.stats import max_half_width, rate_metric
from trustaudit.context import AuditContext
from trustaudit.errors import SkipCheck
from trustaudit.results import Metric, Table


class NoiseParams(CheckParams):
    levels: tuple[float, ...] = Field(
        (0.05, 0.1, 0.25, 0.5),
        description="Gaussian noise levels: standard deviation of the noise in standard deviations of each feature",
    )
    categorical_changes: int = Field(1, ge=0, description="Categorical columns changed per row (0: no test)")
    n_samples: int = Field(20000, ge=10, description="Rows in the seeded, stratified sample (every evaluation row "
                           "up to this many; 20000 rows: every flip rate has a 95% interval of at most +-0.007)")
    group_level: float = Field(0.1, gt=0, description="Noise level at which per-group flip rates are reported")
    min_group_size: int = Field(30, ge=1, description="Groups smaller than this are reported but not judged")
    gap_half_width: float | None = Field(
        0.05, gt=0, description="A gap between groups whose 95% interval is wider than +-this is reported but not "
        "judged (too few rows in a group); None: judged whatever its width")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of the intervals")
    time_budget_s: float = Field(600.0, gt=0, description="Safety stop (wall time): a run that reaches it stops, "
                                 "reports what it measured and judges none of it")

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not v or any(s <= 0 for s in v):
            raise ValueError("levels must be positive numbers")
        return tuple(sorted(set(float(s) for s in v)))


def gaussian_rows(space: TabularSpace, Z0: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Valid rows: Gaussian noise (sigma sd) on the mutable numeric features, then projected."""
    noise = rng.normal(0.0, sigma, size=Z0.shape) * space.numeric_mutable
    return space.project(Z0 + noise, Z0)


def category_frequencies(space: TabularSpace, col: str) -> np.ndarray:
    """Observed frequency of each category of a one-hot group (plus the all-zero state of a dropped category),
    restricted to the categories the space can decode."""
    dims = space.groups[col]
    assert space.cat_freq is not None
    freq = np.where(space.selectable[dims], space.cat_freq[dims], 0.0)
    if col in space.zero_category:
        freq = np.append(freq, space.zero_freq.get(col, 0.0))
    return np.asarray(freq)


def change_category(space: TabularSpace, Z: np.ndarray, rows: np.ndarray, col: str,
                    rng: np.random.Generator) -> np.ndarray:
    """Give column ``col`` of ``rows`` a different category, drawn with the observed frequencies.
    Returns the rows that changed (a row whose category is the only one observed stays as it is)."""
    dims = space.groups[col]
    freq = category_frequencies(space, col)
    block = Z[rows][:, dims]
    k = len(dims)
    cur = block.argmax(axis=1)
    if len(freq) > k:
        cur = np.where(block.max(axis=1) < 0.5, k, cur)
    P = np.tile(freq, (len(rows), 1))
    P[np.arange(len(rows)), cur] = 0.0
    total = P.sum(axis=1)
    ok = total > 0
    P = P[ok] / total[ok, None]
    u = rng.random(int(ok.sum()))
    new = np.minimum((P.cumsum(axis=1) < u[:, None]).sum(axis=1), P.shape[1] - 1)
    out = np.zeros((int(ok.sum()), k))
    hit = new < k
    out[np.flatnonzero(hit), new[hit]] = 1.0
    target = rows[ok]
    Z[np.ix_(target, dims)] = out
    return target


def categorical_rows(space: TabularSpace, Z0: np.ndarray, changes: int, rng: np.random.Generator,
                     columns: list[str]) -> np.ndarray:
    """Valid rows where ``changes`` randomly chosen columns (of ``columns``) take another category."""
    Z = Z0.copy()
    n = len(Z)
    m = min(changes, len(columns))
    if m == 0:
        return Z
    picks = np.argsort(rng.random((n, len(columns))), axis=1)[:, :m]
    for j, col in enumerate(columns):
        rows = np.flatnonzero((picks == j).any(axis=1))
        if len(rows):
            change_category(space, Z, rows, col, rng)
    return space.project(Z, Z0)


class NoiseRobustnessCheck(Check):
    """Prediction flip rate under Gaussian noise and random categorical changes."""

    id = "robustness.noise"
    category = "robustness"
    title = "Robustness to random noise"
    version = "1.0"
    description = ("Fraction of predictions that flip under Gaussian noise on the mutable numeric features (per "
                   "level, in standard deviations per feature) and under random changes of mutable categorical "
                   "values, on valid rows; per categorical column (table) and per protected group.")
    Params = NoiseParams
    requires = frozenset({"model"})
    #: multiclass: a flip is any change of the arg-max class (untargeted)
    tasks = frozenset({"binary-classification", "multiclass-classification"})

    metrics = (
        MetricSpec("flip_rate",
                   "Share of rows whose predicted label flips under Gaussian noise of the level (sd per feature)",
                   direction="lower_is_better", unit="fraction", subject=("budget",)),
        MetricSpec("categorical_flip_rate",
                   "Share of rows whose label flips when this many categorical columns change value",
                   direction="lower_is_better", unit="fraction", subject=("budget",)),
        MetricSpec("group_flip_rate",
                   "Flip rate of a protected group at the group noise level",
                   direction="lower_is_better", unit="fraction", subject=("attribute", "group", "budget")),
        MetricSpec("group_categorical_flip_rate",
                   "Categorical flip rate of a protected group",
                   direction="lower_is_better", unit="fraction", subject=("attribute", "group", "budget")),
        MetricSpec("flip_rate_gap",
                   "Flip rate of the unprivileged group minus the privileged group's (Newcombe)",
                   direction="closer_to_zero", unit="fraction", subject=("attribute", "group", "reference", "budget")),
        MetricSpec("categorical_flip_rate_gap",
                   "Categorical flip rate of the unprivileged group minus the privileged group's",
                   direction="closer_to_zero", unit="fraction", subject=("attribute", "group", "reference", "budget")),
    )

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        # Native thread pools single-threaded: these checks make many small model calls, and OpenMP
        # oversubscription on a shared machine makes each call 10-100x slower (see _art.single_threaded).
        with _art.single_threaded():
            return self._run(ctx, params)

    def _run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        p: NoiseParams = params
        t0 = time.perf_counter()
        deadline = t0 + p.time_budget_s
        space = build_space(ctx, "free")
        cat_cols = [c for c, dims in space.groups.items() if space.mutable[dims].any()]
        if not space.numeric_mutable.any() and not cat_cols:
            raise SkipCheck("no input column may change: every column is protected, immutable or cannot be "
                            "mapped back to the model's input")
        level = p.confidence
        idx = ctx.sample(p.n_samples, self.id)
        Z0 = space.encode(idx)
        n = len(idx)
        # 1. every perturbed copy of the sample (seeded, one generator per perturbation)
        perturbed: list[tuple[str, Any, np.ndarray]] = [("clean", None, Z0)]
        stopped = False
        if space.numeric_mutable.any():
            for sigma in p.levels:
                if time.perf_counter() > deadline:
                    stopped = True
                    break
                perturbed.append(("gaussian", sigma,
                                  gaussian_rows(space, Z0, sigma, ctx.rng(f"{self.id}:gaussian:{sigma:g}"))))
        k_cols = min(p.categorical_changes, len(cat_cols))
        if k_cols and not stopped:
            perturbed.append(("categorical", k_cols, categorical_rows(space, Z0, p.categorical_changes,
                                                                      ctx.rng(f"{self.id}:categorical"),
                                                                      cat_cols)))
            for col in cat_cols:
                if time.perf_counter() > deadline:
                    stopped = True
                    break
                Zk = Z0.copy()
                change_category(space, Zk, np.arange(n), col, ctx.rng(f"{self.id}:column:{col}"))
                perturbed.append(("column", col, space.project(Zk, Z0)))
        # 2. all of them scored in one call by the fast path (estimator on the transformed matrix, or the model
        # on decoded columns); every flipped row is confirmed by the full model on the decoded DataFrame, and
        # any disagreement makes everything re-scored by the full model
        allZ = np.vstack([z for _, _, z in perturbed])
        base = np.tile(idx, len(perturbed))
        exact = space.fast_is_exact
        preds = predicted_labels(ctx, space, allZ, base, full_model=exact).reshape(len(perturbed), n)
        flipped = (preds[1:] != preds[0]).ravel()
        bad = 0
        if not exact:
            check = np.concatenate([np.arange(n), np.flatnonzero(flipped) + n])  # clean rows + flipped rows
            bad = int((predicted_labels(ctx, space, allZ[check], base[check], full_model=True)
                       != preds.ravel()[check]).sum())
            if bad:
                preds = predicted_labels(ctx, space, allZ, base, full_model=True).reshape(len(perturbed), n)
        scoring = {"scored_by": "full model" if exact or bad else space.fast_path_name,
                   "flipped_rows_verified_by_full_model": int(flipped.sum()), "disagreements": bad,
                   "rescored_by_full_model": bool(exact or bad)}
        clean = preds[0]
        mismatches = int((clean != audit_labels(ctx, idx)).sum())
        metrics: list[Metric] = []
        rows: list[list[Any]] = []
        flips: dict[float, np.ndarray] = {}
        cat_flip: np.ndarray | None = None
        per_column: list[list[Any]] = []
        for (kind, key, Zp), pred in zip(perturbed[1:], preds[1:]):
            flip = pred != clean
            changed = int((np.abs(Zp - Z0) > 1e-12).any(axis=1).sum())
            if kind == "column":
                per_column.append([key, changed, fmt(float(flip.sum() / n))])
                continue
            if kind == "gaussian":
                flips[key] = flip
                m = rate_metric("flip_rate", int(flip.sum()), n, level, subject=f"sigma={key:g}",
                                unit="fraction", note="Gaussian noise on numeric features", budget=float(key))
                label = f"gaussian sigma={key:g} sd"
            else:
                cat_flip = flip
                cat_key = float(key)
                m = rate_metric("categorical_flip_rate", int(flip.sum()), n, level,
                                subject=f"{key} column{'s' if key > 1 else ''}", unit="fraction", budget=cat_key,
                                note="random change of categorical values (observed frequencies)")
                label = f"{key} categorical column(s) changed"
            metrics.append(m)
            rows.append([label, n, changed, fmt(m.value), fmt(m.ci.low if m.ci else None),
                         fmt(m.ci.high if m.ci else None)])
        if stopped:  # levels the safety stop left out: reported without a value (and not judged)
            for sigma in p.levels:
                if sigma not in flips and space.numeric_mutable.any():
                    metrics.append(rate_metric("flip_rate", 0, 0, level, subject=f"sigma={sigma:g}",
                                               unit="fraction", budget=float(sigma)))
        tables = [Table(title="Prediction flip rate under random perturbations",
                        columns=["perturbation", "n", "rows changed", "flip rate", "ci low", "ci high"], rows=rows)]
        if per_column:
            tables.append(Table(title="Flip rate when one categorical column takes another category",
                                columns=["column", "rows changed", "flip rate"], rows=per_column))
        group_rows: list[list[Any]] = []
        gl = min(flips, key=lambda s: abs(s - p.group_level)) if flips else None
        ev = np.ones(n, dtype=bool)
        if gl is not None:
            ms, grows = group_metrics(ctx, idx, flips[gl], ev, rate_name="group_flip_rate", gap_name="flip_rate_gap",
                                      level=level, min_group_size=p.min_group_size, gap_half_width=p.gap_half_width,
                                      extra={"unit": "fraction", "budget": float(gl)})
            for m_ in ms:
                m_.note = f"Gaussian noise sigma={gl:g}" + (f"; {m_.note}" if m_.note else "")
            metrics += ms
            group_rows = [[a, g, n_, fmt(r)] for a, g, n_, r in grows]
        if cat_flip is not None:
            ms, grows = group_metrics(ctx, idx, cat_flip, ev, rate_name="group_categorical_flip_rate",
                                      gap_name="categorical_flip_rate_gap", level=level,
                                      min_group_size=p.min_group_size, gap_half_width=p.gap_half_width,
                                      extra={"unit": "fraction", "budget": cat_key})
            metrics += ms
            if group_rows:
                for r, (_, _, _, rate) in zip(group_rows, grows):
                    r.append(fmt(rate))
            else:
                group_rows = [[a, g, n_, None, fmt(r)] for a, g, n_, r in grows]
        if group_rows:
            tables.append(Table(title="Flip rate by protected group",
                                columns=["attribute", "group", "n",
                                         f"gaussian sigma={gl:g}" if gl is not None else "gaussian",
                                         "categorical"][: len(group_rows[0])], rows=group_rows))
        artifacts = []
        if flips:
            xs = list(flips)
            ms_ = [m for m in metrics if m.name == "flip_rate"]
            a = write_curve_svg(ctx, "robustness_noise_flip_rate.svg", "Prediction flip rate under Gaussian noise",
                                "noise level (sd per feature)", "flip rate",
                                [("flip rate", xs, [m.value for m in ms_],
                                  [(m.ci.low, m.ci.high) if m.ci else None for m in ms_])])
            if a is not None:
                artifacts.append(a)
        elapsed = time.perf_counter() - t0
        parts = [f"{m.subject}: {m.value:.1%}" for m in metrics if m.name == "flip_rate" and m.value is not None]
        summary = f"flip rate on {n} rows under Gaussian noise " + ", ".join(parts) if parts else f"{n} rows"
        if cat_flip is not None:
            summary += f"; under a random category change {float(cat_flip.mean()):.1%}"
        warnings: list[str] = []
        if stopped:
            summary += " (stopped early by the safety stop: not judged)"
            stop_note(metrics, warnings, elapsed, p.time_budget_s)
        if mismatches:
            warnings.append(f"{mismatches} sample rows are predicted differently through the encoding than in the "
                            "audit (missing numeric values are imputed by the encoding)")
        evidence = {
            "space": space.mode,
            "n_sample": n,
            "levels": list(p.levels),
            "levels_done": list(flips),
            "max_half_width": fmt(max_half_width(n, level), 6),
            "units": "noise standard deviation in standard deviations of each numeric feature (evaluation data)",
            "numeric_columns_perturbed": sorted({space.source[j] for j in np.flatnonzero(space.numeric_mutable)}),
            "categorical_columns_changed": cat_cols,
            "categorical_changes_per_row": min(p.categorical_changes, len(cat_cols)),
            "fixed_columns": {k: v for k, v in sorted(space.fixed.items())},
            "group_level": gl,
            "clean_prediction_mismatches": mismatches,
            "scoring": scoring,
            "stopped_early": stopped,
            "elapsed_s": round(elapsed, 3),
            "time_budget_s": p.time_budget_s,
            "seed": ctx.seed,
        }
        if ctx.task == "multiclass-classification":
            evidence["flip"] = "any change of the arg-max class (untargeted)"
            evidence["classes"] = list(ctx.classes)
        return CheckOutput(metrics=metrics, summary=summary, tables=tables, evidence=evidence,
                           artifacts=artifacts, warnings=warnings)
