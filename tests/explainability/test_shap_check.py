"""explainability.shap on the sample bundles: additivity, agreement with shap called directly, plots."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from trustaudit.api import _run_check, audit
from trustaudit.bundle import load_bundle
from trustaudit.checks.explainability import ShapCheck
from trustaudit.checks.explainability.attributions import ShapParams, compute_attributions, import_shap
from trustaudit.context import AuditContext
from trustaudit.features import feature_space
from trustaudit.results import Status

SMALL = {"rows": 300, "bootstrap": 200, "permutation_rows": 60, "permutation_background": 30}


def metric(result, name, subject=None):
    return next(m for m in result.metrics if m.name == name and (subject is None or m.subject == subject))


@pytest.fixture(scope="module")
def hgb(samples_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("hgb-shap")
    ctx = AuditContext(load_bundle(samples_dir / "adult-income-hgb"), seed=0, out_dir=out)
    return ctx, _run_check(ShapCheck, ctx, SMALL)


@pytest.fixture(scope="module")
def logreg(samples_dir):
    ctx = AuditContext(load_bundle(samples_dir / "adult-income-logreg"), seed=0)
    return ctx, _run_check(ShapCheck, ctx, SMALL)


def per_column(sv, sources, features):
    return np.column_stack([sv[..., [i for i, s in enumerate(sources) if s == f]].sum(axis=-1) for f in features])


def pool_matrix(ctx, att):
    """The background pool in the estimator's input space, as the explainer saw it."""
    fs = feature_space(ctx)
    return fs.transform(att.background.frame.iloc[att.background.pool])


def test_tree_explainer_on_hgb_is_additive_and_equals_shap_called_directly(hgb):
    ctx, res = hgb
    assert res.status == Status.PASS, res.error
    ev = res.evidence
    assert ev["method"] == "tree" and ev["explained_output"] == "log-odds of P(income = >50K)"
    assert ev["rows_explained"] == 300 and ev["estimator"] == "sklearn.HistGradientBoostingClassifier"
    assert metric(res, "additivity_error_max").value < 1e-6
    # each row against its own background draw from the training data, as shap computes it from scratch: a
    # freshly built TreeExplainer on that row's background rows (this also checks the explainer rebinding)
    shap = import_shap()
    att = compute_attributions(ctx, ShapParams(**SMALL))
    assert att.background.source == "training data" and att.background.draws.shape == (300, 200)
    fs = feature_space(ctx)
    pool = pool_matrix(ctx, att)
    for i in (0, 1, 150, 299):
        bg = pool[att.background.draws[i]]
        direct = shap.TreeExplainer(
            fs.estimator, shap.maskers.Independent(bg, max_samples=len(bg)), feature_perturbation="interventional"
        )
        sv = direct.shap_values(fs.matrix[att.rows[i : i + 1]])
        np.testing.assert_allclose(att.values[i], per_column(sv, fs.source, att.features)[0], atol=1e-9)
        assert att.base[i] == pytest.approx(float(direct.expected_value), abs=1e-9)
    # the model's own log-odds for those rows
    logit = np.log(ctx.scores[att.rows]) - np.log1p(-ctx.scores[att.rows])
    np.testing.assert_allclose(att.base + att.values.sum(axis=1), logit, atol=1e-6)


def test_importance_interval_rank_and_share(hgb):
    ctx, res = hgb
    att = compute_attributions(ctx, ShapParams(**SMALL))
    imp = np.abs(att.values).mean(axis=0)
    ms = [m for m in res.metrics if m.name == "mean_abs_shap"]
    assert [m.subject for m in ms] == [att.features[j] for j in np.argsort(-imp, kind="stable")]
    for m in ms:
        j = att.features.index(m.subject)
        assert m.value == pytest.approx(imp[j])
        assert m.ci.low <= m.value <= m.ci.high and m.n == 300 and m.unit == "log-odds"
        assert m.ci.method.startswith("bootstrap-bca (200)")
    assert ms[0].note == "rank 1 of 13"
    shares = {m.subject: m.value for m in res.metrics if m.name == "importance_share"}
    assert sum(shares.values()) == pytest.approx(1.0)
    # the original columns, never one-hot columns
    assert set(shares) == set(ctx.feature_columns)


