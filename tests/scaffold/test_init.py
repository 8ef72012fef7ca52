"""``trustaudit init`` on a Bank-marketing-like bundle: a ';'-separated CSV outside --out, a train.csv beside it,
a skops model that needs a type skops does not trust, a protected age range; and the ``validate`` it recommends."""

from __future__ import annotations

import gzip
import hashlib
import os
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from trustaudit.cli import app
from trustaudit.errors import BundleError
from trustaudit.scaffold import find_training_data, scaffold, sniff_sep

runner = CliRunner()
BANK = Path(os.environ.get("TRUSTAUDIT_SHARED", "/work/shared")) / "datasets" / "bank" / "bank-full.csv"


def _bank_like(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n)
    balance = rng.normal(1500, 800, n).round(0)
    job = rng.choice(["management", "technician", "blue-collar", "retired"], n)
    p = 1 / (1 + np.exp(-(-2.0 + 0.002 * (balance - 1500) + 0.8 * (age >= 60))))
    y = np.where(rng.random(n) < p, "yes", "no")
    return pd.DataFrame({"age": age, "job": job, "balance": balance, "y": y})


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files as a data scientist has them: bank.csv and train.csv (';', quoted header like UCI's) and a model."""
    import skops.io as sio
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    d = tmp_path_factory.mktemp("src")
    train, ev = _bank_like(600, 1), _bank_like(400, 2)
    train.to_csv(d / "train.csv", sep=";", index=False, quoting=1)
    ev.to_csv(d / "bank.csv", sep=";", index=False, quoting=1)
    pre = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["job"]),
                                  (FunctionTransformer(np.nan_to_num), ["age", "balance"]))
    model = make_pipeline(pre, LogisticRegression(max_iter=500)).fit(train.drop(columns="y"), train["y"])
    sio.dump(model, d / "model.skops")
    return d


def _sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("sep", "name"), [(";", "a.csv"), ("\t", "a.csv"), ("|", "a.csv"), (",", "a.csv"),
                                           (";", "a.csv.gz")])
def test_sniff_sep(tmp_path: Path, sep: str, name: str) -> None:
    df = _bank_like(50, 0)
    df.to_csv(tmp_path / name, sep=sep, index=False)
    assert sniff_sep(tmp_path / name) == sep
    (tmp_path / "one.csv").write_text("y\nyes\nno\n")
    assert sniff_sep(tmp_path / "one.csv") == ","  # one column: nothing to sniff, the default


@pytest.mark.skipif(not BANK.is_file(), reason="UCI bank-full.csv not in shared/datasets")
def test_sniff_uci_bank_full() -> None:
    assert sniff_sep(BANK) == ";"  # UCI's own file: quoted header, ';' between fields


def test_find_training_data(tmp_path: Path) -> None:
    for f in ("adult_test.csv", "adult_train.csv.gz", "training.parquet", "notes.txt", "trainer.py"):
        (tmp_path / f).write_text("x")
    assert find_training_data(tmp_path / "adult_test.csv") == tmp_path / "adult_train.csv.gz"
    (tmp_path / "train.csv").write_text("x")
    assert find_training_data(tmp_path / "adult_test.csv") == tmp_path / "adult_train.csv.gz"  # named alike
    assert find_training_data(tmp_path / "eval.csv") == tmp_path / "train.csv"  # else the shortest name
    assert find_training_data(tmp_path / "train.csv") != tmp_path / "train.csv"  # never the data itself
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "eval.csv").write_text("x")
    assert find_training_data(tmp_path / "other" / "eval.csv") is None


