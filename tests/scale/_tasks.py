"""Module-level task functions for the executor tests (workers import them by name)."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np


def slow_square(x: int) -> int:
    """Later items finish first: results must still come back in input order."""
    time.sleep(0.02 * (5 - x % 5))
    return x * x


def add_shared(x: int, shared: dict[str, int]) -> int:
    return x + shared["offset"]


def pid_and_threads(_: Any) -> tuple[int, str | None]:
    return os.getpid(), os.environ.get("OMP_NUM_THREADS")


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x


def row_sums(chunk: np.ndarray, *, weights: np.ndarray) -> np.ndarray:
    return np.asarray(chunk) @ weights


def frame_rows(chunk: Any, *, column: str) -> Any:
    return chunk[[column]] * 2


def seeded_noise(chunk: np.ndarray, *, offset: int, seed: int) -> np.ndarray:
    """Random numbers seeded from the chunk's first row: the same whatever ran the chunk."""
    rng = np.random.default_rng([seed, offset])
    return rng.normal(size=len(chunk))


def two_outputs(chunk: np.ndarray) -> tuple[np.ndarray, list[int]]:
    return chunk * 2, [len(chunk)]