def test_stability_is_the_rank_correlation_of_two_independent_halves(hgb):
    from scipy.stats import spearmanr

    _, res = hgb
    table = res.tables[0]
    a, b = (np.array([r[table.columns.index(c)] for r in table.rows]) for c in ("half a", "half b"))
    rho = metric(res, "stability_spearman").value
    assert rho == pytest.approx(spearmanr(a, b).statistic) and rho > 0.8
    assert "150 and 150 rows" in metric(res, "stability_spearman").note


def test_plots_are_svg_artifacts_beside_the_report_and_reproducible(hgb):
    ctx, res = hgb
    paths = [a.path for a in res.artifacts]
    assert paths == ["explainability/shap_importance.svg", "explainability/shap_beeswarm.svg"]
    first = {p: (ctx.out_dir / p).read_bytes() for p in paths}
    for data in first.values():
        assert data.startswith(b"<?xml") and b"<svg" in data and b"<dc:date>" not in data
    assert b">marital-status</text>" in first[paths[0]]  # labels are text, not glyph paths
    again = _run_check(ShapCheck, ctx, SMALL)  # attributions cached, plots drawn again
    assert again.metrics == res.metrics
    for p in paths:
        assert hashlib.sha256((ctx.out_dir / p).read_bytes()).digest() == hashlib.sha256(first[p]).digest()


def test_no_output_directory_no_files(logreg):
    _, res = logreg
    assert res.artifacts == []


def test_linear_explainer_on_logreg_is_coef_times_input_centred_on_the_training_data(logreg):
    ctx, res = logreg
    ev = res.evidence
    assert ev["method"] == "linear" and ev["background"]["source"] == "training data"
    assert ev["background"]["pool_rows"] == len(ctx.training_data) == 32561
    assert ev["background"]["max_mean_deviation"] == 0.0  # the exact expectation over the training data
    assert metric(res, "additivity_error_max").value < 1e-10
    att = compute_attributions(ctx, ShapParams(**SMALL))
    fs = feature_space(ctx)
    coef = fs.estimator.coef_[0]
    train = fs.transform(ctx.training_data[ctx.feature_columns])
    phi = coef * (fs.matrix[att.rows] - train.mean(axis=0))
    np.testing.assert_allclose(att.values, per_column(phi, fs.source, att.features), atol=1e-10)


def test_permutation_explainer_agrees_with_linear_explainer_on_an_additive_model(logreg):
    """In log-odds the logistic pipeline is additive in its original columns, so the model-agnostic explainer
    (through the DataFrame, ordinal codes and the whole pipeline) must give exactly the linear SHAP values,
    each row against its own background draw."""
    from trustaudit.checks.explainability.permutation import OrdinalCodec, permutation_shap

    shap = import_shap()
    ctx, _ = logreg
    att = compute_attributions(ctx, ShapParams(**SMALL))
    codec = OrdinalCodec(pd.concat([ctx.X, ctx.training_data[ctx.feature_columns]]))
    rows = att.rows[:20]
    background = ctx.training_data[ctx.feature_columns].iloc[:300]
    draws = np.random.default_rng(0).integers(0, 300, size=(20, 40))

    def logodds(Z):  # the whole pipeline's log-odds (not logit(P): P rounds to 1 at log-odds 33 on Adult)
        return ctx.model.native.decision_function(codec.decode(Z))

    res = permutation_shap(
        logodds, codec.encode(ctx.X.iloc[rows]), codec.encode(background), draws=draws, permutations=1,
        rng=np.random.default_rng(0),
    )
    fs = feature_space(ctx)
    back = np.argsort(res.order)
    cols = [codec.columns.index(f) for f in att.features]
    for i in range(20):
        bg = fs.transform(background.iloc[draws[i]])
        linear = shap.LinearExplainer(fs.estimator, shap.maskers.Independent(bg, max_samples=len(bg)))
        expected = per_column(linear.shap_values(fs.matrix[rows[i : i + 1]]), fs.source, att.features)[0]
        np.testing.assert_allclose(res.values[back[i]][cols], expected, atol=1e-9)
        assert res.base[back[i]] == pytest.approx(float(linear.expected_value), abs=1e-9)


