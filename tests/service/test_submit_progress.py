"""``trustaudit submit --wait`` prints the per-check progress the server records (issue 18), then the verdict."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import FAST_PARAMS, Server


def test_submit_wait_prints_per_check_progress(sqlite_server: Server, bundle_archive: Path, capsys) -> None:
    import json

    from trustaudit.cli_serve import run_submit

    params = [f"{cid}.{k}={json.dumps(v)}" for cid, p in FAST_PARAMS.items() for k, v in p.items()]
    code = run_submit(bundle_archive, server=sqlite_server.url, token=sqlite_server.tokens["submit"],
                      checks=["fairness.dataset", "lineage.integrity"], params=params, wait=True)
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    err = captured.err.splitlines()
    job_id = re.search(r"submitted: audit (\S+)", captured.err).group(1)
    with sqlite_server.client() as c:
        job = c.get(f"/v1/audits/{job_id}").json()
    checks = list(job["progress"]["checks"])
    assert checks and f"audit {job_id}: done" in " ".join(err)
    total = job["progress"]["total"]
    for i, cid in enumerate(checks):  # every check the server ran is named, with its position, as it ran or ended
        assert any(re.match(rf"\[\s*{i + 1}/{total}\] {re.escape(cid)} (\.\.\.|done|pass|warn|fail|error|skipped) "
                            r"\(elapsed \d+s\)", ln) for ln in err), (cid, err)
    assert captured.out.startswith(f"verdict: {job['verdict'].upper()}")
