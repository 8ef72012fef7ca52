"""A skops file must never run code on load unless the *auditor* trusts its types (issue 21, critical).

Each crafted file calls a dangerous function (``builtins.exec``, ``os.system``, ``subprocess.*``, ...) while it is
loaded and would write a marker file; the tests assert refusal with exit 2 and a one-line message, and no marker,
in ``validate``, in ``audit`` and through the Python API; the top node and a node hidden inside a real pipeline.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.hardening.crafted import payloads, write_skops
from trustaudit.bundle.models import VETTED_SKOPS_TYPES, load_skops
from trustaudit.cli import app
from trustaudit.errors import ModelLoadError

runner = CliRunner()
NAMES = sorted(payloads(Path("/x")))


def _assert_refused(result, marker: Path) -> None:
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "not trusted" in lines[0] and "--trust-type" in lines[0]
    assert "Traceback" not in result.output
    assert not marker.exists(), "the payload ran"


@pytest.fixture
def bundle(synthetic_bundle):
    return synthetic_bundle(n=120)


@pytest.mark.parametrize("nested", [False, True], ids=["top", "nested"])
@pytest.mark.parametrize("name", NAMES)
def test_crafted_skops_is_refused_by_validate_and_audit(bundle, tmp_path, name, nested):
    marker = tmp_path / "MARKER"
    template = bundle / "model.skops"
    crafted = write_skops(tmp_path / "crafted.skops", payloads(marker)[name], template, nested=nested)
    (bundle / "model.skops").write_bytes(crafted.read_bytes())
    for cmd in ("validate", "audit"):
        args = [cmd, str(bundle)] + (["--out", str(tmp_path / "out"), "-c", "fairness.model"] if cmd == "audit" else [])
        _assert_refused(runner.invoke(app, args), marker)
    assert not (tmp_path / "out" / "report.json").exists()


def test_bundle_cannot_trust_its_own_types(bundle, tmp_path):
    """model.trusted_types in the manifest is the bundle's request, never trust."""
    marker = tmp_path / "MARKER"
    write_skops(bundle / "model.skops", payloads(marker)["builtins.exec"])
    manifest = bundle / "trustaudit.yaml"
    manifest.write_text(manifest.read_text().replace(
        "model: {path: model.skops, format: skops}",
        "model: {path: model.skops, format: skops, trusted_types: [builtins.exec]}"))
    r = runner.invoke(app, ["validate", str(bundle)])
    _assert_refused(r, marker)
    assert "only the auditor can trust a type" in r.output


def test_refused_in_a_fresh_process_too(bundle, tmp_path):
    """The installed command (not only the in-process runner): exit 2, one line on stderr, no marker."""
    marker = tmp_path / "MARKER"
    write_skops(bundle / "model.skops", payloads(marker)["os.system"])
    p = subprocess.run([sys.executable, "-m", "trustaudit.cli", "validate", str(bundle)],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "TRUSTAUDIT_DEBUG": ""})
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: ") and "os.system" in p.stderr
    assert not marker.exists()


def test_auditor_trust_is_exact_names_only(tmp_path):
    """--trust-type takes exact names: trusting 'builtins' or 'os' (a prefix) does not trust builtins.exec."""
    marker = tmp_path / "MARKER"
    f = write_skops(tmp_path / "m.skops", payloads(marker)["builtins.exec"])
    for prefix in ("builtins", "builtins.", "os", "sklearn.", "numpy."):
        with pytest.raises(ModelLoadError, match="builtins.exec"):
            load_skops(f, trusted_types=[prefix])
    assert not marker.exists()


def test_auditor_can_trust_a_reviewed_type(tmp_path):
    """A legitimate model with a type outside the vetted list loads once the auditor names that type."""
    import numpy as np
    import skops.io as sio
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    knn = KNeighborsClassifier(metric="chebyshev", algorithm="kd_tree").fit(X, y)
    path = tmp_path / "knn.skops"
    sio.dump(knn, path)
    needed = [t for t in sio.get_untrusted_types(file=path) if t not in VETTED_SKOPS_TYPES]
    assert needed == ["sklearn.metrics._dist_metrics.ChebyshevDistance64"]
    with pytest.raises(ModelLoadError, match="ChebyshevDistance64"):
        load_skops(path)
    adapter = load_skops(path, trusted_types=needed)
    assert np.allclose(adapter.predict_proba(X), knn.predict_proba(X))


def test_vetted_list_covers_common_estimators(tmp_path):
    """Common scikit-learn models (trees, forests, boosting, calibration, k-NN, MLP, ensembles) load by default."""
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
        StackingClassifier,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 4)), columns=list("abcd"))
    y = (X["a"] + rng.normal(size=120) > 0).astype(int)
    models = [RandomForestClassifier(5, random_state=0), GradientBoostingClassifier(n_estimators=5),
              HistGradientBoostingClassifier(max_iter=5), CalibratedClassifierCV(LogisticRegression()),
              KNeighborsClassifier(algorithm="kd_tree"), MLPClassifier(max_iter=50, random_state=0),
              StackingClassifier([("lr", LogisticRegression())])]
    import warnings

    for m in models:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(X, y)
        path = tmp_path / f"{type(m).__name__}.skops"
        sio.dump(m, path)
        adapter = load_skops(path)
        assert np.allclose(adapter.predict_proba(X), m.predict_proba(X)), type(m).__name__


def test_vetted_list_has_no_callables():
    """Every vetted name is a class (a state holder), not a function that a node could call."""
    import importlib

    for name in VETTED_SKOPS_TYPES:
        mod, _, attr = name.rpartition(".")
        obj = getattr(importlib.import_module(mod), attr)
        assert isinstance(obj, type), name
