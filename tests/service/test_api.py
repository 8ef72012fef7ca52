"""The REST API against a real server (uvicorn subprocess on a loopback port), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from tests.service.conftest import FAST_PARAMS, ROOT, SAMPLES, Server, pack, start_server, submit

MOT_DIR = ROOT / "tests" / "openness" / "conformance"


def _problem(r) -> dict:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    body = r.json()
    assert body["status"] == r.status_code
    assert "Traceback" not in r.text and 'File "' not in r.text
    return body


def test_health_ready_and_metrics_need_no_token(server: Server) -> None:
    with server.client(None) as c:
        assert c.get("/healthz").json() == {"status": "ok", "checks": {}}
        ready = c.get("/readyz").json()
        assert ready["status"] == "ok"
        assert ready["checks"]["workers"] == "2/2 alive"
        assert ready["checks"]["database"] == "ok (revision 0002)"
        m = c.get("/metrics")
        assert m.status_code == 200
        assert 'trustaudit_jobs{state="queued"}' in m.text
        assert "trustaudit_audit_duration_seconds_bucket" in m.text


def test_tokens_and_scopes(server: Server, bundle_archive: Path) -> None:
    with server.client(None) as c:
        r = c.get("/v1/audits")
        assert r.status_code == 401
        assert _problem(r)["type"].endswith("/unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
        assert c.get("/v1/audits", headers={"Authorization": "Bearer ta_wrong"}).status_code == 401
    with server.client("read") as c:
        assert c.get("/v1/audits").status_code == 200
    r = submit(server, bundle_archive, scope="read")
    assert r.status_code == 403
    assert "scope 'read'" in _problem(r)["detail"]
    # a revoked token stops working at once
    from trustaudit.service.auth import create_token, revoke
    from trustaudit.service.db import make_engine, make_sessionmaker

    eng = make_engine(server.database_url)
    with make_sessionmaker(eng)() as s:
        _row, tok = create_token(s, "read", "short-lived")
    with server.client(None) as c:
        h = {"Authorization": f"Bearer {tok}"}
        assert c.get("/v1/audits", headers=h).status_code == 200
        with make_sessionmaker(eng)() as s:
            assert revoke(s, tok) == 1
        assert c.get("/v1/audits", headers=h).status_code == 401
    eng.dispose()


@pytest.fixture(scope="session")
def cli_reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The CLI's audit of the same bundle, seed and parameters (computed once for both backends)."""
    from trustaudit.api import audit

    out = tmp_path_factory.mktemp("cli")
    return json.loads(audit(SAMPLES / "german-credit", checks=["fairness.*"], seed=7, params=FAST_PARAMS,
                            out_dir=out).to_json())


def test_submit_runs_the_same_audit_as_the_cli(server: Server, bundle_archive: Path, cli_reference: dict) -> None:
    r = submit(server, bundle_archive, seed=7)
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/audits/{job['id']}"
    assert job["state"] in ("queued", "running") and job["model"] == "german-credit"
    done = server.wait_job(job["id"])
    assert done["state"] == "done", done
    assert done["attempts"] == 1
    assert done["progress"]["done"] == done["progress"]["total"] == 2
    with server.client("read") as c:
        rep = c.get(f"/v1/audits/{job['id']}/report.json")
        assert rep.status_code == 200
        got = rep.json()
    want = cli_reference
    assert got["verdict"] == want["verdict"] == done["verdict"]
    assert got["counts"] == want["counts"] == done["counts"]
    assert got["seed"] == 7
    for g, w in zip(got["checks"], want["checks"], strict=True):
        assert g["check_id"] == w["check_id"] and g["status"] == w["status"]
        for key in ("metrics", "conditions", "tables", "params"):
            assert g[key] == w[key], (g["check_id"], key)
    assert got["bundle"]["files"] == want["bundle"]["files"]  # same digests: the bundle arrived intact


def test_renderings_are_served_or_refused_cleanly(server: Server, bundle_archive: Path) -> None:
    job = server.wait_job(submit(server, bundle_archive).json()["id"])
    with server.client("read") as c:
        for name in ("report.html", "report.pdf", "report.md", "junit.xml", "report.sarif"):
            r = c.get(f"/v1/audits/{job['id']}/{name}")
            if r.status_code == 200:
                head = {"report.html": b"<", "report.pdf": b"%PDF", "report.md": b"#",
                        "junit.xml": b"<?xml", "report.sarif": b"{"}[name]
                assert r.content.lstrip().startswith(head), (name, r.content[:80])
                again = c.get(f"/v1/audits/{job['id']}/{name}")  # cached rendering, same bytes
                assert again.content == r.content or name == "report.pdf"
            else:
                assert r.status_code == 404
                assert _problem(r)["type"].endswith("/format-unavailable")
        r = c.get(f"/v1/audits/{job['id']}/../../secret.key")
        assert r.status_code == 404
        r = c.get(f"/v1/audits/{job['id']}/bundle/trustaudit.yaml")
        assert r.status_code == 404  # only recorded artefacts are served


