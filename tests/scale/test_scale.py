"""audit_many / openness_many: same reports as one-by-one audits, in input order; bad bundles reported."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.scale.conftest import FAST, SAMPLES
from trustaudit.api import audit
from trustaudit.executors import LocalExecutor
from trustaudit.scale import (
    VOLATILE_FIELDS,
    AuditManyError,
    audit_many,
    audit_many_outcomes,
    comparable,
    expand_bundles,
    openness_many,
    output_names,
    write_summary,
)


@pytest.fixture(scope="module")
def local2():
    with LocalExecutor(2) as ex:
        yield ex


@pytest.fixture(scope="module")
def serial_reports(bundle_dir):
    return audit_many([bundle_dir], executor="serial", **FAST)


def test_expand_bundles(bundle_dir):
    found = expand_bundles([bundle_dir])
    assert [p.name for p in found] == ["a-german", "b-adult-preds", "c-german"]
    # a bundle given directly, its manifest file, and duplicates (kept once, first position)
    again = expand_bundles([bundle_dir / "c-german" / "trustaudit.yaml", bundle_dir, bundle_dir / "a-german"])
    assert [p.name for p in again] == ["c-german", "a-german", "b-adult-preds"]
    with pytest.raises(AuditManyError, match="does not exist"):
        expand_bundles([bundle_dir / "missing"])
    with pytest.raises(AuditManyError, match="holds no bundle"):
        expand_bundles([bundle_dir / "not-a-bundle"])
    with pytest.raises(AuditManyError, match="not a bundle directory"):
        expand_bundles([bundle_dir / "README.txt"])


def test_output_names_are_unique_and_safe(tmp_path):
    dirs = [tmp_path / "x" / "model", tmp_path / "y" / "model", tmp_path / "z" / "Model", tmp_path / "we ird!"]
    assert output_names(dirs) == ["model", "model-2", "Model-3", "we-ird"]


def test_serial_reports_equal_single_audits_in_order(bundle_dir, serial_reports):
    assert [r.bundle.name for r in serial_reports] == ["german-credit", "adult-income-predictions", "german-credit"]
    single = audit(bundle_dir / "b-adult-preds", **FAST)
    assert comparable(serial_reports[1]) == comparable(single)
    # the two copies of german-credit give the same numbers (same seed), only their source path differs
    a, c = comparable(serial_reports[0]), comparable(serial_reports[2])
    assert a["checks"] == c["checks"] and a["bundle"]["source"] != c["bundle"]["source"]


def test_local_pool_gives_identical_reports_in_order(serial_reports, local_reports):
    local = local_reports
    assert [comparable(r) for r in local] == [comparable(r) for r in serial_reports]
    # the run-time fields are the only ones left out of the comparison
    assert set(VOLATILE_FIELDS) <= set(serial_reports[0].model_dump())


def test_a_bad_bundle_is_reported_and_does_not_lose_the_others(tmp_path, bundle_dir, local2):
    bad = tmp_path / "broken"
    shutil.copytree(SAMPLES / "german-credit", bad)
    (bad / "trustaudit.yaml").write_text((bad / "trustaudit.yaml").read_text().replace("label: credit",
                                                                                       "label: kredit"))
    paths = [bundle_dir / "a-german", bad, bundle_dir / "b-adult-preds"]
    outcomes = audit_many_outcomes(paths, executor=local2, **FAST)
    assert [o.ok for o in outcomes] == [True, False, True]
    assert "label column 'kredit' is not in" in (outcomes[1].error or "")
    assert outcomes[2].report.bundle.name == "adult-income-predictions"
    with pytest.raises(AuditManyError, match=r"1 of 3 bundle\(s\) could not be audited: .*broken"):
        audit_many(paths, executor="serial", **FAST)


def test_write_summary(tmp_path, bundle_dir):
    outcomes = audit_many_outcomes([bundle_dir / "a-german", bundle_dir / "b-adult-preds"], executor="serial",
                                   out_dir=tmp_path, **FAST)
    path = write_summary(outcomes, tmp_path, executor="serial")
    summary = json.loads(path.read_text())
    assert summary["bundles"] == 2 and summary["audited"] == 2 and summary["errors"] == 0
    rows = summary["results"]
    assert [r["name"] for r in rows] == ["a-german", "b-adult-preds"]
    for o, row in zip(outcomes, rows):
        written = json.loads((tmp_path / row["report"]).read_text())
        assert written["verdict"] == row["verdict"] == o.report.verdict.value
        assert row["passed"] == o.report.passed
    assert summary["passed"] + summary["failed"] == 2


def test_openness_many_matches_the_scorer_in_order(local2):
    from trustaudit.openness import load_path, score_openness

    conf = sorted((SAMPLES.parent / "tests" / "openness" / "conformance").glob("*.yml"))[:9]
    files = conf
    expected = []
    for f in files:
        decl, root = load_path(f)
        expected.append(score_openness(decl, bundle_root=root).model_dump(mode="json"))
    for ex in ("serial", local2):
        got = openness_many(files, executor=ex, batch_size=3)
        assert [g.model_dump(mode="json") for g in got] == expected


def test_openness_many_errors(tmp_path):
    bad = tmp_path / "empty.yml"
    bad.write_text("")
    good = sorted((SAMPLES.parent / "tests" / "openness" / "conformance").glob("*.yml"))[0]
    with pytest.raises(Exception, match=r"1 of 2 file\(s\) could not be graded"):
        openness_many([good, bad], executor="serial")
    got = openness_many([good, bad], executor="serial", errors="collect")
    assert got[0].mof_class and isinstance(got[1], Exception)
    assert openness_many([], executor="serial") == []


def test_comparable_ignores_run_time_fields_and_timings_only(serial_reports):
    from trustaudit.scale import is_timing_key

    rep = serial_reports[0]
    other = rep.model_copy(deep=True)
    other.report_id, other.duration_s = "another", rep.duration_s + 5
    check = other.checks[0]
    check.duration_s += 1.0
    check.evidence = {**check.evidence, "elapsed_s": 9.9, "refit": {"fit_seconds": 1.0, "rows": 3}}
    base = rep.model_copy(deep=True)
    base.checks[0].evidence = {**base.checks[0].evidence, "elapsed_s": 0.1, "refit": {"fit_seconds": 2.0, "rows": 3}}
    assert comparable(other) == comparable(base)
    base.checks[0].evidence["refit"]["rows"] = 4  # a measured value, not a timing: compared
    assert comparable(other) != comparable(base)
    assert [is_timing_key(k) for k in ("predict_s", "shap_seconds", "elapsed", "n_samples", "rows", "bits")] == [
        True, True, True, False, False, False]
