"""API tokens: random secrets shown once, stored as SHA-256 digests, with a scope (read < submit < admin)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustaudit.service.db import SCOPES, ApiToken, utcnow

_RANK = {s: i for i, s in enumerate(SCOPES)}
TOKEN_PREFIX = "ta_"


def hash_token(token: str) -> str:
    """Tokens carry 256 random bits, so an unsalted SHA-256 is enough to make a leaked table useless."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def allows(scope: str, needed: str) -> bool:
    return _RANK.get(scope, -1) >= _RANK[needed]


def create_token(session: Session, scope: str, name: str = "") -> tuple[ApiToken, str]:
    if scope not in SCOPES:
        raise ValueError(f"unknown scope '{scope}'; use one of {', '.join(SCOPES)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, prefix=token[:10], token_hash=hash_token(token), scope=scope, created_at=utcnow())
    session.add(row)
    session.commit()
    return row, token


def lookup(session: Session, token: str) -> ApiToken | None:
    if not token or len(token) > 200:
        return None
    digest = hash_token(token)
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return row


def revoke(session: Session, token_or_prefix: str) -> int:
    """Revoke by the token itself, its id or its displayed prefix; returns how many were revoked."""
    rows: list[Any] = []
    if token_or_prefix.startswith(TOKEN_PREFIX) and len(token_or_prefix) > 20:
        rows = list(session.scalars(select(ApiToken).where(ApiToken.token_hash == hash_token(token_or_prefix))))
    elif token_or_prefix.isdigit():
        rows = list(session.scalars(select(ApiToken).where(ApiToken.id == int(token_or_prefix))))
    else:
        rows = list(session.scalars(select(ApiToken).where(ApiToken.prefix == token_or_prefix)))
    n = 0
    for r in rows:
        if r.revoked_at is None:
            r.revoked_at = utcnow()
            n += 1
    session.commit()
    return n