def test_list_filters_pagination_and_history(server: Server, tmp_path: Path) -> None:
    ids = {}
    for version in ("2.0.0", "2.1.0"):
        b = tmp_path / f"hist-{version}"
        shutil.copytree(SAMPLES / "german-credit", b)
        y = b / "trustaudit.yaml"
        text = y.read_text().replace("name: german-credit", "name: history-model")
        y.write_text(text.replace("version: 1.0.0", f"version: {version}"))
        r = submit(server, pack(b, tmp_path), seed=1 if version == "2.0.0" else 2)
        assert r.status_code == 202, r.text
        ids[version] = r.json()["id"]
    for v, i in ids.items():
        assert server.wait_job(i)["state"] == "done", v
    with server.client("read") as c:
        page = c.get("/v1/audits", params={"model": "history-model"}).json()
        assert page["total"] == 2 and [j["version"] for j in page["items"]] == ["2.1.0", "2.0.0"]
        one = c.get("/v1/audits", params={"model": "history-model", "limit": 1, "offset": 1}).json()
        assert [j["id"] for j in one["items"]] == [ids["2.0.0"]]
        assert c.get("/v1/audits", params={"model": "history-model", "version": "2.1.0"}).json()["total"] == 1
        warn = c.get("/v1/audits", params={"model": "history-model", "verdict": "pass"}).json()
        assert all(j["verdict"] == "pass" for j in warn["items"])
        assert c.get("/v1/audits", params={"since": "2999-01-01T00:00:00Z"}).json()["total"] == 0
        h = c.get("/v1/models/history-model/history").json()
        assert h["versions"] == ["2.0.0", "2.1.0"]
        di = [s for s in h["series"] if s["metric"] == "disparate_impact" and s["subject"] == "sex: female vs male"]
        assert len(di) == 1 and [p["version"] for p in di[0]["points"]] == ["2.0.0", "2.1.0"]
        # each point is the value and interval the report holds
        rep = c.get(f"/v1/audits/{ids['2.0.0']}/report.json").json()
        cond = next(x for x in rep["checks"][1]["conditions"]
                    if x["metric"] == "disparate_impact" and x["subject"] == "sex: female vs male")
        p0 = di[0]["points"][0]
        assert (p0["value"], p0["ci_low"], p0["ci_high"]) == (cond["observed"], cond["ci"]["low"], cond["ci"]["high"])
        assert p0["n"] == 300
        assert c.get("/v1/models/no-such-model/history").status_code == 404


def _tar_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _post_raw(srv: Server, payload: bytes, name: str = "b.tar.gz"):
    with srv.client("submit") as c:
        return c.post("/v1/audits", files={"bundle": (name, payload, "application/gzip")})


def test_bad_uploads_get_problem_json(server: Server, tmp_path: Path) -> None:
    jobs_before = set((server.data_dir / "jobs").iterdir())
    r = _post_raw(server, b"this is not an archive")
    assert r.status_code == 422 and _problem(r)["type"].endswith("/malformed-archive")
    r = _post_raw(server, _tar_bytes({"trustaudit.yaml": b"x", "../../escape.txt": b"boom"}))
    assert r.status_code == 422 and _problem(r)["type"].endswith("/unsafe-path")
    assert "'../../escape.txt'" in r.json()["detail"]
    assert not (server.data_dir / "escape.txt").exists() and not (server.data_dir / "jobs" / "escape.txt").exists()
    r = _post_raw(server, _tar_bytes({"README.md": b"no manifest"}))
    assert r.status_code == 422 and "trustaudit.yaml" in _problem(r)["detail"]
    # a bundle that fails validation: the label column does not exist
    b = tmp_path / "bad"
    shutil.copytree(SAMPLES / "german-credit", b)
    y = b / "trustaudit.yaml"
    y.write_text(y.read_text().replace("label: ", "label: no_such_column\n  _old_label: ", 1))
    r = _post_raw(server, pack(b, tmp_path).read_bytes())
    body = _problem(r)
    assert r.status_code == 422 and body["type"].endswith("/invalid-bundle"), body
    # a pickle model without --allow-unsafe-pickle
    p = tmp_path / "pickled"
    shutil.copytree(SAMPLES / "german-credit", p)
    (p / "model.joblib").write_bytes(b"not really a pickle")
    y = p / "trustaudit.yaml"
    y.write_text(y.read_text().replace("path: model.skops", "path: model.joblib").replace("format: skops", "format: joblib"))
    r = _post_raw(server, pack(p, tmp_path).read_bytes())
    body = _problem(r)
    assert r.status_code == 422 and body["type"].endswith("/unsafe-model") and "--allow-unsafe-pickle" in body["detail"]
    # bad options
    r = submit(server, pack(SAMPLES / "german-credit", tmp_path, "ok.tar.gz"), checks=("nosuch.check",))
    assert r.status_code == 422 and "nosuch.check" in _problem(r)["detail"]
    r = submit(server, pack(SAMPLES / "german-credit", tmp_path, "ok2.tar.gz"), rubric="/etc/passwd")
    assert r.status_code == 422
    # refused uploads leave no job folder and no job row behind
    assert set((server.data_dir / "jobs").iterdir()) == jobs_before
    assert not any((server.data_dir / "uploads").iterdir())


