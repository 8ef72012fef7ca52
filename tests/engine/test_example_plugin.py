"""The example plug-in (examples/trustaudit-calibration) works as a third-party package.

The package is built and installed with pip into a temporary folder, never into the test environment, and used
through the ``trustaudit`` CLI in subprocesses with ``PYTHONPATH`` pointing there, as a user who pip-installed it
would: ``trustaudit checks --json`` lists it, ``trustaudit lint`` accepts its rubric and refuses a misspelled metric
with a hint, and ``trustaudit audit -c calibration.ece`` reports metrics that match scikit-learn computed here on
the bundle's data.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "trustaudit-calibration"
RUBRIC = EXAMPLE / "rubric.yaml"
BUNDLE = ROOT / "sample_models" / "adult-income-logreg"
CHECK_ID = "calibration.ece"


def _pip_install(target: Path, src: Path) -> None:
    """``pip install --no-deps --target`` of the example; without build isolation when hatchling is already
    installed (offline), else pip fetches hatchling from its configured index into an isolated build env."""
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--disable-pip-version-check",
           "--target", str(target), str(src)]
    if importlib.util.find_spec("hatchling") is not None:
        cmd.insert(4, "--no-build-isolation")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        out = proc.stdout + proc.stderr
        if "--no-build-isolation" not in cmd and "hatchling" in out and (
            "No matching distribution" in out or "Could not find a version" in out
        ):
            pytest.skip("building the example needs hatchling: install it (pip install hatchling) or allow pip to "
                        "reach its package index")
        raise AssertionError(f"pip install of the example failed ({proc.returncode}):\n{out[-4000:]}")


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example installed into a fresh folder (from a copy of its source, so no build files land in the
    repository)."""
    base = tmp_path_factory.mktemp("plugin")
    src = base / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    target = base / "site"
    _pip_install(target, src)
    assert (target / "trustaudit_calibration" / "check.py").is_file()
    eps = list(target.glob("trustaudit_calibration-*.dist-info/entry_points.txt"))
    assert eps and CHECK_ID in eps[0].read_text(), "the wheel does not carry the trustaudit.checks entry point"
    return target


