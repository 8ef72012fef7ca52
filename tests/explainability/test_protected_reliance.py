"""explainability.protected_reliance: synthetic models built to depend on a protected attribute (directly or
through a proxy) are flagged by the default rubric; one that does not depend on it is not. Plus the Adult
numbers against hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from trustaudit.api import _run_check, audit
from trustaudit.bundle import load_bundle
from trustaudit.checks.explainability import ProtectedRelianceCheck
from trustaudit.checks.explainability.attributions import ShapParams, compute_attributions
from trustaudit.checks.explainability.checks import associations
from trustaudit.context import AuditContext
from trustaudit.results import Status

FAST = {"rows": 400, "bootstrap": 200}
PARAMS = {"explainability.protected_reliance": FAST, "explainability.shap": FAST}


def synthetic(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """x1..x3 independent of sex; z is a noisy copy of sex (a proxy)."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["male", "female"], size=n)
    male = (sex == "male").astype(float)
    return pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "x3": rng.normal(size=n),
            "z": 2 * male + rng.normal(scale=0.4, size=n),
            "sex": sex,
        }
    )


def label(df: pd.DataFrame, logit: np.ndarray, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random(len(df)) < 1 / (1 + np.exp(-logit))).astype(int)


def logistic(columns: list[str]) -> Pipeline:
    num = [c for c in columns if c != "sex"]
    parts = [("num", "passthrough", num)] + ([("cat", OneHotEncoder(), ["sex"])] if "sex" in columns else [])
    return Pipeline([("pre", ColumnTransformer(parts)), ("clf", LogisticRegression())])


def run(model, df: pd.DataFrame, y: np.ndarray):
    data = df.assign(y=y)
    model.fit(df, y)
    return audit(
        model,
        data,
        label="y",
        favorable_label=1,
        protected={"sex": ["male"]},
        checks=["explainability.*"],
        params=PARAMS,
    )


def by(report, check_id: str, name: str):
    return {m.subject: m for m in report.check(check_id).metrics if m.name == name}


def test_model_that_uses_the_protected_attribute_is_flagged():
    df = synthetic()
    y = label(df, 1.0 * df["x1"] - 0.5 * df["x2"] + 3.0 * (df["sex"] == "male") - 1.5)
    report = run(logistic(["x1", "x2", "x3", "sex"]), df, y)
    check = report.check("explainability.protected_reliance")
    share = by(report, check.check_id, "protected_attribution_share")["sex"]
    assert share.value > 0.3 and share.ci.low > 0.05
    assert check.status == Status.WARN
    cond = next(c for c in check.conditions if c.metric == "protected_attribution_share")
    assert cond.status == Status.WARN and "violates" in cond.message
    assert check.summary.startswith("relies on sex directly")
    # the group gap in log-odds is mostly sex's own attribution
    diff = by(report, check.check_id, "group_attribution_difference")["sex: female vs male / sex"]
    gap = by(report, check.check_id, "group_output_gap")["sex: female vs male"]
    assert diff.value < -2 and diff.value / gap.value > 0.8


def test_model_that_ignores_the_protected_attribute_is_not_flagged():
    df = synthetic()
    y = label(df, 1.5 * df["x1"] - 1.0 * df["x2"])
    report = run(logistic(["x1", "x2", "x3", "sex"]), df, y)  # sex is an input, but unrelated to the label
    check = report.check("explainability.protected_reliance")
    assert check.status == Status.PASS, [c.message for c in check.conditions]
    share = by(report, check.check_id, "protected_attribution_share")["sex"]
    assert share.ci.high < 0.05  # a small fitted-noise coefficient, well inside the rubric's bound
    proxy = by(report, check.check_id, "proxy_attribution_share")["sex"]
    assert proxy.value == 0.0 and "no feature with Cramér's V >= 0.4" in proxy.note
    assert check.summary.startswith("no material reliance on sex")
    assert report.check("explainability.shap").status == Status.PASS