def test_openness_catalog_and_badge(server: Server) -> None:
    f = next(MOT_DIR.glob("Class2RTestFile*.yml"))
    with server.client("submit") as c:
        r = c.post("/v1/openness", files={"file": ("model.yml", f.read_bytes(), "application/yaml")},
                   data={"name": "catalog-model", "version": "1"})
        assert r.status_code == 201, r.text
        entry = r.json()
        assert entry["mof_class"] == "II" and entry["model"] == "catalog-model"
        from trustaudit.openness import load_mot_file, score_openness

        assert entry["total_progress"] == pytest.approx(score_openness(load_mot_file(f)).total_progress)
        badge = c.get(entry["badge"])
        assert badge.status_code == 200 and badge.headers["content-type"].startswith("image/svg+xml")
        assert "Class II" in badge.text
        cat = c.get("/v1/openness").json()
        assert any(e["id"] == entry["id"] for e in cat)
        bad = c.post("/v1/openness", files={"file": ("model.yml", b"release: [1, 2", "application/yaml")})
        assert bad.status_code == 422 and _problem(bad)["type"].endswith("/invalid-declaration")
        card = b"---\nlicense: apache-2.0\nmodel_name: card-model\n---\n# card\n"
        r = c.post("/v1/openness", files={"file": ("README.md", card, "text/markdown")})
        assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory):
    """No workers (jobs stay queued) and a 64 KiB upload cap."""
    srv = start_server(tmp_path_factory.mktemp("idle"), workers=0, extra=["--max-upload-mb", "0.0625"])
    try:
        yield srv
    finally:
        srv.stop()


def test_upload_cap_and_cancel(idle_server: Server, tmp_path: Path) -> None:
    big = pack(SAMPLES / "german-credit", tmp_path)
    assert big.stat().st_size > 64 * 1024
    r = _post_raw(idle_server, big.read_bytes())
    assert r.status_code == 413 and _problem(r)["type"].endswith("/upload-too-large")
    small = _tar_bytes({"trustaudit.yaml": (SAMPLES / "adult-income-predictions" / "trustaudit.yaml").read_bytes()})
    r = _post_raw(idle_server, small)
    assert r.status_code == 422  # the data file is missing: validation, not the cap
    b = tmp_path / "tiny"
    (b / "data").mkdir(parents=True)
    rows = ["y,pred,sex"] + [f"{i % 2},{(i // 2) % 2},{'m' if i % 3 else 'f'}" for i in range(120)]
    (b / "data" / "eval.csv").write_text("\n".join(rows) + "\n")
    (b / "trustaudit.yaml").write_text(
        "trustaudit: 1\nname: tiny\nversion: 0.1.0\ntask: binary-classification\n"
        "data: {path: data/eval.csv, label: y, favorable_label: 1, prediction: pred}\n"
        "protected:\n  sex: {privileged: [m]}\n")
    r = _post_raw(idle_server, pack(b, tmp_path, "tiny.tar.gz").read_bytes())
    assert r.status_code == 202, r.text
    jid = r.json()["id"]
    with idle_server.client("read") as c:
        assert c.delete(f"/v1/audits/{jid}").status_code == 403
    with idle_server.client("submit") as c:
        r = c.delete(f"/v1/audits/{jid}")
        assert r.status_code == 200 and r.json()["state"] == "cancelled"
        assert c.delete(f"/v1/audits/{jid}").status_code == 409
        assert c.get(f"/v1/audits/{jid}/report.json").status_code == 409
        assert c.get("/v1/audits/nope").status_code == 404
    with idle_server.client(None) as c:
        assert c.get("/readyz").json()["checks"]["workers"] == "disabled"
