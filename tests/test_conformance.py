"""Conformance over every registered check: it runs on a small bundle without raising, its result
round-trips through JSON, its parameters have defaults, and it is skipped (not errored) where it cannot apply."""

from __future__ import annotations

import json

import pytest

from trustaudit.api import _run_check
from trustaudit.bundle import load_bundle
from trustaudit.checks import registry
from trustaudit.checks.base import Check
from trustaudit.context import AuditContext
from trustaudit.results import CheckResult, Status

CHECK_IDS = registry.available()


@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory):
    from tests.conftest import make_synthetic

    d = tmp_path_factory.mktemp("conf") / "b"
    (d / "data").mkdir(parents=True)
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train, test = make_synthetic(800, seed=1), make_synthetic(600, seed=2)
    pre = ColumnTransformer([("num", StandardScaler(), ["income", "debt", "age"]),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex"])])
    pipe = Pipeline([("pre", pre), ("clf", LogisticRegression(random_state=0))])
    pipe.fit(train.drop(columns="approved"), train["approved"])
    sio.dump(pipe, d / "model.skops")
    test.to_csv(d / "data" / "eval.csv", index=False)
    train.to_csv(d / "data" / "train.csv", index=False)
    (d / "trustaudit.yaml").write_text(
        "trustaudit: 1\nname: conformance\nversion: 1.0.0\nmodel: {path: model.skops, format: skops}\n"
        "data: {path: data/eval.csv, label: approved, favorable_label: 'yes'}\n"
        "training_data: {path: data/train.csv}\n"
        "protected:\n  sex: {privileged: [male]}\n  age: {privileged: '>= 25'}\n")
    return d


def test_builtin_checks_are_registered():
    assert {"fairness.dataset", "fairness.model"} <= set(CHECK_IDS)


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_check_conforms(check_id, small_bundle, tmp_path):
    cls = registry.load(check_id)
    assert issubclass(cls, Check) and cls.id == check_id and "." in check_id
    assert cls.category and cls.title and cls.version
    cls.Params()  # every parameter has a default
    ctx = AuditContext(load_bundle(small_bundle), seed=0, out_dir=tmp_path)
    result = _run_check(cls, ctx, {})
    assert result.status != Status.ERROR, result.error
    again = CheckResult.model_validate_json(result.model_dump_json())
    assert again == result
    json.loads(result.model_dump_json())
    for m in result.metrics:
        if m.ci is not None and m.value is not None:
            assert m.ci.low <= m.value + 1e-9 and m.value <= m.ci.high + 1e-9, m
    for a in result.artifacts:
        assert (tmp_path / a.path).is_file(), a.path
    assert_declared(cls, result)


def assert_declared(cls, result) -> None:
    """Every emitted metric is declared by its check, and sets only the structured fields it declares (what rubric
    conditions may select by)."""
    from trustaudit.checks.base import SUBJECT_FIELDS

    declared = {m.name: m for m in cls.metrics}
    assert declared, f"{cls.id} declares no metrics (Check.metrics)"
    assert len(declared) == len(cls.metrics), f"{cls.id} declares a metric twice"
    for m in result.metrics:
        spec = declared.get(m.name)
        assert spec is not None, f"{cls.id} emits '{m.name}', which it does not declare"
        fields = {f for f in SUBJECT_FIELDS if getattr(m, f) is not None}
        assert fields <= set(spec.subject), f"{cls.id} '{m.name}' sets {sorted(fields)}, declares {spec.subject}"
        assert m.unit is None or spec.unit is None or m.unit in spec.unit, (m.name, m.unit, spec.unit)


@pytest.mark.parametrize("bundle", ["german-credit", "adult-income-predictions"])
def test_sample_bundle_metrics_are_declared(bundle, samples_dir, tmp_path):
    """The same over the sample bundles' own data (other groups, intersections, another model family)."""
    from trustaudit.api import audit

    rep = audit(samples_dir / bundle, checks=["fairness.*", "lineage.*", "openness.*", "robustness.noise"],
                params={"fairness.model": {"bootstrap": 50}, "fairness.dataset": {"bootstrap": 50}}, out_dir=tmp_path)
    for c in rep.checks:
        if c.status != Status.SKIPPED:
            assert_declared(registry.load(c.check_id), c)


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_check_on_predictions_only_bundle_skips_or_runs(check_id, samples_dir):
    cls = registry.load(check_id)
    if "model" not in cls.requires:
        pytest.skip("does not require a model")
    ctx = AuditContext(load_bundle(samples_dir / "adult-income-predictions"))
    result = _run_check(cls, ctx, {})
    assert result.status == Status.SKIPPED and result.skipped_reason