def test_init_then_validate_on_a_semicolon_bundle(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundles" / "bank"
    r = runner.invoke(app, ["init", str(src / "model.skops"), str(src / "bank.csv"), "--out", str(out),
                            "--protected", "age=>= 25 and < 60"])
    assert r.exit_code == 0, r.output
    # files outside --out were copied in, byte for byte
    for given, rel in (("bank.csv", "data/bank.csv"), ("model.skops", "model.skops"), ("train.csv", "data/train.csv")):
        assert f"copied {src / given} -> {out / rel}" in r.output
        assert (out / rel).read_bytes() == (src / given).read_bytes()
    m = yaml.safe_load((out / "trustaudit.yaml").read_text())
    assert m["data"] == {"path": "data/bank.csv", "label": "y", "favorable_label": "yes", "prediction": None,
                         "score": None, "sep": ";"}
    assert m["training_data"] == {"path": "data/train.csv"}
    assert m["protected"] == {"age": {"privileged": ">= 25 and < 60"}}
    assert m["model"]["trusted_types"] == ["numpy.nan_to_num"]  # listed for the reviewer, never trusted by it
    # lineage: digests of the files in the bundle, rows counted with pandas
    lin = m["lineage"]
    assert lin["files"] == {"model.skops": _sha(out / "model.skops"), "data/bank.csv": _sha(out / "data/bank.csv")}
    assert lin["training_data"][0]["digest"] == _sha(out / "data/train.csv")
    assert lin["training_data"][0]["rows"] == len(pd.read_csv(src / "train.csv", sep=";")) == 600
    assert lin["evaluation_data"]["rows"] == 400
    # the validate it recommends names the type to trust, and passes; without the flag it is refused
    line = next(x for x in r.output.splitlines() if "then run: trustaudit validate" in x)
    cmd = shlex.split(line.split("then run: ", 1)[1])
    assert cmd[-2:] == ["--trust-type", "numpy.nan_to_num"]
    ok = runner.invoke(app, cmd[1:])
    assert ok.exit_code == 0, ok.output
    assert "400 rows, label 'y', 1 protected attribute(s), model skops" in ok.output
    refused = runner.invoke(app, ["validate", str(out)])
    assert refused.exit_code == 2 and "numpy.nan_to_num" in refused.output


def test_failed_init_leaves_nothing_behind(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "bundle"
    r = runner.invoke(app, ["init", str(src / "model.skops"), str(src / "bank.csv"), "--out", str(out),
                            "--label", "nope"])
    assert r.exit_code == 2
    assert "label column 'nope' is not in bank.csv (columns: age, job, balance, y)" in r.output
    assert not (tmp_path / "new").exists()
    # an existing --out keeps what it had and gets nothing new
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    r = runner.invoke(app, ["init", str(src / "model.skops"), str(src / "bank.csv"), "--out", str(existing),
                            "--protected", "age=old"])
    assert r.exit_code == 2 and "privileged value(s) ['old'] of 'age' never occur in the data" in r.output
    assert sorted(p.name for p in existing.iterdir()) == ["keep.txt"]


def test_init_options(src: Path, tmp_path: Path) -> None:
    # an explicit --sep wins over sniffing; a wrong one leaves a one-column table and a clear error
    r = runner.invoke(app, ["init", str(src / "model.skops"), str(src / "bank.csv"), "--out", str(tmp_path / "a"),
                            "--sep", ",", "--label", "y"])
    assert r.exit_code == 2 and "label column 'y' is not in bank.csv" in r.output
    r = runner.invoke(app, ["init", str(src / "model.skops"), str(src / "bank.csv"), "--out", str(tmp_path / "b"),
                            "--sep", "ab"])
    assert r.exit_code == 2 and "--sep 'ab'" in r.output
    # --no-training-data; a range written as 25..60
    res = scaffold(src / "model.skops", src / "bank.csv", tmp_path / "c", find_training=False,
                   protected=["age=25..60"])
    m = yaml.safe_load(res.manifest.read_text())
    assert "training_data" not in m and m["protected"]["age"] == {"privileged": {"min": 25, "max": 60}}
    assert res.untrusted_types == ["numpy.nan_to_num"]
    with pytest.raises(BundleError, match="already exists; pass --force"):
        scaffold(src / "model.skops", src / "bank.csv", tmp_path / "c")


def test_gzip_training_data_with_another_delimiter(tmp_path: Path) -> None:
    ev = _bank_like(120, 3)
    ev["prediction"] = ev["y"]
    ev.to_csv(tmp_path / "eval.csv", index=False)
    with gzip.open(tmp_path / "eval_train.csv.gz", "wt") as fh:
        _bank_like(200, 4).to_csv(fh, sep="\t", index=False)
    res = scaffold(None, tmp_path / "eval.csv", tmp_path, label="y")  # files inside --out: referenced in place
    assert res.copied == [] and res.training_data == "eval_train.csv.gz"
    m = yaml.safe_load(res.manifest.read_text())
    assert "sep" not in m["data"] and m["training_data"] == {"path": "eval_train.csv.gz", "sep": "\t"}
    from trustaudit.bundle import load_bundle

    b = load_bundle(tmp_path)
    assert b.training_data is not None and b.training_data.shape == (200, 4)


@pytest.mark.parametrize("fmt", ["xgboost", "lightgbm"])
def test_init_then_validate_passes_for_native_boosters(tmp_path, fmt):
    """A native booster keeps its feature names but not the label's values: init tells the label from the
    features by those names (and from a binary column named like a protected attribute), and the validate it
    recommends passes."""
    from tests.conftest import make_synthetic

    df = make_synthetic(400)
    df["sex_code"] = (df["sex"] == "male").astype(int)
    X, y = df[["income", "debt", "age", "sex_code"]], (df["approved"] == "yes").astype(int)
    df.to_csv(tmp_path / "data.csv", index=False)
    if fmt == "xgboost":
        xgb = pytest.importorskip("xgboost")
        model = tmp_path / "model.ubj"
        xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y).save_model(model)
    else:
        lgb = pytest.importorskip("lightgbm")
        model = tmp_path / "model.txt"
        lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y).booster_.save_model(model)
    out = tmp_path / "bundle"
    r = runner.invoke(app, ["init", str(model), str(tmp_path / "data.csv"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    manifest = yaml.safe_load((out / "trustaudit.yaml").read_text())
    assert manifest["model"]["format"] == fmt
    assert manifest["data"]["label"] == "approved" and manifest["data"]["favorable_label"] == "yes"
    r = runner.invoke(app, ["validate", str(out)])
    assert r.exit_code == 0 and "label 'approved'" in r.output, r.output


def test_init_force_never_writes_through_a_link(tmp_path):
    """A link already in --out (a bundle folder someone else prepared) is replaced, not written through."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "eval.csv").write_text("x,sex,label,prediction\n1,M,1,1\n2,F,0,0\n3,M,1,0\n4,F,0,1\n")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious content outside the bundle\n")
    (tmp_path / "bundle" / "data").mkdir(parents=True)
    (tmp_path / "bundle" / "data" / "eval.csv").symlink_to(victim)
    scaffold(None, src / "eval.csv", tmp_path / "bundle", label="label", favorable="1", force=True,
             find_training=False)
    assert victim.read_text() == "precious content outside the bundle\n"
    dest = tmp_path / "bundle" / "data" / "eval.csv"
    assert not dest.is_symlink() and dest.read_bytes() == (src / "eval.csv").read_bytes()


def test_init_with_only_a_data_file_makes_a_predictions_only_bundle(tmp_path):
    (tmp_path / "d.csv").write_text("x,sex,label,prediction\n1,M,1,1\n2,F,0,0\n3,M,1,0\n4,F,0,1\n")
    r = runner.invoke(app, ["init", str(tmp_path / "d.csv"), "--out", str(tmp_path / "b"), "--label", "label"])
    assert r.exit_code == 0, r.output
    manifest = yaml.safe_load((tmp_path / "b" / "trustaudit.yaml").read_text())
    assert "model" not in manifest or manifest["model"] is None
    assert manifest["data"]["label"] == "label" and manifest["data"]["prediction"] == "prediction"
