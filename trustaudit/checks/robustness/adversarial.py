"""Adversarial robustness: how much must a valid row change before the model's correct decision flips?

The attack is chosen by what the model allows:

* **gradient** - LogisticRegression and SVC final estimators of scikit-learn pipelines: white-box FGSM and PGD
  (L-infinity) at each budget, with ART's scikit-learn wrappers.
* **tree** - a DecisionTreeClassifier final estimator: ART's DecisionTreeAttack.
* **search** - everything else (HistGradientBoosting, random forests, ONNX, XGBoost, LightGBM, any
  predict_proba): a batched score-based search of the valid perturbation space (:mod:`.search`), scored by the
  real model, with a fixed number of model queries per row and budget.
* **blackbox** - on request only: ART's HopSkipJump, a decision-based attack, on ``BlackBoxClassifier``, one row
  at a time with a per-row query budget (0.1-1 s per row: for small samples).

What is computed is fixed by the parameters and the seed: the rows (a seeded stratified sample, grown until the
correctly classified rows give every attack success rate a 95% interval no wider than +-``target_half_width``),
the queries, iterations and candidates per row. ``time_budget_s`` is only a safety stop: a run that hits it says
so and none of its metrics is judged.

Rows are perturbed in the standardised space of :mod:`.constraints` (budgets in standard deviations of each
numeric feature), projected back to valid rows (protected and immutable columns unchanged, one-hot groups one-hot,
integers integers, values inside the observed range, changes within the budget) and scored by the real model.
Only rows the model classifies correctly are attacked; a row counts as broken at budget eps when a valid
adversarial row within eps was found. The decision-based attacks return a minimal perturbation per row, from
which the whole curve follows (broken at eps <=> minimal perturbation <= eps).

Multiclass models (``task: multiclass-classification``): success is untargeted, any change of the arg-max class
away from the true class. The labels are class indices in the model's order (one-hot over every class for FGSM and
PGD), the search lowers ``p(true) - max p(other)``, and every adversarial row is confirmed by the full model as
not predicting the true class. HopSkipJump (``method: blackbox``) stays binary-only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec
from trustaudit.checks.robustness import _art
from trustaudit.checks.robustness._common import (
    MULTICLASS,
    audit_labels,
    fmt,
    group_metrics,
    predicted_labels,
    stop_note,
    write_curve_svg,
)
from trustaudit.checks.robustness.constraints import TabularSpace
from trustaudit.checks.robustness.search import search_attack
from trustaudit.checks.robustness.spaces import build_space
from trustaudit.checks.robustness.stats import (
    interval,
    max_half_width,
    median_interval,
    rate_metric,
    rows_for_half_width,
)
from trustaudit.context import AuditContext, report_progress
from trustaudit.errors import SkipCheck
from trustaudit.results import Metric, Table

Method = Literal["gradient", "tree", "search", "blackbox"]


class AdversarialParams(CheckParams):
    budgets: tuple[float, ...] = Field(
        (0.05, 0.1, 0.25, 0.5, 1.0),
        description="Perturbation budgets: the largest change of each mutable numeric feature, in standard "
        "deviations of that feature (L-infinity)",
    )
    method: Literal["auto", "gradient", "tree", "search", "blackbox"] = Field(
        "auto", description="auto: gradient attacks (FGSM + PGD) where ART has gradients, DecisionTreeAttack for a "
        "decision tree, the batched search otherwise; blackbox: ART's HopSkipJump (on request: slow per row)"
    )
    categorical: Literal["fixed", "free"] = Field(
        "fixed", description="fixed: categorical columns never change; free: mutable categorical columns may "
        "take any observed category at no cost to the budget"
    )
    n_samples: int | None = Field(
        None, ge=10, description="Rows sampled for the gradient, tree and search attacks, grown when needed to "
        "reach target_half_width; None: 20000 for the gradient and tree attacks (cheap: every row of most "
        "evaluation sets, so their results do not depend on the seed), 500 for the search")
    target_half_width: float | None = Field(
        0.025, gt=0, lt=0.5, description="The sample (gradient, tree and search attacks) is grown until it holds "
        "enough correctly classified rows for every attack success rate to have a Wilson interval of at most this "
        "half-width (1533 rows for 0.025 at 95%, 381 for 0.05); None: exactly n_samples rows")
    search_queries: int = Field(100, ge=2, description="Search: model evaluations per attacked row and budget "
                                "(structured candidates, then random-search steps)")
    search_candidates: int = Field(16, ge=1, description="Search: candidates per row and random-search step")
    search_corners: int = Field(64, ge=1, description="Search: corners of the budget box tried per row (all 2^k "
                                "for k mutable numeric features when 2^k is at most this, else this many at random)")
    refine_steps: int = Field(8, ge=0, description="Search: bisection steps moving each adversarial row back "
                              "toward the original row")
    n_blackbox: int = Field(40, ge=5, description="Rows attacked by HopSkipJump (method: blackbox)")
    pgd_steps: int = Field(10, ge=1, le=1000, description="PGD iterations (step = 2.5 * eps / steps)")
    hsj_max_iter: int = Field(10, ge=1, le=1000, description="HopSkipJump iterations per row")
    hsj_max_eval: int = Field(100, ge=1, description="HopSkipJump: largest number of gradient-estimation queries")
    hsj_init_eval: int = Field(10, ge=1, description="HopSkipJump: first number of gradient-estimation queries")
    hsj_init_size: int = Field(100, ge=1, description="Random draws to find a starting adversarial row")
    max_queries: int = Field(2000, ge=10, description="HopSkipJump: model queries allowed per row")
    group_budget: float = Field(0.25, gt=0, description="Budget at which per-group metrics are reported")
    min_group_size: int = Field(30, ge=1, description="Groups smaller than this are reported but not judged")
    gap_half_width: float | None = Field(
        0.05, gt=0, description="A gap between groups whose 95% interval is wider than +-this is reported but not "
        "judged (too few rows in a group); None: judged whatever its width")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of the intervals")
    time_budget_s: float = Field(600.0, gt=0, description="Safety stop (wall time): a run that reaches it stops, "
                                 "reports what it measured and judges none of it")

    @field_validator("budgets")
    @classmethod
    def _budgets(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not v or any(b <= 0 for b in v):
            raise ValueError("budgets must be positive numbers")
        return tuple(sorted(set(float(b) for b in v)))


@dataclass
class _AttackResult:
    broken: dict[float, np.ndarray]  # budget -> per sample row: a valid adversarial row within the budget
    evaluated: np.ndarray  # per sample row: counted in the metrics
    adv: dict[float, np.ndarray]  # budget -> Z of the adversarial rows (rows where broken; else the clean row)
    dist: np.ndarray | None = None  # decision-based: minimal numeric perturbation per row (inf: none found)
    attacked: np.ndarray | None = None  # decision-based: rows the attack ran on
    curves: dict[str, dict[float, np.ndarray]] = field(default_factory=dict)  # per attack (gradient)
    projected: dict[str, dict[float, np.ndarray]] = field(default_factory=dict)  # attack -> budget -> valid rows
    rows: np.ndarray | None = None  # sample positions of the rows in ``projected`` (the attacked rows)
    budgets_done: list[float] = field(default_factory=list)
    stopped_early: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)
    scoring: dict[str, Any] = field(default_factory=dict)


def choose_method(space: TabularSpace, requested: str) -> Method:
    """The attack for this model: 'gradient', 'tree' or 'blackbox'."""
    est = space._estimator if space.mode == "sklearn" else None
    has_grad = est is not None and _art.gradient_kind(est) is not None
    is_tree = est is not None and _art.is_decision_tree(est)
    if requested == "auto":
        return "gradient" if has_grad else "tree" if is_tree else "search"
    if requested == "gradient" and not has_grad:
        raise SkipCheck("method 'gradient' needs a scikit-learn LogisticRegression or SVC final estimator "
                        "(ART has loss gradients only for those); use method: auto, search or blackbox")
    if requested == "tree" and not is_tree:
        raise SkipCheck("method 'tree' needs a scikit-learn DecisionTreeClassifier final estimator "
                        "(ART's DecisionTreeAttack); use method: auto, search or blackbox")
    return requested  # type: ignore[return-value]


class AdversarialRobustnessCheck(Check):
    """Adversarial accuracy and attack success rate per budget, on valid tabular rows, with ART."""

    id = "robustness.adversarial"
    category = "robustness"
    title = "Adversarial robustness"
    version = "1.0"
    description = ("Clean accuracy, adversarial accuracy and attack success rate at a grid of budgets (standard "
                   "deviations per feature, L-infinity) on valid rows only, under ART's FGSM + PGD (gradients), "
                   "ART's DecisionTreeAttack (a decision tree) or a batched score-based search (other models); "
                   "median smallest perturbation found; per-group rates at one budget.")
    Params = AdversarialParams
    requires = frozenset({"model"})
    #: multiclass: untargeted success (the arg-max class moves away from the true class)
    tasks = frozenset({"binary-classification", "multiclass-classification"})

    metrics = (
        MetricSpec("clean_accuracy",
                   "Accuracy on the attacked sample before any perturbation (Wilson)",
                   direction="higher_is_better"),
        MetricSpec("adversarial_accuracy",
                   "Share of the attacked sample still classified correctly under the strongest valid attack found at a budget",
                   direction="higher_is_better", unit="fraction", subject=("budget",)),
        MetricSpec("attack_success_rate",
                   "Share of correctly classified attacked rows whose decision a valid perturbation within the budget flips",
                   direction="lower_is_better", unit="fraction", subject=("budget",)),
        MetricSpec("group_adversarial_accuracy",
                   "Adversarial accuracy of a protected group at the group budget",
                   direction="higher_is_better", unit="fraction", subject=("attribute", "group", "budget")),
        MetricSpec("group_attack_success_rate",
                   "Attack success rate of a protected group at the group budget",
                   direction="lower_is_better", unit="fraction", subject=("attribute", "group", "budget")),
        MetricSpec("adversarial_accuracy_gap",
                   "Adversarial accuracy of the unprivileged group minus the privileged group's (Newcombe)",
                   direction="closer_to_zero", unit="fraction", subject=("attribute", "group", "reference", "budget")),
        MetricSpec("attack_success_rate_gap",
                   "Attack success rate of the unprivileged group minus the privileged group's (Newcombe)",
                   direction="closer_to_zero", unit="fraction", subject=("attribute", "group", "reference", "budget")),
        MetricSpec("median_minimal_perturbation",
                   "Median over attacked rows of the smallest valid adversarial perturbation found (an upper bound)",
                   direction="higher_is_better", unit="sd (L-infinity over numeric features)"),
        MetricSpec("attack_found_rate",
                   "Share of attacked rows for which the attack found a valid adversarial row at any budget",
                   direction="lower_is_better"),
    )

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        # Native thread pools single-threaded: these checks make many small model calls, and OpenMP
        # oversubscription on a shared machine makes each call 10-100x slower (see _art.single_threaded).
        with _art.single_threaded():
            return self._run(ctx, params)

    def widened(self, ctx: AuditContext, params: Any) -> dict[str, Any] | None:
        """Every evaluation row, when the sampled attacks did not already attack every row (HopSkipJump, one
        row at a time, does not grow: it is opt-in and meant for small samples)."""
        p: AdversarialParams = params
        method = choose_method(build_space(ctx, p.categorical), p.method)
        if method == "blackbox" or len(attack_sample(ctx, p, method)) >= ctx.n_rows:
            return None
        return {"n_samples": ctx.n_rows}

    def _run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        p: AdversarialParams = params
        t0 = time.perf_counter()
        r = attack(ctx, p, deadline=t0 + p.time_budget_s)
        return _report(ctx, r, p, t0)


@dataclass
class AttackRun:
    """Everything one run of the adversarial check measured (kept for tests and the benchmark)."""

    space: TabularSpace
    method: Method
    idx: np.ndarray  # evaluation rows of the sample
    Z0: np.ndarray  # their clean encoding
    y: np.ndarray  # true labels (1 = favourable; multiclass: class index in the model's order, -1 if unknown)
    correct: np.ndarray  # clean prediction == label
    mismatches: int  # clean predictions through the space that differ from the audit's
    result: _AttackResult


def attack(ctx: AuditContext, p: AdversarialParams, deadline: float | None = None) -> AttackRun:
    """Sample, encode and attack; the measurements behind :class:`AdversarialRobustnessCheck`."""
    with _art.single_threaded():
        return _attack(ctx, p, deadline if deadline is not None else time.perf_counter() + p.time_budget_s)


def _attack(ctx: AuditContext, p: AdversarialParams, deadline: float) -> AttackRun:
    _art.import_art()
    space = build_space(ctx, p.categorical)
    if not space.mutable.any():
        raise SkipCheck("no input column may change: every column is protected, immutable, categorical with "
                        "categorical='fixed', or cannot be mapped back to the model's input")
    method = choose_method(space, p.method)
    idx = attack_sample(ctx, p, method)
    Z0 = space.encode(idx)
    if ctx.task == MULTICLASS:
        return _attack_multiclass(ctx, p, deadline, space, method, idx, Z0)
    y = ctx.y_true[idx].astype(np.int8)
    pred0 = space.predict_fav(Z0, idx)
    mismatches = int((pred0 != ctx.y_pred[idx]).sum())
    # Outcomes are scored by the fast path (the estimator on the transformed matrix, or the model on decoded
    # columns); the rows it calls adversarial are then re-scored by the full model on the decoded DataFrame,
    # and any disagreement makes the whole run re-scored by the full model.
    exact = space.fast_is_exact
    if mismatches and not exact:
        pred0 = space.predict_fav_model(Z0, idx)
        exact = bool((pred0 != space.predict_fav(Z0, idx)).any())
    correct = pred0 == y
    fav = ctx.favorable_index
    label_idx = np.where(y == 1, fav, 1 - fav).astype(int)
    if method == "gradient":
        res = _gradient_attack(space, idx, Z0, label_idx, correct, p, deadline, exact)
    elif method == "tree":
        res = _tree_attack(space, idx, Z0, label_idx, correct, p, exact)
    elif method == "search":
        res = _search_attack(ctx, space, idx, Z0, label_idx, correct, p, deadline, exact)
    else:
        res = _blackbox_attack(ctx, space, idx, Z0, label_idx, correct, p, deadline,
                               AdversarialRobustnessCheck.id, exact)
    return AttackRun(space, method, idx, Z0, y, correct, mismatches, res)


def _class_codes(ctx: AuditContext, rows: np.ndarray | None = None) -> np.ndarray:
    """Multiclass: the true class of evaluation rows as its index in the model's class order (-1: a class the
    model does not predict)."""
    codes = {c: i for i, c in enumerate(ctx.classes)}
    target = ctx.target if rows is None else ctx.target[rows]
    return np.asarray([codes.get(t, -1) for t in target], dtype=np.int64)


def _attack_multiclass(ctx: AuditContext, p: AdversarialParams, deadline: float, space: TabularSpace,
                       method: Method, idx: np.ndarray, Z0: np.ndarray) -> AttackRun:
    """:func:`_attack` of a multiclass model: labels are class indices, success is any other arg-max class."""
    if method == "blackbox":
        raise SkipCheck("method 'blackbox' (HopSkipJump) is for binary classifiers; a multiclass model is "
                        "attacked with method: auto, gradient, tree or search")
    y = _class_codes(ctx, idx)
    pred0 = predicted_labels(ctx, space, Z0, idx, full_model=False)
    mismatches = int((pred0 != audit_labels(ctx, idx)).sum())
    exact = space.fast_is_exact
    if mismatches and not exact:
        pred0 = predicted_labels(ctx, space, Z0, idx, full_model=True)
        exact = bool((pred0 != predicted_labels(ctx, space, Z0, idx, full_model=False)).any())
    correct = pred0 == y
    label_idx = np.where(y >= 0, y, 0).astype(int)  # rows with an unknown class are never correct: not attacked
    if method == "gradient":
        res = _gradient_attack(space, idx, Z0, label_idx, correct, p, deadline, exact)
    elif method == "tree":
        res = _tree_attack(space, idx, Z0, label_idx, correct, p, exact)
    else:
        res = _search_attack(ctx, space, idx, Z0, label_idx, correct, p, deadline, exact)
    res.evidence["success"] = "untargeted: the arg-max class moves away from the true class"
    return AttackRun(space, method, idx, Z0, y, correct, mismatches, res)


#: Default sample sizes (``n_samples: None``): white-box attacks cost little per row; the search is grown from
#: here to ``target_half_width``.
WHITE_BOX_ROWS = 20000
SEARCH_ROWS = 500


def attack_sample(ctx: AuditContext, p: AdversarialParams, method: str) -> np.ndarray:
    """The seeded stratified sample of evaluation rows to attack (the same rows whatever the attack).

    HopSkipJump gets ``n_blackbox`` rows. The other attacks get ``n_samples`` rows, grown (deterministically:
    the size depends only on the seed and the data) until the rows the audit's model classifies correctly are at
    least :func:`rows_for_half_width` of ``target_half_width``, or every evaluation row is in the sample."""
    purpose = AdversarialRobustnessCheck.id
    if method == "blackbox":
        return ctx.sample(p.n_blackbox, purpose)
    n = p.n_samples if p.n_samples is not None else WHITE_BOX_ROWS if method in ("gradient", "tree") else SEARCH_ROWS
    idx = ctx.sample(n, purpose)
    if p.target_half_width is None:
        return idx
    need = rows_for_half_width(p.target_half_width, p.confidence)
    ok = (np.asarray(ctx.prediction) == np.asarray(ctx.target)) if ctx.task == MULTICLASS else \
        (np.asarray(ctx.y_pred) == np.asarray(ctx.y_true))
    while len(idx) < ctx.n_rows:
        have = int(ok[idx].sum())
        if have >= need:
            break
        n = min(ctx.n_rows, max(n + 1, math.ceil(n * need / max(have, 1) * 1.01)))
        idx = ctx.sample(n, purpose)
    return idx


def _multiclass(space: TabularSpace) -> bool:
    return space._ctx.task == MULTICLASS


def _scorer(space: TabularSpace, exact: bool) -> Any:
    if _multiclass(space):
        ctx = space._ctx
        return lambda Z, base: predicted_labels(ctx, space, Z, base, full_model=exact)
    return space.predict_fav_model if exact else space.predict_fav


def _full_scorer(space: TabularSpace) -> Any:
    """The full model's label (favourable 1/0, or the arg-max class index of a multiclass model)."""
    return _scorer(space, True) if _multiclass(space) else space.predict_fav_model