def test_onnx_model_is_explained_model_agnostically_like_the_same_model_in_skops(samples_dir):
    ctxs = {
        n: AuditContext(load_bundle(samples_dir / n), seed=0)
        for n in ("adult-income-logreg-onnx", "adult-income-logreg")
    }
    res = _run_check(ShapCheck, ctxs["adult-income-logreg-onnx"], SMALL)
    assert res.status == Status.PASS, res.error
    ev = res.evidence
    assert ev["method"] == "permutation" and ev["explained_output"] == "probability of P(income = >50K)"
    sample = ctxs["adult-income-logreg-onnx"].sample(60, "explainability.permutation.rows")
    assert ev["rows_explained"] == len(sample) and "ordinal codes" in ev["categorical_encoding"]
    assert "sex" in ev["categorical_columns"]
    assert metric(res, "additivity_error_max").value < 1e-6  # against the audited ONNX predictions
    assert ev["background"]["source"] == "training data" and ev["background"]["rows_per_explained_row"] == 30
    p = ShapParams(**SMALL, explainer="permutation")
    onnx, skops = (compute_attributions(c, p) for c in ctxs.values())
    np.testing.assert_array_equal(onnx.rows, skops.rows)
    np.testing.assert_array_equal(onnx.background.draws, skops.background.draws)
    np.testing.assert_allclose(onnx.values, skops.values, atol=2e-5)  # float32 ONNX vs float64 sklearn


def test_forced_explainer_that_does_not_apply_falls_back_with_a_warning(logreg):
    ctx, _ = logreg
    params = {**SMALL, "explainer": "tree", "permutation_rows": 20, "permutation_output": "log-odds"}
    res = _run_check(ShapCheck, ctx, params)
    assert res.evidence["method"] == "permutation"
    assert any("does not apply to sklearn.LogisticRegression" in w for w in res.warnings)
    # the log-odds of the model-agnostic explainer add up to the logit of the audited predictions
    assert res.evidence["explained_output"] == "log-odds of P(income = >50K)"
    assert metric(res, "additivity_error_max").value < 1e-9


def test_predictions_only_bundle_is_skipped_with_the_reason(samples_dir):
    report = audit(samples_dir / "adult-income-predictions", checks=["explainability.*"])
    assert {c.check_id: (c.status, c.skipped_reason) for c in report.checks} == {
        "explainability.shap": (Status.SKIPPED, "the bundle has no model (predictions-only audit)"),
        "explainability.protected_reliance": (
            Status.SKIPPED,
            "the bundle has no model (predictions-only audit)",
        ),
    }


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_native_boosters_use_the_tree_explainer_on_their_log_odds(tmp_path, library):
    pytest.importorskip(library)
    import pandas as pd
    import yaml

    rng = np.random.default_rng(0)
    n = 600
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "sex": rng.integers(0, 2, n)})
    df["y"] = (df["x1"] + 0.5 * df["sex"] + rng.normal(scale=0.5, size=n) > 0.3).astype(int)
    X = df[["x1", "x2", "sex"]]
    if library == "xgboost":
        import xgboost as xgb

        xgb.XGBClassifier(n_estimators=20, max_depth=3, random_state=0, n_jobs=1).fit(X, df["y"]).save_model(
            tmp_path / "model.json"
        )
        spec = {"path": "model.json", "format": "xgboost"}
    else:
        import lightgbm as lgb

        clf = lgb.LGBMClassifier(n_estimators=20, random_state=0, verbose=-1, n_jobs=1).fit(X, df["y"])
        clf.booster_.save_model(str(tmp_path / "model.txt"))
        spec = {"path": "model.txt", "format": "lightgbm"}
    (tmp_path / "data").mkdir()
    df.to_csv(tmp_path / "data" / "eval.csv", index=False)
    (tmp_path / "trustaudit.yaml").write_text(
        yaml.safe_dump(
            {
                "trustaudit": 1,
                "name": "b",
                "version": "1",
                "task": "binary-classification",
                "model": spec,
                "data": {"path": "data/eval.csv", "label": "y", "favorable_label": 1},
                "protected": {"sex": {"privileged": [1]}},
            }
        )
    )
    ctx = AuditContext(load_bundle(tmp_path), seed=0)
    res = _run_check(ShapCheck, ctx, {"rows": 200, "bootstrap": 100})
    assert res.status == Status.PASS, res.error
    assert res.evidence["method"] == "tree" and res.evidence["output_units"] == "log-odds"
    assert metric(res, "additivity_error_max").value < 1e-4
    ranking = res.evidence["ranking"]
    assert ranking[0] == "x1" and ranking[-1] == "x2"
