"""The FastAPI application: REST API (``/v1``), health, metrics and the reviewer web pages.

``create_app(settings)`` builds the app; ``trustaudit serve`` runs it under uvicorn. On startup it migrates
the database, re-queues (or fails) jobs a stopped server left ``running`` and starts the worker pool.

This module only wires the app together. The parts live one layer down: the routes by resource in
:mod:`trustaudit.service.routes` (``audits``, ``models``, ``openness``, ``ops``), the web pages in
:mod:`~trustaudit.service.web`, the response models in :mod:`~trustaudit.service.schemas`, jobs (accept, validate,
query) in :mod:`~trustaudit.service.jobs`, renderings made on request in :mod:`~trustaudit.service.rendering`,
dependencies (database session, token scopes) in :mod:`~trustaudit.service.deps` and the middleware in
:mod:`~trustaudit.service.middleware`. The names below are re-exported for callers of the former single module.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from trustaudit.service import queue, web
from trustaudit.service.config import Settings
from trustaudit.service.deps import SessionDep, bearer, get_session, require
from trustaudit.service.history import history
from trustaudit.service.jobs import accept_bundle, job_out, query_jobs, validate_bundle, validate_options
from trustaudit.service.middleware import BodyLimit, install_headers
from trustaudit.service.openness import catalog, openness_from_upload, openness_out
from trustaudit.service.problems import install
from trustaudit.service.rendering import REPORT_FILES, materialize
from trustaudit.service.routes import api, ops
from trustaudit.service.routes.ops import JobCollector
from trustaudit.service.schemas import (
    AuditJob,
    AuditPage,
    CheckProgress,
    Health,
    HistoryPoint,
    HistorySeries,
    ModelHistory,
    OpennessEntry,
)
from trustaudit.version import __version__

__all__ = [
    "REPORT_FILES",
    "AuditJob",
    "AuditPage",
    "BodyLimit",
    "CheckProgress",
    "Health",
    "HistoryPoint",
    "HistorySeries",
    "ModelHistory",
    "OpennessEntry",
    "SessionDep",
    "accept_bundle",
    "api",
    "bearer",
    "catalog",
    "create_app",
    "get_session",
    "history",
    "job_out",
    "materialize",
    "openness_from_upload",
    "openness_out",
    "ops",
    "query_jobs",
    "require",
    "validate_bundle",
    "validate_options",
]

log = logging.getLogger("trustaudit.service")


def create_app(settings: Settings) -> FastAPI:
    from prometheus_client import CollectorRegistry, Counter

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from trustaudit.service.db import head_revision, make_engine, make_sessionmaker, migrate
        from trustaudit.service.worker import WorkerPool

        settings.prepare()
        migrate(settings.database_url)
        app.state.head = head_revision(settings.database_url)
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.sm = make_sessionmaker(engine)
        rec = queue.recover(app.state.sm)
        if any(rec.values()):
            log.warning("recovered jobs left by a stopped server: %s", rec)
        app.state.registry.register(JobCollector(app.state.sm))
        pool: Any = None
        if settings.start_workers and settings.workers > 0 and settings.executor != "local":
            from trustaudit.service.dask_pool import DaskPool

            pool = DaskPool(settings.executor, settings.data_dir, settings.allow_unsafe_pickle, app.state.sm,
                            limits=settings.limits, connect_timeout=settings.connect_timeout_s,
                            trusted_types=settings.trusted_types)
            pool.start()
        elif settings.start_workers and settings.workers > 0:
            pool = WorkerPool(settings.workers, settings.database_url, settings.data_dir,
                              settings.allow_unsafe_pickle, app.state.sm, trusted_types=settings.trusted_types)
            pool.start()
        app.state.pool = pool
        try:
            yield
        finally:
            if pool is not None:
                pool.stop()
            engine.dispose()

    app = FastAPI(
        title="trustaudit service",
        version=__version__,
        description="Submit model bundles for audit, follow jobs, download reports, browse model history and "
                    "the openness catalog. Every endpoint except /healthz, /readyz and /metrics needs a token "
                    "(`Authorization: Bearer <token>`, created with `trustaudit token create`).",
        lifespan=lifespan,
        openapi_tags=[{"name": "audits"}, {"name": "models"}, {"name": "openness"}, {"name": "operations"}],
        docs_url=None,  # web.install_docs serves /docs with local Swagger UI files (no CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.pool = None
    app.state.registry = CollectorRegistry()
    requests_total = Counter("trustaudit_http_requests", "HTTP requests", ["method", "status"],
                             registry=app.state.registry)
    install(app)
    app.include_router(api)
    app.include_router(ops)
    web.install_login_redirect(app)
    app.include_router(web.router)
    app.mount("/static", web.static_app(), name="static")
    web.install_docs(app)
    install_headers(app, requests_total)
    app.add_middleware(BodyLimit, cap=settings.max_upload_bytes + 64 * 1024)
    return app
