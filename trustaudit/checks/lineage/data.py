"""Data lineage checks on the evaluation and training data: leakage (rows in both) and train/eval skew."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec
from trustaudit.checks.lineage._common import CATEGORY, listing, rate_metric
from trustaudit.context import AuditContext
from trustaudit.errors import SkipCheck
from trustaudit.lineage.sources import dtype_kind
from trustaudit.results import Metric, Table
from trustaudit.stats import difference_metric

_NA = "\x00NA"


def training_label(ctx: AuditContext) -> str:
    m = ctx.bundle.manifest
    return (m.training_data.label if m.training_data is not None and m.training_data.label else None) or m.data.label


def _numeric(kind: str) -> bool:
    return kind in ("integer", "float", "bool")


def _canon(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return _NA
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def canonical_frame(df: pd.DataFrame, cols: list[str], numeric: set[str]) -> pd.DataFrame:
    """Columns in a form where equal values hash equally across files (1 == 1.0, NaN == NaN)."""
    out: dict[str, Any] = {}
    for c in cols:
        s = df[c]
        if c in numeric:
            a = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            out[c] = np.where(np.isnan(a), np.nan, a + 0.0)  # one NaN bit pattern, -0.0 -> 0.0
        elif dtype_kind(s) == "string":
            out[c] = _text_fill(s)
        else:
            out[c] = s.astype(object).map(_canon)
    return pd.DataFrame(out)


def _text_fill(s: pd.Series) -> pd.Series:
    """A string column with missing values as a marker (pandas hashes str, object and category values alike)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    return s.fillna(_NA)


def row_hashes(df: pd.DataFrame, cols: list[str], numeric: set[str]) -> np.ndarray:
    """A 64-bit hash per row over ``cols`` (pandas' hash_pandas_object; collisions ~ n^2 / 2^65)."""
    return pd.util.hash_pandas_object(canonical_frame(df, cols, numeric), index=False).to_numpy()


def _shared_columns(ctx: AuditContext, include_label: bool) -> tuple[list[str], list[str], set[str]]:
    train = ctx.training_data
    assert train is not None
    wanted = list(ctx.feature_columns)
    label = ctx.bundle.spec.label
    tlabel = training_label(ctx)
    cols = [c for c in wanted if c in train.columns]
    absent = [c for c in wanted if c not in train.columns]
    numeric = {c for c in cols if _numeric(dtype_kind(ctx.data[c])) and _numeric(dtype_kind(train[c]))}
    if include_label and label in ctx.data.columns and tlabel in train.columns:
        cols.append(label)
        if _numeric(dtype_kind(ctx.data[label])) and _numeric(dtype_kind(train[tlabel])):
            numeric.add(label)
    return cols, absent, numeric


class LeakageParams(CheckParams):
    include_label: bool = Field(True, description="A leaked row repeats the features AND the label")
    confidence: float = Field(0.95, gt=0, lt=1)
    max_examples: int = Field(10, ge=0, description="Leaked eval row indices listed in the evidence")


