"""Fixtures for the service tests: a real uvicorn server (subprocess, loopback port) on SQLite or PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")
httpx = pytest.importorskip("httpx")

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_models"
FAST_PARAMS = {"fairness.model": {"bootstrap": 50}, "fairness.dataset": {"bootstrap": 50}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pack(bundle: Path, dest: Path, name: str | None = None) -> Path:
    out = dest / (name or f"{bundle.name}.tar.gz")
    with tarfile.open(out, "w:gz") as tf:
        for p in sorted(bundle.rglob("*")):
            if p.is_file():
                tf.add(p, arcname=str(p.relative_to(bundle)))
    return out


@dataclass
class Server:
    url: str
    data_dir: Path
    database_url: str
    proc: subprocess.Popen[bytes]
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, scope: str | None = "admin", timeout: float = 60.0) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[scope]}"} if scope else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def wait_job(self, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.client() as c:
            while True:
                job = c.get(f"/v1/audits/{job_id}").json()
                if job["state"] not in ("queued", "running"):
                    return job
                if time.monotonic() > deadline:
                    raise AssertionError(f"job {job_id} still {job['state']} after {timeout}s\n{self.tail()}")
                time.sleep(0.1)

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def make_tokens(database_url: str, data_dir: Path) -> dict[str, str]:
    from trustaudit.service.auth import create_token
    from trustaudit.service.config import Settings
    from trustaudit.service.db import make_engine, make_sessionmaker, migrate

    st = Settings(data_dir=data_dir, database_url=database_url)
    st.prepare()
    migrate(st.database_url)
    engine = make_engine(st.database_url)
    out = {}
    with make_sessionmaker(engine)() as s:
        for scope in ("read", "submit", "admin"):
            out[scope] = create_token(s, scope, f"test-{scope}")[1]
    engine.dispose()
    return out


def start_server(data_dir: Path, database_url: str = "", *, workers: int = 2, extra: list[str] | None = None,
                 tokens: dict[str, str] | None = None, wait_ready: bool = True) -> Server:
    from trustaudit.service.db import sqlite_url

    data_dir.mkdir(parents=True, exist_ok=True)
    url = database_url or sqlite_url(data_dir)
    if tokens is None:
        tokens = make_tokens(url, data_dir)
    port = free_port()
    log = data_dir / f"server-{port}.log"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "trustaudit.cli", "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--database-url", url, "--log-level", "warning",
           *(extra or [])]
    with log.open("ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=str(ROOT),
                                start_new_session=True)
    srv = Server(f"http://127.0.0.1:{port}", data_dir, url, proc, log, tokens)
    deadline = time.monotonic() + 60
    path = "/readyz" if wait_ready and workers else "/healthz"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{srv.tail()}")
        try:
            if httpx.get(srv.url + path, timeout=2).status_code == 200:
                return srv
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            srv.kill()
            raise RuntimeError(f"server not ready after 60s:\n{srv.tail()}")
        time.sleep(0.2)


# ------------------------------------------------------------------------------------------- PostgreSQL


def _pg_admin_url() -> str:
    return os.environ.get("TRUSTAUDIT_TEST_PG_URL", "postgresql+psycopg://root@/postgres?host=/var/run/postgresql")


def _pg_reachable(url: str) -> str | None:
    try:
        import psycopg  # noqa: F401
        from sqlalchemy import create_engine, text
    except ImportError as exc:
        return f"{exc.name} is not installed"
    try:
        eng = create_engine(url)
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = _pg_admin_url()
    why = _pg_reachable(url)
    if why is not None and os.environ.get("CI"):
        # under CI PostgreSQL must run: start it ourselves when .ci/run did not
        res = subprocess.run(["bash", str(ROOT / "scripts" / "ci-postgres.sh")], capture_output=True, text=True)
        if res.returncode == 0 and "TRUSTAUDIT_TEST_PG_URL=" in res.stdout:
            url = res.stdout.strip().split("=", 1)[1].strip("'")
        why = _pg_reachable(url)
        if why is not None:
            pytest.fail(f"CI is set but PostgreSQL is not reachable at {url}: {why}\n{res.stderr[-2000:]}")
    if why is not None:
        pytest.skip(f"PostgreSQL not reachable at {url} ({why}); run scripts/ci-postgres.sh to test it")
    return url


@pytest.fixture(scope="session")
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database for this test session, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"trustaudit_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'create database "{name}"'))
    url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


# ------------------------------------------------------------------------------------------- servers


@pytest.fixture(scope="session")
def bundle_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pack(SAMPLES / "german-credit", tmp_path_factory.mktemp("archives"))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One shared server per database backend for the API tests."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else ""
    srv = start_server(tmp_path_factory.mktemp(f"srv-{request.param}"), url)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("srv-sqlite-only"))
    try:
        yield srv
    finally:
        srv.stop()


def submit(srv: Server, archive: Path, *, checks: tuple[str, ...] = ("fairness.*",), seed: int = 0,
           params: dict[str, Any] | None = None, scope: str = "submit", **extra: Any) -> Any:
    import json

    data: dict[str, Any] = {"checks": list(checks), "seed": str(seed),
                            "params": json.dumps(FAST_PARAMS if params is None else params), **extra}
    with srv.client(scope) as c, archive.open("rb") as fh:
        return c.post("/v1/audits", data=data, files={"bundle": (archive.name, fh, "application/gzip")})


@pytest.fixture
def copy_sample(tmp_path: Path):
    def _copy(name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(SAMPLES / name, dst)
        return dst

    return _copy
