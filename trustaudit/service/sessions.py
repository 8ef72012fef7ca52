"""The reviewer web pages' login session: a signed cookie that names an API token and carries a CSRF secret.

Read by the web pages and by the API's token dependency (a session counts for read-only GETs).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from trustaudit.service.db import ApiToken

SESSION_COOKIE = "ta_session"
PRELOGIN_COOKIE = "ta_prelogin"
SESSION_MAX_AGE = 12 * 3600


def serializer(request: Request) -> Any:
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(request.app.state.settings.secret_key, salt="trustaudit-session")


def read_session(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    from itsdangerous import BadSignature

    try:
        data = serializer(request).loads(raw, max_age=SESSION_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def session_token(request: Request, s: Session) -> ApiToken | None:
    data = read_session(request)
    if not data or not isinstance(data.get("tid"), int):
        return None
    row = s.get(ApiToken, data["tid"])
    if row is None or row.revoked_at is not None:
        return None
    return row
