"""Browser test: Playwright driving Debian's Chromium through the reviewer pages; screenshots are committed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.service.conftest import ROOT, SAMPLES, Server, pack, start_server, submit

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::ResourceWarning")]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = ROOT / "reports" / "screenshots"


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory):
    srv = start_server(tmp_path_factory.mktemp("web"))
    try:
        yield srv
    finally:
        srv.stop()


def test_reviewer_walkthrough(web_server: Server, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI is set but /usr/bin/chromium is missing (apt-get install -y chromium)")
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    # earlier releases of the model, so its history has a trend to show
    for version, seed in (("0.9.0", 1), ("0.9.5", 2)):
        b = tmp_path / version
        shutil.copytree(SAMPLES / "german-credit", b)
        y = b / "trustaudit.yaml"
        y.write_text(y.read_text().replace("version: 1.0.0", f"version: {version}"))
        assert submit(web_server, pack(b, tmp_path), seed=seed).status_code == 202
    mot = next((ROOT / "tests" / "openness" / "conformance").glob("Class2RTestFile*.yml"))
    with web_server.client("submit") as c:
        for name in ("german-credit", "adult-income-hgb"):
            r = c.post("/v1/openness", files={"file": ("model.yml", mot.read_bytes())}, data={"name": name})
            assert r.status_code == 201
    archive = pack(SAMPLES / "german-credit", tmp_path, "german-credit.tar.gz")
    SHOTS.mkdir(parents=True, exist_ok=True)

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
        page = ctx.new_page()
        page.goto(web_server.url + "/")
        assert page.url.endswith("/login")
        page.screenshot(path=str(SHOTS / "01-login.png"))
        page.fill("#token", "ta_not-a-token")
        page.click("button[type=submit]")
        assert "Unknown or revoked token" in page.content()
        page.fill("#token", web_server.tokens["submit"])
        page.click("button[type=submit]")
        page.wait_for_url("**/audits")
        cookie = next(c for c in ctx.cookies() if c["name"] == "ta_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert web_server.tokens["submit"] not in cookie["value"]

        # submit the sample bundle through the form
        page.click("summary")
        page.set_input_files("input[name=bundle]", str(archive))
        page.fill("input[name=checks]", "fairness.*")
        page.fill("input[name=seed]", "0")
        page.click("form.grid button[type=submit]")
        page.wait_for_url("**/audits/*")
        audit_url = page.url
        audit_id = audit_url.rsplit("/", 1)[1]
        job = web_server.wait_job(audit_id, timeout=120)
        assert job["state"] == "done"
        page.goto(audit_url)
        assert "Downloads" in page.content()
        assert page.locator("table.checks tbody tr").count() == 2  # the two fairness checks
        page.screenshot(path=str(SHOTS / "03-audit.png"), full_page=True)

        # download the PDF (or, when the renderer is not installed, get a clean 404 problem)
        pdf = page.request.get(f"{web_server.url}/v1/audits/{audit_id}/report.pdf")
        if pdf.status == 200:
            with page.expect_download() as dl:
                page.click("a[href$='report.pdf']")
            target = tmp_path / "report.pdf"
            dl.value.save_as(target)
            assert target.read_bytes().startswith(b"%PDF")
        else:
            assert pdf.status == 404 and pdf.headers["content-type"].startswith("application/problem+json")
        rj = page.request.get(f"{web_server.url}/v1/audits/{audit_id}/report.json")  # the session cookie reads
        assert rj.status == 200 and rj.json()["verdict"] == job["verdict"]

        page.goto(web_server.url + "/audits")
        page.screenshot(path=str(SHOTS / "02-audits.png"), full_page=True)
        page.select_option("select[name=model]", "german-credit")
        page.select_option("select[name=state]", "done")
        page.click("form.filters button[type=submit]")
        assert "model=german-credit" in page.url
        assert page.locator("table.list tbody tr").count() == 3

        # the model's history
        page.goto(audit_url)
        page.click("text=History of german-credit")
        page.wait_for_url("**/models/german-credit")
        assert page.locator("svg.trend").count() >= 5
        versions = page.locator("table.versions tbody tr td:first-child").all_inner_texts()
        assert sorted(versions) == ["0.9.0", "0.9.5", "1.0.0"], versions
        assert page.locator("table.versions tbody tr span.status").count() == 3  # each version's verdict
        page.screenshot(path=str(SHOTS / "04-model-history.png"), full_page=True)

        page.goto(web_server.url + "/openness?sort=model")
        # the two uploads, plus one row per audited version whose manifest declares `openness:`
        assert page.locator("table.sortable tbody tr").count() >= 2
        assert page.locator("table.sortable tbody tr", has_text="adult-income-hgb").count() == 1
        page.screenshot(path=str(SHOTS / "05-openness.png"), full_page=True)

        # CSRF: a cross-site style form post without the token is refused
        r = page.request.post(f"{web_server.url}/audits/{audit_id}/cancel", form={"csrf": "wrong"})
        assert r.status == 403
        page.click("text=Log out")
        page.wait_for_url("**/login")
        page.goto(web_server.url + "/audits")
        assert page.url.split("?")[0].endswith("/login")
        browser.close()
