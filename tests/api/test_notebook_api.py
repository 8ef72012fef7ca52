"""The Python API as a notebook user meets it (issue 18): every in-memory option reaches the checks, in-memory
arguments beside a bundle path are refused, the report shows itself (short repr, ``_repr_html_``, pandas frames),
plots come along without ``out_dir``, and progress is reported per check.

One in-memory audit of a small synthetic model is shared by the module (about 10 s on two cores)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SAMPLES, make_synthetic
from trustaudit.api import TextProgress, audit
from trustaudit.errors import BundleError
from trustaudit.results import AuditReport, Status

N_LEAKED = 120
CHECKS = ["fairness.model", "lineage.leakage", "lineage.skew", "lineage.integrity", "robustness.noise"]
PARAMS = {"fairness.model": {"bootstrap": 50}, "robustness.noise": {"n_samples": 300}}


def _model(train: pd.DataFrame):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer([("num", StandardScaler(), ["income", "debt", "age"]),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex"])])
    return Pipeline([("pre", pre), ("clf", LogisticRegression(random_state=0))]).fit(
        train.drop(columns="approved"), train["approved"])


class Recorder:
    """A progress callback that also takes each check's result."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int, int]] = []
        self.results: list[tuple[str, str, int]] = []

    def __call__(self, cid: str, phase: str, i: int, total: int) -> None:
        self.calls.append((cid, phase, i, total))

    def check_done(self, result, i: int, total: int) -> None:
        self.results.append((result.check_id, result.status.value, i))


@pytest.fixture(scope="module")
def run():
    df = make_synthetic(1200, seed=0)
    train = pd.concat([make_synthetic(1500, seed=1), df.iloc[:N_LEAKED]], ignore_index=True)
    clf = _model(train)
    # the training label column has another name: training_label= says which
    train_renamed = train.rename(columns={"approved": "target"})
    rec = Recorder()
    report = audit(clf, df, label="approved", favorable_label="yes", protected={"sex": ["male"]},
                   training_data=train_renamed, training_label="target", name="credit", version="2",
                   checks=CHECKS, params=PARAMS, progress=rec)
    return {"report": report, "df": df, "train": train, "clf": clf, "rec": rec}


def test_training_data_reaches_the_checks(run) -> None:
    report: AuditReport = run["report"]
    leak, skew = report.check("lineage.leakage"), report.check("lineage.skew")
    assert leak.status != Status.SKIPPED and skew.status != Status.SKIPPED, (leak.skipped_reason, skew.skipped_reason)
    leaked = {m.name: m.value for m in leak.metrics}["leaked_rows"]
    # cross-check with pandas: evaluation rows (features and label) found among the training rows
    cols = ["income", "debt", "age", "sex", "approved"]
    hand = run["df"][cols].merge(run["train"][cols].drop_duplicates(), on=cols, how="inner")
    assert leaked == len(hand) == N_LEAKED
    assert report.bundle.name == "credit" and report.bundle.version == "2"


def test_directory_checks_say_what_they_need(run) -> None:
    integrity = run["report"].check("lineage.integrity")
    assert integrity.status == Status.SKIPPED
    assert "bundle directory" in integrity.skipped_reason and "trustaudit init" in integrity.skipped_reason
    assert "digests" in integrity.skipped_reason  # what the check reads


def test_metrics_frame_one_row_per_metric_cross_checked(run) -> None:
    report: AuditReport = run["report"]
    frame = report.metrics_frame()
    assert len(frame) == sum(len(c.metrics) for c in report.checks)
    assert {"check", "metric", "attribute", "group", "reference", "value", "ci_low", "ci_high", "n", "judged",
            "condition_status"} <= set(frame.columns)
    assert report.to_frame().equals(frame)
    di = frame[(frame.check == "fairness.model") & (frame.metric == "disparate_impact")
               & (frame.group == "female") & (frame.reference == "male")]
    assert len(di) == 1
    # disparate impact by hand: P(favourable prediction | female) / P(favourable prediction | male)
    df = run["df"]
    pred = run["clf"].predict(df.drop(columns="approved")) == "yes"
    hand = pred[df.sex == "female"].mean() / pred[df.sex == "male"].mean()
    row = di.iloc[0]
    assert row.value == pytest.approx(hand, rel=1e-9)
    assert row.ci_low <= row.value <= row.ci_high and row.n == len(df)
    judged = {(c.metric, c.subject): c.status.value for c in report.check("fairness.model").conditions}
    assert row.condition_status == judged[("disparate_impact", row.subject)]


