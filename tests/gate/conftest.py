"""Fixtures for the gate tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gate.helpers import ROOT, TOY_RUBRIC, write_rubric


@pytest.fixture
def toy_rubric(tmp_path: Path) -> Path:
    return write_rubric(tmp_path, TOY_RUBRIC)


@pytest.fixture(scope="session")
def adult_predictions():
    import pandas as pd

    return pd.read_csv(ROOT / "sample_models" / "adult-income-predictions" / "data" / "eval.csv.gz")
