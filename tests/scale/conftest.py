"""Fixtures for the scale tests: a directory of small bundles and fast audit settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_models"

# Fast check selection: the fairness checks with a small bootstrap.
FAST = {"checks": ["fairness.*"],
        "params": {"fairness.model": {"bootstrap": 50}, "fairness.dataset": {"bootstrap": 50}}}


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three small bundles in one directory (german-credit twice, 300 rows; the predictions-only Adult bundle),
    plus a subdirectory and a file that are not bundles."""
    root = tmp_path_factory.mktemp("bundles")
    for name, src in (("a-german", "german-credit"), ("b-adult-preds", "adult-income-predictions"),
                      ("c-german", "german-credit")):
        shutil.copytree(SAMPLES / src, root / name)
    (root / "not-a-bundle").mkdir()
    (root / "README.txt").write_text("not a bundle either\n")
    return root


@pytest.fixture(scope="session")
def dask_cluster():
    """A local Dask cluster of two single-threaded worker processes (skipped without distributed)."""
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def dask_spec(dask_cluster) -> str:
    """The cluster's address as a ``dask://HOST:PORT`` executor spec."""
    return "dask://" + dask_cluster.scheduler_address.split("://", 1)[1]


@pytest.fixture(scope="session")
def local_reports(bundle_dir):
    """The bundles of ``bundle_dir`` audited on a local pool of two workers (fast settings)."""
    from trustaudit.scale import audit_many

    return audit_many([bundle_dir], executor="local", workers=2, **FAST)
