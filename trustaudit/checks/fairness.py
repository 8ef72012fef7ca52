"""Fairness checks on aif360: dataset-level (labels) and model-level (predictions) group metrics.

Point estimates come from aif360's metric classes (``BinaryLabelDatasetMetric``, ``ClassificationMetric``).
Confidence intervals come from a seeded non-parametric bootstrap. Every metric here is a function of the counts
in a handful of cells (group x true label x predicted label), so resampling rows with replacement is exactly a
multinomial draw over those cell counts: we draw the cell counts directly, which gives the same bootstrap
distribution as resampling rows at a cost independent of the number of rows. This part is written by hand
because aif360 has no bootstrap and re-running its metric classes 1,000 times per comparison would cost
1,000x the audit.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field

from trustaudit.checks.base import Check, CheckOutput, CheckParams
from trustaudit.context import AuditContext
from trustaudit.results import Interval, Metric, Table

# -- groups and comparisons ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """An unprivileged group compared with a privileged (reference) group."""

    attribute: str  # "sex", or "sex*race" for an intersection
    group: str  # label of the unprivileged group
    reference: str  # label of the privileged group
    codes: np.ndarray  # int8 per row: 1 privileged, 0 unprivileged, -1 neither
    kind: str  # "binary" | "value" | "intersection"

    @property
    def subject(self) -> str:
        return f"{self.attribute}: {self.group} vs {self.reference}"


def group_labels(attr: Any) -> tuple[str, str]:
    """(privileged, unprivileged) display labels of a protected attribute (e.g. "age >= 25", "age < 25")."""
    spec = attr.spec
    thr = spec.threshold()
    if thr is not None:
        inv = {">=": "<", "<=": ">", ">": "<=", "<": ">=", "==": "!="}[thr.op]
        value = str(thr).split(" ", 1)[1]
        return f"{attr.name} {thr.op} {value}", f"{attr.name} {inv} {value}"
    priv = "|".join(str(v) for v in spec.privileged)
    if spec.unprivileged is not None:
        unpriv = "|".join(str(v) for v in spec.unprivileged)
    else:
        others = sorted({str(v) for v in attr.values[attr.valid & ~attr.privileged].unique()})
        unpriv = others[0] if len(others) == 1 else f"not {priv}"
    return priv, unpriv


def build_comparisons(ctx: AuditContext, intersections: bool, per_value: bool, max_values: int) -> list[Comparison]:
    comps: list[Comparison] = []
    labels: dict[str, tuple[str, str]] = {}
    for name, attr in ctx.protected.items():
        priv_l, unpriv_l = group_labels(attr)
        labels[name] = (priv_l, unpriv_l)
        codes = np.where(attr.valid, attr.privileged.astype(np.int8), -1).astype(np.int8)
        comps.append(Comparison(name, unpriv_l, priv_l, codes, "binary"))
        if per_value and not attr.is_threshold:
            text_codes, texts = _text_codes(attr.values)
            present = np.unique(text_codes[attr.valid & ~attr.privileged])
            unpriv_values = sorted({texts[i] for i in present if i >= 0})
            if 1 < len(unpriv_values) <= max_values:
                for value in unpriv_values:
                    is_value = np.isin(text_codes, [i for i, t in enumerate(texts) if t == value])
                    vcodes = np.where(attr.privileged, 1, np.where(is_value, 0, -1)).astype(np.int8)
                    comps.append(Comparison(name, value, priv_l, vcodes, "value"))
    if intersections:
        names = list(ctx.protected)
        for a, b in itertools.combinations(names, 2):
            pa, pb = ctx.protected[a], ctx.protected[b]
            valid = pa.valid & pb.valid
            ref = pa.privileged & pb.privileged & valid
            ref_label = f"{labels[a][0]} & {labels[b][0]}"
            for a_priv, b_priv in ((True, False), (False, True), (False, False)):
                sel = valid & (pa.privileged == a_priv) & (pb.privileged == b_priv)
                label = f"{labels[a][0 if a_priv else 1]} & {labels[b][0 if b_priv else 1]}"
                codes = np.where(ref, 1, np.where(sel, 0, -1)).astype(np.int8)
                comps.append(Comparison(f"{a}*{b}", label, ref_label, codes, "intersection"))
    return comps


def _text_codes(values: Any) -> tuple[np.ndarray, list[str]]:
    """Each row's value as text, factorised: (code per row, -1 for missing; text of each code).

    Equivalent to mapping ``str`` over every row, but ``str`` runs once per distinct value (a Python call per row
    took seconds on a million rows). Object columns keep the per-row mapping, since distinct objects such as
    ``True`` and ``1`` hash alike but print differently.
    """
    import pandas as pd

    if values.dtype == object:
        values = values.map(lambda v: None if v is None or v != v else str(v))
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes), [str(u) for u in uniques]


def cached_comparisons(ctx: AuditContext, intersections: bool, per_value: bool, max_values: int) -> list[Comparison]:
    """:func:`build_comparisons`, computed once per audit and shared by the fairness checks."""
    key = f"fairness.comparisons:{intersections}:{per_value}:{max_values}"
    if key not in ctx.cache:
        ctx.cache[key] = build_comparisons(ctx, intersections, per_value, max_values)
    comps: list[Comparison] = ctx.cache[key]
    return comps


@dataclass(frozen=True)
class CellTable:
    """The evaluation rows collapsed to their distinct (comparison codes, label, prediction) combinations.

    Every metric in this module is a function of how many rows fall in each cell, so aif360 computes exactly the
    same numbers on one weighted row per combination (``instance_weights`` = count; the weighted sums are sums
    of integers, exact in float64) as on every row. This keeps aif360's cost independent of the number of rows:
    on a million rows, building a full-row ``ClassificationMetric`` per comparison compared every instance name
    in Python (about 2 s each) and its dataset validation built Python sets of every column.
    """

    codes: np.ndarray  # (m, k) int8: one column per comparison
    y_true: np.ndarray  # (m,)
    y_pred: np.ndarray | None  # (m,) or None
    weights: np.ndarray  # (m,) float64: rows in the cell

    @classmethod
    def build(cls, comps: list[Comparison], y_true: np.ndarray, y_pred: np.ndarray | None) -> CellTable:
        import pandas as pd

        cols = [c.codes for c in comps] + [y_true] + ([y_pred] if y_pred is not None else [])
        n = len(y_true)
        key = np.zeros(n, dtype=np.int64)
        radix = 1
        for col in cols:  # mixed-radix key over the columns, compacted with factorize before it can overflow
            if radix > (1 << 52) // 3:
                key = np.asarray(pd.factorize(key)[0], dtype=np.int64)
                radix = int(key.max()) + 1
            key = key * 3 + (np.asarray(col, dtype=np.int64) + 1)
            radix *= 3
        group, _ = pd.factorize(key)
        group = np.asarray(group)
        m = int(group.max()) + 1 if n else 0
        rows = np.empty((m, len(cols)), dtype=np.int8)
        rows[group] = np.column_stack(cols).astype(np.int8)  # every row of a cell holds the same values
        weights = np.bincount(group, minlength=m).astype(np.float64)
        k = len(comps)
        return cls(rows[:, :k], rows[:, k], rows[:, k + 1] if y_pred is not None else None, weights)

    def cells(self, i: int, y_pred: np.ndarray | None = None) -> np.ndarray:
        """:func:`_cells` of comparison ``i`` (predictions ``y_pred`` over the cells, default the table's)."""
        pred = self.y_pred if y_pred is None else y_pred
        assert pred is not None
        return _cells(self.codes[:, i], self.y_true, pred, self.weights)


def _theil(b: np.ndarray) -> float:
    """Generalised entropy index with alpha = 1, written as aif360's ``ClassificationMetric`` computes it."""
    return float(np.mean(np.log((b / np.mean(b)) ** b) / np.mean(b)))


def _benefit(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return 1 + y_pred.astype(np.float64) - y_true.astype(np.float64)


def between_group_theil(codes: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """aif360's ``between_group_theil_index`` on every row: each benefit replaced by its group's mean benefit."""
    b = np.zeros(len(codes), dtype=np.float64)
    for value in (0, 1):  # aif360's order: unprivileged, then privileged
        group = codes == value
        if not np.any(group):
            continue
        b[group] = np.mean(_benefit(y_true[group], y_pred[group]))
    return _theil(b)


# -- vectorised metric formulas on cell counts (used for the bootstrap and cross-checked in tests) -------


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def rates(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> dict[str, np.ndarray]:
    n = tp + fp + fn + tn
    return {
        "selection_rate": _div(tp + fp, n),
        "tpr": _div(tp, tp + fn),
        "fpr": _div(fp, fp + tn),
        "fnr": _div(fn, tp + fn),
        "precision": _div(tp, tp + fp),
        "error_rate": _div(fp + fn, n),
        "base_rate": _div(tp + fn, n),
    }


def differences(u: dict[str, np.ndarray], p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        "statistical_parity_difference": u["selection_rate"] - p["selection_rate"],
        "disparate_impact": _div(u["selection_rate"], p["selection_rate"]),
        "equal_opportunity_difference": u["tpr"] - p["tpr"],
        "average_odds_difference": 0.5 * ((u["fpr"] - p["fpr"]) + (u["tpr"] - p["tpr"])),
        "error_rate_difference": u["error_rate"] - p["error_rate"],
    }


def theil_from_cells(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
    """Theil index (generalised entropy, alpha=1) with benefit b = y_pred - y_true + 1, from cell counts."""
    n = tp + fp + fn + tn
    mu = _div(tp + tn + 2 * fp, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        one = np.where(mu > 0, (1 / mu) * np.log(1 / mu), np.nan)
        two = np.where(mu > 0, (2 / mu) * np.log(2 / mu), np.nan)
    return _div((tp + tn) * one + fp * two, n)


def _cells(codes: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Counts of the 9 cells: excluded + (unpriv, priv) x (tp, fp, fn, tn); ``weights``: rows per input row."""
    cell = np.full(len(codes), 0, dtype=np.int64)
    conf = np.where(y_true == 1, np.where(y_pred == 1, 0, 2), np.where(y_pred == 1, 1, 3))
    in_group = codes >= 0
    cell[in_group] = 1 + codes[in_group].astype(np.int64) * 4 + conf[in_group]
    if weights is None:
        return np.bincount(cell, minlength=9)
    return np.rint(np.bincount(cell, weights=weights, minlength=9)).astype(np.int64)


def _bootstrap_counts(counts: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    n = int(counts.sum())
    return rng.multinomial(n, counts / n, size=n_boot)


def _percentiles(x: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Quantiles with linear interpolation (numpy's default method), via one sort: np.quantile costs ~0.4 ms
    per call in numpy 2.4 (an np.unique/is_masked check inside), which dominated the fairness check."""
    xs = np.sort(x)
    out = []
    for q in qs:
        pos = q * (len(xs) - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, len(xs) - 1)
        out.append(float(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)))
    return out


def bootstrap_interval(samples: np.ndarray, level: float, n_boot: int) -> Interval | None:
    """Percentile interval of bootstrap samples; None when the metric is undefined in over 10% of them."""
    finite = samples[np.isfinite(samples)]
    if len(finite) < 0.9 * n_boot:  # undefined in too many resamples (empty or degenerate groups)
        return None
    a = (1 - level) / 2
    lo, hi = _percentiles(finite, (a, 1 - a))
    return Interval(low=float(lo), high=float(hi), level=level, method=f"bootstrap-percentile ({n_boot})")


def _judgement(judged: bool, ci: Interval | None, value: float | None, p: Any) -> tuple[bool, str | None]:
    """Whether a comparison metric is judged by the rubric, and why not.

    Not judged: a group below ``min_group_size``, or (with the bootstrap on) no interval because the metric is
    undefined in more than 10% of resamples (a nearly empty or degenerate group): judging its point estimate
    alone would fail the gate on noise.
    """
    if not judged:
        return False, f"a group is smaller than {p.min_group_size}"
    if p.bootstrap and ci is None and value is not None:
        return False, "interval undefined in over 10% of bootstrap resamples (a group is nearly empty or degenerate)"
    return True, None


def _f(x: Any) -> float | None:
    v = float(x)
    return v if np.isfinite(v) else None


# -- aif360 -----------------------------------------------------------------------------------------


def _import_aif360() -> Any:
    """Import aif360's metric classes quietly: aif360 logs optional-dependency notices and adds a root
    handler on import; restore logging as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import aif360.datasets
            import aif360.metrics
    finally:
        logging.disable(previous)
        root.handlers[:] = handlers
        root.setLevel(level)
    return aif360


def _aif_datasets(table: CellTable) -> tuple[Any, Any]:
    """aif360 datasets (labels; predictions) with one row per cell of ``table``, weighted by its count."""
    import pandas as pd

    aif360 = _import_aif360()
    cols = {f"g{i}": table.codes[:, i].astype(np.float64) for i in range(table.codes.shape[1])}
    frame = pd.DataFrame({**cols, "label": table.y_true.astype(np.float64), "__weight": table.weights})
    names = list(cols)
    kw = {"favorable_label": 1.0, "unfavorable_label": 0.0, "label_names": ["label"],
          "protected_attribute_names": names, "instance_weights_name": "__weight"}
    ds_true = aif360.datasets.BinaryLabelDataset(df=frame, **kw)
    if table.y_pred is None:
        return ds_true, None
    ds_pred = ds_true.copy(deepcopy=False)
    ds_pred.labels = table.y_pred.astype(np.float64).reshape(-1, 1)
    return ds_true, ds_pred


# -- the checks ---------------------------------------------------------------------------------------


class FairnessParams(CheckParams):
    bootstrap: int = Field(1000, ge=0, le=100_000, description="Bootstrap resamples for intervals (0: none)")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of the intervals")
    min_group_size: int = Field(30, ge=1, description="Groups smaller than this are reported but not judged")
    intersections: bool = Field(True, description="Also compare intersections of pairs of protected attributes")
    per_value: bool = Field(True, description="Also compare each unprivileged value with the privileged group")
    max_values: int = Field(12, ge=2, description="Per-value comparisons only for attributes with this many values")


class _FairnessBase(Check):
    category = "fairness"
    requires = frozenset({"protected"})
    Params = FairnessParams


class DatasetFairnessCheck(_FairnessBase):
    """Bias already present in the labels: base rate per group, SPD and DI of the labels."""

    id = "fairness.dataset"
    title = "Label bias in the evaluation data"
    description = "Base rate of the favourable label per group; statistical parity difference and disparate impact of the labels (aif360 BinaryLabelDatasetMetric)."

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        p: FairnessParams = params
        comps = cached_comparisons(ctx, p.intersections, p.per_value, p.max_values)
        y = ctx.y_true
        aif360 = _import_aif360()
        cells = CellTable.build(comps, y, None)
        ds, _ = _aif_datasets(cells)
        rng = ctx.rng(self.id)
        metrics: list[Metric] = []
        rows: list[list[Any]] = []
        seen_groups: set[str] = set()
        for i, c in enumerate(comps):
            m = aif360.metrics.BinaryLabelDatasetMetric(
                ds, unprivileged_groups=[{f"g{i}": 0.0}], privileged_groups=[{f"g{i}": 1.0}]
            )
            n_u, n_p = int(m.num_instances(privileged=False)), int(m.num_instances(privileged=True))
            judged = min(n_u, n_p) >= p.min_group_size
            counts = cells.cells(i, cells.y_true)  # predictions = labels: tp/tn cells only
            boot = _bootstrap_counts(counts, p.bootstrap, rng) if p.bootstrap else None
            point = {
                "base_rate_u": m.base_rate(privileged=False),
                "base_rate_p": m.base_rate(privileged=True),
                "label_statistical_parity_difference": m.statistical_parity_difference(),
                "label_disparate_impact": m.disparate_impact(),
            }
            ci: dict[str, Interval | None] = {k: None for k in point}
            if boot is not None:
                u = rates(*(boot[:, 1 + j] for j in range(4)))
                pr = rates(*(boot[:, 5 + j] for j in range(4)))
                samples = {
                    "base_rate_u": u["base_rate"],
                    "base_rate_p": pr["base_rate"],
                    "label_statistical_parity_difference": u["base_rate"] - pr["base_rate"],
                    "label_disparate_impact": _div(u["base_rate"], pr["base_rate"]),
                }
                ci = {k: bootstrap_interval(v, p.confidence, p.bootstrap) for k, v in samples.items()}
            for key, group, n in (("base_rate_p", c.reference, n_p), ("base_rate_u", c.group, n_u)):
                gkey = f"{c.attribute}={group}"
                if gkey in seen_groups:
                    continue
                seen_groups.add(gkey)
                metrics.append(
                    Metric(
                        name="base_rate", value=_f(point[key]), ci=ci[key], n=n, subject=gkey,
                        attribute=c.attribute, group=group, judged=n >= p.min_group_size,
                        note=None if n >= p.min_group_size else f"group smaller than {p.min_group_size}",
                    )
                )
            for name in ("label_statistical_parity_difference", "label_disparate_impact"):
                ok, note = _judgement(judged, ci[name], _f(point[name]), p)
                metrics.append(
                    Metric(
                        name=name, value=_f(point[name]), ci=ci[name], n=n_u + n_p, subject=c.subject,
                        attribute=c.attribute, group=c.group, reference=c.reference, judged=ok, note=note,
                    )
                )
            rows.append([c.subject, n_u, n_p, _f(point["base_rate_u"]), _f(point["base_rate_p"]),
                         _f(point["label_statistical_parity_difference"]), _f(point["label_disparate_impact"])])
        table = Table(
            title="Favourable-label base rates by group (labels, not predictions)",
            columns=["comparison", "n unprivileged", "n privileged", "base rate unpriv.", "base rate priv.",
                     "SPD", "DI"],
            rows=rows,
        )
        overall = float(y.mean())
        return CheckOutput(
            metrics=metrics,
            tables=[table],
            summary=f"{len(comps)} comparisons; overall favourable base rate {overall:.3f} on {len(y)} rows",
            evidence={"overall_base_rate": overall, "n": len(y), "comparisons": len(comps)},
        )


GROUP_METRICS = ("selection_rate", "tpr", "fpr", "fnr", "precision", "error_rate")
DIFF_METRICS = (
    "statistical_parity_difference",
    "disparate_impact",
    "equal_opportunity_difference",
    "average_odds_difference",
    "error_rate_difference",
)


class ModelFairnessCheck(_FairnessBase):
    """Group fairness of the model's predictions, per protected attribute and intersections."""

    id = "fairness.model"
    title = "Group fairness of predictions"
    description = ("Selection rate, TPR, FPR, FNR, precision and error rate per group; statistical parity, "
                   "disparate impact, equal opportunity, average odds and error rate differences; Theil index "
                   "(aif360 ClassificationMetric), with bootstrap confidence intervals.")
    requires = frozenset({"protected", "predictions"})

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        p: FairnessParams = params
        comps = cached_comparisons(ctx, p.intersections, p.per_value, p.max_values)
        y, yhat = ctx.y_true, ctx.y_pred
        aif360 = _import_aif360()
        cells = CellTable.build(comps, y, yhat)
        ds_true, ds_pred = _aif_datasets(cells)
        rng = ctx.rng(self.id)
        metrics: list[Metric] = []
        group_rows: list[list[Any]] = []
        diff_rows: list[list[Any]] = []
        seen_groups: set[str] = set()
        for i, c in enumerate(comps):
            cm = aif360.metrics.ClassificationMetric(
                ds_true, ds_pred, unprivileged_groups=[{f"g{i}": 0.0}], privileged_groups=[{f"g{i}": 1.0}]
            )
            n_u, n_p = int(cm.num_instances(privileged=False)), int(cm.num_instances(privileged=True))
            judged = min(n_u, n_p) >= p.min_group_size
            point_g = {
                priv: {
                    "selection_rate": cm.selection_rate(privileged=priv),
                    "tpr": cm.true_positive_rate(privileged=priv),
                    "fpr": cm.false_positive_rate(privileged=priv),
                    "fnr": cm.false_negative_rate(privileged=priv),
                    "precision": cm.positive_predictive_value(privileged=priv),
                    "error_rate": cm.error_rate(privileged=priv),
                }
                for priv in (False, True)
            }
            point_d = {
                "statistical_parity_difference": cm.statistical_parity_difference(),
                "disparate_impact": cm.disparate_impact(),
                "equal_opportunity_difference": cm.equal_opportunity_difference(),
                "average_odds_difference": cm.average_odds_difference(),
                "error_rate_difference": cm.error_rate_difference(),
            }
            if c.kind == "binary" and (c.codes >= 0).all():
                point_d["between_group_theil_index"] = between_group_theil(c.codes, y, yhat)
            ci_g: dict[bool, dict[str, Interval | None]] = {False: {}, True: {}}
            ci_d: dict[str, Interval | None] = {}
            if p.bootstrap:
                boot = _bootstrap_counts(cells.cells(i), p.bootstrap, rng)
                u = rates(*(boot[:, 1 + j] for j in range(4)))
                pr = rates(*(boot[:, 5 + j] for j in range(4)))
                ci_g = {
                    False: {k: bootstrap_interval(u[k], p.confidence, p.bootstrap) for k in GROUP_METRICS},
                    True: {k: bootstrap_interval(pr[k], p.confidence, p.bootstrap) for k in GROUP_METRICS},
                }
                d = differences(u, pr)
                if "between_group_theil_index" in point_d:
                    d["between_group_theil_index"] = _bgti(boot)
                ci_d = {k: bootstrap_interval(v, p.confidence, p.bootstrap) for k, v in d.items()}
            for priv, group, n in ((True, c.reference, n_p), (False, c.group, n_u)):
                gkey = f"{c.attribute}={group}"
                if gkey in seen_groups:
                    continue
                seen_groups.add(gkey)
                ok = n >= p.min_group_size
                note = None if ok else f"group smaller than {p.min_group_size}"
                metrics.append(Metric(name="group_size", value=float(n), n=n, subject=gkey, attribute=c.attribute,
                                      group=group, judged=ok, note=note))
                for k in GROUP_METRICS:
                    metrics.append(
                        Metric(name=k, value=_f(point_g[priv][k]), ci=ci_g[priv].get(k), n=n, subject=gkey,
                               attribute=c.attribute, group=group, judged=ok, note=note)
                    )
                group_rows.append([gkey, n] + [_f(point_g[priv][k]) for k in GROUP_METRICS])
            for k, v in point_d.items():
                ok, note = _judgement(judged, ci_d.get(k), _f(v), p)
                metrics.append(
                    Metric(name=k, value=_f(v), ci=ci_d.get(k), n=n_u + n_p, subject=c.subject,
                           attribute=c.attribute, group=c.group, reference=c.reference, judged=ok, note=note)
                )
            diff_rows.append([c.subject, n_u, n_p] + [_f(point_d[k]) for k in DIFF_METRICS])
        # Overall Theil index (individual-level inequality of benefits), with its own bootstrap.
        theil = _theil(_benefit(y, yhat)) if comps else float("nan")
        theil_ci = None
        acc = float((y == yhat).mean())
        if p.bootstrap:
            conf = np.bincount(np.where(y == 1, np.where(yhat == 1, 0, 2), np.where(yhat == 1, 1, 3)), minlength=4)
            b = _bootstrap_counts(conf, p.bootstrap, rng)
            theil_ci = bootstrap_interval(theil_from_cells(b[:, 0], b[:, 1], b[:, 2], b[:, 3]), p.confidence, p.bootstrap)
        metrics.append(Metric(name="theil_index", value=_f(theil), ci=theil_ci, n=len(y), subject="all rows"))
        metrics.append(Metric(name="accuracy", value=acc, n=len(y), subject="all rows"))
        tables = [
            Table(title="Rates by group", columns=["group", "n", *GROUP_METRICS], rows=group_rows),
            Table(title="Differences and ratios (unprivileged vs privileged)",
                  columns=["comparison", "n unprivileged", "n privileged", *DIFF_METRICS], rows=diff_rows),
        ]
        worst = min((m for m in metrics if m.name == "disparate_impact" and m.value is not None and m.judged),
                    key=lambda m: m.value if m.value is not None else 1.0, default=None)
        summary = f"{len(comps)} comparisons on {len(y)} rows; accuracy {acc:.3f}"
        if worst is not None and worst.value is not None:
            summary += f"; lowest disparate impact {worst.value:.3f} ({worst.subject})"
        return CheckOutput(
            metrics=metrics,
            tables=tables,
            summary=summary,
            evidence={"n": len(y), "comparisons": [c.subject for c in comps],
                      "selection_rate_overall": float(yhat.mean()), "bootstrap": p.bootstrap,
                      "confidence": p.confidence, "min_group_size": p.min_group_size},
        )


def _bgti(boot: np.ndarray) -> np.ndarray:
    """Between-group Theil index for two groups covering every row, from bootstrap cell counts."""
    n_u = boot[:, 1:5].sum(axis=1)
    n_p = boot[:, 5:9].sum(axis=1)
    n = n_u + n_p

    def mean_benefit(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
        return _div(tp + tn + 2 * fp, tp + fp + fn + tn)

    mu_u = mean_benefit(*(boot[:, 1 + j] for j in range(4)))
    mu_p = mean_benefit(*(boot[:, 5 + j] for j in range(4)))
    mu = _div(n_u * mu_u + n_p * mu_p, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_u = np.where(mu_u > 0, (mu_u / mu) * np.log(mu_u / mu), 0.0)
        t_p = np.where(mu_p > 0, (mu_p / mu) * np.log(mu_p / mu), 0.0)
    return _div(n_u * t_u + n_p * t_p, n)
