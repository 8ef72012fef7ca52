"""lineage.integrity: declared digests match; a tampered byte fails with the file named."""

from __future__ import annotations

import hashlib

from tests.lineage.conftest import edit_lineage, metric, rewrite_csv_gz, run, sha256
from trustaudit.bundle.loader import sha256_file
from trustaudit.lineage.digests import hash_path
from trustaudit.results import Status

CHECK = "lineage.integrity"


def test_sample_digests_match(samples_dir):
    res = run(samples_dir / "adult-income-logreg", [CHECK], load_model=False).check(CHECK)
    assert res.status == Status.PASS
    assert metric(res, "digest_mismatches").value == 0
    assert metric(res, "digests_verified").value == 4  # model.skops, model.onnx, eval data, training data
    assert metric(res, "undeclared_files").value == 0
    rows = {r[0]: r for r in res.tables[0].rows}
    onnx = samples_dir / "adult-income-logreg" / "model.onnx"
    assert rows["model.onnx"][3] == "sha256:" + hashlib.sha256(onnx.read_bytes()).hexdigest()


def test_tampered_byte_fails_naming_the_file(german):
    # change one character of one value: the file still loads, only its digest betrays it
    def tamper(df):
        df.loc[0, "age"] = int(df.loc[0, "age"]) + 1
        return df

    rewrite_csv_gz(german / "data/eval.csv.gz", tamper)
    report = run(german, [CHECK], load_model=False)
    res = report.check(CHECK)
    assert res.status == Status.FAIL and report.verdict == Status.FAIL
    m = metric(res, "digest_mismatches")
    assert m.value == 1 and m.subject == "data/eval.csv.gz"
    assert "digest mismatch: data/eval.csv.gz (declared sha256:" in res.summary
    (cond,) = [c for c in res.conditions if c.metric == "digest_mismatches"]
    assert cond.status == Status.FAIL and "data/eval.csv.gz" in cond.message
    row = next(r for r in res.tables[0].rows if r[0] == "data/eval.csv.gz")
    assert row[4] == "MISMATCH" and row[3] == "sha256:" + sha256(german / "data/eval.csv.gz")


def test_tampered_training_data_and_cli_exit_code(german):
    from typer.testing import CliRunner

    from trustaudit.cli import app

    rewrite_csv_gz(german / "data/train.csv.gz", lambda df: df.iloc[:-1])  # one row dropped
    res = CliRunner().invoke(app, ["audit", str(german), "--out", str(german.parent / "out"), "-c", CHECK])
    assert res.exit_code == 1, res.output
    assert "data/train.csv.gz" in res.output


def test_missing_and_undeclared_files(german):
    def change(lin):
        del lin["files"]["data/eval.csv.gz"]
        lin["files"]["weights/extra.bin"] = "sha256:" + "0" * 64

    edit_lineage(german, change)
    res = run(german, [CHECK], load_model=False).check(CHECK)
    assert metric(res, "missing_files").value == 1 and metric(res, "missing_files").subject == "weights/extra.bin"
    assert metric(res, "undeclared_files").value == 1 and metric(res, "undeclared_files").subject == "data/eval.csv.gz"
    assert metric(res, "digest_mismatches").value == 0
    statuses = {c.metric: c.status for c in res.conditions}
    assert statuses == {"digest_mismatches": Status.PASS, "missing_files": Status.FAIL,
                        "undeclared_files": Status.WARN,
                        # no lineage.signature: no model signature to fail or leave unverified
                        "model_signatures_failed": Status.PASS, "model_signatures_unverified": Status.PASS}


def test_other_algorithms(german):
    model = german / "model.skops"
    want512 = hashlib.sha512(model.read_bytes()).hexdigest()
    edit_lineage(german, lambda lin: lin["files"].update({"model.skops": {"sha512": want512,
                                                                           "sha3-256": "0" * 64}}))
    res = run(german, [CHECK], load_model=False).check(CHECK)
    m = metric(res, "digest_mismatches")
    assert m.value == 1 and m.subject == "model.skops"  # sha512 matches, the sha3-256 does not
    assert "declared sha3-256:000000000000" in res.summary


def test_directory_digest_matches_the_loader(german):
    d = german / "data"
    assert hash_path(d, "sha256") == sha256_file(d)[0]


def test_skipped_without_lineage(synthetic_bundle):
    res = run(synthetic_bundle(200), [CHECK], load_model=False).check(CHECK)
    assert res.status == Status.SKIPPED and "no lineage section" in (res.skipped_reason or "")
