"""Protected attributes defined by a numeric range (``>= 25 and < 60`` or ``{min: 25, max: 60}``): parsed without
eval, validated, and the groups an audit reports counted the way pandas counts them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trustaudit.bundle.manifest import ProtectedSpec, parse_manifest
from trustaudit.errors import BundleError

HEAD = "trustaudit: 1\nname: m\nversion: '1'\ndata: {path: d.csv, label: y, favorable_label: 'yes', prediction: p}\n"


@pytest.mark.parametrize(("given", "text", "negated"), [
    (">= 25", ">= 25", "< 25"),
    (">= 25 and < 60", ">= 25 and < 60", "< 25 or >= 60"),
    ("> 17.5 AND <= 64", "> 17.5 and <= 64", "<= 17.5 or > 64"),
    ({"min": 25, "max": 60}, ">= 25 and < 60", "< 25 or >= 60"),
    ({"max": 60}, "< 60", ">= 60"),
])
def test_numeric_rules(given: object, text: str, negated: str) -> None:
    rule = ProtectedSpec(privileged=given).threshold()  # type: ignore[arg-type]
    assert rule is not None and str(rule) == text and rule.negated_text() == negated
    ages = np.array([17, 18, 24, 25, 59, 60, 64, 65, np.nan])
    assert rule.mask(ages).tolist() == [reference(text, v) for v in ages]  # NaN: in no group


def reference(text: str, v: float) -> bool:
    """The semantics written out by hand for the test: every comparison joined by 'and' must hold."""
    ops = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
           "==": lambda a, b: a == b}
    return all(ops[op](v, float(num)) for op, num in (part.split() for part in text.split(" and ")))


@pytest.mark.parametrize(("privileged", "message"), [
    ("'> 60 and < 25'", "can never hold"),
    ("'>= 25 and < 60 and > 3'", "neither a list of values nor a numeric threshold"),
    ("'__import__(\"os\")'", "neither a list of values nor a numeric threshold"),
    ("{min: 60, max: 25}", "range min 60 must be below max 25"),
    ("{min: 25, upto: 60}", "upto: Extra inputs are not permitted"),
    ("{}", "a range needs min, max or both"),
    ("{min: .inf}", "finite"),
])
def test_bad_ranges_are_one_line_errors(privileged: str, message: str) -> None:
    with pytest.raises(BundleError, match=message) as exc:
        parse_manifest(HEAD + f"protected:\n  age: {{privileged: {privileged}}}\n")
    assert "\n" not in str(exc.value) and "protected.age.privileged" in str(exc.value)


def test_unprivileged_list_with_a_range_is_refused() -> None:
    with pytest.raises(BundleError, match="unprivileged applies to a list"):
        parse_manifest(HEAD + "protected:\n  age: {privileged: '>= 25 and < 60', unprivileged: [1]}\n")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(7)
    n = 900
    age = rng.integers(18, 90, n).astype(float)
    age[rng.random(n) < 0.02] = np.nan  # missing ages belong to neither group
    y = np.where(rng.random(n) < np.where((age >= 25) & (age < 60), 0.3, 0.15), "yes", "no")
    p = np.where(rng.random(n) < 0.8, y, np.where(y == "yes", "no", "yes"))
    d = tmp_path_factory.mktemp("ranges")
    pd.DataFrame({"age": age, "x": rng.normal(size=n), "y": y, "p": p}).to_csv(d / "d.csv", sep=";", index=False)
    (d / "trustaudit.yaml").write_text(
        "trustaudit: 1\nname: ranges\nversion: '1'\n"
        "data: {path: d.csv, label: y, favorable_label: 'yes', prediction: p, sep: ';'}\n"
        "protected:\n  age: {privileged: {min: 25, max: 60}}\n")
    return d


def test_audit_group_counts_match_pandas(bundle: Path) -> None:
    from trustaudit.api import audit

    report = audit(bundle, checks=["fairness.dataset"], params={"fairness.dataset": {"bootstrap": 20}})
    check = report.check("fairness.dataset")
    assert check.status.value != "error", check.error
    df = pd.read_csv(bundle / "d.csv", sep=";")
    inside = (df.age >= 25) & (df.age < 60)
    outside = df.age.notna() & ~inside
    rates = {m.group: m for m in check.metrics if m.name == "base_rate"}
    assert set(rates) == {"age >= 25 and < 60", "age < 25 or >= 60"}
    priv, unpriv = rates["age >= 25 and < 60"], rates["age < 25 or >= 60"]
    assert priv.n == int(inside.sum()) and unpriv.n == int(outside.sum())
    assert priv.n + unpriv.n == int(df.age.notna().sum()) < len(df)
    assert priv.value == pytest.approx((df.y[inside] == "yes").mean(), abs=1e-12)
    assert unpriv.value == pytest.approx((df.y[outside] == "yes").mean(), abs=1e-12)
    spd = next(m for m in check.metrics if m.name == "label_statistical_parity_difference")
    assert spd.reference == "age >= 25 and < 60" and spd.group == "age < 25 or >= 60"
    assert spd.value == pytest.approx(unpriv.value - priv.value, abs=1e-12)
    assert report.bundle.protected == {"age": ">= 25 and < 60"}


def test_range_on_a_text_column_is_refused(tmp_path: Path) -> None:
    from trustaudit.bundle import load_bundle

    pd.DataFrame({"age": ["young", "old"] * 5, "y": ["yes", "no"] * 5, "p": ["yes"] * 10}).to_csv(
        tmp_path / "d.csv", index=False)
    (tmp_path / "trustaudit.yaml").write_text(HEAD + "protected:\n  age: {privileged: '>= 25 and < 60'}\n")
    with pytest.raises(BundleError, match="numeric range '>= 25 and < 60' but the column is not numeric"):
        load_bundle(tmp_path)