def test_model_that_uses_a_proxy_is_flagged_through_the_proxy():
    """sex is in the data but not used by the model (dropped by the pipeline); z is a proxy of sex."""
    df = synthetic()
    y = label(df, 0.8 * df["x1"] + 1.5 * (df["z"] - 1.0))
    model = Pipeline(
        [
            ("pre", ColumnTransformer([("num", "passthrough", ["x1", "x2", "x3", "z"])])),
            ("clf", HistGradientBoostingClassifier(max_iter=50, random_state=0)),
        ]
    )
    report = run(model, df, y)
    check = report.check("explainability.protected_reliance")
    direct = by(report, check.check_id, "protected_attribution_share")["sex"]
    assert direct.value == 0.0 and direct.note == "not a model input"
    proxy = by(report, check.check_id, "proxy_attribution_share")["sex"]
    assert proxy.value > 0.4 and proxy.note.startswith("proxies: z (V=0.9")
    assert check.status == Status.WARN
    assert check.summary.startswith("relies on sex through z (")
    assert check.evidence["method"] == "tree" and check.evidence["proxies"] == {"sex": ["z"]}


@pytest.fixture(scope="module")
def adult(samples_dir):
    ctx = AuditContext(load_bundle(samples_dir / "adult-income-logreg"), seed=0)
    return ctx, _run_check(ProtectedRelianceCheck, ctx, FAST)


def test_adult_shares_and_proxies_by_hand(adult):
    ctx, res = adult
    att = compute_attributions(ctx, ShapParams(**FAST))
    imp = np.abs(att.values).mean(axis=0)
    share = dict(zip(att.features, imp / imp.sum()))
    metrics = {(m.name, m.subject): m for m in res.metrics}
    assert metrics["protected_attribution_share", "sex"].value == pytest.approx(share["sex"])
    px = res.evidence["proxies"]
    assert px["sex"] == ["relationship", "marital-status", "occupation"]
    assert px["age"] == ["relationship", "marital-status"] and px["race"] == []
    assert metrics["proxy_attribution_share", "sex"].value == pytest.approx(sum(share[f] for f in px["sex"]))
    assert (
        res.summary.startswith("relies on sex directly (")
        and "through relationship, marital-status and occupation (" in res.summary
    )
    # Cramér's V of relationship with sex, from the crosstab by hand
    table = pd.crosstab(ctx.X["relationship"], ctx.data["sex"] == "Male").to_numpy(dtype=float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    v = np.sqrt(((table - expected) ** 2 / expected).sum() / table.sum())
    assoc = dict((f, cv) for f, cv, _ in associations(ctx, att.features, 10)["sex"])
    assert assoc["relationship"] == pytest.approx(v, abs=1e-12)
    assert "sex" not in assoc


def test_attribution_by_group_decomposes_the_output_gap(adult):
    ctx, res = adult
    att = compute_attributions(ctx, ShapParams(**FAST))
    attr = ctx.protected["sex"]
    male = np.asarray(attr.privileged)[att.rows]
    explained = att.values.sum(axis=1)  # the explained output minus each row's base value
    gap = next(m for m in res.metrics if m.name == "group_output_gap" and m.attribute == "sex")
    assert gap.value == pytest.approx(explained[~male].mean() - explained[male].mean(), abs=1e-9)
    assert gap.ci.low < gap.value < gap.ci.high and gap.n == att.n
    diffs = {
        m.subject.split(" / ")[1]: m
        for m in res.metrics
        if m.name == "group_attribution_difference" and m.attribute == "sex"
    }
    j = att.features.index("relationship")
    assert diffs["relationship"].value == pytest.approx(
        att.values[~male, j].mean() - att.values[male, j].mean()
    )
    # top features, the attribute itself and its proxies are all reported
    assert {"sex", "relationship", "marital-status", "occupation", "capital-gain"} <= set(diffs)
    assert diffs["relationship"].group == "Female" and diffs["relationship"].reference == "Male"


def test_statement_wording():
    s = ProtectedRelianceCheck._statement
    assert (
        s("sex", True, 0.2, ["relationship", "marital-status"], 0.3, 0.05)
        == "relies on sex directly (20.0%) and through relationship and marital-status (30.0%)"
    )
    assert (
        s("sex", True, 0.033, ["relationship"], 0.3, 0.05)
        == "relies on sex through relationship (30.0%); minor direct reliance (3.3%)"
    )
    assert (
        s("sex", True, 0.02, ["z"], 0.01, 0.05)
        == "no material reliance on sex: minor direct reliance (2.0%); proxies z carry 1.0%"
    )
    assert s("sex", False, 0.0, [], 0.0, 0.05) == "no material reliance on sex: not a model input; no proxies"
