"""/docs works offline: Swagger UI's files come from the server (the fastapi-offline wheel), not a CDN, and the
page's Content-Security-Policy lets exactly its own inline script run. Checked over HTTP and in Chromium with every
request outside the server refused."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.service.conftest import Server, start_server

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory):
    srv = start_server(tmp_path_factory.mktemp("docs"), workers=0)
    try:
        yield srv
    finally:
        srv.stop()


def test_docs_page_loads_nothing_from_outside(docs_server: Server) -> None:
    with docs_server.client(None) as c:
        r = c.get("/docs")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        html = r.text
        srcs = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert srcs and all(not urlparse(u).netloc for u in srcs), srcs  # same-origin paths only
        assert "cdn" not in html.lower()
        # the CSP allows the one inline script by its hash, and nothing else inline
        csp = r.headers["content-security-policy"]
        scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
        assert len(scripts) == 1
        digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp and "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
        assert '"validatorUrl": null' in scripts[0]
        for u in srcs:
            asset = c.get(u)
            assert asset.status_code == 200 and len(asset.content) > 1000, u
        assert c.get("/redoc").status_code == 404  # ReDoc is not served (it would need its own CSP exception)
        assert c.get("/openapi.json").json()["info"]["title"] == "trustaudit service"


@pytest.mark.slow
def test_docs_render_in_chromium_without_network(docs_server: Server) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI is set but /usr/bin/chromium is missing (apt-get install -y chromium)")
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    outside: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context().new_page()
        origin = urlparse(docs_server.url).netloc

        def route(r: object) -> None:
            req = r.request  # type: ignore[attr-defined]
            if urlparse(req.url).netloc != origin and not req.url.startswith("data:"):
                outside.append(req.url)
                r.abort()  # type: ignore[attr-defined]
            else:
                r.continue_()  # type: ignore[attr-defined]

        page.route("**/*", route)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(docs_server.url + "/docs")
        page.wait_for_selector(".opblock", timeout=30_000)  # Swagger UI drew the operations
        assert page.locator(".opblock").count() >= 10
        assert "trustaudit service" in page.locator(".title").first.inner_text()
        browser.close()
    assert outside == []
    assert not [e for e in errors if "Content Security Policy" in e], errors


# ------------------------------------------------------------------ reviewer pages: model history, audit options


def _seed_jobs(srv: Server) -> dict[str, str]:
    """Four finished audits of one model written straight into the database (no audit runs): 0.9.0 fails, 0.9.5
    passes, 1.0.0 warns but recorded no metric point (its points dropped from the history); 1.0.0 again, older,
    is superseded. Returns version -> the audit id the page must show."""
    from datetime import datetime, timedelta, timezone

    from trustaudit.service.db import Job, MetricPoint, make_engine, make_sessionmaker

    t0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
    engine = make_engine(srv.database_url)
    rows = [("a0", "0.9.0", "fail", 2, {"checks": ["fairness.*"], "rubric": "strict.yaml", "seed": 3}),
            ("a1", "0.9.5", "pass", 2, {"checks": None, "rubric": None, "seed": 0}),
            ("a2", "1.0.0", "fail", 2, {"checks": None, "rubric": "policy.yaml", "seed": 1}),
            ("a3", "1.0.0", "warn", 0, {"checks": ["fairness.model"], "rubric": None, "seed": 0})]
    with make_sessionmaker(engine)() as s:
        for i, (jid, ver, verdict, npts, opts) in enumerate(rows):
            fin = t0 + timedelta(minutes=i)
            s.add(Job(id=jid, state="done", created_at=fin, finished_at=fin, model_name="hist-model",
                      model_version=ver, verdict=verdict, options=opts, counts={}))
            s.flush()
            for k in range(npts):
                s.add(MetricPoint(job_id=jid, model_name="hist-model", model_version=ver, check_id="fairness.model",
                                  metric="disparate_impact", subject=f"sex: g{k} vs ref", value=0.7 + 0.1 * i,
                                  ci_low=0.6, ci_high=0.9, n=100, status=verdict, bound_low=0.8))
        s.commit()
    engine.dispose()
    return {"0.9.0": "a0", "0.9.5": "a1", "1.0.0": "a3"}


def _login(srv: Server) -> object:
    import httpx

    c = httpx.Client(base_url=srv.url, timeout=30)
    page = c.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]*)"', page)
    assert csrf is not None
    r = c.post("/login", data={"token": srv.tokens["read"], "csrf": csrf.group(1)})
    assert r.status_code == 303, r.text
    return c


def test_history_lists_each_version_with_its_verdict_and_counts_honestly(docs_server: Server) -> None:
    expected = _seed_jobs(docs_server)
    c = _login(docs_server)
    try:
        html = c.get("/models/hist-model").text  # type: ignore[attr-defined]
        assert "3 versions audited, 2 of them plotted below." in html
        rows = re.findall(r"<tr><td>([^<]+)</td><td><span class=\"status s-(\w+)\">.*?/audits/(\w+)\"", html, re.S)
        assert rows == [("0.9.0", "fail", "a0"), ("0.9.5", "pass", "a1"), ("1.0.0", "warn", "a3")]
        assert [r[2] for r in rows] == [expected[v] for v in ("0.9.0", "0.9.5", "1.0.0")]
        assert "not in these charts: no rubric-judged metric recorded" in html
        api = c.get("/v1/models/hist-model/history",  # type: ignore[attr-defined]
                    headers={"Authorization": f"Bearer {docs_server.tokens['read']}"}).json()
        assert [(a["version"], a["verdict"], a["points"]) for a in api["audits"]] == [
            ("0.9.0", "fail", 2), ("0.9.5", "pass", 2), ("1.0.0", "warn", 0)]

        def options(audit_id: str) -> str:
            page = c.get(f"/audits/{audit_id}").text  # type: ignore[attr-defined]
            m = re.search(r"<dt>Options</dt><dd>(.*?)</dd>", page, re.S)
            assert m is not None
            return m.group(1)

        assert options("a0") == "checks fairness.*, judged by rubric strict.yaml; seed 3"
        assert options("a1") == "the checks of the default rubric; seed 0"
        assert options("a2") == "the checks of rubric policy.yaml; seed 1"
        assert options("a3") == "checks fairness.model, judged by the default rubric; seed 0"
    finally:
        c.close()  # type: ignore[attr-defined]