def test_conditions_frame(run) -> None:
    report: AuditReport = run["report"]
    frame = report.conditions_frame()
    conds = [x for c in report.checks for x in c.conditions]
    assert len(frame) == len(conds) > 0
    assert list(frame.status) == [x.status.value for x in conds]
    failed = frame[frame.status.isin(["fail", "warn"])]
    assert len(failed) == len(report.failures())


def test_short_repr_and_verdict_word(run) -> None:
    report: AuditReport = run["report"]
    text = repr(report)
    assert len(text) < 300 and text == str(report)
    assert f"verdict {report.verdict.value}" in text and "credit 2" in text
    assert str(report.verdict) == report.verdict.value and f"{report.verdict}" == report.verdict.value
    assert print_of(report.verdict) == report.verdict.value
    assert len(repr(report.check("fairness.model"))) < 200


def print_of(obj) -> str:
    buf = io.StringIO()
    print(obj, file=buf)
    return buf.getvalue().strip()


def test_repr_html_shows_verdict_checks_failures_and_plots(run) -> None:
    report: AuditReport = run["report"]
    html = report._repr_html_()
    assert report.verdict.value in html and "credit" in html
    for c in report.checks:
        assert c.check_id in html
    for _, cond in report.failures()[:5]:
        assert cond.condition.replace("<", "&lt;").replace(">", "&gt;") in html
    assert "<script" not in html.lower()
    assert "data:image/svg+xml;base64," in html  # the noise check's plot, from the managed artefact folder


def test_repr_html_escapes_everything() -> None:
    doc = {
        "report_id": "x", "created_at": "2026-01-01T00:00:00Z",
        "tool": {"version": "0", "python": "3.11", "platform": "linux"},
        "bundle": {"name": "<img src=x onerror=alert(1)>", "version": "1", "task": "binary-classification",
                   "n_rows": 1, "label": "y", "favorable_label": "1"},
        "seed": 0, "rubric": {"name": "r", "version": "1", "source": "s", "sha256": "0"},
        "checks": [{"check_id": "c.x", "category": "c", "version": "1", "title": "t", "status": "fail",
                    "summary": "<script>alert(2)</script>",
                    "conditions": [{"condition": "m <= 1", "metric": "m", "subject": "g=<b>", "severity": "fail",
                                    "status": "fail", "observed": 2.0, "message": "no"}]}],
        "verdict": "fail", "counts": {"fail": 1}, "duration_s": 0.1,
    }
    html = AuditReport.model_validate(doc)._repr_html_()
    assert "<script>" not in html and "<img src=x" not in html and "g=<b>" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html and "g=&lt;b&gt;" in html


def test_plots_come_along_without_out_dir(run, tmp_path: Path) -> None:
    from trustaudit import write_report
    from trustaudit.render import render_to_dir

    report: AuditReport = run["report"]
    assert report.artifact_dir is not None and report.artifact_dir.is_dir()
    arts = [a.path for c in report.checks for a in c.artifacts]
    assert arts, "robustness.noise writes its flip-rate plot"
    write_report(report, tmp_path)
    for rel in arts:
        assert (tmp_path / rel).is_file() and (tmp_path / rel).read_bytes() == (report.artifact_dir / rel).read_bytes()
    html = Path(render_to_dir(report, "html", tmp_path)).read_text(encoding="utf-8")
    assert any(Path(rel).name in html for rel in arts)


def test_progress_callback_gets_every_check_and_its_result(run) -> None:
    rec: Recorder = run["rec"]
    report: AuditReport = run["report"]
    ids = [c.check_id for c in report.checks]
    assert [c for c, phase, _, _ in rec.calls if phase == "start"] == ids
    assert [c for c, phase, _, _ in rec.calls if phase == "end"] == ids
    assert {t for *_, t in rec.calls} == {len(ids)}
    assert rec.results == [(c.check_id, c.status.value, i) for i, c in enumerate(report.checks)]


