"""FastAPI dependencies shared by the API routes and the web pages: a database session and token scopes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from trustaudit.service.auth import allows, lookup
from trustaudit.service.db import ApiToken
from trustaudit.service.problems import ProblemError
from trustaudit.service.sessions import session_token


def get_session(request: Request) -> Any:
    with request.app.state.sm() as s:
        yield s


SessionDep = Annotated[Session, Depends(get_session)]


def bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


def require(scope: str) -> Callable[..., ApiToken]:
    """Dependency: a valid token with at least ``scope``. A web session cookie counts for read-only GETs."""

    def dep(request: Request, s: SessionDep) -> ApiToken:
        token = bearer(request)
        row = lookup(s, token) if token else None
        if row is None and token is None and request.method in ("GET", "HEAD"):
            row = session_token(request, s)
        if row is None:
            raise ProblemError(401, "unauthorized",
                               "a valid API token is required (Authorization: Bearer <token>)",
                               headers={"WWW-Authenticate": "Bearer"})
        if not allows(row.scope, scope):
            raise ProblemError(403, "forbidden", f"this token has scope '{row.scope}'; this needs '{scope}'")
        return row

    return dep
