"""The explainability checks: SHAP importance, fidelity and stability; reliance on protected attributes.

Both checks read the same attributions (:func:`compute_attributions`, cached on the audit context), so running
both costs one SHAP computation when their explainer parameters agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from trustaudit.checks.base import Check, CheckOutput
from trustaudit.checks.explainability.attributions import Attributions, ShapParams, compute_attributions
from trustaudit.checks.explainability.stats import (
    bootstrap_counts,
    cramers_v,
    discretise,
    interval,
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


def _importance(
    ctx: AuditContext, att: Attributions, p: ShapParams, purpose: str
) -> tuple[np.ndarray, np.ndarray]:
    """Mean |SHAP| per feature, and its bootstrap replicates (explained rows resampled with replacement;
    shape (bootstrap, features), empty when bootstrap is 0)."""
    absV = np.abs(att.values)
    W = bootstrap_counts(att.n, p.bootstrap, ctx.rng(purpose))
    return absV.mean(axis=0), W @ absV / att.n


def _ci(samples: np.ndarray, p: ShapParams) -> Interval | None:
    return interval(samples, p.confidence, p.bootstrap) if p.bootstrap else None


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
        "background_rows": [len(b) for b in att.background_rows],
        "background": "two independent seeded stratified samples of the evaluation data (pooled: their "
        "row-weighted mean)",
        "explainer_inputs": att.n_inputs,
        "features": len(att.features),
        "base_value": _f(att.base),
        "bootstrap": p.bootstrap,
        "confidence": p.confidence,
        "shap_seconds": round(att.seconds, 3),
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
        "Mean |SHAP| per original feature with bootstrap intervals and ranking; fidelity (additivity "
        "error against the model's output); rank stability across two background samples; "
        "importance and beeswarm plots."
    )
    requires = frozenset({"model"})
    Params = ShapCheckParams

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        p: ShapCheckParams = params
        att = compute_attributions(ctx, p)
        V = att.values
        n, nf = V.shape
        imp, boot_imp = _importance(ctx, att, p, f"{self.id}.bootstrap")
        total = float(imp.sum())
        share = imp / total if total > 0 else np.full(nf, np.nan)
        order = np.argsort(-imp, kind="stable")
        rank = np.empty(nf, dtype=np.int64)
        rank[order] = np.arange(1, nf + 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot_share = boot_imp / boot_imp.sum(axis=1, keepdims=True)
        ci_imp = [_ci(boot_imp[:, j], p) for j in range(nf)]
        ci_share = [_ci(boot_share[:, j], p) for j in range(nf)]

        err = np.abs(att.base + V.sum(axis=1) - att.model_output)
        err_max, err_mean = float(np.max(err)), float(np.mean(err))
        half_imp = [np.abs(h).mean(axis=0) for h in att.halves]
        rho = spearman(half_imp[0], half_imp[1]) if nf > 1 else float("nan")

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
                note=f"|base + sum(SHAP) - model output| against the {att.details.get('reference_output')}",
            ),
            Metric(
                name="additivity_error_mean", value=_f(err_mean), n=n, subject="all explained rows", unit=unit
            ),
            Metric(
                name="stability_spearman",
                value=_f(rho),
                n=n,
                subject="background half a vs half b",
                note=f"Spearman correlation of mean |SHAP| of {nf} features explained against two independent "
                f"background samples ({len(att.background_rows[0])} and {len(att.background_rows[1])} rows)",
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
                columns=[
                    "rank",
                    "feature",
                    "mean |SHAP|",
                    "CI low",
                    "CI high",
                    "share",
                    "background a",
                    "background b",
                ],
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
            metrics=metrics,
            summary=summary,
            tables=tables,
            evidence=evidence,
            artifacts=artifacts,
            warnings=list(att.warnings),
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

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        from trustaudit.checks.fairness import group_labels

        p: ProtectedRelianceParams = params
        att = compute_attributions(ctx, p)
        n = att.n
        imp, boot_imp = _importance(ctx, att, p, f"{self.id}.bootstrap")
        total = float(imp.sum())
        pos = {f: j for j, f in enumerate(att.features)}
        assoc = associations(ctx, att.features, p.association_bins)
        proxies = proxies_of(assoc, p.proxy_threshold)
        boot_total = boot_imp.sum(axis=1)
        top = list(np.argsort(-imp, kind="stable")[: p.top_features])

        metrics: list[Metric] = []
        share_rows: list[list[Any]] = []
        assoc_rows: list[list[Any]] = []
        group_rows: list[list[Any]] = []
        statements: dict[str, str] = {}
        for a, attr in ctx.protected.items():
            # direct reliance
            if a in pos:
                j = pos[a]
                direct = imp[j] / total if total > 0 else float("nan")
                with np.errstate(invalid="ignore", divide="ignore"):
                    direct_ci = _ci(boot_imp[:, j] / boot_total, p)
                note = None
            else:
                direct, direct_ci, note = 0.0, None, "not a model input"
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
            idx = [pos[f] for f in px]
            proxy = float(imp[idx].sum() / total) if idx and total > 0 else 0.0
            proxy_ci = None
            if idx:
                with np.errstate(invalid="ignore", divide="ignore"):
                    proxy_ci = _ci(boot_imp[:, idx].sum(axis=1) / boot_total, p)
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
            metrics += self._by_group(ctx, p, att, a, attr, group_labels(attr), top, px, group_rows)

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
            metrics=metrics,
            summary="; ".join(statements.values()),
            tables=tables,
            evidence=evidence,
            warnings=list(att.warnings),
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
        ctx: AuditContext,
        p: ProtectedRelianceParams,
        att: Attributions,
        a: str,
        attr: Any,
        labels: tuple[str, str],
        top: list[int],
        proxies: list[str],
        out_rows: list[list[Any]],
    ) -> list[Metric]:
        priv_label, unpriv_label = labels
        valid = np.asarray(attr.valid)[att.rows]
        privileged = np.asarray(attr.privileged)[att.rows]
        masks = {True: valid & privileged, False: valid & ~privileged}
        n_p, n_u = int(masks[True].sum()), int(masks[False].sum())
        judged = min(n_p, n_u) >= p.min_group_size
        note = None if judged else f"a group has fewer than {p.min_group_size} explained rows"
        subject = f"{a}: {unpriv_label} vs {priv_label}"
        pos = {f: j for j, f in enumerate(att.features)}
        V = att.values
        chosen = set(top) | {pos[f] for f in proxies} | ({pos[a]} if a in pos else set())
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
        mean = {g: V[m].mean(axis=0) for g, m in masks.items()}
        diff = mean[False] - mean[True]
        boot_diff = None
        if p.bootstrap:
            rng = ctx.rng(f"explainability.protected_reliance.groups.{a}")
            bm = {
                g: bootstrap_counts(int(m.sum()), p.bootstrap, rng) @ V[m] / m.sum() for g, m in masks.items()
            }
            boot_diff = bm[False] - bm[True]
        metrics = []
        for j in sorted(chosen, key=lambda j: -float(np.abs(V[:, j]).mean())):
            f = att.features[j]
            ci = _ci(boot_diff[:, j], p) if boot_diff is not None else None
            metrics.append(
                Metric(
                    name="group_attribution_difference",
                    value=_f(diff[j]),
                    ci=ci,
                    n=n_p + n_u,
                    subject=f"{subject} / {f}",
                    attribute=a,
                    group=unpriv_label,
                    reference=priv_label,
                    judged=judged,
                    note=note,
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
                    _f(diff[j]),
                    _f(ci.low) if ci else None,
                    _f(ci.high) if ci else None,
                ]
            )
        gap = float(diff.sum())
        gap_ci = _ci(boot_diff.sum(axis=1), p) if boot_diff is not None else None
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
                note="mean explained output, unprivileged minus privileged "
                "(= sum of the per-feature differences)",
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
