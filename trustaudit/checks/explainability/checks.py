"""The explainability checks: SHAP importance, fidelity and stability; reliance on protected attributes.

Both checks read the same attributions (:func:`compute_attributions`, cached on the audit context), so running
both costs one SHAP computation when their explainer parameters agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from trustaudit.checks.base import Check, CheckOutput, MetricSpec
from trustaudit.checks.explainability.attributions import Attributions, ShapParams, compute_attributions
from trustaudit.checks.explainability.stats import (
    cramers_v,
    discretise,
    mean_statistics,
    normalized_mutual_info,
    spearman,
)
from trustaudit.context import AuditContext
from trustaudit.results import Artifact, Interval, Metric, Table


class ExplainabilityParams(ShapParams):
    proxy_threshold: float = Field(
        0.4,
        gt=0,
        le=1,
        description="Cramér's V at or above which a feature counts as a proxy of a protected attribute",
    )
    association_bins: int = Field(
        10, ge=2, le=100, description="Quantile bins of numeric features for the association measures"
    )


class ShapCheckParams(ExplainabilityParams):
    plots: bool = Field(True, description="Write the SVG plots (when the audit has an output directory)")
    plot_features: int = Field(15, ge=1, description="Features shown in the plots")
    beeswarm_rows: int = Field(500, ge=10, description="Rows drawn in the beeswarm plot")


class ProtectedRelianceParams(ExplainabilityParams):
    top_features: int = Field(5, ge=1, description="Most important features compared between groups")
    min_group_size: int = Field(
        30, ge=1, description="Groups smaller than this (among explained rows) are reported but not judged"
    )
    minor_share: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Shares below this are called minor in the summary (default: the default rubric's bound)",
    )


# -- shared helpers -----------------------------------------------------------------------------------------


def _f(x: Any) -> float | None:
    v = float(x)
    return v if np.isfinite(v) else None


def _shares(m: np.ndarray) -> np.ndarray:
    """(m, F) mean |SHAP| -> (m, F) shares of their total."""
    return m / m.sum(axis=1, keepdims=True)


def _not_judged(metrics: list[Metric], att: Attributions) -> list[Metric]:
    """Every metric reported but not judged when the safety stop ended the SHAP computation early."""
    if att.stopped_early is None:
        return metrics
    note = f"not judged: {att.stopped_early}"
    return [m.model_copy(update={"judged": False, "note": note}) for m in metrics]


def _stop_warning(att: Attributions) -> list[str]:
    if att.stopped_early is None:
        return []
    return [f"SHAP computation {att.stopped_early}: the values depend on machine speed; no metric is judged"]


def associations(
    ctx: AuditContext, features: list[str], bins: int
) -> dict[str, list[tuple[str, float, float]]]:
    """For each protected attribute: (feature, Cramér's V, normalised mutual information) of every other model
    feature with the attribute's group (privileged or not), on every evaluation row where the attribute is known.
    Sorted by V, strongest first. Cached on the context."""
    key = f"explainability.associations:{features!r}:{bins}"
    if key in ctx.cache:
        return ctx.cache[key]
    codes = {f: discretise(ctx.X[f], bins) for f in features if f in ctx.X.columns}
    out: dict[str, list[tuple[str, float, float]]] = {}
    tables = _group_tables(ctx, codes)
    for name in ctx.protected:
        rows = [(f, cramers_v(t), normalized_mutual_info(t)) for f, t in tables[name].items() if f != name]
        out[name] = sorted(rows, key=lambda r: (-r[1], r[0]))
    ctx.cache[key] = out
    return out


#: Protected attributes counted together in one joint table (3 states each: 3**8 = 6,561 columns at most).
_ATTRS_PER_PASS = 8


def _group_tables(ctx: AuditContext, codes: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """attribute -> feature -> contingency table of the feature's codes against the attribute's group (columns:
    not privileged, privileged) over the rows where the attribute is known; exactly ``contingency(c[valid],
    group)``. One pass over the rows per feature (per 8 attributes): each row's joint state over the attributes
    (unknown / not privileged / privileged) is counted with the feature's code, and each attribute's table is a
    margin of that."""
    attrs = list(ctx.protected.items())
    out: dict[str, dict[str, np.ndarray]] = {name: {} for name, _ in attrs}
    for start in range(0, len(attrs), _ATTRS_PER_PASS):
        batch = attrs[start:start + _ATTRS_PER_PASS]
        k = len(batch)
        n_pat = 3**k
        pattern = np.zeros(ctx.n_rows, dtype=np.int64)
        for _, a in batch:
            pattern = pattern * 3 + np.where(np.asarray(a.valid), 1 + np.asarray(a.privileged, dtype=np.int64), 0)
        digits = [(np.arange(n_pat) // 3 ** (k - 1 - i)) % 3 for i in range(k)]
        for f, c in codes.items():
            c1 = np.asarray(c, dtype=np.int64) + 1
            width = int(c1.max()) + 1 if len(c1) else 1
            joint = np.bincount(c1 * n_pat + pattern, minlength=width * n_pat).reshape(width, n_pat)
            for (name, _), d in zip(batch, digits):
                table = np.column_stack([joint[:, d == 1].sum(axis=1), joint[:, d == 2].sum(axis=1)])
                out[name][f] = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    return out


def proxies_of(assoc: dict[str, list[tuple[str, float, float]]], threshold: float) -> dict[str, list[str]]:
    return {a: [f for f, v, _ in rows if v >= threshold] for a, rows in assoc.items()}


def _common_evidence(att: Attributions, p: ShapParams) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        shap_version = version("shap")
    except PackageNotFoundError:  # pragma: no cover
        shap_version = None
    return {
        "method": att.method,
        "explainer": att.explainer,
        "explained_output": att.output_label,
        "output_units": att.output,
        "rows_explained": att.n,
        "background": att.background.describe(),
        "explainer_inputs": att.n_inputs,
        "features": len(att.features),
        "base_value": _f(att.base_value),
        "bootstrap": p.bootstrap,
        "confidence": p.confidence,
        "interval": "BCa bootstrap over the explained rows, each resampled with its own background draw"
        if att.background.draws is not None
        else "BCa bootstrap over the explained rows (the background is the exact expectation over the pool)",
        "stopped_early": att.stopped_early,
        "shap_elapsed_s": round(att.elapsed_s, 3),
        "shap_version": shap_version,
        **{k: v for k, v in att.details.items() if v is not None},
    }


# -- explainability.shap ------------------------------------------------------------------------------------


class ShapCheck(Check):
    """Global SHAP importance per original feature, additivity of the explanation, stability of the ranking."""

    id = "explainability.shap"
    category = "explainability"
    title = "SHAP feature attributions"
    description = (
        "Mean |SHAP| per original feature and its share of the total, with BCa bootstrap intervals (explained "
        "rows resampled with their background draws) and ranks; fidelity (additivity error against the model's "
        "output); rank stability between two independent halves of the explained rows and their backgrounds; "
        "importance and beeswarm plots."
    )
    requires = frozenset({"model"})
    Params = ShapCheckParams

    metrics = (
        MetricSpec("mean_abs_shap", "Mean absolute SHAP value of a feature over the explained rows (BCa over rows and "
                   "their background draws)", direction="neutral", unit="log-odds or probability",
                   subject=("attribute",)),
        MetricSpec("importance_share", "A feature's share of the total mean |SHAP| (BCa)", subject=("attribute",)),
        MetricSpec("additivity_error_max", "Largest |model output - (base value + sum of SHAP values)| over the "
                   "explained rows", direction="lower_is_better", unit="log-odds or probability"),
        MetricSpec("additivity_error_mean", "Mean |model output - (base value + sum of SHAP values)|",
                   direction="lower_is_better", unit="log-odds or probability"),
        MetricSpec("stability_spearman", "Spearman correlation of the feature rankings of two independent halves of "
                   "the explained rows (and their backgrounds)", direction="higher_is_better"),
    )

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        p: ShapCheckParams = params
        att = compute_attributions(ctx, p)
        V = att.values
        n, nf = V.shape

        def statistic(m: np.ndarray) -> np.ndarray:  # (., F) mean |SHAP| -> (., 2F): itself and its share
            return np.concatenate([m, _shares(m)], axis=1)

        est, cis = mean_statistics(
            np.abs(V), statistic, n_boot=p.bootstrap, rng=ctx.rng(f"{self.id}.bootstrap"), level=p.confidence
        )
        imp, share = est[:nf], est[nf:]
        ci_imp, ci_share = cis[:nf], cis[nf:]
        order = np.argsort(-imp, kind="stable")
        rank = np.empty(nf, dtype=np.int64)
        rank[order] = np.arange(1, nf + 1)

        err = np.abs(att.base + V.sum(axis=1) - att.model_output)
        err_max, err_mean = float(np.max(err)), float(np.mean(err))
        # two independent halves: disjoint explained rows, each with its own background draws
        half = ctx.rng(f"{self.id}.stability").permutation(n) < n // 2
        half_imp = [np.abs(V[half]).mean(axis=0), np.abs(V[~half]).mean(axis=0)]
        rho = spearman(half_imp[0], half_imp[1]) if nf > 1 and n >= 2 else float("nan")

        unit = att.output
        metrics: list[Metric] = []
        for j in order:
            f = att.features[j]
            metrics.append(
                Metric(
                    name="mean_abs_shap",
                    value=_f(imp[j]),
                    ci=ci_imp[j],
                    n=n,
                    subject=f,
                    attribute=f,
                    unit=unit,
                    note=f"rank {rank[j]} of {nf}",
                )
            )
        for j in order:
            f = att.features[j]
            metrics.append(
                Metric(
                    name="importance_share",
                    value=_f(share[j]),
                    ci=ci_share[j],
                    n=n,
                    subject=f,
                    attribute=f,
                    note=f"rank {rank[j]} of {nf}",
                )
            )
        metrics += [
            Metric(
                name="additivity_error_max",
                value=_f(err_max),
                n=n,
                subject="all explained rows",
                unit=unit,
                note=f"max over rows of |base + sum(SHAP) - model output|, against the "
                f"{att.details.get('reference_output')}",
            ),
            Metric(
                name="additivity_error_mean",
                value=_f(err_mean),
                n=n,
                subject="all explained rows",
                unit=unit,
                note="mean over rows of |base + sum(SHAP) - model output|",
            ),
            Metric(
                name="stability_spearman",
                value=_f(rho),
                n=n,
                subject="half a vs half b",
                note=f"Spearman correlation of the mean |SHAP| of {nf} features on two disjoint random halves of "
                f"the explained rows ({int(half.sum())} and {int((~half).sum())} rows, each row with its own "
                "background draw)",
            ),
        ]
        rows = [
            [
                int(rank[j]),
                att.features[j],
                _f(imp[j]),
                _f(ci_imp[j].low) if ci_imp[j] else None,
                _f(ci_imp[j].high) if ci_imp[j] else None,
                _f(share[j]),
                _f(half_imp[0][j]),
                _f(half_imp[1][j]),
            ]
            for j in order
        ]
        tables = [
            Table(
                title=f"Global importance: mean |SHAP| ({att.output_label}) per feature, {n} rows",
                columns=["rank", "feature", "mean |SHAP|", "CI low", "CI high", "share", "half a", "half b"],
                rows=rows,
            )
        ]
        artifacts: list[Artifact] = []
        if p.plots and ctx.out_dir is not None:
            artifacts = self._plots(ctx, p, att, imp, ci_imp, order)
        top = ", ".join(f"{att.features[j]} ({share[j]:.0%})" for j in order[:3])
        summary = (
            f"{att.explainer} on {n} rows, explaining the {att.output_label}; top features: {top}; "
            f"additivity error max {err_max:.2g}; rank stability {rho:.3f}"
        )
        evidence = _common_evidence(att, p)
        evidence["ranking"] = [att.features[j] for j in order]
        return CheckOutput(
            metrics=_not_judged(metrics, att),
            summary=summary,
            tables=tables,
            evidence=evidence,
            artifacts=artifacts,
            warnings=list(att.warnings) + _stop_warning(att),
        )

    def _plots(
        self,
        ctx: AuditContext,
        p: ShapCheckParams,
        att: Attributions,
        imp: np.ndarray,
        ci: list[Interval | None],
        order: np.ndarray,
    ) -> list[Artifact]:
        assert ctx.out_dir is not None
        kinds: dict[str, str] = {}
        if ctx.protected:
            for fs in proxies_of(
                associations(ctx, att.features, p.association_bins), p.proxy_threshold
            ).values():
                for f in fs:
                    kinds.setdefault(f, "proxy")
            for a in ctx.protected:
                kinds[a] = "protected"
        low = np.array([c.low if c else np.nan for c in ci])
        high = np.array([c.high if c else np.nan for c in ci])
        has_ci = p.bootstrap > 0 and bool(np.isfinite(low).all())
        from trustaudit.checks.explainability.plots import beeswarm_svg, importance_svg

        rel_imp = "explainability/shap_importance.svg"
        rel_bee = "explainability/shap_beeswarm.svg"
        importance_svg(
            ctx.out_dir / rel_imp,
            att.features,
            imp,
            low if has_ci else None,
            high if has_ci else None,
            kinds,
            f"mean |SHAP| ({att.output})",
            f"Global importance ({att.n} rows, {p.confidence:.0%} CI)",
            p.plot_features,
        )
        pick = np.arange(att.n)
        if att.n > p.beeswarm_rows:
            pick = np.sort(ctx.rng(f"{self.id}.beeswarm").choice(att.n, size=p.beeswarm_rows, replace=False))
        colour = {}
        for f in att.features:
            if f in ctx.X.columns and pd.api.types.is_numeric_dtype(ctx.X[f]):
                colour[f] = ctx.X[f].to_numpy(dtype=np.float64, na_value=np.nan)[att.rows[pick]]
        beeswarm_svg(
            ctx.out_dir / rel_bee,
            att.features,
            att.values[pick],
            colour,
            order[: p.plot_features],
            f"SHAP value ({att.output_label})",
            f"SHAP values per row ({len(pick)} rows)",
        )
        return [
            Artifact(
                path=rel_imp,
                media_type="image/svg+xml",
                title="SHAP global importance (mean |SHAP| with bootstrap interval)",
            ),
            Artifact(
                path=rel_bee, media_type="image/svg+xml", title="SHAP beeswarm (value per row and feature)"
            ),
        ]


# -- explainability.protected_reliance -------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class ProtectedRelianceCheck(Check):
    """How much the model's attributions rest on protected attributes, directly or through proxies."""

    id = "explainability.protected_reliance"
    category = "explainability"
    title = "Reliance on protected attributes (SHAP)"
    description = (
        "Share of total mean |SHAP| on each protected attribute and on its proxies (features with "
        "Cramér's V >= proxy_threshold with the attribute's groups); mean SHAP of the top features "
        "for unprivileged vs privileged rows."
    )
    requires = frozenset({"model", "protected"})
    Params = ProtectedRelianceParams

    metrics = (
        MetricSpec("protected_attribution_share", "Share of the total mean |SHAP| carried by a protected attribute's "
                   "own columns (direct reliance; BCa)", direction="lower_is_better", subject=("attribute",)),
        MetricSpec("proxy_attribution_share", "Share of the total mean |SHAP| carried by features associated with a "
                   "protected attribute above the proxy threshold (BCa)", direction="lower_is_better",
                   subject=("attribute",)),
        MetricSpec("group_attribution_difference", "Per feature (the most important, the attribute and its proxies): "
                   "mean SHAP value over unprivileged rows minus privileged rows (BCa)", direction="closer_to_zero",
                   unit="log-odds or probability", subject=("attribute", "group", "reference")),
        MetricSpec("group_output_gap", "Mean summed SHAP values (output minus the row's base value) of the "
                   "unprivileged group minus the privileged group's", direction="closer_to_zero",
                   unit="log-odds or probability",
                   subject=("attribute", "group", "reference")),
    )

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        from trustaudit.groups import group_labels

        p: ProtectedRelianceParams = params
        att = compute_attributions(ctx, p)
        n = att.n
        V = att.values
        nf = V.shape[1]
        imp = np.abs(V).mean(axis=0)
        pos = {f: j for j, f in enumerate(att.features)}
        assoc = associations(ctx, att.features, p.association_bins)
        proxies = proxies_of(assoc, p.proxy_threshold)
        top = [int(j) for j in np.argsort(-imp, kind="stable")[: p.top_features]]

        # Every metric is a function of means of per-row columns; one bootstrap of the rows gives them all. The
        # metrics are registered in the order they are read back below: per attribute, direct share, proxy
        # share, the group differences of the chosen features and the output gap.
        cols = _Columns(np.abs(V))
        share_of: dict[str, tuple[list[int], list[int]]] = {}
        groups: dict[str, tuple[dict[bool, np.ndarray], list[int]]] = {}
        for a, attr in ctx.protected.items():
            share_of[a] = ([pos[a]] if a in pos else [], [pos[f] for f in proxies[a] if f in pos])
            for idx in share_of[a]:
                if idx:
                    cols.add_output(partial(_share_sum, nf=nf, idx=idx))
            valid = np.asarray(attr.valid)[att.rows]
            privileged = np.asarray(attr.privileged)[att.rows]
            masks = {True: valid & privileged, False: valid & ~privileged}
            chosen = set(top) | set(share_of[a][0]) | set(share_of[a][1])
            chosen_idx = sorted(chosen, key=lambda j: (-float(imp[j]), j))
            groups[a] = (masks, chosen_idx)
            if masks[True].any() and masks[False].any():
                parts = {}
                for g, mk in masks.items():
                    w = mk.astype(np.float64)
                    parts[g] = (cols.add(V[:, chosen_idx] * w[:, None]), cols.add(V.sum(axis=1) * w), cols.add(w))
                for k in [*range(len(chosen_idx)), None]:  # each chosen feature, then the output gap
                    cols.add_output(partial(_group_difference, parts=parts, k=k))
        est, cis = mean_statistics(
            cols.matrix(), cols.statistic, n_boot=p.bootstrap, rng=ctx.rng(f"{self.id}.bootstrap"), level=p.confidence
        )
        results = iter(zip(est, cis))

        metrics: list[Metric] = []
        share_rows: list[list[Any]] = []
        assoc_rows: list[list[Any]] = []
        group_rows: list[list[Any]] = []
        statements: dict[str, str] = {}
        for a in ctx.protected:
            direct_idx, proxy_idx = share_of[a]
            # direct reliance
            direct, direct_ci, note = 0.0, None, "not a model input"
            if direct_idx:
                d, direct_ci = next(results)
                direct, note = float(d), "share of the total mean |SHAP|"
            metrics.append(
                Metric(
                    name="protected_attribution_share",
                    value=_f(direct),
                    ci=direct_ci,
                    n=n,
                    subject=a,
                    attribute=a,
                    note=note,
                )
            )
            # reliance through proxies
            px = [f for f in proxies[a] if f in pos]
            strength = {f: v for f, v, _ in assoc[a]}
            proxy, proxy_ci = 0.0, None
            if proxy_idx:
                pv, proxy_ci = next(results)
                proxy = float(pv)
            pnote = (
                ", ".join(f"{f} (V={strength[f]:.2f})" for f in px)
                if px
                else f"no feature with Cramér's V >= {p.proxy_threshold:g}"
            )
            metrics.append(
                Metric(
                    name="proxy_attribution_share",
                    value=_f(proxy),
                    ci=proxy_ci,
                    n=n,
                    subject=a,
                    attribute=a,
                    note=f"proxies: {pnote}",
                )
            )
            statements[a] = self._statement(a, a in pos, direct, px, proxy, p.minor_share)
            share_rows.append(
                [
                    a,
                    _f(direct),
                    _f(direct_ci.low) if direct_ci else None,
                    _f(direct_ci.high) if direct_ci else None,
                    ", ".join(px) or None,
                    _f(proxy),
                    _f(proxy_ci.low) if proxy_ci else None,
                    _f(proxy_ci.high) if proxy_ci else None,
                ]
            )
            for f, v, nmi in assoc[a]:
                assoc_rows.append([a, f, _f(v), _f(nmi), v >= p.proxy_threshold])
            # attribution by group
            masks, chosen_idx = groups[a]
            metrics += self._by_group(
                p, att, a, group_labels(ctx.protected[a]), masks, chosen_idx, results, group_rows
            )

        tables = [
            Table(
                title="Share of total attribution (mean |SHAP|) on protected attributes and their proxies",
                columns=[
                    "attribute",
                    "direct share",
                    "CI low",
                    "CI high",
                    "proxies",
                    "proxy share",
                    "CI low",
                    "CI high",
                ],
                rows=share_rows,
            ),
            Table(
                title="Association of each feature with each protected attribute's groups (evaluation data)",
                columns=["attribute", "feature", "Cramér's V", "normalised mutual information", "proxy"],
                rows=assoc_rows,
            ),
            Table(
                title=f"Mean SHAP ({att.output_label}) by group: unprivileged vs privileged, explained rows",
                columns=[
                    "comparison",
                    "feature",
                    "n unprivileged",
                    "n privileged",
                    "mean SHAP unprivileged",
                    "mean SHAP privileged",
                    "difference",
                    "CI low",
                    "CI high",
                ],
                rows=group_rows,
            ),
        ]
        evidence = _common_evidence(att, p)
        evidence.update(
            {
                "statements": statements,
                "proxy_measure": "Cramér's V between the feature (numeric: quantile bins) and privileged/unprivileged",
                "proxy_threshold": p.proxy_threshold,
                "proxies": {a: [f for f in proxies[a] if f in pos] for a in ctx.protected},
            }
        )
        return CheckOutput(
            metrics=_not_judged(metrics, att),
            summary="; ".join(statements.values()),
            tables=tables,
            evidence=evidence,
            warnings=list(att.warnings) + _stop_warning(att),
        )

    @staticmethod
    def _statement(
        a: str, is_input: bool, direct: float, proxies: list[str], proxy: float, minor: float
    ) -> str:
        """One sentence: does the model rely on ``a`` directly, through proxies, both, or neither?"""
        via = f"through {_names(proxies)} ({_pct(proxy)})" if proxies and proxy >= minor else ""
        if not is_input:
            direct_txt = "not a model input"
        elif direct >= minor:
            direct_txt = f"directly ({_pct(direct)})"
        else:
            direct_txt = f"minor direct reliance ({_pct(direct)})"
        if is_input and direct >= minor:
            return f"relies on {a} {direct_txt}" + (f" and {via}" if via else "")
        if via:
            return f"relies on {a} {via}; {direct_txt}"
        extra = f"; proxies {_names(proxies)} carry {_pct(proxy)}" if proxies else "; no proxies"
        return f"no material reliance on {a}: {direct_txt}{extra}"

    @staticmethod
    def _by_group(
        p: ProtectedRelianceParams,
        att: Attributions,
        a: str,
        labels: tuple[str, str],
        masks: dict[bool, np.ndarray],
        chosen_idx: list[int],
        results: Iterator[tuple[float, Interval | None]],
        out_rows: list[list[Any]],
    ) -> list[Metric]:
        priv_label, unpriv_label = labels
        n_p, n_u = int(masks[True].sum()), int(masks[False].sum())
        judged = min(n_p, n_u) >= p.min_group_size
        note = None if judged else f"a group has fewer than {p.min_group_size} explained rows"
        subject = f"{a}: {unpriv_label} vs {priv_label}"
        if n_p == 0 or n_u == 0:
            return [
                Metric(
                    name="group_output_gap",
                    value=None,
                    n=n_p + n_u,
                    subject=subject,
                    attribute=a,
                    group=unpriv_label,
                    reference=priv_label,
                    judged=False,
                    note="a group has no explained rows",
                )
            ]
        V = att.values
        mean = {g: V[m].mean(axis=0) for g, m in masks.items()}
        metrics = []
        for j in chosen_idx:
            f = att.features[j]
            diff, ci = next(results)
            metrics.append(
                Metric(
                    name="group_attribution_difference",
                    value=_f(diff),
                    ci=ci,
                    n=n_p + n_u,
                    subject=f"{subject} / {f}",
                    attribute=a,
                    group=unpriv_label,
                    reference=priv_label,
                    judged=judged,
                    note=note or "mean SHAP over unprivileged rows minus over privileged rows",
                    unit=att.output,
                )
            )
            out_rows.append(
                [
                    subject,
                    f,
                    n_u,
                    n_p,
                    _f(mean[False][j]),
                    _f(mean[True][j]),
                    _f(diff),
                    _f(ci.low) if ci else None,
                    _f(ci.high) if ci else None,
                ]
            )
        gap, gap_ci = next(results)
        metrics.append(
            Metric(
                name="group_output_gap",
                value=_f(gap),
                ci=gap_ci,
                n=n_p + n_u,
                subject=subject,
                attribute=a,
                group=unpriv_label,
                reference=priv_label,
                judged=judged,
                unit=att.output,
                note=note or "mean sum of SHAP values (the explained output minus each row's base value), "
                "unprivileged minus privileged: the sum of the per-feature differences over every feature",
            )
        )
        out_rows.append(
            [
                subject,
                "(all features: output gap)",
                n_u,
                n_p,
                None,
                None,
                _f(gap),
                _f(gap_ci.low) if gap_ci else None,
                _f(gap_ci.high) if gap_ci else None,
            ]
        )
        return metrics


class _Columns:
    """Per-row columns of a bootstrap and the metrics computed from their means (see :func:`mean_statistics`)."""

    def __init__(self, first: np.ndarray) -> None:
        self._blocks = [np.asarray(first, dtype=np.float64).reshape(len(first), -1)]
        self._width = self._blocks[0].shape[1]
        self._outputs: list[Callable[[np.ndarray], np.ndarray]] = []

    def add(self, block: np.ndarray) -> slice:
        """Append per-row column(s); returns where they are in the means."""
        block = np.asarray(block, dtype=np.float64).reshape(len(block), -1)
        self._blocks.append(block)
        start = self._width
        self._width += block.shape[1]
        return slice(start, self._width)

    def add_output(self, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        """A metric: ``fn`` maps means (m, K) to its m values."""
        self._outputs.append(fn)

    def matrix(self) -> np.ndarray:
        return np.hstack(self._blocks)

    def statistic(self, m: np.ndarray) -> np.ndarray:
        return np.column_stack([fn(m) for fn in self._outputs]) if self._outputs else np.zeros((len(m), 0))


def _share_sum(m: np.ndarray, *, nf: int, idx: list[int]) -> np.ndarray:
    """Summed share of features ``idx`` in the total mean |SHAP| (the first ``nf`` means)."""
    return np.asarray(_shares(m[:, :nf])[:, idx].sum(axis=1))


def _group_difference(m: np.ndarray, *, parts: dict[bool, tuple[slice, slice, slice]], k: int | None) -> np.ndarray:
    """Unprivileged minus privileged group mean (:func:`_group_mean`)."""
    return _group_mean(m, parts[False], k) - _group_mean(m, parts[True], k)


def _group_mean(m: np.ndarray, part: tuple[slice, slice, slice], k: int | None) -> np.ndarray:
    """Mean over a group's rows of feature k's SHAP value (None: of the sum over every feature), from the means
    of the columns value * in-group and in-group."""
    values, total, weight = part
    num = m[:, total][:, 0] if k is None else m[:, values][:, k]
    return num / m[:, weight][:, 0]
