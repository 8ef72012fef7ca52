"""Engine: API, CLI, registry, rubric judging, result model and its committed JSON Schema."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from trustaudit.api import audit, load_report, write_report
from trustaudit.checks.base import Check, CheckOutput
from trustaudit.cli import app
from trustaudit.results import AuditReport, Interval, Metric, Status
from trustaudit.rubrics import Condition

from ..conftest import ROOT, make_synthetic

runner = CliRunner()


def test_report_schema_is_committed_and_current():
    from trustaudit.schemas import json_schema

    for which in ("report", "manifest", "rubric"):
        committed = json.loads((ROOT / "schemas" / f"{which}.schema.json").read_text())
        assert committed == json_schema(which), (
            f"schemas/{which}.schema.json is stale: run 'trustaudit schema {which} > schemas/{which}.schema.json'")


def test_report_round_trips_and_validates_against_schema(hgb_report, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    path = write_report(hgb_report, tmp_path)
    again = load_report(path)
    assert again == hgb_report
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
    jsonschema.validate(json.loads(path.read_text()), schema)


def test_report_identity(hgb_report, samples_dir):
    import hashlib

    files = {f.role: f for f in hgb_report.bundle.files}
    data = samples_dir / "adult-income-hgb" / "data" / "eval.csv.gz"
    assert files["data"].sha256 == hashlib.sha256(data.read_bytes()).hexdigest()
    assert files["model"].sha256 == hashlib.sha256((samples_dir / "adult-income-hgb" / "model.skops").read_bytes()).hexdigest()
    assert "training_data" in files
    assert hgb_report.packages["aif360"] and hgb_report.tool.version
    assert hgb_report.rubric.name == "default" and len(hgb_report.rubric.sha256) == 64
    assert all(c.duration_s > 0 for c in hgb_report.checks)
    assert hgb_report.bundle.protected == {"sex": "Male", "race": "White", "age": ">= 25"}


def test_in_memory_audit_matches_bundle_audit(samples_dir):
    import pandas as pd
    import skops.io as sio

    d = samples_dir / "adult-income-hgb"
    model = sio.load(d / "model.skops", trusted=sio.get_untrusted_types(file=d / "model.skops"))
    df = pd.read_csv(d / "data" / "eval.csv.gz")
    params = {"fairness.model": {"bootstrap": 50}}
    mem = audit(model, df, label="income", favorable_label=">50K",
                protected={"sex": ["Male"], "race": ["White"], "age": ">= 25"},
                checks=["fairness.model"], params=params, name="adult")
    disk = audit(d, checks=["fairness.model"], params=params)
    assert mem.bundle.source == "in-memory"
    assert [m.model_dump() for m in mem.check("fairness.model").metrics] == [
        m.model_dump() for m in disk.check("fairness.model").metrics]


def test_cli_audit_writes_report_and_exit_codes(synthetic_bundle, tmp_path):
    d = synthetic_bundle(n=1500, bias=2.5)
    out = tmp_path / "out"
    r = runner.invoke(app, ["audit", str(d), "--out", str(out), "--checks", "fairness.model"])
    report = AuditReport.from_json((out / "report.json").read_bytes())
    assert report.verdict == Status.FAIL and r.exit_code == 1, r.output
    assert "verdict: FAIL" in r.output and "conditions not met" in r.output and "disparate" in r.output
    # a permissive rubric passes: exit 0
    rub = tmp_path / "lenient.yaml"
    rub.write_text("rubric: 1\nname: lenient\nchecks:\n  fairness.model:\n    conditions:\n"
                   "      - {metric: disparate_impact, op: '>=', value: 0.01}\n")
    r = runner.invoke(app, ["audit", str(d), "--out", str(out), "--checks", "fairness.model", "--rubric", str(rub)])
    assert r.exit_code == 0, r.output
    assert not list(out.glob(".report.json.*")), "temporary files left behind"


def test_unbiased_model_passes_default_rubric(synthetic_bundle, tmp_path):
    d = synthetic_bundle(n=3000, bias=0.0)
    report = audit(d, checks=["fairness.model"])
    di = [m for m in report.check("fairness.model").metrics if m.name == "disparate_impact"]
    assert di and all(m.value > 0.8 for m in di if m.attribute == "sex")


class Boom(Check):
    id = "test.boom"
    category = "test"
    title = "raises"

    def run(self, ctx, params):
        raise ValueError("kaboom")


class Fine(Check):
    id = "test.fine"
    category = "test"
    title = "measures"

    def run(self, ctx, params):
        return CheckOutput(metrics=[Metric(name="answer", value=42.0)], summary="ok")


@pytest.fixture
def fake_entry_points(monkeypatch):
    """Register test checks through a monkeypatched entry-point lookup (the real discovery path)."""
    from importlib.metadata import EntryPoint

    from trustaudit.checks import registry

    real = registry.entry_points

    def fake(group):
        eps = list(real(group=group))
        eps += [EntryPoint(name="test.boom", value="tests.engine.test_engine:Boom", group=group),
                EntryPoint(name="test.fine", value="tests.engine.test_engine:Fine", group=group)]
        return eps

    monkeypatch.setattr(registry, "entry_points", fake)
    registry.clear_cache()
    yield
    registry.clear_cache()


def test_plugin_discovery_and_failing_check_does_not_abort(fake_entry_points, synthetic_bundle):
    from trustaudit.checks import registry

    assert {"test.boom", "test.fine", "fairness.model"} <= set(registry.available())
    report = audit(synthetic_bundle(n=300), checks=["test.*", "fairness.dataset"],
                   params={"fairness.dataset": {"bootstrap": 20}})
    boom, fine, ds = report.check("test.boom"), report.check("test.fine"), report.check("fairness.dataset")
    assert boom.status == Status.ERROR and "ValueError: kaboom" in boom.error
    assert fine.status == Status.PASS and fine.metrics[0].value == 42.0
    assert ds.status in (Status.PASS, Status.WARN)
    assert report.verdict == Status.ERROR and not report.passed


def test_checks_command_lists_parameters():
    r = runner.invoke(app, ["checks", "--json"])
    rows = {row["id"]: row for row in json.loads(r.output)}
    assert rows["fairness.model"]["params"]["bootstrap"]["default"] == 1000
    assert rows["fairness.model"]["category"] == "fairness"


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; from trustaudit.cli import app; from typer.testing import CliRunner; "
            "CliRunner().invoke(app, ['--help']); CliRunner().invoke(app, ['audit', '--help']); "
            "heavy = [m for m in ('shap', 'art', 'weasyprint', 'aif360', 'sklearn', 'pandas', 'onnxruntime',"
            " 'matplotlib', 'fastapi', 'sqlalchemy') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported on --help: {out.stdout}"


@pytest.mark.parametrize(
    ("op", "value", "abs_", "m_value", "ci", "expected", "by_value"),
    [
        (">=", 0.8, False, 0.7, (0.6, 0.75), Status.FAIL, Status.FAIL),  # whole interval below
        (">=", 0.8, False, 0.7, (0.6, 0.85), Status.WARN, Status.FAIL),  # point below, interval reaches
        (">=", 0.8, False, 0.9, (0.7, 1.0), Status.WARN, Status.PASS),  # point above, interval reaches below
        (">=", 0.8, False, 0.9, (0.82, 0.97), Status.PASS, Status.PASS),  # whole interval above
        ("<=", 0.1, True, -0.15, (-0.2, -0.12), Status.FAIL, Status.FAIL),
        ("<=", 0.1, True, -0.15, (-0.2, -0.05), Status.WARN, Status.FAIL),
        ("<=", 0.1, True, 0.02, (-0.03, 0.06), Status.PASS, Status.PASS),
        ("<=", 0.1, True, 0.08, (0.05, 0.12), Status.WARN, Status.PASS),
        ("between", [0.8, 1.25], False, 1.3, (1.26, 1.4), Status.FAIL, Status.FAIL),
        ("between", [0.8, 1.25], False, 1.0, (0.85, 1.2), Status.PASS, Status.PASS),
    ],
)
def test_condition_judges_the_interval(op, value, abs_, m_value, ci, expected, by_value):
    """judge: interval passes only when the whole interval meets the bound and warns ('uncertain') when it reaches
    both sides, whichever side the estimate fell on; judge: value decides on the estimate."""
    cond = Condition(metric="m", op=op, value=value, abs=abs_, severity="fail")
    m = Metric(name="m", value=m_value, ci=Interval(low=ci[0], high=ci[1], method="test"))
    assert cond.evaluate(m).status == expected
    assert Condition(metric="m", op=op, value=value, abs=abs_, judge="value").evaluate(m).status == by_value


def test_rubric_errors_name_the_line(tmp_path):
    from trustaudit.errors import RubricError
    from trustaudit.rubrics import load_rubric

    p = tmp_path / "r.yaml"
    p.write_text("rubric: 1\nname: r\nchecks:\n  fairness.model:\n    conditions:\n"
                 "      - {metric: disparate_impact, op: '>=', valu: 0.8}\n")
    with pytest.raises(RubricError, match=r"line 6.*unknown key.*valu.*did you mean 'value'"):
        load_rubric(p)


def test_init_scaffolds_a_valid_manifest(tmp_path):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    df = make_synthetic(300)
    df["sex_code"] = (df["sex"] == "male").astype(int)
    (tmp_path / "data.csv").write_text(df.to_csv(index=False))
    X = df[["income", "debt", "age", "sex_code"]]
    sio.dump(LogisticRegression().fit(X, df["approved"]), tmp_path / "model.skops")
    r = runner.invoke(app, ["init", str(tmp_path / "model.skops"), str(tmp_path / "data.csv"),
                            "--out", str(tmp_path)], input="")
    assert r.exit_code == 0, r.output
    text = (tmp_path / "trustaudit.yaml").read_text()
    assert "label: approved" in text and "favorable_label: 'yes'" in text and "sex:" in text
    assert "age:" in text and ">= 25" in text
    r = runner.invoke(app, ["init", str(tmp_path / "model.skops"), str(tmp_path / "data.csv"),
                            "--out", str(tmp_path)])
    assert r.exit_code == 2 and "--force" in r.output


def test_sample_stratified_and_seeded(samples_dir):
    from trustaudit.bundle import load_bundle
    from trustaudit.context import AuditContext

    ctx = AuditContext(load_bundle(samples_dir / "adult-income-hgb"), seed=3)
    a = ctx.sample(1000, "x")
    assert len(a) == 1000 and (a == AuditContext(ctx.bundle, seed=3).sample(1000, "x")).all()
    female = ~ctx.protected["sex"].privileged
    assert abs(female[a].mean() - female.mean()) < 0.01
    assert not (a == ctx.sample(1000, "y")).all()


def test_cli_main_never_prints_a_traceback(tmp_path):
    bad = tmp_path / "b"
    bad.mkdir()
    (bad / "trustaudit.yaml").write_text("- just\n- a list\n")
    out = subprocess.run([sys.executable, "-m", "trustaudit.cli", "validate", str(bad)],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().startswith("error: ") and "mapping" in out.stderr
