"""The committed OpenAPI document matches the app; the Alembic migration matches the SQLAlchemy models."""

from __future__ import annotations

import json
from pathlib import Path

from tests.service.conftest import ROOT


def current_openapi(tmp: Path) -> dict:
    from trustaudit.service.app import create_app
    from trustaudit.service.config import Settings

    return create_app(Settings(data_dir=tmp)).openapi()


def test_committed_openapi_is_current(tmp_path: Path) -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == current_openapi(tmp_path), (
        "docs/openapi.json is stale: regenerate with python -m trustaudit.service.openapi > docs/openapi.json")


def test_every_api_endpoint_needs_a_token_except_operations(tmp_path: Path) -> None:
    spec = current_openapi(tmp_path)
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            if path in ("/healthz", "/readyz", "/metrics"):
                continue
            assert "401" in codes and "403" in codes, (method, path)


def test_migration_matches_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from trustaudit.service.db import Base, make_engine, migrate, sqlite_url

    url = sqlite_url(tmp_path)
    migrate(url)
    migrate(url)  # idempotent
    eng = make_engine(url)
    with eng.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    eng.dispose()
    assert diff == []


def test_migration_matches_models_on_postgresql(pg_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    from trustaudit.service.db import Base, migrate

    migrate(pg_url)
    eng = create_engine(pg_url)
    with eng.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    eng.dispose()
    assert diff == []
