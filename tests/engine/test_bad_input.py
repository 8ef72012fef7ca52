"""Every bad input named in the engine issue gets a one-line error naming the problem, and exit code 2."""

from __future__ import annotations

import os
from pathlib import Path

import joblib
import pytest
from typer.testing import CliRunner

from trustaudit.cli import app

runner = CliRunner()


def run_cli(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def assert_input_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    err = result.stderr if hasattr(result, "stderr") else result.output
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for f in fragments:
        assert f in lines[0], lines[0]


def edit_manifest(d: Path, old: str, new: str) -> None:
    p = d / "trustaudit.yaml"
    text = p.read_text()
    assert old in text, old
    p.write_text(text.replace(old, new))


def test_missing_manifest(tmp_path):
    assert_input_error(run_cli("validate", tmp_path), "no trustaudit.yaml", "trustaudit init")


def test_missing_bundle_dir(tmp_path):
    assert_input_error(run_cli("audit", tmp_path / "nope"), "does not exist")


def test_not_yaml(synthetic_bundle):
    d = synthetic_bundle(n=200)
    (d / "trustaudit.yaml").write_text("trustaudit: 1\nname: [unclosed\n")
    assert_input_error(run_cli("validate", d), "not valid YAML", "line")


def test_unknown_key_suggests_the_closest(synthetic_bundle):
    d = synthetic_bundle(n=200)
    edit_manifest(d, "label: approved", "lable: approved")
    r = run_cli("validate", d)
    assert_input_error(r, "data.lable")
    d2 = d / "trustaudit.yaml"
    d2.write_text(d2.read_text().replace("lable", "label").replace("task:", "tsk:"))
    assert_input_error(run_cli("validate", d), "unknown key 'tsk'", "did you mean 'task'")


def test_wrong_type(synthetic_bundle):
    d = synthetic_bundle(n=200)
    edit_manifest(d, "name: synthetic", "name: {a: 1}")
    assert_input_error(run_cli("validate", d), "'name'")


@pytest.mark.parametrize("bad", ["../outside.csv", "/etc/passwd", "data/../../outside.csv"])
def test_paths_leaving_the_bundle(synthetic_bundle, bad):
    d = synthetic_bundle(n=200)
    (d.parent / "outside.csv").write_text("a,b\n1,2\n")
    edit_manifest(d, "path: data/eval.csv", f"path: '{bad}'")
    r = run_cli("validate", d)
    assert_input_error(r, "data.path")
    assert "outside the bundle" in r.output or "absolute" in r.output


def test_symlink_pointing_out(synthetic_bundle):
    d = synthetic_bundle(n=200)
    outside = d.parent / "secret.csv"
    (d / "data" / "eval.csv").rename(outside)
    os.symlink(outside, d / "data" / "eval.csv")
    assert_input_error(run_cli("validate", d), "outside the bundle")


def test_missing_file(synthetic_bundle):
    d = synthetic_bundle(n=200)
    (d / "model.skops").unlink()
    assert_input_error(run_cli("validate", d), "model file 'model.skops' does not exist")


def test_missing_label_column(synthetic_bundle):
    d = synthetic_bundle(n=200)
    edit_manifest(d, "label: approved", "label: approve")
    assert_input_error(run_cli("validate", d), "label column 'approve'", "did you mean 'approved'")


def test_missing_protected_column(synthetic_bundle):
    d = synthetic_bundle(n=200)
    edit_manifest(d, "  sex: {privileged: [male]}", "  gender: {privileged: [male]}")
    assert_input_error(run_cli("validate", d), "protected attribute 'gender'")


def test_privileged_value_never_occurs(synthetic_bundle):
    d = synthetic_bundle(n=200)
    edit_manifest(d, "privileged: [male]", "privileged: [Male]")
    assert_input_error(run_cli("validate", d), "never occur", "values seen: female, male")


def test_empty_group(synthetic_bundle):
    d = synthetic_bundle(n=200)
    edit_manifest(d, "privileged: '>= 25'", "privileged: '>= 0'")
    assert_input_error(run_cli("validate", d), "unprivileged group is empty")


def test_missing_values_in_label(synthetic_bundle):
    d = synthetic_bundle(n=200)
    p = d / "data" / "eval.csv"
    lines = p.read_text().splitlines()
    lines[3] = ",".join(lines[3].split(",")[:-1] + [""])
    p.write_text("\n".join(lines) + "\n")
    assert_input_error(run_cli("validate", d), "1 missing value")


def test_model_and_data_columns_do_not_match(synthetic_bundle):
    import pandas as pd

    d = synthetic_bundle(n=200)
    p = d / "data" / "eval.csv"
    pd.read_csv(p).rename(columns={"debt": "debts"}).to_csv(p, index=False)
    assert_input_error(run_cli("validate", d), "model expects columns missing from the data: debt")


def test_pickle_refused_without_opt_in(synthetic_bundle):
    import skops.io as sio

    d = synthetic_bundle(n=300)
    model = sio.load(d / "model.skops", trusted=sio.get_untrusted_types(file=d / "model.skops"))
    joblib.dump(model, d / "model.joblib")
    edit_manifest(d, "model: {path: model.skops, format: skops}", "model: {path: model.joblib, format: joblib}")
    assert_input_error(run_cli("validate", d), "refusing to load", "skops", "--allow-unsafe-pickle")
    r = run_cli("validate", d, "--allow-unsafe-pickle")
    assert r.exit_code == 0, r.output


def test_task_regression_needs_a_numeric_label(synthetic_bundle):
    d = synthetic_bundle(n=200)
    edit_manifest(d, "task: binary-classification", "task: regression")
    assert_input_error(run_cli("validate", d), "holds non-numeric values", "task regression needs a numeric target")


def test_unknown_format(synthetic_bundle):
    d = synthetic_bundle(n=200)
    edit_manifest(d, "format: skops", "format: h5")
    assert_input_error(run_cli("validate", d), "model.format")


def test_multiclass_label_refused(synthetic_bundle):
    import pandas as pd

    d = synthetic_bundle(n=200)
    p = d / "data" / "eval.csv"
    df = pd.read_csv(p)
    df.loc[:10, "approved"] = "maybe"
    df.to_csv(p, index=False)
    assert_input_error(run_cli("validate", d), "3 distinct values")


def test_untrusted_skops_type_refused(tmp_path):
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    from trustaudit.bundle.models import load_skops
    from trustaudit.errors import ModelLoadError

    sio.dump(FunctionTransformer(func=os.getcwd), tmp_path / "evil.skops")
    with pytest.raises(ModelLoadError, match="types that are not trusted: posix.getcwd"):
        load_skops(tmp_path / "evil.skops")


def test_unknown_rubric_and_check(synthetic_bundle):
    d = synthetic_bundle(n=200)
    assert_input_error(run_cli("audit", d, "--rubric", "nope"), "rubric 'nope' not found")
    assert_input_error(run_cli("audit", d, "--checks", "fairness.modle"), "unknown check", "fairness.model")


def test_in_memory_api_errors():
    import pandas as pd
    from sklearn.dummy import DummyClassifier

    from trustaudit import audit
    from trustaudit.errors import BundleError

    df = pd.DataFrame({"x": [1, 2, 3, 4], "s": ["a", "b", "a", "b"], "y": [0, 1, 0, 1]})
    clf = DummyClassifier().fit(df[["x", "s"]].assign(s=0), df["y"])
    with pytest.raises(BundleError, match="label column 'target'"):
        audit(clf, df, label="target", favorable_label=1, protected={"s": ["a"]})
