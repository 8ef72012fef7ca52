"""Both task samples end to end: CLI (default rubric of the task, gate, JUnit, SARIF, HTML and Markdown), the
new checks' conformance (declared metrics and fields, intervals around estimates, JSON round trip), SHAP and
robustness of the regressor, and the HTTP service on both bundles."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trustaudit.checks import registry
from trustaudit.checks.base import SUBJECT_FIELDS
from trustaudit.cli import app
from trustaudit.results import CheckResult

ROOT = Path(__file__).resolve().parents[2]
REG = ROOT / "sample_models" / "adult-hours-regressor"
MC = ROOT / "sample_models" / "adult-hours-band"
FAST = ["-p", "explainability.task_shap.rows=120", "-p", "explainability.task_shap.bootstrap=100",
        "-p", "robustness.regression.rows=120", "-p", "robustness.regression.draws=6"]


def _cli_audit(bundle: Path, out: Path, checks: list[str]) -> tuple[int, dict]:
    args = ["audit", str(bundle), "--out", str(out), "-q", "-f", "html", "-f", "md", "--junit",
            str(out / "junit.xml"), "--sarif", str(out / "report.sarif")]
    for c in checks:
        args += ["-c", c]
    res = CliRunner().invoke(app, args + FAST)
    return res.exit_code, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def reg_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reg")
    code, rep = _cli_audit(REG, out, ["fairness.*", "explainability.task_shap", "robustness.regression"])
    return out, code, rep


@pytest.fixture(scope="module")
def mc_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mc")
    code, rep = _cli_audit(MC, out, ["fairness.*", "explainability.task_shap"])
    return out, code, rep


def _check(rep: dict, cid: str) -> dict:
    return next(c for c in rep["checks"] if c["check_id"] == cid)


@pytest.mark.parametrize("run_name", ["reg_run", "mc_run"])
def test_cli_default_rubric_gate_and_renders(run_name: str, request: pytest.FixtureRequest) -> None:
    out, code, rep = request.getfixturevalue(run_name)
    task = rep["bundle"]["task"]
    assert rep["rubric"]["name"] == {"regression": "default-regression",
                                     "multiclass-classification": "default-multiclass"}[task]
    assert code == 1 and rep["verdict"] == "fail"  # both samples fail their four-fifths conditions
    fair = _check(rep, "fairness.regression" if task == "regression" else "fairness.multiclass")
    assert fair["status"] == "fail"
    assert _check(rep, "fairness.model")["skipped_reason"].startswith(f"not applicable to {task}")
    other = "fairness.multiclass" if task == "regression" else "fairness.regression"
    assert other not in {c["check_id"] for c in rep["checks"]}  # a check for another task is not selected
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    key = "share_above_ratio" if task == "regression" else "selection_rate_ratio"
    assert key in html and key in md
    chart = ("sex: mean prediction, mean outcome, mae, share above by group" if task == "regression" else
             "sex: selection rate: full-time, selection rate: overtime, selection rate: part-time by group")
    assert f'alt="{chart}"' in html  # the task's own chart (per class / levels and errors), not the binary one
    junit = (out / "junit.xml").read_text()
    assert f"{key} &gt;= 0.8" in junit and "failures=" in junit
    sarif = json.loads((out / "report.sarif").read_text())
    assert any(key in r["message"]["text"] for r in sarif["runs"][0]["results"])


@pytest.mark.parametrize("run_name", ["reg_run", "mc_run"])
def test_new_checks_conform(run_name: str, request: pytest.FixtureRequest) -> None:
    """What tests/test_conformance.py asserts, on the tasks the new checks apply to (it runs a binary bundle)."""
    _, _, rep = request.getfixturevalue(run_name)
    new = {"fairness.regression", "fairness.multiclass", "explainability.task_shap", "robustness.regression"}
    seen = 0
    for raw in rep["checks"]:
        if raw["check_id"] not in new or raw["status"] == "skipped":
            continue
        seen += 1
        assert raw["status"] in ("pass", "warn", "fail"), raw.get("error")
        res = CheckResult.model_validate(raw)
        assert CheckResult.model_validate_json(res.model_dump_json()) == res
        cls = registry.load(res.check_id)
        declared = {s.name: s for s in cls.metrics}
        for m in res.metrics:
            assert m.name in declared, (res.check_id, m.name)
            fields = {f for f in SUBJECT_FIELDS if getattr(m, f) is not None}
            assert fields <= set(declared[m.name].subject), (res.check_id, m.name, fields)
            if m.ci is not None and m.value is not None:
                assert m.ci.low - 1e-9 <= m.value <= m.ci.high + 1e-9, (m.name, m.subject)
    assert seen == (3 if rep["bundle"]["task"] == "regression" else 2)


def test_regressor_shap_and_robustness(reg_run) -> None:
    _, _, rep = reg_run
    shap_res = _check(rep, "explainability.task_shap")
    assert shap_res["evidence"]["explainer"] == "tree"
    add = next(m for m in shap_res["metrics"] if m["name"] == "additivity_error_max")
    assert add["value"] < 1e-4  # base value + sum of SHAP = the regressor's prediction (hours)
    gap = next(m for m in shap_res["metrics"] if m["name"] == "group_output_gap" and m["attribute"] == "sex")
    assert gap["value"] < 0  # women's explained prediction is lower (hours), as fairness.regression finds
    proxy = next(m for m in shap_res["metrics"] if m["name"] == "proxy_attribution_share" and m["attribute"] == "sex")
    assert "relationship" in proxy["subject"] and 0 < proxy["value"] < 1
    shares = {m["attribute"]: m["value"] for m in shap_res["metrics"] if m["name"] == "importance_share"}
    assert math.isclose(sum(shares.values()), 1.0, rel_tol=1e-9)
    rob = _check(rep, "robustness.regression")
    assert set(rob["evidence"]["perturbed_columns"]) == {"capital-gain", "capital-loss", "education-num"}
    assert "sex" in rob["evidence"]["fixed_columns"]
    means = [m["value"] for m in rob["metrics"] if m["name"] == "prediction_change_mean"]
    assert len(means) == 3 and all(v > 0 for v in means) and means == sorted(means)  # grows with the budget


def test_multiclass_shap_per_class_is_exact_for_the_linear_model(mc_run) -> None:
    """The linear explainer's values per class add up to the model's per-class logit; recomputed here as
    coef_k * (z - mean of the background) summed per original column would give the same (shap's formula)."""
    _, _, rep = mc_run
    res = _check(rep, "explainability.task_shap")
    assert res["evidence"]["explainer"] == "linear"
    assert res["evidence"]["outputs"] == ["full-time", "overtime", "part-time"]
    for m in res["metrics"]:
        if m["name"] == "additivity_error_max":
            assert m["value"] < 1e-9


def test_permutation_explainer_for_a_regressor(tmp_path: Path) -> None:
    """The model-agnostic path: additivity holds exactly (the permutation walk telescopes)."""
    from trustaudit import api

    report = api.audit(REG, checks=["explainability.task_shap"], out_dir=tmp_path,
                       params={"explainability.task_shap": {"explainer": "permutation", "permutation_rows": 20,
                                                            "permutations": 2, "background": 20, "bootstrap": 0}})
    (res,) = report.checks
    assert res.evidence["explainer"] == "permutation"
    add = next(m for m in res.metrics if m.name == "additivity_error_max")
    assert add.value is not None and add.value < 1e-6


def test_law_school_zfya_regressor_fairness(tmp_path: Path) -> None:
    """Kusner et al.'s regression target (law school ZFYA), read from the shared data set (not copied into the
    project; skipped when absent): a linear regressor on LSAT and UGPA ("unaware" of race and sex); the mean
    prediction and mean outcome by race are recomputed with pandas."""
    src = ROOT.parent / "shared" / "datasets" / "law_school" / "law_data.csv"
    if not src.is_file():
        pytest.skip("law school data not available")
    import skops.io as sio
    from sklearn.linear_model import LinearRegression

    from trustaudit import api

    df = pd.read_csv(src, index_col=0)[["race", "sex", "LSAT", "UGPA", "ZFYA"]].dropna()
    model = LinearRegression().fit(df[["LSAT", "UGPA"]], df["ZFYA"])
    (tmp_path / "data").mkdir()
    df.to_csv(tmp_path / "data" / "eval.csv", index=False)
    sio.dump(model, tmp_path / "model.skops")
    (tmp_path / "trustaudit.yaml").write_text(
        "trustaudit: 1\nname: law-zfya\nversion: '1'\ntask: regression\n"
        "model: {path: model.skops, format: skops}\n"
        "data: {path: data/eval.csv, label: ZFYA, features: [LSAT, UGPA]}\n"
        "protected: {race: {privileged: [White]}}\n")
    report = api.audit(tmp_path, checks=["fairness.regression"], out_dir=tmp_path / "out",
                       params={"fairness.regression": {"threshold": 0.0, "intersections": False}})
    (res,) = report.checks
    pred = model.predict(df[["LSAT", "UGPA"]])
    by = {m.subject: m for m in res.metrics}
    for race in ("Black", "Asian"):
        g, w = df["race"] == race, df["race"] == "White"
        assert by["race=White"].value is not None
        d = next(m for m in res.metrics if m.name == "mean_prediction_difference" and m.group == race)
        assert d.value == pytest.approx(pred[g].mean() - pred[w].mean(), rel=1e-9)
        o = next(m for m in res.metrics if m.name == "mean_outcome_difference" and m.group == race)
        assert o.value == pytest.approx(df.loc[g, "ZFYA"].mean() - df.loc[w, "ZFYA"].mean(), rel=1e-9)
    black = next(m for m in res.metrics if m.name == "mean_outcome_difference" and m.group == "Black")
    assert black.value < -0.5  # the large first-year-average gap the counterfactual-fairness work starts from
    share = next(m for m in res.metrics if m.name == "share_above_ratio" and m.group == "Black")
    g, w = df["race"] == "Black", df["race"] == "White"
    assert share.value == pytest.approx((pred[g] >= 0).mean() / (pred[w] >= 0).mean(), rel=1e-9)
    assert np.isfinite(share.ci.low)


@pytest.mark.slow
def test_service_audits_both_samples(tmp_path_factory: pytest.TempPathFactory) -> None:
    pytest.importorskip("fastapi")
    from tests.service.conftest import pack, start_server, submit

    srv = start_server(tmp_path_factory.mktemp("srv-tasks"), workers=1)
    try:
        archives = tmp_path_factory.mktemp("archives")
        for bundle, cid in ((REG, "fairness.regression"), (MC, "fairness.multiclass")):
            r = submit(srv, pack(bundle, archives), checks=(cid,), params={})
            assert r.status_code == 202, r.text
            job = srv.wait_job(r.json()["id"], timeout=240)
            assert job["state"] == "done", job
            with srv.client("read") as c:
                rep = c.get(f"/v1/audits/{job['id']}/report.json").json()
                page = c.get(f"/v1/audits/{job['id']}/report.html")
            assert rep["bundle"]["task"] in ("regression", "multiclass-classification")
            res = _check(rep, cid)
            assert res["status"] == "fail" and len(res["metrics"]) > 300
            assert page.status_code == 200 and ("share_above" in page.text or "selection_rate" in page.text)
            with srv.client("read") as c:
                hist = c.get(f"/v1/models/{bundle.name}/history").json()
            metric = "share_above_ratio" if cid == "fairness.regression" else "selection_rate_ratio"
            series = [x for x in hist["series"] if x["check_id"] == cid and x["metric"] == metric]
            assert series and all(len(x["points"]) == 1 for x in series)  # the model history charts these
    finally:
        srv.stop()


def test_ml_bom_names_the_task(tmp_path: Path) -> None:
    for bundle, task in ((REG, "regression"), (MC, "multiclass-classification")):
        out = tmp_path / f"{bundle.name}.cdx.json"
        res = CliRunner().invoke(app, ["bom", str(bundle), "--out", str(out)])
        assert res.exit_code == 0, res.output
        bom = json.loads(out.read_text())
        comps = [bom["metadata"].get("component", {}), *bom.get("components", [])]
        cards = [c["modelCard"] for c in comps if "modelCard" in c]
        assert cards and cards[0]["modelParameters"]["task"] == task


@pytest.mark.parametrize(("run_name", "outputs"), [("reg_run", 1), ("mc_run", 3)])
def test_task_shap_draws_an_importance_chart_per_output(run_name: str, outputs: int,
                                                        request: pytest.FixtureRequest) -> None:
    """One SVG per explained output (the regressor's value, each class), its bars the reported mean |SHAP|
    (the largest feature first), and the HTML report shows each."""
    out, _, rep = request.getfixturevalue(run_name)
    shap = _check(rep, "explainability.task_shap")
    arts = shap["artifacts"]
    assert len(arts) == outputs and all(a["media_type"] == "image/svg+xml" for a in arts)
    html = (out / "report.html").read_text()
    for art, label in zip(arts, shap["evidence"]["outputs"]):
        svg = (out / art["path"]).read_text()
        assert f"Importance for {label}" in svg
        mine = [m for m in shap["metrics"] if m["name"] == "mean_abs_shap" and m["class_label"] == label]
        top = max(mine, key=lambda m: m["value"])["attribute"]
        assert top in svg
        assert art["path"] in html or art["title"] in html
