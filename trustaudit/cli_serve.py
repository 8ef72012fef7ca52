"""``trustaudit serve``, ``trustaudit token`` and ``trustaudit submit``: the audit service and its CLI client.

Imports of FastAPI, SQLAlchemy, uvicorn and httpx stay inside the commands (``pip install trustaudit[service]``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

EXIT_OK, EXIT_GATE, EXIT_INPUT = 0, 1, 2


def _need_service() -> None:
    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        typer.echo(f"error: the service needs extra packages ({exc.name} is missing); "
                   "install them with: pip install 'trustaudit[service]'", err=True)
        raise typer.Exit(EXIT_INPUT) from None


def _settings(data_dir: Path | None, database_url: str | None, **kw: Any) -> Any:
    from trustaudit.service.config import Settings, default_data_dir

    return Settings(data_dir=data_dir or default_data_dir(),
                    database_url=database_url or os.environ.get("TRUSTAUDIT_DATABASE_URL", ""), **kw)


def _check_dask(executor: str, timeout: float) -> str:
    """Connect to the Dask scheduler once before starting (exit 2 with one line when it cannot be reached);
    returns what the startup line says about it."""
    from trustaudit.executors import ExecutorError

    if not executor.startswith(("dask://", "dask+tls://", "tcp://", "tls://")):
        typer.echo(f"error: unknown executor '{executor}'; use local or dask://HOST:PORT", err=True)
        raise typer.Exit(EXIT_INPUT)
    try:
        from trustaudit.service.dask_pool import DaskPool

        pool = DaskPool(executor, Path("."), False, None, connect_timeout=timeout)
        pool.connect()
    except ExecutorError as exc:
        typer.echo(f"error: {exc.one_line()}", err=True)
        raise typer.Exit(EXIT_INPUT) from None
    try:
        ready, text = pool.health()
    finally:
        pool.client.close()
    if not ready:
        typer.echo(f"warning: {text}; audits wait in the queue until a worker joins", err=True)
    return f"executor: {text.rsplit(', ', 1)[0]}"


DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Folder for the SQLite database and artifacts "
                                              "(default: $TRUSTAUDIT_DATA_DIR or ./trustaudit-data)")]
DbUrl = Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL, e.g. "
                                           "postgresql+psycopg://user@host/db (default: SQLite in the data dir)")]


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``token`` and ``submit`` to the trustaudit CLI."""

    @app.command("serve")
    def serve(
        data_dir: DataDir = None,
        host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port")] = 8000,
        database_url: DbUrl = None,
        workers: Annotated[int, typer.Option(help="Audit worker processes (0: accept jobs, run none)")] = 2,
        executor: Annotated[str, typer.Option(
            help="Where audits run: local (--workers processes on this machine) or dask://HOST:PORT (a Dask "
                 "cluster; dask+tls:// for TLS): the bundle is sent with each task, no shared filesystem "
                 "needed")] = "local",
        connect_timeout: Annotated[float, typer.Option(
            help="Seconds to wait for the Dask scheduler at startup (then exit 2)")] = 10.0,
        max_upload_mb: Annotated[float, typer.Option(help="Largest accepted upload, in MiB")] = 100.0,
        max_extract_mb: Annotated[float, typer.Option(help="Largest uncompressed bundle, in MiB")] = 512.0,
        allow_unsafe_pickle: Annotated[bool, typer.Option(
            "--allow-unsafe-pickle", help="Accept joblib/pickle models (they run code when loaded)")] = False,
        trust_type: Annotated[list[str] | None, typer.Option(
            "--trust-type", help="Trust this exact skops type in submitted models (after review); repeatable")] = None,
        log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
        sign_key: Annotated[Path | None, typer.Option(
            "--sign-key", envvar="TRUSTAUDIT_SIGN_KEY",
            help="Sign every job's attestation (DSSE) with this PEM Ed25519/ECDSA P-256 private key")] = None,
    ) -> None:
        """Run the audit service: REST API, web pages and a local worker pool or a Dask cluster (SQLite by
        default)."""
        _need_service()
        import uvicorn

        from trustaudit.service.app import create_app
        from trustaudit.service.archive import Limits

        if sign_key is not None:  # read it now (exit 2 on a bad key); workers inherit it through the environment
            from trustaudit.cli import run_guarded
            from trustaudit.lineage.signing import load_signer

            run_guarded(load_signer, sign_key)
            os.environ["TRUSTAUDIT_SIGN_KEY"] = str(sign_key.resolve())
        executor = executor.strip()
        runs = f"workers: {workers}"
        if executor != "local":
            runs = _check_dask(executor, connect_timeout) if workers > 0 else "workers: 0"
        st = _settings(data_dir, database_url, workers=workers, allow_unsafe_pickle=allow_unsafe_pickle,
                       trusted_types=tuple(trust_type or ()),
                       max_upload_bytes=int(max_upload_mb * 1024 * 1024),
                       limits=Limits(max_total_bytes=int(max_extract_mb * 1024 * 1024)),
                       executor=executor, connect_timeout_s=connect_timeout)
        if allow_unsafe_pickle:
            typer.echo("warning: --allow-unsafe-pickle: submitted pickle models run code on this server", err=True)
        typer.echo(f"trustaudit service on http://{host}:{port} (data: {st.data_dir}, "
                   f"database: {st.database_url.split('://')[0]}, {runs})", err=True)
        uvicorn.run(create_app(st), host=host, port=port, log_level=log_level, proxy_headers=False)

    token_app = typer.Typer(help="Create, list and revoke API tokens (stored hashed).", no_args_is_help=True)
    app.add_typer(token_app, name="token")

    def _sm(data_dir: Path | None, database_url: str | None) -> Any:
        _need_service()
        from trustaudit.service.db import make_engine, make_sessionmaker, migrate

        st = _settings(data_dir, database_url)
        st.prepare()
        migrate(st.database_url)
        return make_sessionmaker(make_engine(st.database_url))

    @token_app.command("create")
    def token_create(
        scope: Annotated[str, typer.Option(help="read | submit | admin")] = "read",
        name: Annotated[str, typer.Option(help="A label for the token (who or what uses it)")] = "",
        data_dir: DataDir = None,
        database_url: DbUrl = None,
    ) -> None:
        """Print a new API token. It is shown once; only its SHA-256 digest is stored."""
        from trustaudit.service.auth import create_token
        from trustaudit.service.db import SCOPES

        if scope not in SCOPES:
            typer.echo(f"error: unknown scope '{scope}'; use read, submit or admin", err=True)
            raise typer.Exit(EXIT_INPUT)
        with _sm(data_dir, database_url)() as s:
            row, token = create_token(s, scope, name)
        typer.echo(token)
        typer.echo(f"token {row.id} ({row.prefix}…, scope {scope}) created; it will not be shown again", err=True)

    @token_app.command("revoke")
    def token_revoke(
        token: Annotated[str, typer.Argument(help="The token, its id, or its prefix (as 'token list' shows)")],
        data_dir: DataDir = None,
        database_url: DbUrl = None,
    ) -> None:
        """Revoke a token; its web sessions end too."""
        from trustaudit.service.auth import revoke

        with _sm(data_dir, database_url)() as s:
            n = revoke(s, token)
        if not n:
            typer.echo("error: no active token matches", err=True)
            raise typer.Exit(EXIT_INPUT)
        typer.echo(f"revoked {n} token(s)")

    @token_app.command("list")
    def token_list(data_dir: DataDir = None, database_url: DbUrl = None) -> None:
        """List tokens (id, prefix, scope, name, state); never the secrets."""
        from sqlalchemy import select

        from trustaudit.service.db import ApiToken

        with _sm(data_dir, database_url)() as s:
            for r in s.scalars(select(ApiToken).order_by(ApiToken.id)):
                state = "revoked" if r.revoked_at else "active"
                typer.echo(f"{r.id}\t{r.prefix}…\t{r.scope}\t{state}\t{r.name}")

    @app.command("submit")
    def submit(
        bundle: Annotated[Path, typer.Argument(help="Bundle directory, or a .tar.gz/.zip of one")],
        server: Annotated[str | None, typer.Option(help="Service URL (default: $TRUSTAUDIT_SERVER)")] = None,
        token: Annotated[str | None, typer.Option(help="API token with scope submit (default: $TRUSTAUDIT_TOKEN)")] = None,
        checks: Annotated[list[str] | None, typer.Option("--checks", "-c", help="Check ids or patterns")] = None,
        rubric: Annotated[str | None, typer.Option(help="Packaged rubric name or .yaml inside the bundle")] = None,
        seed: Annotated[int, typer.Option(help="Seed for sampling and bootstrap")] = 0,
        param: Annotated[list[str] | None, typer.Option(
            "--param", help="Check parameter override CHECK.PARAM=VALUE (e.g. fairness.model.bootstrap=200)")] = None,
        wait: Annotated[bool, typer.Option("--wait", help="Wait for the audit; exit 0 pass, 1 fail (as 'trustaudit audit')")] = False,
        gate: Annotated[bool, typer.Option("--gate", help="Same as --wait: use the verdict as a CI gate")] = False,
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Download report.json (and --format) here")] = None,
        formats: Annotated[list[str] | None, typer.Option("--format", "-f", help="Also download: html, pdf, md, junit, sarif")] = None,
        timeout: Annotated[float, typer.Option(help="Seconds to wait before giving up")] = 3600.0,
    ) -> None:
        """Submit a bundle to a trustaudit service. With --wait/--gate: exit 0 pass, 1 gate failed, 2 bad input."""
        code = run_submit(bundle, server=server or os.environ.get("TRUSTAUDIT_SERVER"),
                          token=token or os.environ.get("TRUSTAUDIT_TOKEN"), checks=checks, rubric=rubric,
                          seed=seed, params=param or [], wait=wait or gate or out is not None, gate=gate, out=out,
                          formats=formats or [], timeout=timeout)
        raise typer.Exit(code)


