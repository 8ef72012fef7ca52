"""``mitigation.fairness``: measured remedies for every fairness condition the model does not meet.

For each protected attribute, the model's predictions on the evaluation rows are judged against the check's
``conditions`` (by default the default rubric's conditions of ``fairness.model``, with the rubric judge's interval
rule). For each condition not met (fail or warn), the strategies that target its metric are fitted on rows that are
never measured (the bundle's training data, or the other folds of the evaluation rows) and measured on the
evaluation rows: every fairness metric, accuracy and the paired change in accuracy, with intervals, and whether each
condition would then be met. See docs/mitigation.md.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from trustaudit.checks.base import Check, CheckOutput, CheckParams, MetricSpec, SubjectField
from trustaudit.checks.mitigation import core
from trustaudit.checks.mitigation.estimators import rules_from_fairlearn
from trustaudit.context import AuditContext
from trustaudit.errors import SkipCheck
from trustaudit.groups import group_labels
from trustaudit.results import Metric, Table

Strategy = Literal["threshold-optimizer", "reject-option", "reweighing", "exponentiated-gradient"]
STRATEGIES: tuple[str, ...] = ("threshold-optimizer", "reject-option", "reweighing", "exponentiated-gradient")
RULE_STRATEGIES = ("threshold-optimizer", "reject-option")


class ConditionParam(BaseModel):
    """A bound on a fairness metric, as in a rubric condition (``judge: interval`` unless ``judge: value``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: Literal["disparate_impact", "statistical_parity_difference", "equal_opportunity_difference",
                    "average_odds_difference", "error_rate_difference"]
    op: Literal[">=", ">", "<=", "<"]
    value: float
    abs: bool = False
    severity: Literal["fail", "warn"] = "fail"
    judge: Literal["interval", "value"] = "interval"

    @property
    def text(self) -> str:
        m = f"|{self.metric}|" if self.abs else self.metric
        return f"{m} {self.op} {self.value:g}"


#: The default rubric's conditions on fairness.model (trustaudit/rubrics/data/default.yaml).
DEFAULT_CONDITIONS: tuple[ConditionParam, ...] = (
    ConditionParam(metric="disparate_impact", op=">=", value=0.8, severity="fail"),
    ConditionParam(metric="statistical_parity_difference", op="<=", value=0.1, abs=True, severity="warn"),
    ConditionParam(metric="equal_opportunity_difference", op="<=", value=0.1, abs=True, severity="fail"),
    ConditionParam(metric="average_odds_difference", op="<=", value=0.1, abs=True, severity="warn"),
    ConditionParam(metric="error_rate_difference", op="<=", value=0.1, abs=True, severity="warn"),
)


class MitigationParams(CheckParams):
    conditions: tuple[ConditionParam, ...] = Field(
        DEFAULT_CONDITIONS, description="Bounds judged before and after each remedy (default: the default rubric's "
        "fairness.model conditions); set them to your rubric's")
    strategies: tuple[Strategy, ...] = Field(
        ("threshold-optimizer", "reject-option", "reweighing"), description="Strategies to evaluate: "
        "threshold-optimizer (fairlearn, post-processing), reject-option (aif360, post-processing), reweighing (aif360 weights, one refit), exponentiated-gradient (fairlearn "
        "reduction, eg_max_iter refits: opt-in, it is the slowest)")
    attributes: tuple[str, ...] = Field((), description="Protected attributes to remedy (default: all)")
    always: bool = Field(False, description="Evaluate remedies even for an attribute that meets every condition")
    fit_on: Literal["crossfit", "training"] = Field(
        "crossfit", description="Rows the post-processing is fitted on: a cross-fit over folds of the evaluation "
        "rows (each row measured with rules fitted on the other folds), or the training data (what "
        "trustaudit.mitigate saves; in-sample scores of a model that memorised its training rows mislead it); "
        "refits always use the training data")
    folds: int = Field(2, ge=2, le=10, description="Folds of the evaluation rows for a cross-fit")
    refit_rows: int = Field(8000, ge=100, description="Most training rows (seeded sample, stratified by group and "
                            "label) each exponentiated-gradient oracle call refits on: a work budget in rows")
    roc_thresholds: int = Field(20, ge=2, le=200, description="Classification thresholds reject-option searches")
    roc_margins: int = Field(10, ge=2, le=200, description="Margins reject-option searches per threshold")
    roc_bound: float = Field(0.05, gt=0, lt=1, description="Bound on the targeted metric reject-option seeks")
    eg_max_iter: int = Field(10, ge=1, le=200, description="Iterations of exponentiated gradient (refits: a count)")
    eg_difference_bound: float = Field(0.01, gt=0, lt=1, description="Constraint slack of exponentiated gradient")
    bootstrap: int = Field(1000, ge=0, le=100_000, description="Bootstrap resamples for the paired accuracy change")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of the intervals")
    min_group_size: int = Field(30, ge=1, description="Groups smaller than this are reported but not judged")


_CMP: tuple[SubjectField, ...] = ("attribute", "group", "reference")


class MitigationCheck(Check):
    id = "mitigation.fairness"
    category = "fairness"
    title = "Fairness remedies (measured mitigation options)"
    version = "1.0"
    description = ("For each fairness condition not met, fits fairlearn ThresholdOptimizer, aif360 reweighing and "
                   "fairlearn ExponentiatedGradient on rows never measured and reports every fairness metric and "
                   "accuracy on the evaluation rows, with intervals, and whether each condition would be met")
    Params = MitigationParams
    requires = frozenset({"protected", "scores"})
    default_enabled = False
    metrics = (
        *(MetricSpec(name, f"{name} of the strategy's predictions on the evaluation rows (unprivileged vs "
                     "privileged; subject: strategy and comparison)",
                     direction="closer_to_one" if name == "disparate_impact" else "closer_to_zero", subject=_CMP)
          for name in core.FAIRNESS_METRICS),
        MetricSpec("accuracy", "Accuracy of the strategy's predictions on the evaluation rows (Wilson)",
                   direction="higher_is_better", unit="proportion", subject=_CMP),
        MetricSpec("accuracy_change", "Accuracy of the strategy minus the original model's, on the same rows "
                   "(paired, BCa bootstrap)", direction="higher_is_better", unit="proportion", subject=_CMP),
        MetricSpec("conditions_met", "Number of the check's conditions the strategy meets (whole interval)",
                   direction="higher_is_better", subject=_CMP),
    )

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:
        p: MitigationParams = params
        b = ctx.bundle
        names = [a for a in ctx.protected if not p.attributes or a in p.attributes]
        unknown = [a for a in p.attributes if a not in ctx.protected]
        if unknown:
            raise SkipCheck(f"attributes {', '.join(unknown)} are not protected attributes of this bundle "
                            f"({', '.join(ctx.protected)})")
        scores = ctx.scores
        if scores is None:
            raise SkipCheck("neither a model nor a score column gives probabilities")
        y, base = ctx.y_true, ctx.y_pred
        fav = ctx.favorable_index if ctx.model is not None else 1
        est = ctx.model.sklearn_estimator if ctx.model is not None else None
        training = b.training_data if ctx.model is not None else None
        train_groups: dict[str, np.ndarray] = {}
        train_scores: np.ndarray | None = None
        train_y: np.ndarray | None = None
        if training is not None and b.spec.label in training.columns and \
                all(c in training.columns for c in ctx.feature_columns):
            from trustaudit.bundle.loader import encode_labels, resolve_protected

            train_y = encode_labels(training[b.spec.label], b.spec.favorable_label, "training label")
            attrs = resolve_protected(training, {a: b.manifest.protected[a] for a in names})
            train_groups = {a: np.where(~t.valid, "", np.where(t.privileged, "privileged", "unprivileged"))
                            for a, t in attrs.items()}
        else:
            training = None
        use_training = training is not None and p.fit_on == "training"
        if p.fit_on == "training" and not use_training:
            raise SkipCheck("fit_on is 'training' but the bundle has no model with usable training data")
        metrics: list[Metric] = []
        attributes: list[dict[str, Any]] = []
        tables: list[Table] = []
        warnings_: list[str] = []
        level = p.confidence
        for name in names:
            attr = ctx.protected[name]
            ref, grp = group_labels(attr)
            fields = {"attribute": name, "group": grp, "reference": ref}
            groups = np.where(~attr.valid, "", np.where(attr.privileged, "privileged", "unprivileged"))
            rng = ctx.rng(f"{self.id}:{name}")

            def record(label: str, strategy: str, constraint: str | None, yhat: np.ndarray,
                       info: dict[str, Any], attr: Any = attr, fields: dict[str, str] = fields,
                       rng: np.random.Generator = rng, name: str = name) -> dict[str, Any]:
                fm, n_u, n_p = core.group_metrics(y, yhat, attr.privileged, attr.valid, level)
                judged = min(n_u, n_p) >= p.min_group_size
                acc = core.accuracy(y, yhat, level)
                change = core.accuracy_change(y, base, yhat, p.bootstrap if strategy != "none" else 0, rng, level)
                conds = [{"condition": c.text, "metric": c.metric, "severity": c.severity,
                          "status": core.judge(c, fm[c.metric]) if judged else "skipped"} for c in p.conditions]
                met = sum(1 for c in conds if c["status"] == "pass")
                subject = f"{label} · {name}: {fields['group']} vs {fields['reference']}"
                note = None if judged else f"a group is smaller than {p.min_group_size}"
                for k in core.FAIRNESS_METRICS:
                    metrics.append(Metric(name=k, value=fm[k].value, ci=fm[k].ci, n=n_u + n_p, subject=subject,
                                          judged=judged and fm[k].value is not None, note=note, **fields))
                metrics.append(Metric(name="accuracy", value=acc.value, ci=acc.ci, n=len(y), subject=subject,
                                      **fields))
                if strategy != "none":
                    metrics.append(Metric(name="accuracy_change", value=change.value, ci=change.ci, n=len(y),
                                          subject=subject, **fields))
                metrics.append(Metric(name="conditions_met", value=float(met), n=n_u + n_p, subject=subject,
                                      judged=judged, note=note, **fields))
                entry = {"strategy": strategy, "label": label, "constraint": constraint, **fields,
                         "measured_rows": len(y), "n_unprivileged": n_u, "n_privileged": n_p,
                         "metrics": {k: v.as_dict() for k, v in fm.items()}, "accuracy": acc.as_dict(),
                         "accuracy_change": change.as_dict() if strategy != "none" else None,
                         "conditions": conds, "conditions_met": met,
                         "passes": judged and all(c["status"] == "pass" for c in conds),
                         "fails": any(c["status"] == "fail" for c in conds), **info}
                return entry

            original = record("original model", "none", None, base,
                              {"kind": "none", "library": None, "fit_on": None, "needs_at_prediction": [],
                               "targets": []})
            unmet = [c for c in original["conditions"] if c["status"] in ("fail", "warn")]
            targets = list(dict.fromkeys(c["metric"] for c in unmet))
            info_attr: dict[str, Any] = {"attribute": name, "group": grp, "reference": ref,
                                         "unmet": [c["condition"] for c in unmet], "original": original,
                                         "remedies": [], "best": None, "best_for": {}}
            attributes.append(info_attr)
            if not targets and not p.always:
                continue
            if not targets:
                targets = [c.metric for c in p.conditions]
            constraints = list(dict.fromkeys(core.CONSTRAINT_FOR[m] for m in targets))
            remedies: list[dict[str, Any]] = []
            for strategy in p.strategies:
                for constraint in (constraints if strategy != "reweighing" else [None]):
                    label = strategy if constraint is None else f"{strategy} ({constraint})"
                    t0 = time.perf_counter()
                    try:
                        out = self._strategy(strategy, constraint, ctx, p, scores, y, groups, fav, est,
                                             training, train_scores, train_y, train_groups.get(name),
                                             use_training, name)
                    except SkipCheck as why:
                        warnings_.append(f"{name}: {label} not evaluated: {why}")
                        continue
                    except Exception as exc:  # one failing strategy never aborts the check
                        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                        warnings_.append(f"{name}: {label} failed: {type(exc).__name__}: {first}")
                        continue
                    if out[2].get("train_scores") is not None:  # the model's training scores, computed once
                        train_scores = out[2]["train_scores"]
                    info = {**out[1], "fit_elapsed_s": round(time.perf_counter() - t0, 3),
                            "targets": [m for m in targets if core.CONSTRAINT_FOR[m] == constraint or
                                        constraint is None]}
                    entry = record(label, strategy, constraint, out[0], info)
                    remedies.append(entry)
            info_attr["remedies"] = remedies
            info_attr["best"] = best_remedy(remedies)
            info_attr["best_for"] = {c["condition"]: best_for(remedies, c["condition"]) for c in unmet}
            tables.append(_table(name, grp, ref, [original, *remedies]))
        summary = _summary(attributes)
        return CheckOutput(
            metrics=metrics, tables=tables, summary=summary, warnings=warnings_,
            evidence={"attributes": attributes, "conditions": [c.model_dump() for c in p.conditions],
                      "fit_on": "training" if use_training else "crossfit", "folds": p.folds,
                      "confidence": level, "bootstrap": p.bootstrap, "evaluation_rows": len(y),
                      "training_rows": len(training) if training is not None else None},
        )

    @staticmethod
    def _strategy(strategy: str, constraint: str | None, ctx: AuditContext, p: MitigationParams,
                  scores: np.ndarray, y: np.ndarray, groups: np.ndarray, fav: int, est: Any, training: Any,
                  train_scores: np.ndarray | None, train_y: np.ndarray | None, train_groups: np.ndarray | None,
                  use_training: bool, name: str) -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
        """(predictions on the evaluation rows, evidence, scratch) of one strategy."""
        import fairlearn

        needs_refit = strategy in ("reweighing", "exponentiated-gradient")
        if needs_refit:
            if est is None:
                raise SkipCheck("it refits the model: the bundle's model is not a scikit-learn estimator")
            if training is None or train_y is None or train_groups is None:
                raise SkipCheck("it refits the model: the bundle declares no training data with the label, "
                                "the model's columns and the protected attribute")
        scratch: dict[str, Any] = {}
        if strategy in RULE_STRATEGIES:
            assert constraint is not None
            if strategy == "threshold-optimizer":
                lib = f"fairlearn {fairlearn.__version__} ThresholdOptimizer (prefit, objective accuracy)"

                def fit_rules(fd: core.FitData) -> dict[str, Any]:
                    return rules_from_fairlearn(core.fit_threshold_optimizer(constraint, fd, ctx.seed))
            else:
                import aif360

                lib = (f"aif360 {aif360.__version__} RejectOptionClassification ({p.roc_thresholds} thresholds x "
                       f"{p.roc_margins} margins, {core.ROC_METRIC[constraint].lower()} within "
                       f"+-{p.roc_bound:g})")

                def fit_rules(fd: core.FitData) -> dict[str, Any]:
                    return core.fit_reject_option(constraint, fd, p.roc_thresholds, p.roc_margins, p.roc_bound)
            needs = ["the model's score", f"the protected attribute '{name}'"]
            if use_training:
                assert train_y is not None and train_groups is not None
                if train_scores is None:
                    train_scores = ctx.predict_favorable_proba(training[ctx.feature_columns])
                scratch["train_scores"] = train_scores
                rules = fit_rules(core.FitData(train_scores, train_y, train_groups))
                yhat = core.threshold_outcome(rules, scores, groups, fav)
                fit_on = f"training data ({len(training)} rows)"
                extra: dict[str, Any] = {"rules": rules}
            else:
                strata = np.array([f"{g}:{v}" for g, v in zip(groups, y)])
                folds = core.stratified_folds(strata, p.folds, ctx.rng(f"mitigation.fairness:folds:{name}"))
                yhat, rules_by_fold = core.crossfit_rules(fit_rules, scores, y, groups, folds, fav)
                fit_on = f"{p.folds}-fold cross-fit on the evaluation rows"
                extra = {"rules_by_fold": rules_by_fold}
            return yhat, {"kind": "post-processing", "library": lib, "fit_on": fit_on,
                          "needs_at_prediction": needs, **extra}, scratch
        assert training is not None and train_y is not None and train_groups is not None
        fit = core.FitData(None, train_y, train_groups, training[ctx.feature_columns], training[ctx.bundle.spec.label])
        if strategy == "reweighing":
            import aif360

            refit = core.refit_reweighed(est, fit)
            from trustaudit.bundle.loader import label_text

            classes = [label_text(c) for c in refit.classes_]
            fav_refit = classes.index(label_text(ctx.bundle.spec.favorable_label)) if \
                label_text(ctx.bundle.spec.favorable_label) in classes else fav
            proba = np.asarray(refit.predict_proba(ctx.X))
            yhat = (proba.argmax(axis=1) == fav_refit).astype(np.int8)
            return yhat, {"kind": "pre-processing", "library": f"aif360 {aif360.__version__} Reweighing + "
                          f"refit of a clone of {type(est).__name__}",
                          "fit_on": f"training data ({len(training)} rows)",
                          "needs_at_prediction": ["the model's inputs only (a plain refitted estimator)"]}, scratch
        assert constraint is not None
        n = len(fit.y)
        if n > p.refit_rows:
            from trustaudit.context import _stratified_sample

            codes = np.where(fit.groups == "privileged", 2, np.where(fit.groups == "unprivileged", 1, 0))
            strata = (codes * 2 + fit.y).astype(np.int64)
            idx = _stratified_sample(strata, p.refit_rows, ctx.rng(f"mitigation.fairness:refit:{name}"))
            fit = core.FitData(None, fit.y[idx], fit.groups[idx], fit.X.iloc[idx] if fit.X is not None else None,
                               None)
        eg = core.fit_exponentiated_gradient(est, constraint, fit, p.eg_max_iter, p.eg_difference_bound)
        yhat = core.decide(core.eg_pmf(eg, ctx.X), 1)
        return yhat, {"kind": "in-processing", "library": f"fairlearn {fairlearn.__version__} ExponentiatedGradient "
                      f"({p.eg_max_iter} iterations, {len(eg.predictors_)} refits of {type(est).__name__})",
                      "fit_on": f"training data ({len(fit.y)} of {n} rows, stratified sample)",
                      "needs_at_prediction": ["the model's inputs (a weighted mixture of refitted models)"]}, scratch


def best_remedy(remedies: list[dict[str, Any]]) -> str | None:
    """The label of the best measured remedy: every condition met first, then fewest failed conditions and most
    met, then the smallest loss of accuracy."""
    if not remedies:
        return None

    def key(r: dict[str, Any]) -> tuple[int, int, int, float]:
        acc = r["accuracy"]["value"]
        return (0 if r["passes"] else 1, sum(c["status"] == "fail" for c in r["conditions"]),
                -int(r["conditions_met"]), -(acc if acc is not None else -1.0))

    best = min(remedies, key=key)
    return str(best["label"]) if not best["fails"] else None


def best_for(remedies: list[dict[str, Any]], condition: str) -> str | None:
    """The label of the most accurate remedy that meets ``condition`` (whole interval), or None."""
    ok = [r for r in remedies
          if any(c["condition"] == condition and c["status"] == "pass" for c in r["conditions"])]
    if not ok:
        return None
    best = max(ok, key=lambda r: (r["accuracy"]["value"] or 0.0, int(r["conditions_met"])))
    return str(best["label"])


def _cell(m: dict[str, Any]) -> str:
    if m is None or m.get("value") is None:
        return "-"
    ci = f" [{m['low']:.3f}, {m['high']:.3f}]" if m.get("low") is not None else ""
    return f"{m['value']:.3f}{ci}"


def _table(name: str, grp: str, ref: str, rows: list[dict[str, Any]]) -> Table:
    return Table(
        title=f"Remedies for {name}: {grp} vs {ref} (measured on the evaluation rows)",
        columns=["strategy", "fitted on", *core.FAIRNESS_METRICS, "accuracy", "accuracy change", "conditions met"],
        rows=[[r["label"], r["fit_on"] or "-", *(_cell(r["metrics"][k]) for k in core.FAIRNESS_METRICS),
               _cell(r["accuracy"]), _cell(r["accuracy_change"]) if r["accuracy_change"] else "-",
               f"{r['conditions_met']}/{len(r['conditions'])}"] for r in rows],
    )


def _summary(attributes: list[dict[str, Any]]) -> str:
    parts = []
    for a in attributes:
        if not a["remedies"]:
            parts.append(f"{a['attribute']}: " + ("every condition met" if not a["unmet"] else "no remedy evaluated"))
            continue
        ok = [r for r in a["remedies"] if r["passes"]]
        text = f"{a['attribute']}: {len(ok)} of {len(a['remedies'])} remedies meet every condition"
        label = a["best"] or next((v for v in a["best_for"].values() if v), None)
        best = next((r for r in a["remedies"] if r["label"] == label), None)
        if best is not None:
            di = best["metrics"]["disparate_impact"]["value"]
            ch = best["accuracy_change"]["value"] if best["accuracy_change"] else None
            text += f"; best {best['label']}"
            if di is not None:
                text += f" (disparate impact {di:.3f}"
                text += f", accuracy {ch:+.3f})" if ch is not None else ")"
        parts.append(text)
    return "; ".join(parts)