def cli(plugin: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(plugin), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("TRUSTAUDIT_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "trustaudit.cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)


def test_listed_by_checks_json(plugin_path: Path) -> None:
    proc = cli(plugin_path, "checks", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in json.loads(proc.stdout)}
    row = rows[CHECK_ID]
    assert "error" not in row, row
    assert row["category"] == "calibration" and row["requires"] == ["scores"]
    assert set(row["params"]) == {"n_bins", "bootstrap", "confidence", "min_group_size", "per_group"}
    assert row["params"]["n_bins"]["default"] == 10
    assert {"fairness.model", "lineage.integrity"} <= set(rows)  # the built-ins are still there


def test_lint_accepts_the_rubric_and_refuses_a_misspelled_metric(plugin_path: Path, tmp_path: Path) -> None:
    ok = cli(plugin_path, "lint", str(RUBRIC))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok: 1 trustaudit file(s) valid" in ok.stdout

    text = RUBRIC.read_text(encoding="utf-8")
    assert "metric: ece\n" in text
    bad = tmp_path / "rubric.yaml"
    bad.write_text(text.replace("metric: ece\n", "metric: eec\n", 1), encoding="utf-8")
    proc = cli(plugin_path, "lint", str(bad))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no metric 'eec'" in proc.stderr and "did you mean 'ece'" in proc.stderr, proc.stderr


def _sklearn_reference() -> tuple[np.ndarray, np.ndarray, dict[tuple[str, str], np.ndarray]]:
    """(labels, P(favourable), row mask of each (attribute, group)) computed here from the bundle's files."""
    from trustaudit.bundle.loader import load_bundle

    b = load_bundle(BUNDLE)
    df = b.data
    assert b.model is not None
    proba = np.asarray(b.model.predict_proba(df[b.feature_columns()]))
    classes = [str(c).strip() for c in b.model.classes]
    favorable = str(b.spec.favorable_label)
    scores = proba[:, classes.index(favorable)]
    y = (df[b.spec.label].astype(str).str.strip() == favorable).to_numpy().astype(int)
    sex, race, age = df["sex"].astype(str).str.strip(), df["race"].astype(str).str.strip(), df["age"]
    groups = {
        ("sex", "Male"): (sex == "Male").to_numpy(),
        ("sex", "Female"): (df["sex"].notna() & (sex != "Male")).to_numpy(),
        ("race", "White"): (race == "White").to_numpy(),
        ("race", "not White"): (df["race"].notna() & (race != "White")).to_numpy(),
        ("age", "age >= 25"): (age >= 25).to_numpy(),
        ("age", "age < 25"): (age.notna() & (age < 25)).to_numpy(),
    }
    return y, scores, groups


def _ece(y: np.ndarray, s: np.ndarray, n_bins: int) -> float:
    """ECE from scikit-learn's reliability curve: sum over non-empty bins of (rows/n) * |observed - predicted|."""
    from sklearn.calibration import calibration_curve

    prob_true, prob_pred = calibration_curve(y, s, n_bins=n_bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts = np.bincount(np.digitize(s, edges[1:-1], right=True), minlength=n_bins)  # calibration_curve's bins
    counts = counts[counts > 0]
    assert len(counts) == len(prob_true)
    return float(np.sum(counts / len(s) * np.abs(prob_true - prob_pred)))


def test_audit_with_the_example_rubric_matches_sklearn(plugin_path: Path, tmp_path: Path) -> None:
    from sklearn.metrics import brier_score_loss

    out = tmp_path / "out"
    proc = cli(plugin_path, "audit", str(BUNDLE), "-c", CHECK_ID, "--rubric", str(RUBRIC), "--out", str(out),
               "--quiet")
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # pass/warn or fail; 2 would be bad input
    assert (out / "attestation.intoto.json").is_file()
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["rubric"]["name"] == "calibration-example"
    [check] = [c for c in report["checks"] if c["check_id"] == CHECK_ID]
    assert [c["check_id"] for c in report["checks"]] == [CHECK_ID]
    assert check["status"] in ("pass", "warn", "fail"), check.get("error") or check.get("skipped_reason")
    assert check["params"]["n_bins"] == 10 and check["params"]["bootstrap"] == 500
    assert check["conditions"] and all(c["status"] != "error" for c in check["conditions"])
    assert not any(k.endswith("_s") for k in check["evidence"])  # counts, not clocks

    y, s, groups = _sklearn_reference()
    n_bins = check["params"]["n_bins"]
    by_key: dict[tuple[str, str | None, str | None], dict] = {}
    for m in check["metrics"]:
        by_key[(m["name"], m.get("attribute"), m.get("group"))] = m
        if m["ci"] is not None:
            assert m["ci"]["low"] - 1e-12 <= m["value"] <= m["ci"]["high"] + 1e-12, m
    assert {m["name"] for m in check["metrics"]} == {"ece", "brier_score", "ece_difference"}

    overall_ece, overall_brier = by_key[("ece", None, None)], by_key[("brier_score", None, None)]
    assert overall_ece["n"] == len(y) == report["bundle"]["n_rows"]
    assert overall_ece["value"] == pytest.approx(_ece(y, s, n_bins), rel=1e-9, abs=1e-12)
    assert overall_brier["value"] == pytest.approx(brier_score_loss(y, s), rel=1e-9, abs=1e-12)
    assert overall_ece["ci"]["method"].startswith("bootstrap")

    reported_groups = {(a, g) for (name, a, g) in by_key if name == "ece" and a is not None}
    assert reported_groups == set(groups)
    for (attr, group), mask in groups.items():
        ece_m, brier_m = by_key[("ece", attr, group)], by_key[("brier_score", attr, group)]
        assert ece_m["n"] == brier_m["n"] == int(mask.sum())
        assert ece_m["value"] == pytest.approx(_ece(y[mask], s[mask], n_bins), rel=1e-9, abs=1e-12), (attr, group)
        assert brier_m["value"] == pytest.approx(brier_score_loss(y[mask], s[mask]), rel=1e-9, abs=1e-12)

    for attr, group, reference in (("sex", "Female", "Male"), ("race", "not White", "White"),
                                   ("age", "age < 25", "age >= 25")):
        diff = by_key[("ece_difference", attr, group)]
        assert diff["reference"] == reference
        assert diff["value"] == pytest.approx(
            by_key[("ece", attr, group)]["value"] - by_key[("ece", attr, reference)]["value"], abs=1e-12)