def test_text_progress_lines() -> None:
    from trustaudit.results import CheckResult

    buf = io.StringIO()
    p = TextProgress(buf)
    p("fairness.model", "start", 0, 12)
    p.check_done(CheckResult(check_id="fairness.model", category="fairness", version="1", title="t",
                             status=Status.FAIL, duration_s=1.25), 0, 12)
    p("lineage.integrity", "start", 1, 12)
    p.check_done(CheckResult(check_id="lineage.integrity", category="lineage", version="1", title="t",
                             status=Status.SKIPPED, skipped_reason="needs a bundle directory"), 1, 12)
    lines = buf.getvalue().splitlines()
    assert lines[0] == "[ 1/12] fairness.model ..."
    assert re.fullmatch(r"\[ 1/12\] fairness\.model: fail in 1\.2s \(elapsed \d+\.\ds\)", lines[1]), lines[1]
    assert lines[3].endswith(": needs a bundle directory") and "\x1b" not in buf.getvalue()


def test_progress_true_prints_to_stdout(capsys) -> None:
    df = make_synthetic(300, seed=3)
    df["pred"] = np.where(df.income > 52, "yes", "no")
    report = audit(None, df, label="approved", favorable_label="yes", protected={"sex": ["male"]},
                   prediction="pred", checks=["fairness.model"], params={"fairness.model": {"bootstrap": 20}},
                   progress=True)
    out = capsys.readouterr().out.splitlines()
    assert out == ["[1/1] fairness.model ...", out[1]]
    assert out[1].startswith(f"[1/1] fairness.model: {report.check('fairness.model').status.value} in ")
    # a predictions-only in-memory audit: the prediction column reached the check
    hand = (df.pred[df.sex == "female"] == "yes").mean() / (df.pred[df.sex == "male"] == "yes").mean()
    di = [m for m in report.check("fairness.model").metrics if m.name == "disparate_impact" and m.group == "female"]
    assert di[0].value == pytest.approx(hand, rel=1e-9)


@pytest.mark.parametrize("kwargs", [{"label": "NOT_A_COLUMN"}, {"data": pd.DataFrame({"a": [1]})},
                                    {"training_data": pd.DataFrame({"a": [1]}), "protected": {"sex": ["Male"]}}])
def test_in_memory_arguments_with_a_bundle_path_are_refused(kwargs) -> None:
    with pytest.raises(BundleError) as err:
        audit(SAMPLES / "adult-income-logreg", **kwargs)
    msg = err.value.one_line()
    for key in kwargs:
        assert f"{key}=" in msg
    assert "trustaudit.yaml" in msg and "\n" not in msg


def test_in_memory_audit_names_missing_arguments() -> None:
    df = make_synthetic(50)
    with pytest.raises(BundleError, match="label=, favorable_label="):
        audit(object(), df)
    with pytest.raises(BundleError, match="training_data must be a pandas DataFrame"):
        audit(None, df.assign(pred="yes"), label="approved", favorable_label="yes", prediction="pred",
              training_data=[1, 2])


def test_cli_refuses_nothing_new_and_bundle_audits_still_run(tmp_path: Path) -> None:
    """A bundle path with only its own options (rubric, checks, seed, out_dir) is not refused."""
    report = audit(SAMPLES / "adult-income-predictions", checks=["lineage.integrity"], out_dir=tmp_path)
    assert report.check("lineage.integrity").status != Status.SKIPPED
    assert report.artifact_dir == tmp_path


def test_in_memory_protected_range_as_mapping_or_text():
    """protected={"age": {"min": 25, "max": 60}} is the range [25, 60), like the text form; group sizes as pandas."""
    df = make_synthetic(600, seed=2)
    df["pred"] = df["approved"]
    inside = int(((df["age"] >= 25) & (df["age"] < 60)).sum())
    for prot in ({"age": {"min": 25, "max": 60}}, {"age": ">= 25 and < 60"}):
        r = audit(None, df, label="approved", favorable_label="yes", protected=prot, prediction="pred",
                  checks=["fairness.dataset"])
        sizes = {m.group: m.n for m in r.check("fairness.dataset").metrics if m.name == "base_rate"}
        assert sizes == {"age >= 25 and < 60": inside, "age < 25 or >= 60": len(df) - inside}