def _err(msg: str) -> int:
    typer.echo("error: " + " ".join(str(msg).split()), err=True)
    return EXIT_INPUT


def pack_bundle(bundle: Path, dest: Path) -> Path:
    """A .tar.gz of a bundle directory (files only; links are followed), or the archive itself."""
    import tarfile

    if bundle.is_file():
        return bundle
    target = dest / f"{bundle.name or 'bundle'}.tar.gz"
    with tarfile.open(target, "w:gz") as tf:
        for p in sorted(bundle.rglob("*")):
            rel = p.relative_to(bundle)
            if any(part.startswith(".") for part in rel.parts) or not p.is_file():
                continue
            tf.add(p.resolve(), arcname=str(rel), recursive=False)
    return target


def run_submit(bundle: Path, *, server: str | None, token: str | None, checks: list[str] | None = None,
               rubric: str | None = None, seed: int = 0, params: list[str] | None = None, wait: bool = False,
               gate: bool = False, out: Path | None = None, formats: list[str] | None = None,
               timeout: float = 3600.0, poll_s: float = 0.2) -> int:
    import tempfile

    try:
        import httpx
    except ImportError:
        return _err("trustaudit submit needs httpx: pip install 'trustaudit[service]'")
    if not server:
        return _err("give --server URL (or set TRUSTAUDIT_SERVER)")
    if not token:
        return _err("give --token (or set TRUSTAUDIT_TOKEN); create one with: trustaudit token create --scope submit")
    if not bundle.exists():
        return _err(f"{bundle} does not exist")
    try:
        from trustaudit.pipeline import parse_params

        pdict = parse_params(params or [])
    except ValueError as exc:
        return _err(str(exc))
    base = server.rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    data: dict[str, Any] = {"seed": str(seed)}
    if checks:
        data["checks"] = list(checks)
    if rubric:
        data["rubric"] = rubric
    if pdict:
        data["params"] = json.dumps(pdict)
    try:
        with tempfile.TemporaryDirectory() as tmp, httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            archive = pack_bundle(bundle, Path(tmp))
            with archive.open("rb") as fh:
                r = c.post("/v1/audits", data=data, files={"bundle": (archive.name, fh, "application/gzip")})
            if r.status_code != 202:
                return _err(_problem(r))
            job = r.json()
            typer.echo(f"submitted: audit {job['id']} ({job['model']} {job['version']}) {base}/audits/{job['id']}",
                       err=True)
            if not wait:
                typer.echo(job["id"])
                return EXIT_OK
            deadline = time.monotonic() + timeout
            watch = _ProgressPrinter()
            watch.show(job)
            while job["state"] in ("queued", "running"):
                if time.monotonic() > deadline:
                    return _err(f"audit {job['id']} still {job['state']} after {timeout:.0f}s")
                time.sleep(poll_s)
                poll_s = min(poll_s * 1.5, 2.0)
                r = c.get(f"/v1/audits/{job['id']}")
                if r.status_code != 200:
                    return _err(_problem(r))
                job = r.json()
                watch.show(job)
            if job["state"] != "done":
                return _err(f"audit {job['id']} {job['state']}: {job.get('error') or 'no reason given'}")
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                names = ["report.json"] + [_FMT_FILES.get(f, f) for f in formats or []]
                for name in names:
                    r = c.get(f"/v1/audits/{job['id']}/{name}")
                    if r.status_code != 200:
                        typer.echo(f"warning: {name}: {_problem(r)}", err=True)
                        continue
                    (out / name).write_bytes(r.content)
                    typer.echo(f"wrote {out / name}", err=True)
    except httpx.HTTPError as exc:
        return _err(f"cannot reach {base}: {type(exc).__name__}: {exc}")
    except OSError as exc:
        return _err(f"{exc.filename or bundle}: {exc.strerror or exc}")
    counts = ", ".join(f"{k} {v}" for k, v in (job.get("counts") or {}).items() if v)
    typer.echo(f"verdict: {job['verdict'].upper()} ({counts})")
    if job["verdict"] not in ("pass", "warn"):
        return EXIT_GATE
    return EXIT_OK