def _verify(space: TabularSpace, Z: np.ndarray, base: np.ndarray, labels: np.ndarray) -> int:
    """Rows whose fast-path label the full model (on the decoded DataFrame) does not confirm."""
    if not len(Z):
        return 0
    return int((space.predict_fav_model(Z, base) != labels).sum())


def _verify_multiclass(space: TabularSpace, Z: np.ndarray, base: np.ndarray, truth: np.ndarray) -> int:
    """Multiclass: adversarial rows (by the fast path) that the full model still gives their true class."""
    if not len(Z):
        return 0
    return int((predicted_labels(space._ctx, space, Z, base, full_model=True) == truth).sum())


# -- attacks ----------------------------------------------------------------------------------------------


def _one_hot(labels: np.ndarray, k: int = 2) -> np.ndarray:
    out = np.zeros((len(labels), k), dtype=np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def _gradient_attack(space: TabularSpace, idx: np.ndarray, Z0: np.ndarray, label_idx: np.ndarray,
                     correct: np.ndarray, p: AdversarialParams, deadline: float, exact: bool) -> _AttackResult:
    art = _art.import_art()
    ev = art.attacks.evasion
    clip = space.clip_values()
    clf = _art.gradient_classifier(space._estimator, space.mean, space.scale, clip)
    mask = space.mutable.astype(np.float32)
    rows = np.flatnonzero(correct)
    xc = Z0[rows].astype(np.float32)
    mc = _multiclass(space)
    yc = _one_hot(label_idx[rows], len(space._ctx.classes) if mc else 2)
    n = len(idx)
    truth = label_idx.astype(np.int64) if mc else (label_idx == space._ctx.favorable_index).astype(np.int8)
    res = _AttackResult(broken={}, evaluated=np.ones(n, dtype=bool), adv={})
    res.curves = {"FGSM": {}, "PGD": {}}
    res.projected = {"FGSM": {}, "PGD": {}}
    res.rows = rows
    batch = max(1, min(len(rows), 4096))
    pending: list[tuple[str, float, np.ndarray]] = []
    for b in p.budgets:
        if time.perf_counter() > deadline:
            res.stopped_early = True
            break
        eps = np.where(space.cat_mutable, 1.0, b).astype(np.float32)
        if len(rows):
            attacks = {
                "FGSM": ev.FastGradientMethod(clf, norm=np.inf, eps=eps, eps_step=eps, batch_size=batch),
                "PGD": ev.ProjectedGradientDescent(clf, norm=np.inf, eps=eps, eps_step=eps * (2.5 / p.pgd_steps),
                                                   max_iter=p.pgd_steps, num_random_init=0, batch_size=batch,
                                                   verbose=False),
            }
            for name, art_attack in attacks.items():
                za = art_attack.generate(xc, y=yc, mask=mask)
                pending.append((name, b, space.project(za, Z0[rows], budget=b)))
        res.budgets_done.append(b)
    _score_gradient(space, idx, Z0, rows, truth, pending, res, _scorer(space, exact))
    checked = _verified_rows(res)
    Zc = np.vstack([res.adv[b][r] for b, r in checked]) if checked else np.zeros((0, Z0.shape[1]))
    base = np.concatenate([idx[r] for _, r in checked]) if checked else np.zeros(0, dtype=int)
    if mc:
        true_c = np.concatenate([truth[r] for _, r in checked]) if checked else np.zeros(0, dtype=np.int64)
        bad = 0 if exact else _verify_multiclass(space, Zc, base, true_c)
    else:
        labels = np.concatenate([1 - truth[r] for _, r in checked]) if checked else np.zeros(0, dtype=np.int8)
        bad = 0 if exact else _verify(space, Zc, base, labels)
    if bad:
        _score_gradient(space, idx, Z0, rows, truth, pending, res, _full_scorer(space))
    res.scoring = {"scored_by": "full model" if exact or bad else space.fast_path_name,
                   "adversarial_rows_verified_by_full_model": len(Zc), "disagreements": bad,
                   "rescored_by_full_model": bool(exact or bad)}
    res.evidence = {
        "attacks": {
            "FGSM": {"class": "art.attacks.evasion.FastGradientMethod", "norm": "inf", "eps": "budget",
                     "eps_step": "budget", "num_random_init": 0},
            "PGD": {"class": "art.attacks.evasion.ProjectedGradientDescent", "norm": "inf", "eps": "budget",
                    "eps_step": f"2.5 * budget / {p.pgd_steps}", "max_iter": p.pgd_steps, "num_random_init": 0},
        },
        "estimator": type(clf).__name__,
        "labels": "true labels (only correctly classified rows are attacked)",
        "combined": "a row is broken at a budget when FGSM or PGD finds a valid adversarial row",
    }
    return res


def _score_gradient(space: TabularSpace, idx: np.ndarray, Z0: np.ndarray, rows: np.ndarray, truth: np.ndarray,
                    pending: list[tuple[str, float, np.ndarray]], res: _AttackResult, score: Any) -> None:
    """Score every projected adversarial row (all budgets and attacks in one model call) into ``res``."""
    n = len(idx)
    preds = (score(np.vstack([z for _, _, z in pending]), np.tile(idx[rows], len(pending)))
             .reshape(len(pending), len(rows)) if pending else np.zeros((0, len(rows)), dtype=np.int8))
    for b in res.budgets_done:
        res.broken[b] = np.zeros(n, dtype=bool)
        res.adv[b] = Z0.copy()
    for (name, b, zp), pred in zip(pending, preds):
        hit = pred != truth[rows]
        per = np.zeros(n, dtype=bool)
        per[rows] = hit
        res.curves[name][b] = per
        res.projected[name][b] = zp
        newly = hit & ~res.broken[b][rows]
        res.adv[b][rows[newly]] = zp[newly]
        res.broken[b][rows] |= hit


def _verified_rows(res: _AttackResult) -> list[tuple[float, np.ndarray]]:
    """(budget, sample rows) of every adversarial row a run reports."""
    return [(b, np.flatnonzero(res.broken[b])) for b in res.budgets_done if res.broken[b].any()]


def _finish_decisions(space: TabularSpace, candidates: dict[int, list[np.ndarray]], Z0: np.ndarray,
                      idx: np.ndarray, pred_label: np.ndarray, score: Any
                      ) -> dict[int, tuple[np.ndarray | None, float]]:
    """Project each row's candidate adversarial rows to valid rows (integers rounded to nearest and away from
    the original), score them all with the real model in one call, and keep per row the closest candidate that
    is still adversarial, with its distance (inf when none is)."""
    blocks: list[np.ndarray] = []
    owner: list[int] = []
    for r, cands in candidates.items():
        for c in cands:
            for rounding in ("nearest", "away"):
                blocks.append(space.project(np.asarray(c, dtype=np.float64)[None], Z0[r][None], rounding=rounding))
                owner.append(r)
    out: dict[int, tuple[np.ndarray | None, float]] = {r: (None, np.inf) for r in candidates}
    if not blocks:
        return out
    P = np.vstack(blocks)
    rows = np.asarray(owner)
    preds = score(P, idx[rows])
    dist = np.where(preds != pred_label[rows], space.numeric_distance(P, Z0[rows]), np.inf)
    for k in np.argsort(dist, kind="stable"):
        r = int(rows[k])
        if np.isfinite(dist[k]) and out[r][0] is None:
            out[r] = (P[k], float(dist[k]))
    return out


def _finish_verified(space: TabularSpace, candidates: dict[int, list[np.ndarray]], Z0: np.ndarray,
                     idx: np.ndarray, pred_label: np.ndarray, exact: bool
                     ) -> tuple[dict[int, tuple[np.ndarray | None, float]], dict[str, Any]]:
    """:func:`_finish_decisions` by the fast path, its chosen adversarial rows confirmed by the full model
    (re-done by the full model on any disagreement)."""
    found = _finish_decisions(space, candidates, Z0, idx, pred_label, _scorer(space, exact))
    chosen = [(r, z) for r, (z, _) in found.items() if z is not None]
    bad = 0
    if chosen and not exact:
        rows = np.array([r for r, _ in chosen])
        if _multiclass(space):
            bad = _verify_multiclass(space, np.vstack([z for _, z in chosen]), idx[rows], pred_label[rows])
        else:
            bad = _verify(space, np.vstack([z for _, z in chosen]), idx[rows], 1 - pred_label[rows])
        if bad:
            found = _finish_decisions(space, candidates, Z0, idx, pred_label, _full_scorer(space))
    return found, {"scored_by": "full model" if exact or bad else space.fast_path_name,
                   "adversarial_rows_verified_by_full_model": len(chosen), "disagreements": bad,
                   "rescored_by_full_model": bool(exact or bad)}


def _curve_from_distances(res: _AttackResult, Z0: np.ndarray, best: dict[int, np.ndarray],
                          budgets: tuple[float, ...]) -> None:
    assert res.dist is not None and res.attacked is not None
    for b in budgets:
        broken = res.evaluated & res.attacked & (res.dist <= b + 1e-9)
        adv = Z0.copy()
        for i in np.flatnonzero(broken):
            adv[i] = best[int(i)]
        res.broken[b] = broken
        res.adv[b] = adv
        res.budgets_done.append(b)


def _tree_attack(space: TabularSpace, idx: np.ndarray, Z0: np.ndarray, label_idx: np.ndarray,
                 correct: np.ndarray, p: AdversarialParams, exact: bool) -> _AttackResult:
    art = _art.import_art()
    clf = art.estimators.classification.SklearnClassifier(model=space._estimator)
    art_attack = art.attacks.evasion.DecisionTreeAttack(clf, verbose=False)
    rows = np.flatnonzero(correct)
    n = len(idx)
    res = _AttackResult(broken={}, evaluated=np.ones(n, dtype=bool), adv={})
    res.dist = np.full(n, np.inf)
    res.attacked = correct.copy()
    best: dict[int, np.ndarray] = {}
    if len(rows):
        T_adv = art_attack.generate(space.model_values(Z0[rows], idx[rows]))
        Za = (np.asarray(T_adv, dtype=np.float64) - space.mean) / space.scale
        pred_label = label_idx if _multiclass(space) else (label_idx == space._ctx.favorable_index).astype(np.int8)
        found, res.scoring = _finish_verified(space, {int(r): [za] for r, za in zip(rows, Za)}, Z0, idx,
                                              pred_label, exact)
        for r, (z, d) in found.items():
            res.dist[r] = d
            if z is not None:
                best[r] = z
    _curve_from_distances(res, Z0, best, p.budgets)
    res.evidence = {"attacks": {"DecisionTreeAttack": {"class": "art.attacks.evasion.DecisionTreeAttack",
                                                       "offset": 0.001}}}
    return res


def _search_attack(ctx: AuditContext, space: TabularSpace, idx: np.ndarray, Z0: np.ndarray,
                   label_idx: np.ndarray, correct: np.ndarray, p: AdversarialParams, deadline: float,
                   exact: bool) -> _AttackResult:
    """The batched search of :mod:`.search` on the correctly classified rows; its closest adversarial row per row
    is projected, scored by the fast path and confirmed by the full model like the other attacks' rows."""
    n = len(idx)
    rows = np.flatnonzero(correct)
    res = _AttackResult(broken={}, evaluated=np.ones(n, dtype=bool), adv={})
    res.dist = np.full(n, np.inf)
    res.attacked = correct.copy()
    purpose = AdversarialRobustnessCheck.id
    rngs = {b: ctx.rng(f"{purpose}:search:{b!r}") for b in p.budgets}
    sr = search_attack(space, Z0[rows], idx[rows], label_idx[rows], p.budgets, queries=p.search_queries,
                       candidates=p.search_candidates, corners=p.search_corners, refine_steps=p.refine_steps,
                       rngs=rngs, deadline=deadline,
                       grids={int(j): space.observed_values(int(j)) for j in np.flatnonzero(space.numeric_mutable)})
    res.stopped_early = sr.stopped_early
    mut = np.flatnonzero(space.mutable)
    pending: dict[int, list[np.ndarray]] = {}
    for j in np.flatnonzero(np.isfinite(sr.dist)):
        z = Z0[rows[j]].copy()
        z[mut] = sr.points[j]
        pending[int(rows[j])] = [z]
    pred_label = label_idx if _multiclass(space) else (label_idx == ctx.favorable_index).astype(np.int8)
    found, res.scoring = _finish_verified(space, pending, Z0, idx, pred_label, exact)
    best: dict[int, np.ndarray] = {}
    lost = 0
    for r, (z, d) in found.items():
        res.dist[r] = d
        if z is None:
            lost += 1
        else:
            best[r] = z
    budgets = tuple(b for b, st in zip(p.budgets, sr.per_budget)) if sr.stopped_early else p.budgets
    _curve_from_distances(res, Z0, best, budgets)
    k_num = int(space.numeric_mutable.sum())
    res.evidence = {
        "attacks": {"search": {
            "implementation": "trustaudit.checks.robustness.search (batched score-based search; ART has no "
                              "batched black-box attack for tabular rows)",
            "queries_per_row_and_budget": p.search_queries, "candidates_per_step": p.search_candidates,
            "corners": min(2 ** k_num, p.search_corners) if k_num else 0,
            "single_feature_moves": 2 * k_num, "refine_steps": p.refine_steps,
            "input_dims": len(mut)}},
        "queries_total": int(sr.queries.sum()),
        "queries_per_row_max": int(sr.queries.max()) if len(sr.queries) else 0,
        "per_budget": sr.per_budget,
        "lost_after_verification": lost,
        "distance": "smallest valid adversarial perturbation found per row (after bisection toward the "
                    "original row); the row is broken at every budget at or above it",
    }
    return res


#: Fewest rows per worker for which the black-box attack is split across an executor's workers (each row takes
#: ~50-100 ms of HopSkipJump; a worker's first task also imports ART).
SPLIT_MIN_ROWS = 16


@dataclass
class _HsjJob:
    """Everything HopSkipJump needs for some sampled rows, picklable (the space is detached from the audit)."""

    space: Any
    Z0: np.ndarray
    idx: np.ndarray
    mut: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    sub_num: np.ndarray
    label_idx: np.ndarray
    correct: np.ndarray
    init: np.ndarray
    seeds: np.ndarray
    p: Any

    def embed(self, Zs: np.ndarray, row: int) -> np.ndarray:
        Z = np.repeat(self.Z0[row][None, :], len(Zs), axis=0)
        Z[:, self.mut] = Zs
        return Z

    def predict(self, Zs: np.ndarray, row: int) -> np.ndarray:
        return np.asarray(self.space.predict_proba(self.embed(Zs, row), np.full(len(Zs), self.idx[row])))

    def distance(self, Zs: np.ndarray, z0s: np.ndarray) -> np.ndarray:
        if not len(self.sub_num):
            return np.zeros(len(Zs))
        return np.asarray(np.abs(Zs[:, self.sub_num] - z0s[self.sub_num]).max(axis=1))


class _PrefetchedRows:
    """Stands in for the FeatureSpace of a detached attack space: the transformed rows of the sampled evaluation
    rows, looked up by evaluation row id."""

    def __init__(self, ids: np.ndarray, T: np.ndarray) -> None:
        order = np.argsort(ids, kind="stable")
        self.ids, self.T = np.asarray(ids)[order], np.asarray(T)[order]

    def rows(self, idx: Any) -> np.ndarray:
        return np.asarray(self.T[np.searchsorted(self.ids, np.asarray(idx))])


def _detached(space: TabularSpace, idx: np.ndarray) -> TabularSpace | None:
    """A copy of a scikit-learn attack space that holds only what scoring rows ``idx`` needs (no audit context,
    no evaluation data), to send to executor workers; None when the space cannot travel (the encoded space
    scores through the audit's model adapter, e.g. an ONNX Runtime session)."""
    if space.mode != "sklearn" or space._fs is None:
        return None
    ids = np.unique(idx)
    return replace(space, _ctx=None, _fs=_PrefetchedRows(ids, space._fs.rows(ids)), _base={}, _fast=None)


def _run_hsj(job: _HsjJob, order: list[int], deadline: float) -> list[dict[str, Any]]:
    """HopSkipJump over the rows in ``order``: in this process, or split into contiguous runs of ``order``
    across the current executor's workers (:func:`trustaudit.executors.use_executor`). Each row has its own
    seed, starting point and query budget, so its outcome does not depend on the split."""
    from trustaudit.executors import current_executor, map_rows

    ex = current_executor()
    attackable = int(np.sum(job.correct))
    portable = _detached(job.space, job.idx) if ex.workers > 1 and attackable >= 2 * SPLIT_MIN_ROWS else None
    if portable is None:
        return [_hsj_rows(order, job=job, seconds=deadline - time.perf_counter())]
    chunk = -(-len(order) // ex.workers)
    shared = {"job": replace(job, space=portable), "seconds": deadline - time.perf_counter()}
    parts: list[dict[str, Any]] = map_rows(_hsj_rows, order, executor=ex, chunk_rows=chunk, combine=None,
                                           shared=shared)
    return parts


def _hsj_rows(order: list[int], *, job: _HsjJob, seconds: float) -> dict[str, Any]:
    """Attack the rows of ``order`` one after the other until ``seconds`` have passed (runs on a worker)."""
    deadline = time.perf_counter() + seconds
    p = job.p
    art = _art.import_art()
    rows_out: list[tuple[int, bool, list[np.ndarray] | None, int | None]] = []  # (row, attacked, candidates,
    # queries) of every row evaluated
    status = {"attacked": 0, "no_start": 0, "query_budget": 0}
    stopped = False
    counter = _art.CountingPredictor(job.predict, p.max_queries, deadline, job.distance)
    with _art.single_threaded():
        clf = art.estimators.classification.BlackBoxClassifier(counter, input_shape=(len(job.mut),), nb_classes=2,
                                                              clip_values=(job.lo, job.hi))
        hsj = art.attacks.evasion.HopSkipJump(clf, batch_size=max(p.hsj_max_eval, 1), targeted=False,
                                              norm=np.inf, max_iter=p.hsj_max_iter, max_eval=p.hsj_max_eval,
                                              init_eval=p.hsj_init_eval, init_size=p.hsj_init_size,
                                              verbose=False)
        for n_done, i in enumerate(order):
            report_progress(n_done, len(order), "rows attacked")
            if not job.correct[i]:
                rows_out.append((i, False, None, None))
                continue
            if time.perf_counter() > deadline:
                stopped = True
                break
            if not np.isfinite(job.init[i]).all():
                status["no_start"] += 1
                rows_out.append((i, True, None, None))
                continue
            z0s = np.asarray(job.Z0[i][job.mut], dtype=np.float64)
            counter.start_row(int(i), z0s, int(job.label_idx[i]))
            raw: np.ndarray | None
            try:
                with _art.seeded_global_numpy(int(job.seeds[i])):
                    raw = hsj.generate(z0s[None].astype(np.float32), y=_one_hot(job.label_idx[i:i + 1]),
                                       x_adv_init=job.init[i:i + 1].astype(np.float32))[0]
            except _art.QueryBudgetExceeded:
                if counter.deadline_hit:
                    stopped = True
                    break
                status["query_budget"] += 1
                raw = None
            status["attacked"] += 1
            cands = [job.embed(np.asarray(c, dtype=np.float64)[None], i)[0] for c in (raw, counter.best)
                     if c is not None]
            rows_out.append((i, True, cands, counter.row_queries))
    return {"rows": rows_out, "status": status, "total": counter.total, "stopped_early": stopped}


def _blackbox_attack(ctx: AuditContext, space: TabularSpace, idx: np.ndarray, Z0: np.ndarray,
                     label_idx: np.ndarray, correct: np.ndarray, p: AdversarialParams, deadline: float,
                     purpose: str, exact: bool) -> _AttackResult:
    """HopSkipJump on the subspace of mutable dims (the fixed dims of each row are filled in before the model is
    called): ART then spends its binary-search precision and its random directions only where the attack may
    act. One generate() call per row, so that each row has its own query budget and seed."""
    _art.import_art()
    n, _ = Z0.shape
    lo_all, hi_all = space.clip_values()
    mut = np.flatnonzero(space.mutable)
    k = len(mut)
    lo, hi = lo_all[mut], hi_all[mut]
    sub_num = np.flatnonzero(~space.is_cat[mut])  # numeric dims, as positions in the subspace
    fav = ctx.favorable_index
    pred_label = np.where(label_idx == fav, 1, 0)
    res = _AttackResult(broken={}, evaluated=np.zeros(n, dtype=bool), adv={})
    res.dist = np.full(n, np.inf)
    res.attacked = np.zeros(n, dtype=bool)
    rng = ctx.rng(f"{purpose}:hopskipjump")
    order = rng.permutation(n)
    seeds = np.asarray(rng.integers(0, 2**31 - 1, size=n))

    rows = np.flatnonzero(correct)
    init = np.full((n, k), np.nan)
    with _art.single_threaded():
        # Starting points: ART's own initialisation (uniform draws in the observed range of the mutable dims),
        # drawn from the audit's seeded generator and scored in one batch instead of one model call per draw.
        if len(rows):
            K = p.hsj_init_size
            # float32 as ART will see it: a start point must stay adversarial after ART's cast, or ART would
            # fall back to its own (unseeded) initialisation
            cand = rng.uniform(lo, hi, size=(len(rows), K, k)).astype(np.float32).astype(np.float64)
            full = np.repeat(Z0[rows][:, None, :], K, axis=1)
            full[:, :, mut] = cand
            pf = space.predict_fav(full.reshape(-1, Z0.shape[1]), np.repeat(idx[rows], K)).reshape(len(rows), K)
            adv = pf != pred_label[rows][:, None]
            has = adv.any(axis=1)
            first = adv.argmax(axis=1)
            init[rows[has]] = cand[np.flatnonzero(has), first[has]]

    job = _HsjJob(space=space, Z0=Z0, idx=idx, mut=mut, lo=lo, hi=hi, sub_num=sub_num,
                  label_idx=label_idx, correct=correct, init=init, seeds=seeds, p=p)
    parts = _run_hsj(job, [int(o) for o in order], deadline)
    best: dict[int, np.ndarray] = {}
    pending: dict[int, list[np.ndarray]] = {}
    status = {"attacked": 0, "no_start": 0, "query_budget": 0, "not_adversarial_after_projection": 0}
    queries: list[int] = []
    total = 0
    for part in parts:
        for i, attacked, cands, q in part["rows"]:
            res.evaluated[i] = True
            res.attacked[i] = attacked
            if cands is not None:
                pending[i] = cands
            if q is not None:
                queries.append(q)
        for key, v in part["status"].items():
            status[key] += v
        total += part["total"]
        res.stopped_early |= part["stopped_early"]
    # project and score every candidate with the real model, in one call
    found, res.scoring = _finish_verified(space, pending, Z0, idx, pred_label, exact)
    for r, (z, dist) in found.items():
        res.dist[r] = dist
        if z is None:
            status["not_adversarial_after_projection"] += 1
        else:
            best[r] = z
    _curve_from_distances(res, Z0, best, p.budgets)
    res.evidence = {
        "attacks": {"HopSkipJump": {"class": "art.attacks.evasion.HopSkipJump", "norm": "inf",
                                    "max_iter": p.hsj_max_iter, "max_eval": p.hsj_max_eval,
                                    "init_eval": p.hsj_init_eval, "init_size": p.hsj_init_size,
                                    "estimator": "art.estimators.classification.BlackBoxClassifier",
                                    "input_dims": k}},
        "max_queries_per_row": p.max_queries,
        "queries_total": int(total),
        "queries_per_row_median": float(np.median(queries)) if queries else None,
        "row_status": status,
        "start": "first of init_size uniform draws in the observed range of the mutable features that the model "
                 "classifies differently, drawn from the audit's seeded generator",
        "distance": "closest valid adversarial row among HopSkipJump's result and every adversarial point it "
                    "queried, after projection",
    }
    return res


# -- report -----------------------------------------------------------------------------------------------


def _report(ctx: AuditContext, r: AttackRun, p: AdversarialParams, t0: float) -> CheckOutput:
    space, method, idx, Z0, correct, res, mismatches = r.space, r.method, r.idx, r.Z0, r.correct, r.result, \
        r.mismatches
    level = p.confidence
    ev = res.evaluated
    n_ev = int(ev.sum())
    n_correct = int((correct & ev).sum())
    metrics: list[Metric] = [rate_metric("clean_accuracy", n_correct, n_ev, level, subject="attacked sample")]
    curve_rows: list[list[Any]] = []
    xs: list[float] = []
    ys: list[float | None] = []
    cis: list[tuple[float, float] | None] = []
    for b in res.budgets_done:
        broken = res.broken[b] & ev
        k_broken = int(broken.sum())
        k_adv = n_correct - k_broken
        subject = f"eps={b:g}"
        m_acc = rate_metric("adversarial_accuracy", k_adv, n_ev, level, subject=subject, unit="fraction", budget=b)
        m_asr = rate_metric("attack_success_rate", k_broken, n_correct, level, subject=subject, unit="fraction",
                            budget=b)
        metrics += [m_acc, m_asr]
        row = [b, fmt(m_acc.value), fmt(m_acc.ci.low if m_acc.ci else None),
               fmt(m_acc.ci.high if m_acc.ci else None), fmt(m_asr.value), n_ev, n_correct]
        if res.curves:
            for name in ("FGSM", "PGD"):
                hits = res.curves[name].get(b)
                row.append(fmt((n_correct - int((hits & ev).sum())) / n_ev) if hits is not None and n_ev else None)
        curve_rows.append(row)
        xs.append(b)
        ys.append(m_acc.value)
        cis.append((m_acc.ci.low, m_acc.ci.high) if m_acc.ci else None)
    for b in p.budgets:  # budgets the safety stop left out: reported without a value (and not judged)
        if b not in res.budgets_done:
            metrics += [rate_metric("adversarial_accuracy", 0, 0, level, subject=f"eps={b:g}", unit="fraction",
                                    budget=b),
                        rate_metric("attack_success_rate", 0, 0, level, subject=f"eps={b:g}", unit="fraction",
                                    budget=b)]
    columns = ["budget (sd)", "adversarial accuracy", "ci low", "ci high", "attack success rate", "n",
               "n correct"]
    if res.curves:
        columns += ["adversarial accuracy (FGSM)", "adversarial accuracy (PGD)"]
    tables = [Table(title="Robustness curve: adversarial accuracy by budget (standard deviations per feature)",
                    columns=columns, rows=curve_rows)]

    median_value: float | None = None
    if res.dist is not None and res.attacked is not None:
        d = res.dist[res.attacked & ev]
        mi = median_interval(d, level)
        if mi is not None:
            med, lo_, hi_ = mi
            median_value = med if np.isfinite(med) else None
            note = None
            if not np.isfinite(med):
                note = "no valid adversarial row found for at least half of the attacked rows"
            elif not np.isfinite(hi_):
                note = "upper confidence bound undefined: too many rows without an adversarial row"
            metrics.append(Metric(
                name="median_minimal_perturbation", value=median_value,
                ci=interval((lo_, hi_), level, "order-statistic (binomial)"), n=len(d),
                subject="attacked rows", unit="sd (L-infinity over numeric features)",
                note=note or "median over attacked rows of the smallest valid adversarial perturbation the attack "
                "found (+inf where it found none): an upper bound on the true minimal perturbation"))
            found = d[np.isfinite(d)]
            top = max(p.budgets) if method == "search" else None
            what = (f"rows where the search found a valid adversarial row within the largest budget ({top:g} sd)"
                    if top is not None else "rows where the attack found any valid adversarial row")
            metrics.append(rate_metric("attack_found_rate", len(found), len(d), level, subject="attacked rows",
                                       note=what))

    # per protected group at the group budget
    gb = min(res.budgets_done, key=lambda b: abs(b - p.group_budget)) if res.budgets_done else None
    group_rows: list[list[Any]] = []
    if gb is not None:
        broken = res.broken[gb] & ev
        extra = {"unit": "fraction", "budget": gb}
        ms_acc, rows_acc = group_metrics(ctx, idx, correct & ~broken, ev, rate_name="group_adversarial_accuracy",
                                         gap_name="adversarial_accuracy_gap", level=level,
                                         min_group_size=p.min_group_size, gap_half_width=p.gap_half_width, extra=extra)
        ms_asr, rows_asr = group_metrics(ctx, idx, broken, ev & correct, rate_name="group_attack_success_rate",
                                         gap_name="attack_success_rate_gap", level=level,
                                         min_group_size=p.min_group_size, gap_half_width=p.gap_half_width, extra=extra)
        for m in ms_acc + ms_asr:
            m.note = f"at eps={gb:g}" + (f"; {m.note}" if m.note else "")
        metrics += ms_acc + ms_asr
        _, rows_clean = group_metrics(ctx, idx, correct, ev, rate_name="c", gap_name="g", level=level,
                                      min_group_size=1)
        for a, b_, c in zip(rows_clean, rows_acc, rows_asr):
            group_rows.append([a[0], a[1], a[2], fmt(a[3]), fmt(b_[3]), c[2], fmt(c[3])])
        tables.append(Table(title=f"Robustness by protected group at eps={gb:g}",
                            columns=["attribute", "group", "n", "clean accuracy", "adversarial accuracy",
                                     "n correct", "attack success rate"], rows=group_rows))

    examples = _examples(ctx, space, idx, Z0, res, gb)
    if examples:
        tables.append(Table(title=f"Examples of valid adversarial rows at eps={gb:g}",
                            columns=["row", "changes", "prediction"], rows=examples))

    artifacts = []
    art_ = write_curve_svg(
        ctx, "robustness_adversarial_curve.svg", "Adversarial accuracy by budget", "budget (sd per feature)",
        "accuracy", [("adversarial accuracy", xs, ys, cis)],
        hline=("clean accuracy", n_correct / n_ev) if n_ev else None)
    if art_ is not None:
        artifacts.append(art_)

    elapsed = time.perf_counter() - t0
    attack_name = {"gradient": "FGSM + PGD", "tree": "DecisionTreeAttack", "search": "batched search",
                   "blackbox": "HopSkipJump"}[method]
    summary = f"{attack_name} on {n_ev} rows ({n_correct} correctly classified)"
    ref = next((m for m in metrics if gb is not None and m.name == "attack_success_rate"
                and m.subject == f"eps={gb:g}"), None)
    if ref is not None and ref.value is not None:
        summary += f"; attack success {ref.value:.1%} at eps={gb:g} sd"
    if median_value is not None:
        summary += f"; median minimal perturbation {median_value:.3g} sd"
    warnings: list[str] = []
    if res.stopped_early:
        summary += " (stopped early by the safety stop: not judged)"
        stop_note(metrics, warnings, elapsed, p.time_budget_s)
    need = rows_for_half_width(p.target_half_width, level) if p.target_half_width is not None else None
    widest = max_half_width(n_correct, level)
    if need is not None and n_correct < need and not res.stopped_early:
        why = ("every evaluation row is in the sample" if len(idx) >= ctx.n_rows
               else f"method {method} attacks {len(idx)} rows" if method == "blackbox" else "")
        warnings.append(f"only {n_correct} correctly classified rows were attacked ({why}): an attack success "
                        f"rate can have a 95% interval up to +-{widest or 1.0:.3f} wide, more than the "
                        f"target_half_width +-{p.target_half_width:g} ({need} rows)")
    if mismatches:
        warnings.append(f"{mismatches} sample rows are predicted differently through the attack space than in "
                        "the audit (missing numeric values are imputed by the encoding)")
    if res.scoring.get("disagreements"):
        warnings.append(f"the fast scoring path disagreed with the full model on {res.scoring['disagreements']} "
                        "adversarial rows; every outcome was re-scored by the full model")
    evidence: dict[str, Any] = {
        "method": method,
        "art_version": _art.art_version(),
        "space": space.mode,
        "units": "standard deviations of each numeric feature (evaluation data, original units); "
                 "L-infinity budget",
        "categorical": p.categorical,
        "mutable_columns": space.mutable_columns(),
        "fixed_columns": dict(sorted(space.fixed.items())),
        "feature_sd": {space.source[j]: fmt(float(space.sd_original[j]), 6)
                       for j in np.flatnonzero(space.numeric_mutable)},
        "n_sample": len(idx),
        "n_evaluated": n_ev,
        "n_correct": n_correct,
        "target_half_width": p.target_half_width,
        "rows_needed": need,
        "max_half_width": fmt(widest, 6),
        "budgets": list(p.budgets),
        "budgets_done": res.budgets_done,
        "group_budget": gb,
        "stopped_early": res.stopped_early,
        "elapsed_s": round(elapsed, 3),
        "time_budget_s": p.time_budget_s,
        "clean_prediction_mismatches": mismatches,
        "scoring": res.scoring,
        "seed": ctx.seed,
        **res.evidence,
    }
    return CheckOutput(metrics=metrics, summary=summary, tables=tables, evidence=evidence, artifacts=artifacts,
                       warnings=warnings)


def _examples(ctx: AuditContext, space: TabularSpace, idx: np.ndarray, Z0: np.ndarray, res: _AttackResult,
              gb: float | None, k: int = 5) -> list[list[Any]]:
    """A few adversarial rows at the group budget, as readable changes of the input columns."""
    if gb is None or gb not in res.broken:
        return []
    rows: list[list[Any]] = []
    sel = np.flatnonzero(res.broken[gb] & res.evaluated)[:k]
    if not len(sel):
        return rows
    Za = res.adv[gb][sel]
    df = space.decode(Za, idx[sel])
    orig = ctx.X.iloc[idx[sel]]
    if ctx.task == MULTICLASS:
        names = list(ctx.classes)
        after_c = predicted_labels(ctx, space, Za, idx[sel], full_model=True)
        for r, i in enumerate(sel):
            changes = [f"{col}: {orig.iloc[r][col]} -> {df.iloc[r][col]}"
                       for col in space.changed_columns(Za[r:r + 1], Z0[i:i + 1])[0]
                       if str(orig.iloc[r][col]) != str(df.iloc[r][col])]
            rows.append([int(idx[i]), "; ".join(changes), f"{ctx.prediction[idx[i]]} -> {names[int(after_c[r])]}"])
        return rows
    fav = ctx.favorable_index
    labels = [str(c) for c in ctx.model.classes]
    for r, i in enumerate(sel):
        changes = []
        for col in space.changed_columns(Za[r:r + 1], Z0[i:i + 1])[0]:
            a, b = orig.iloc[r][col], df.iloc[r][col]
            if str(a) != str(b):
                changes.append(f"{col}: {a} -> {b}")
        before = labels[fav] if ctx.y_pred[idx[i]] == 1 else labels[1 - fav]
        after = labels[1 - fav] if ctx.y_pred[idx[i]] == 1 else labels[fav]
        rows.append([int(idx[i]), "; ".join(changes), f"{before} -> {after}"])
    return rows


__all__ = ["AdversarialParams", "AdversarialRobustnessCheck", "AttackRun", "attack", "attack_sample", "choose_method"]
