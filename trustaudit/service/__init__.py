"""The trustaudit audit service (``trustaudit serve``): REST API, durable job queue, history and web pages.

Needs the ``service`` extra (FastAPI, uvicorn, SQLAlchemy 2, Alembic). See docs/service.md.
"""

from __future__ import annotations

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from trustaudit.service.app import create_app

        return create_app
    if name == "Settings":
        from trustaudit.service.config import Settings

        return Settings
    raise AttributeError(name)
