"""Executors: results in input order and identical to the serial reference; map_rows; executor specs."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pandas as pd
import pytest

from tests.scale import _tasks
from trustaudit.executors import (
    ExecutorError,
    LocalExecutor,
    SerialExecutor,
    chunk_bounds,
    concat_results,
    current_executor,
    map_rows,
    resolve_executor,
    use_executor,
)


@pytest.fixture(scope="module")
def local2():
    with LocalExecutor(2) as ex:
        yield ex


def test_serial_and_local_give_the_same_results_in_input_order(local2):
    items = list(range(10))
    seen: list[int] = []
    serial = SerialExecutor().map(_tasks.slow_square, items)
    local = local2.map(_tasks.slow_square, items, callback=lambda i, r: seen.append(i))
    assert serial == local == [x * x for x in items]
    assert sorted(seen) == items  # every task reported once, in completion order


def test_local_uses_several_processes_and_caps_their_threads(local2):
    out = local2.map(_tasks.pid_and_threads, list(range(8)))
    pids = {pid for pid, _ in out}
    assert os.getpid() not in pids
    cpus = len(os.sched_getaffinity(0))
    assert {threads for _, threads in out} == {str(max(1, cpus // 2))}


def test_shared_object_reaches_every_task(local2):
    assert local2.map(_tasks.add_shared, [1, 2, 3], shared={"offset": 10}) == [11, 12, 13]
    assert SerialExecutor().map(_tasks.add_shared, [1, 2], shared={"offset": 5}) == [6, 7]
    # a second map with another shared object is not served the first one's (per-worker cache by token)
    assert local2.map(_tasks.add_shared, [1, 2, 3], shared={"offset": 100}) == [101, 102, 103]


def test_task_exceptions_propagate(local2):
    with pytest.raises(ValueError, match="three"):
        local2.map(_tasks.fail_on_three, [1, 2, 3, 4])
    with pytest.raises(ValueError, match="three"):
        SerialExecutor().map(_tasks.fail_on_three, [3])
    assert local2.map(_tasks.fail_on_three, [1, 2]) == [1, 2]  # the pool survives a failed task


def test_empty_map():
    assert SerialExecutor().map(_tasks.slow_square, []) == []
    assert LocalExecutor(2).map(_tasks.slow_square, []) == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("threads", "unknown executor 'threads'"),
        ("dask://", "expected dask://HOST:PORT"),
        ("dask://scheduler", "expected dask://HOST:PORT"),
        ("dask://scheduler:port", "expected dask://HOST:PORT"),
    ],
)
def test_bad_executor_specs_are_input_errors(spec, message):
    with pytest.raises(ExecutorError, match=message):
        resolve_executor(spec)


def test_resolve_executor_kinds():
    assert isinstance(resolve_executor(None), LocalExecutor)
    assert resolve_executor("local", workers=3).workers == 3
    assert isinstance(resolve_executor("serial"), SerialExecutor)
    ex = SerialExecutor()
    assert resolve_executor(ex) is ex
    with pytest.raises(ExecutorError, match="at least 1"):
        LocalExecutor(0)


def test_unreachable_dask_scheduler_is_an_input_error():
    pytest.importorskip("distributed")
    from trustaudit.executors import DaskExecutor

    with pytest.raises(ExecutorError, match="cannot reach the Dask scheduler"):
        DaskExecutor("dask://127.0.0.1:9", timeout=1.0)


# -- map_rows --------------------------------------------------------------------------------------------------


def test_chunk_bounds_depend_only_on_rows():
    assert chunk_bounds(0) == []
    assert chunk_bounds(10) == [(0, 10)]  # at least MIN_CHUNK_ROWS rows per chunk
    b = chunk_bounds(10_000)
    assert b[0] == (0, 157) and b[-1][1] == 10_000 and len(b) == 64
    assert all(s2 == e1 for (_, e1), (s2, _) in itertools.pairwise(b))
    assert chunk_bounds(5, chunk_rows=2) == [(0, 2), (2, 4), (4, 5)]
    with pytest.raises(ValueError):
        chunk_bounds(5, chunk_rows=0)


def test_map_rows_array_matches_the_direct_computation(local2):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 4))
    w = np.array([1.0, -2.0, 0.5, 3.0])
    expected = X @ w
    serial = map_rows(_tasks.row_sums, X, shared={"weights": w}, executor="serial", chunk_rows=100)
    local = map_rows(_tasks.row_sums, X, shared={"weights": w}, executor=local2, chunk_rows=100)
    np.testing.assert_array_equal(serial, expected)
    np.testing.assert_array_equal(local, expected)


def test_map_rows_dataframe_keeps_row_order_and_index(local2):
    df = pd.DataFrame({"a": np.arange(300), "b": np.arange(300) * -1}, index=np.arange(300)[::-1])
    out = map_rows(_tasks.frame_rows, df, shared={"column": "a"}, executor=local2, chunk_rows=64)
    pd.testing.assert_frame_equal(out, df[["a"]] * 2)


def test_map_rows_random_work_is_independent_of_the_executor(local2):
    rows = np.zeros(500)
    kw = {"shared": {"seed": 7}, "with_offset": True, "chunk_rows": 50}
    a = map_rows(_tasks.seeded_noise, rows, executor="serial", **kw)
    b = map_rows(_tasks.seeded_noise, rows, executor=local2, **kw)
    np.testing.assert_array_equal(a, b)
    first = np.random.default_rng([7, 0]).normal(size=50)
    np.testing.assert_array_equal(a[:50], first)


def test_map_rows_tuples_lists_and_no_combine():
    x = np.arange(10)
    doubled, sizes = map_rows(_tasks.two_outputs, x, executor="serial", chunk_rows=4)
    np.testing.assert_array_equal(doubled, x * 2)
    assert sizes == [4, 4, 2]
    parts = map_rows(_tasks.two_outputs, x, executor="serial", chunk_rows=4, combine=None)
    assert len(parts) == 3
    assert concat_results([]) == []


def test_use_executor_sets_the_current_executor(local2):
    assert isinstance(current_executor(), SerialExecutor)
    with use_executor(local2) as ex:
        assert current_executor() is ex
        x = np.arange(200.0).reshape(100, 2)
        out = map_rows(_tasks.row_sums, x, shared={"weights": np.array([1.0, 1.0])}, chunk_rows=10)
        np.testing.assert_array_equal(out, x.sum(axis=1))
    assert isinstance(current_executor(), SerialExecutor)
