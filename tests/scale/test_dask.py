"""The Dask executor on a local cluster of two worker processes: same results, same order as the local pool."""

from __future__ import annotations

import numpy as np
import pytest

from tests.scale import _tasks
from tests.scale.conftest import FAST
from trustaudit.executors import DaskExecutor, map_rows, resolve_executor
from trustaudit.scale import audit_many, comparable

pytest.importorskip("distributed")


def test_dask_map_is_ordered_and_equals_serial(dask_spec):
    with resolve_executor(dask_spec) as ex:
        assert isinstance(ex, DaskExecutor) and ex.workers == 2
        assert "dask tcp://" in ex.describe()
        seen: list[int] = []
        out = ex.map(_tasks.slow_square, list(range(10)), callback=lambda i, r: seen.append(i))
        assert out == [x * x for x in range(10)] and sorted(seen) == list(range(10))
        assert ex.map(_tasks.add_shared, [1, 2, 3], shared={"offset": 10}) == [11, 12, 13]
        with pytest.raises(ValueError, match="three"):
            ex.map(_tasks.fail_on_three, [1, 3])
        pids = {pid for pid, _ in ex.map(_tasks.pid_and_threads, list(range(6)))}
        assert len(pids) == 2  # both worker processes took tasks


def test_dask_map_rows_equals_serial(dask_spec):
    rows = np.zeros(400)
    kw = {"shared": {"seed": 3}, "with_offset": True, "chunk_rows": 40}
    a = map_rows(_tasks.seeded_noise, rows, executor="serial", **kw)
    b = map_rows(_tasks.seeded_noise, rows, executor=dask_spec, **kw)
    np.testing.assert_array_equal(a, b)


def test_audit_many_on_dask_equals_local_in_order(bundle_dir, dask_spec, local_reports):
    local = local_reports
    dask = audit_many([bundle_dir], executor=dask_spec, **FAST)
    assert [r.bundle.source for r in dask] == [r.bundle.source for r in local]
    assert [comparable(r) for r in dask] == [comparable(r) for r in local]


def test_existing_client_is_left_open(dask_cluster):
    from distributed import Client

    with Client(dask_cluster, set_as_default=False) as client:
        ex = DaskExecutor(client)
        assert ex.map(_tasks.slow_square, [2, 3]) == [4, 9]
        ex.close()
        assert client.status == "running"
