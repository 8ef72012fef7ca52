"""Fairness audit of the Adult sample bundle vs aif360 called directly on the same predictions.

Prints wall time and peak traced memory of (a) trustaudit's fairness checks (fairness.dataset + fairness.model,
default rubric parameters: 1,000 bootstrap resamples, intersections, per-value groups) and (b) the same metrics
computed by calling aif360's BinaryLabelDatasetMetric / ClassificationMetric directly for the same comparisons,
and their ratio. Predictions are computed once before timing and excluded from both.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_fairness.py [--repeat 5] [--bundle sample_models/adult-income-hgb]
        [--rows 100000]

``--rows N`` up-samples the evaluation rows with replacement (seeded) to N, with the model's predictions as a
prediction column, so both sides time the fairness metrics alone at that size.

Intervals: rates, differences and ratios have closed-form score intervals (Wilson, Newcombe, MOVER); only the
Theil indices are bootstrapped (BCa on multinomial cell counts, jackknife over the non-empty cells), so the cost
does not grow with the number of rows beyond building the cell table.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np

from trustaudit.api import _run_check
from trustaudit.bundle import load_bundle
from trustaudit.checks.fairness import (
    DatasetFairnessCheck,
    FairnessParams,
    ModelFairnessCheck,
    _import_aif360,
    build_comparisons,
)
from trustaudit.context import AuditContext


def direct_aif360(ctx: AuditContext, p: FairnessParams) -> int:
    """The same metrics, straight from aif360 (no bootstrap: aif360 has none)."""
    import pandas as pd

    aif360 = _import_aif360()
    comps = build_comparisons(ctx, p.intersections, p.per_value, p.max_values)
    cols = {f"g{i}": c.codes.astype(np.float64) for i, c in enumerate(comps)}
    df = pd.DataFrame({**cols, "label": ctx.y_true.astype(np.float64)})
    ds = aif360.datasets.BinaryLabelDataset(df=df, label_names=["label"], protected_attribute_names=list(cols),
                                            favorable_label=1.0, unfavorable_label=0.0)
    pred = ds.copy(deepcopy=False)
    pred.labels = ctx.y_pred.astype(np.float64).reshape(-1, 1)
    n = 0
    for i, _ in enumerate(comps):
        groups = {"unprivileged_groups": [{f"g{i}": 0.0}], "privileged_groups": [{f"g{i}": 1.0}]}
        dm = aif360.metrics.BinaryLabelDatasetMetric(ds, **groups)
        vals = [dm.base_rate(False), dm.base_rate(True), dm.statistical_parity_difference(), dm.disparate_impact()]
        cm = aif360.metrics.ClassificationMetric(ds, pred, **groups)
        for priv in (False, True):
            vals += [cm.num_instances(privileged=priv), cm.selection_rate(privileged=priv),
                     cm.true_positive_rate(privileged=priv), cm.false_positive_rate(privileged=priv),
                     cm.false_negative_rate(privileged=priv), cm.positive_predictive_value(privileged=priv),
                     cm.error_rate(privileged=priv)]
        vals += [cm.statistical_parity_difference(), cm.disparate_impact(), cm.equal_opportunity_difference(),
                 cm.average_odds_difference(), cm.error_rate_difference()]
        if (comps[i].codes >= 0).all() and comps[i].kind == "binary":
            vals.append(cm.between_group_theil_index())
        n += len(vals)
    n += 1 if cm.theil_index() is not None else 0
    return n


def ours(ctx: AuditContext) -> None:
    for cls in (DatasetFairnessCheck, ModelFairnessCheck):
        res = _run_check(cls, ctx, {})
        assert res.error is None, res.error


def measure(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", default=str(Path(__file__).resolve().parents[1] / "sample_models" / "adult-income-hgb"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rows", type=int, default=0, help="up-sample the evaluation rows to this many (0: as shipped)")
    args = ap.parse_args()
    bundle = load_bundle(args.bundle)
    ctx = AuditContext(bundle, seed=0)
    t0 = time.perf_counter()
    _ = ctx.y_pred, ctx.protected
    pred_s = time.perf_counter() - t0
    if args.rows:
        from trustaudit.api import in_memory_bundle

        spec = bundle.manifest.data
        df = bundle.data.copy()
        df["__pred"] = np.where(ctx.y_pred == 1, spec.favorable_label,
                                next(v for v in bundle.data[spec.label].unique() if v != spec.favorable_label))
        df = df.sample(n=args.rows, replace=True, random_state=0).reset_index(drop=True)
        protected = {k: v.model_dump(exclude_none=True) for k, v in bundle.manifest.protected.items()}
        big = in_memory_bundle(None, df, label=spec.label, favorable_label=spec.favorable_label,
                               protected=protected, prediction="__pred")
        ctx = AuditContext(big, seed=0)
        _ = ctx.y_pred, ctx.protected
    _import_aif360()
    p = FairnessParams()
    n_metrics = direct_aif360(ctx, p)  # warm-up
    ours(ctx)
    t_ours, m_ours = measure(lambda: ours(ctx), args.repeat)
    t_direct, m_direct = measure(lambda: direct_aif360(ctx, p), args.repeat)
    n_comp = len(build_comparisons(ctx, p.intersections, p.per_value, p.max_values))
    print(f"bundle: {Path(args.bundle).name}  rows: {ctx.n_rows}  comparisons: {n_comp}  "
          f"aif360 metric values: {n_metrics}  predictions (excluded): {pred_s:.2f} s")
    print(f"{'':28}{'wall (median of ' + str(args.repeat) + ')':>22}{'peak traced MiB':>18}")
    print(f"{'trustaudit fairness.*':28}{t_ours:>20.3f} s{m_ours:>18.1f}")
    print(f"{'aif360 direct':28}{t_direct:>20.3f} s{m_direct:>18.1f}")
    print(f"{'ratio (target <= 1.2)':28}{t_ours / t_direct:>22.2f}{m_ours / m_direct:>18.2f}")


if __name__ == "__main__":
    main()