class _ProgressPrinter:
    """Lines on stderr for ``submit --wait`` from the job's progress record as the server tracks it: the job's
    state changes, and each check as it starts and ends (a check that started and ended between two polls gets
    its end line only)."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.state: str | None = None
        self.seen: dict[str, str] = {}

    def show(self, job: dict[str, Any]) -> None:
        elapsed = time.monotonic() - self.t0
        if job.get("state") != self.state:
            self.state = job.get("state")
            typer.echo(f"audit {job.get('id')}: {self.state} ({elapsed:.0f}s)", err=True)
        prog = job.get("progress") or {}
        total = prog.get("total") or 0
        width = len(str(total))
        for n, (cid, st) in enumerate((prog.get("checks") or {}).items()):
            before = self.seen.get(cid)
            self.seen[cid] = st
            if before == st or (before == "done" and st != "running"):  # the final statuses come with the verdict
                continue
            pos = f"[{n + 1:>{width}}/{total}]" if total else f"[{n + 1}]"
            what = "..." if st == "running" else st
            typer.echo(f"{pos} {cid} {what} (elapsed {elapsed:.0f}s)", err=True)


_FMT_FILES = {"html": "report.html", "pdf": "report.pdf", "md": "report.md", "junit": "junit.xml",
              "sarif": "report.sarif", "json": "report.json"}


def _problem(r: Any) -> str:
    try:
        body = r.json()
        return f"HTTP {r.status_code}: {body.get('detail') or body.get('title')}"
    except ValueError:
        return f"HTTP {r.status_code}: {r.text[:200]}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0)
