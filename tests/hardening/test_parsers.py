"""Parser and loader cases of issue 21 (hardening) that need more than the corpus: the message names the
problem and the fix, native libraries print nothing, YAML bombs are refused fast."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.hardening.corpus_base import BASE_MANIFEST, CORPUS, make_base_bundle
from trustaudit.cli import app
from trustaudit.errors import ModelLoadError

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
LAUGHS = (CORPUS / "manifest" / "billion_laughs.yaml").read_text().split("trustaudit: 1")[0]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_base_bundle(tmp_path_factory.mktemp("parsers") / "base")


@pytest.fixture
def bundle(base: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(base, tmp_path / "bundle"))


def one_line_error(args: list[str], *fragments: str) -> str:
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "internal error" not in lines[0] and "Traceback" not in r.output
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


# -- ONNX: one tensor input, data with text columns -------------------------------------------------------------


def test_onnx_single_tensor_on_text_columns_names_them_and_the_fix(bundle: Path) -> None:
    import shutil

    shutil.copy(CORPUS / "model" / "tensor3.onnx", bundle / "model.onnx")
    m = bundle / "trustaudit.yaml"
    m.write_text(BASE_MANIFEST.replace("path: model.skops, format: skops", "path: model.onnx, format: onnx"))
    one_line_error(["validate", str(bundle)], "one numeric tensor", "'sex' hold text", "data.features",
                   "export the model with its preprocessing")
    # the fix the message gives works: the numeric columns the model takes
    m.write_text(m.read_text().replace("favorable_label: 'yes'}", "favorable_label: 'yes', features: [income, debt, age]}"))
    r = runner.invoke(app, ["validate", str(bundle)])
    assert r.exit_code == 0, r.output
    # too few columns for the tensor: named, with the width the model takes
    m.write_text(m.read_text().replace("features: [income, debt, age]", "features: [income, debt]"))
    one_line_error(["validate", str(bundle)], "takes 3 features but the data gives 2 columns")


def test_onnx_feed_refuses_text_for_a_numeric_model_at_predict_time(base: Path) -> None:
    import pandas as pd

    from trustaudit.bundle.models import load_onnx

    adapter = load_onnx(CORPUS / "model" / "tensor3.onnx")
    X = pd.DataFrame({"income": ["a"], "debt": [1.0], "age": [3]})
    with pytest.raises(ModelLoadError, match="'income' hold text"):
        adapter.predict_proba(X)


# -- LightGBM: native output ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["garbage.lgb.txt", "truncated.lgb.txt", "random.lgb.txt", "empty.lgb.txt"])
def test_corrupt_lightgbm_prints_nothing_natively(name: str, capfd: pytest.CaptureFixture[str]) -> None:
    """LightGBM writes '[LightGBM] [Fatal] ...' to fd 2, and a malformed tree aborts the process: neither
    reaches the user (a child process reads the file first)."""
    from trustaudit.bundle.models import load_lightgbm

    with pytest.raises(ModelLoadError, match="is not a LightGBM model file"):
        load_lightgbm(CORPUS / "model" / name)
    captured = capfd.readouterr()
    assert "[LightGBM]" not in captured.err + captured.out
    assert "terminate called" not in captured.err


def test_corrupt_lightgbm_is_exactly_one_line_from_the_real_cli(bundle: Path) -> None:
    import shutil

    shutil.copy(CORPUS / "model" / "garbage.lgb.txt", bundle / "model.txt")
    (bundle / "trustaudit.yaml").write_text(
        BASE_MANIFEST.replace("path: model.skops, format: skops", "path: model.txt, format: lightgbm"))
    r = subprocess.run([sys.executable, "-m", "trustaudit.cli", "validate", str(bundle)], capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [r.stderr.strip()] and r.stderr.startswith("error: "), r.stderr
    assert "[LightGBM]" not in r.stderr and r.stdout == ""


def test_a_valid_lightgbm_model_still_loads(tmp_path: Path) -> None:
    import lightgbm as lgb
    import numpy as np

    from trustaudit.bundle.models import load_lightgbm

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, (X[:, 0] > 0).astype(int)), 3)
    booster.save_model(str(tmp_path / "m.txt"))
    adapter = load_lightgbm(tmp_path / "m.txt")
    assert adapter.predict_proba(__import__("pandas").DataFrame(X, columns=adapter.feature_names)).shape == (80, 2)


# -- predictions that are not labels ----------------------------------------------------------------------------


def _predictions_bundle(bundle: Path, pred: list[object] | None, labels: list[object] | None = None) -> Path:
    import pandas as pd

    p = bundle / "data" / "eval.csv"
    df = pd.read_csv(p)
    if labels is not None:
        df["approved"] = [labels[i % len(labels)] for i in range(len(df))]
    df["pred"] = [pred[i % len(pred)] for i in range(len(df))] if pred is not None else df["approved"]
    df.to_csv(p, index=False)
    (bundle / "trustaudit.yaml").write_text(
        BASE_MANIFEST.replace("model: {path: model.skops, format: skops}\n", "")
        .replace("favorable_label: 'yes'}", "favorable_label: 'yes', prediction: pred}"))
    return bundle


def test_predictions_that_never_match_a_label_are_refused(bundle: Path) -> None:
    line = one_line_error(["validate", str(_predictions_bundle(bundle, [0, 1]))],
                          "prediction column 'pred' holds values '0', '1'", "the labels ('approved') are 'no', 'yes'")
    assert "favorable_label 'yes'" in line


def test_predictions_with_values_beyond_the_labels_are_refused(bundle: Path) -> None:
    one_line_error(["validate", str(_predictions_bundle(bundle, ["yes", "no", "maybe"]))],
                   "holds values 'maybe' that are not labels")


@pytest.mark.parametrize(("pred", "labels", "favorable"), [
    (None, None, "'yes'"),  # the labels themselves
    ([1.0, 0.0], [1, 0], "1"),  # 1.0 is the label 1 (compared as text, as the checks do)
    (["True", "False"], [True, False], "true"),
])
def test_predictions_in_the_labels_values_pass(bundle: Path, pred, labels, favorable) -> None:
    b = _predictions_bundle(bundle, pred, labels)
    m = b / "trustaudit.yaml"
    m.write_text(m.read_text().replace("favorable_label: 'yes'", f"favorable_label: {favorable}"))
    r = runner.invoke(app, ["validate", str(b)])
    assert r.exit_code == 0, r.output


# -- explicit YAML tags with bad values -------------------------------------------------------------------------

TAGS = ["!!int 0x", "!!float abc", "!!timestamp 2024-99-99", "!!binary '@@'", "!!bool 0x"]


@pytest.mark.parametrize("tag", TAGS)
@pytest.mark.parametrize("where", ["manifest", "rubric", "openness", "card", "mlmodel", "card-lineage"])
def test_explicit_tags_with_bad_values_are_one_line(where: str, tag: str, bundle: Path, tmp_path: Path) -> None:
    if where == "manifest":
        (bundle / "trustaudit.yaml").write_text(BASE_MANIFEST.replace("version: 0.1.0", f"version: {tag}"))
        args = ["validate", str(bundle)]
    elif where == "rubric":
        p = tmp_path / "r.yaml"
        p.write_text(f"rubric: 1\nname: {tag}\n")
        args = ["lint", "--kind", "rubric", str(p)]
    elif where == "openness":
        p = tmp_path / "model.yml"
        p.write_text(f"release:\n  name: {tag}\n  components: []\n")
        args = ["openness", str(p)]
    elif where == "card":
        p = tmp_path / "README.md"
        p.write_text(f"---\nlicense: {tag}\n---\n")
        args = ["openness", str(p)]
    elif where == "card-lineage":
        (bundle / "README.md").write_text(f"---\nlicense: {tag}\n---\n")
        (bundle / "trustaudit.yaml").write_text(BASE_MANIFEST + "lineage: {sources: {model_card: README.md}}\n")
        args = ["validate", str(bundle)]
    else:
        (bundle / "mlmodel").mkdir()
        (bundle / "mlmodel" / "MLmodel").write_text(f"flavors:\n  sklearn: {{pickled_model: {tag}}}\n")
        (bundle / "trustaudit.yaml").write_text(
            BASE_MANIFEST.replace("path: model.skops, format: skops", "path: mlmodel, format: mlflow"))
        args = ["validate", str(bundle)]
    one_line_error(args, "not valid for its YAML tag")


def test_tagged_values_that_are_valid_still_load(tmp_path: Path) -> None:
    from trustaudit.openness.io import load_mot_text

    decl = load_mot_text("release:\n  name: !!str 12\n  version: !!str 1.0\n  components: []\n")
    assert decl.release.name == "12"


# -- billion laughs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["manifest", "openness", "card", "rubric", "mlmodel"])
def test_billion_laughs_is_refused_fast(where: str, bundle: Path, tmp_path: Path) -> None:
    if where == "manifest":
        (bundle / "trustaudit.yaml").write_text(LAUGHS + BASE_MANIFEST)
        args = ["validate", str(bundle)]
    elif where == "openness":
        p = tmp_path / "model.yml"
        p.write_text(LAUGHS + "release: {name: m, components: []}\n")
        args = ["openness", str(p)]
    elif where == "card":
        p = tmp_path / "README.md"
        p.write_text("---\n" + LAUGHS + "license: mit\n---\n")
        args = ["openness", str(p)]
    elif where == "rubric":
        p = tmp_path / "r.yaml"
        p.write_text(LAUGHS + "rubric: 1\nname: x\n")
        args = ["lint", str(p)]
    else:
        (bundle / "mlmodel").mkdir()
        (bundle / "mlmodel" / "MLmodel").write_text(LAUGHS + "flavors: {sklearn: {}}\n")
        (bundle / "trustaudit.yaml").write_text(
            BASE_MANIFEST.replace("path: model.skops, format: skops", "path: mlmodel, format: mlflow"))
        args = ["validate", str(bundle)]
    t0 = time.perf_counter()
    one_line_error(args, "expands to more than")
    assert time.perf_counter() - t0 < 2.0


def test_lint_of_unreadable_or_deep_files_reports_errors(tmp_path: Path) -> None:
    from trustaudit.gate.lint import lint_file

    p = tmp_path / "r.yaml"
    p.write_bytes(b"rubric: 1\nname: caf\xe9\n")
    assert "not UTF-8" in lint_file(p).errors[0]
    p.write_text("k: " + "[" * 20000 + "]" * 20000 + "\n")
    assert lint_file(p).ok  # libyaml refuses the depth: not YAML, so not one of ours (never a RecursionError)
    (err,) = lint_file(p, "rubric").errors
    assert "nesting depth" in err or "deeper than" in err
    p.write_text("rubric: 1\nname: x\nk: " + "[" * 80 + "]" * 80 + "\n")  # YAML, but over trustaudit's bound
    (err,) = lint_file(p).errors
    assert "deeper than 64 levels" in err


def test_cyclonedx_with_scalars_where_lists_belong(tmp_path: Path) -> None:
    import json

    from trustaudit.errors import BundleError
    from trustaudit.lineage.sources import parse_cyclonedx

    comp = {"type": "machine-learning-model", "name": "m"}
    for extra, where in [({"hashes": 5}, "hashes"), ({"pedigree": {"ancestors": 3}}, "ancestors"),
                         ({"modelCard": {"modelParameters": [1]}}, "modelParameters"),
                         ({"properties": 1}, "properties")]:
        p = tmp_path / "bom.cdx.json"
        p.write_text(json.dumps({"bomFormat": "CycloneDX", "components": [{**comp, **extra}]}))
        with pytest.raises(BundleError, match=where):
            parse_cyclonedx(p)


def test_predictions_that_are_never_favourable_are_audited_not_refused(synthetic_bundle, tmp_path):
    """A model that refuses everyone is an extreme model, not a malformed bundle: fairness.model runs and reports
    the rates it can (selection rates of 0), instead of an error."""
    import json

    import pandas as pd
    from typer.testing import CliRunner

    from trustaudit.cli import app

    d = synthetic_bundle(n=300)
    df = pd.read_csv(d / "data" / "eval.csv")
    df.assign(pred="no").to_csv(d / "data" / "eval.csv", index=False)
    m = d / "trustaudit.yaml"
    m.write_text(m.read_text().replace("model: {path: model.skops, format: skops}\n", "").replace(
        "favorable_label: 'yes'}", "favorable_label: 'yes', prediction: pred}"))
    r = CliRunner().invoke(app, ["audit", str(d), "--out", str(tmp_path), "-c", "fairness.model",
                                 "--param", "fairness.model.bootstrap=50"])
    assert r.exit_code in (0, 1), r.output
    check = json.loads((tmp_path / "report.json").read_text())["checks"][0]
    assert check["status"] != "error", check["error"]
    rates = [m["value"] for m in check["metrics"] if m["name"] == "selection_rate"]
    assert rates and all(v == 0 for v in rates)


def test_text_in_a_numeric_feature_is_a_load_error(synthetic_bundle):
    import pandas as pd
    from typer.testing import CliRunner

    from trustaudit.cli import app

    d = synthetic_bundle(n=200)
    df = pd.read_csv(d / "data" / "eval.csv")
    df.assign(income="lots").to_csv(d / "data" / "eval.csv", index=False)
    r = CliRunner().invoke(app, ["validate", str(d)])
    assert r.exit_code == 2 and "cannot score the data's first rows" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1