def label_conflicts(ev_features: np.ndarray, ev_rows: np.ndarray, tr_features: np.ndarray,
                    tr_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per evaluation row, from hashes of its feature vector and of its whole row (features + label):

    * ``conflict``: the feature vector occurs in the training data with a different label (it may also occur
      with the same label);
    * ``only_other``: the feature vector occurs in the training data, but never with this row's label.
    """
    labels_per_features = pd.Series(tr_rows).groupby(tr_features).nunique()  # distinct labels per feature vector
    n_labels = pd.Series(ev_features).map(labels_per_features).fillna(0).to_numpy(dtype=np.int64)
    same = np.isin(ev_rows, tr_rows)  # this very (features, label) occurs in training
    conflict = n_labels - same.astype(np.int64) >= 1
    only_other = (n_labels >= 1) & ~same
    return conflict, only_other


class LeakageCheck(Check):
    """Evaluation rows that also occur in the training data (exact match after canonicalisation).

    Tabular data has natural duplicates (distinct people with identical records), so the rate is compared with
    a baseline: the share of training rows that repeat another training row. ``excess_leak_rate`` (eval overlap
    minus that baseline, Newcombe interval) is what copying eval rows into the training set raises.
    """

    id = "lineage.leakage"
    category = CATEGORY
    title = "Evaluation rows found in the training data"
    version = "1.1"
    description = ("Hashes every row; counts evaluation rows present in the training data (Wilson intervals), "
                   "compares with the rate at which training rows repeat each other (Newcombe), and counts "
                   "evaluation rows whose features occur in training with another label.")
    Params = LeakageParams
    requires = frozenset({"training_data"})

    metrics = (
        MetricSpec("leaked_rows",
                   "Evaluation rows whose feature vector also occurs in the training data",
                   direction="lower_is_better", unit="rows"),
        MetricSpec("leaked_row_rate",
                   "Share of evaluation rows whose feature vector occurs in the training data (Wilson)",
                   direction="lower_is_better"),
        MetricSpec("duplicate_baseline_rate",
                   "Share of training rows duplicated within the training data (the rate expected by chance)"),
        MetricSpec("excess_leak_rate",
                   "Leaked row rate minus the duplicate baseline rate (Newcombe)",
                   direction="lower_is_better"),
        MetricSpec("label_conflict_rate",
                   "Share of evaluation rows whose feature vector occurs in training with a different label",
                   direction="lower_is_better"),
        MetricSpec("other_label_only_rate",
                   "Share of evaluation rows whose feature vector occurs in training only with other labels",
                   direction="lower_is_better"),
    )

    def run(self, ctx: AuditContext, params: LeakageParams) -> CheckOutput:
        train = ctx.training_data
        assert train is not None
        cols, absent, numeric = _shared_columns(ctx, params.include_label)
        feature_cols = [c for c in cols if c != ctx.bundle.spec.label]
        if not feature_cols:
            raise SkipCheck("the training data shares no model input column with the evaluation data")
        tlabel = training_label(ctx)
        train_view = train.rename(columns={tlabel: ctx.bundle.spec.label}) if tlabel != ctx.bundle.spec.label else train
        ev_frame, tr_frame = canonical_frame(ctx.data, cols, numeric), canonical_frame(train_view, cols, numeric)
        ev = pd.util.hash_pandas_object(ev_frame, index=False).to_numpy()
        tr = pd.util.hash_pandas_object(tr_frame, index=False).to_numpy()
        n_eval, n_train = len(ev), len(tr)
        leaked = np.isin(ev, tr)
        k = int(leaked.sum())
        tr_dup = pd.Series(tr).duplicated(keep=False).to_numpy()
        kb = int(tr_dup.sum())
        conf = params.confidence
        what = "features and label" if ctx.bundle.spec.label in cols else "features"
        metrics = [
            Metric(name="leaked_rows", value=float(k), n=n_eval,
                   note=f"evaluation rows whose {what} occur as a row of the training data"),
            rate_metric("leaked_row_rate", k, n_eval, conf, note=f"share of evaluation rows whose {what} occur "
                        "as a row of the training data"),
            rate_metric("duplicate_baseline_rate", kb, n_train, conf,
                        note="share of training rows that repeat another training row (chance level)"),
            difference_metric("excess_leak_rate", k, n_eval, kb, n_train, conf,
                              note="leaked_row_rate minus duplicate_baseline_rate"),
        ]
        label_in = ctx.bundle.spec.label in cols
        conflicts = only_other = 0
        if label_in:
            evf = pd.util.hash_pandas_object(ev_frame[feature_cols], index=False).to_numpy()
            trf = pd.util.hash_pandas_object(tr_frame[feature_cols], index=False).to_numpy()
            conflict_mask, only_mask = label_conflicts(evf, ev, trf, tr)
            conflicts, only_other = int(conflict_mask.sum()), int(only_mask.sum())
            metrics.append(rate_metric(
                "label_conflict_rate", conflicts, n_eval, conf,
                note="share of evaluation rows whose exact feature vector occurs in the training data with a "
                "different label (possibly also with the same one)"))
            metrics.append(rate_metric(
                "other_label_only_rate", only_other, n_eval, conf,
                note="share of evaluation rows whose exact feature vector occurs in the training data, but only "
                "with other labels (a model that memorised its training rows gets these wrong)"))
        examples = np.flatnonzero(leaked)[: params.max_examples].tolist()
        summary = (f"{k} of {n_eval} evaluation rows ({k / n_eval:.1%}) occur in the training data "
                   f"(same {what}); training rows repeating each other: {kb / n_train:.1%}")
        warnings = []
        if absent:
            warnings.append(f"model input column(s) absent from the training data were not compared: {listing(absent)}")
        rows: list[list[object]] = [["eval rows found in training", k, n_eval, k / n_eval],
                                    ["training rows duplicated within training", kb, n_train, kb / n_train]]
        if label_in:
            rows += [["eval rows whose features occur in training with another label", conflicts, n_eval,
                      conflicts / n_eval],
                     ["eval rows whose features occur in training only with other labels", only_other, n_eval,
                      only_other / n_eval]]
        table = Table(title="Overlap of evaluation and training rows", columns=["measure", "count", "of", "rate"],
                      rows=rows)
        return CheckOutput(metrics=metrics, summary=summary, tables=[table], warnings=warnings,
                           evidence={"columns": cols, "leaked_row_examples": examples,
                                     "distinct_leaked_rows": len(np.unique(ev[leaked]))})


# -- skew -------------------------------------------------------------------------------------------------


def psi(expected: np.ndarray, actual: np.ndarray, eps: float = 1e-4) -> float:
    """Population stability index sum((a - e) * ln(a / e)) over bins of proportions (floored at ``eps``)."""
    e = np.maximum(np.asarray(expected, dtype=float), eps)
    a = np.maximum(np.asarray(actual, dtype=float), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def numeric_bins(train: np.ndarray, ev: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Proportions of training and eval values in training-quantile bins, plus a bin for missing values."""
    t_ok, e_ok = ~np.isnan(train), ~np.isnan(ev)
    edges = np.unique(np.quantile(train[t_ok], np.linspace(0, 1, bins + 1)[1:-1])) if t_ok.any() else np.array([])
    t_idx = np.searchsorted(edges, train[t_ok], side="right")
    e_idx = np.searchsorted(edges, ev[e_ok], side="right")
    k = len(edges) + 1
    t_counts = np.append(np.bincount(t_idx, minlength=k), (~t_ok).sum())
    e_counts = np.append(np.bincount(e_idx, minlength=k), (~e_ok).sum())
    return t_counts / max(len(train), 1), e_counts / max(len(ev), 1)


def canonical_text(series: pd.Series) -> pd.Series:
    """Values as text for category comparisons (vectorised for string columns; 1.0 -> '1'; missing -> NA)."""
    if dtype_kind(series) == "string":
        return _text_fill(series)
    return series.astype(object).map(_canon)


def _sorted_counts(text: pd.Series) -> pd.Series:
    """value_counts with ties broken by the value, so the kept categories do not depend on row order."""
    vc = text.value_counts()
    order = np.lexsort((vc.index.astype(str).to_numpy(), -vc.to_numpy()))
    return vc.iloc[order]


def category_bins(train: pd.Series, ev: pd.Series, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Proportions of the ``top`` most frequent training categories, plus one pooled 'other' bin."""
    tc, ec = _sorted_counts(canonical_text(train)), canonical_text(ev).value_counts()
    cats = tc.index[:top]
    t_counts = tc.iloc[:top].to_numpy(dtype=float)
    e_counts = ec.reindex(cats, fill_value=0).to_numpy(dtype=float)
    t_all = np.append(t_counts, len(train) - t_counts.sum())
    e_all = np.append(e_counts, len(ev) - e_counts.sum())
    return t_all / max(len(train), 1), e_all / max(len(ev), 1)


class SkewParams(CheckParams):
    bins: int = Field(10, ge=2, le=100, description="Quantile bins of the training data for numeric PSI")
    top_categories: int = Field(30, ge=1, description="Categories kept for PSI; the rest pooled as 'other'")
    include_label: bool = Field(True, description="Also compare the label's distribution (prior shift)")
    confidence: float = Field(0.95, gt=0, lt=1)


class SkewCheck(Check):
    """Columns, types and value ranges that differ between the training and the evaluation data.

    Per model input column: presence in both files, type family (numeric/string/bool/datetime), PSI (population
    stability index: < 0.1 stable, 0.1-0.25 moderate, > 0.25 large shift), for numeric columns the share of eval
    values outside the training range, for categorical columns the share of eval rows with a category never seen
    in training.
    """

    id = "lineage.skew"
    category = CATEGORY
    title = "Training/evaluation data skew"
    version = "1.1"
    description = "Missing columns, type mismatches, PSI, out-of-range values and unseen categories per column."
    Params = SkewParams
    requires = frozenset({"training_data"})

    metrics = (
        MetricSpec("psi",
                   "Population stability index of a feature between training and evaluation data",
                   direction="lower_is_better", subject=("attribute",)),
        MetricSpec("max_psi",
                   "Largest population stability index over the features",
                   direction="lower_is_better"),
        MetricSpec("out_of_range_rate",
                   "Share of evaluation rows outside a numeric feature's training range (Wilson)",
                   direction="lower_is_better", subject=("attribute",)),
        MetricSpec("unseen_category_rate",
                   "Share of evaluation rows with a category of a feature never seen in training (Wilson)",
                   direction="lower_is_better", subject=("attribute",)),
        MetricSpec("missing_columns",
                   "Training columns missing from the evaluation data",
                   direction="lower_is_better", unit="columns"),
        MetricSpec("dtype_mismatches",
                   "Columns whose type differs between training and evaluation data",
                   direction="lower_is_better", unit="columns"),
    )

    def run(self, ctx: AuditContext, params: SkewParams) -> CheckOutput:
        train = ctx.training_data
        assert train is not None
        data = ctx.data
        conf = params.confidence
        features = list(ctx.feature_columns)
        pairs = [(c, c) for c in features]
        if params.include_label:
            pairs.append((ctx.bundle.spec.label, training_label(ctx)))
        missing = [c for c, tc in pairs if tc not in train.columns]
        extra = [c for c in train.columns if c not in features and c != training_label(ctx)]
        rows: list[list[object]] = []
        metrics: list[Metric] = []
        mismatched: list[str] = []
        psis: list[tuple[float, str]] = []
        n_eval = len(data)
        for col, tcol in pairs:
            if tcol not in train.columns:
                rows.append([col, dtype_kind(data[col]), None, None, None, None, "absent from training data"])
                continue
            ek, tk = dtype_kind(data[col]), dtype_kind(train[tcol])
            same_family = (_numeric(ek) and _numeric(tk)) or ek == tk
            subject = f"{col} (label)" if col == ctx.bundle.spec.label and col not in features else col
            if not same_family:
                mismatched.append(f"{col} ({tk} in training, {ek} in eval)")
                rows.append([col, ek, tk, None, None, None, "type mismatch"])
                continue
            if _numeric(ek) and ek != "bool":
                tv = pd.to_numeric(train[tcol], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                ev = pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                t_props, e_props = numeric_bins(tv, ev, params.bins)
                value = psi(t_props, e_props)
                ok = ~np.isnan(ev)
                if np.isnan(tv).all():
                    outside = 0
                else:
                    lo, hi = np.nanmin(tv), np.nanmax(tv)
                    outside = int(((ev[ok] < lo) | (ev[ok] > hi)).sum())
                n_ok = int(ok.sum())
                metrics.append(rate_metric("out_of_range_rate", outside, n_ok, conf, subject=subject, attribute=col))
                detail = f"{outside} eval value(s) outside the training range" if outside else ""
                rng = (f"[{np.nanmin(tv):g}, {np.nanmax(tv):g}]" if not np.isnan(tv).all() else "-",
                       f"[{np.nanmin(ev):g}, {np.nanmax(ev):g}]" if ok.any() else "-")
                rows.append([col, ek, tk, round(value, 6), rng[0], rng[1], detail])
            else:
                t_props, e_props = category_bins(train[tcol], data[col], params.top_categories)
                value = psi(t_props, e_props)
                seen = set(canonical_text(train[tcol]).unique())
                e_text = canonical_text(data[col])
                present = (e_text != _NA).to_numpy()
                unseen_mask = present & ~e_text.isin(seen).to_numpy()
                unseen_vals = sorted(set(e_text[unseen_mask]))
                n_ok = int(present.sum())
                metrics.append(rate_metric("unseen_category_rate", int(unseen_mask.sum()), n_ok, conf,
                                           subject=subject, attribute=col,
                                           note=f"unseen: {listing(unseen_vals, 5)}" if unseen_vals else None))
                detail = f"unseen in training: {listing(unseen_vals, 5)}" if unseen_vals else ""
                rows.append([col, ek, tk, round(value, 6), f"{len(seen - {_NA})} categories",
                             f"{e_text[present].nunique()} categories", detail])
            metrics.append(Metric(name="psi", value=value, n=n_eval, subject=subject, attribute=col,
                                  note="population stability index, training = expected"))
            psis.append((value, subject))
        metrics[:0] = [
            Metric(name="missing_columns", value=float(len(missing)), n=len(pairs),
                   subject=listing(missing) if missing else None,
                   note="columns the model takes that the training data lacks" if missing else None),
            Metric(name="dtype_mismatches", value=float(len(mismatched)), n=len(pairs) - len(missing),
                   subject=listing(mismatched, 3) if mismatched else None),
        ]
        if psis:
            top = max(psis)
            metrics.append(Metric(name="max_psi", value=top[0], n=n_eval, subject=top[1]))
        parts = []
        if missing:
            parts.append(f"missing from training: {listing(missing)}")
        if mismatched:
            parts.append(f"type mismatch: {listing(mismatched, 3)}")
        if psis:
            top = max(psis)
            parts.append(f"largest PSI {top[0]:.3f} ({top[1]})")
        summary = f"{len(pairs)} columns compared; " + "; ".join(parts)
        return CheckOutput(
            metrics=metrics,
            summary=summary,
            tables=[Table(title="Training vs evaluation columns",
                          columns=["column", "eval type", "training type", "psi", "training range", "eval range",
                                   "note"], rows=rows)],
            evidence={"missing_columns": missing, "extra_training_columns": extra, "dtype_mismatches": mismatched},
        )
