"""API tokens, a user's credentials for the JSON API: create (shown once), list, revoke, authenticate."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from webapp import clock
from webapp.api.models import ApiToken
from webapp.audit.services import record
from webapp.errors import NotFound, ServiceError, get_or_404
from webapp.extensions import db
from webapp.formtools import check_plain_text

TOKEN_PREFIX = "st_"
SCOPES = ("read", "write")


def _hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user, *, name: str, scope: str = "write") -> tuple[ApiToken, str]:
    """Make a token for `user`; returns the record and the plaintext (shown once, never stored)."""
    name = check_plain_text((name or "").strip(), "name")
    if not name or len(name) > 80:
        raise ServiceError("Name the token (at most 80 characters), e.g. the shop it is for.", "name")
    if scope not in SCOPES:
        raise ServiceError("Choose read or write.", "scope")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_hash(plaintext), prefix=plaintext[:10], scope=scope)
    db.session.add(token)
    db.session.flush()
    record(user, "api_token.create", token, None, {"name": name, "scope": scope, "prefix": token.prefix})
    return token, plaintext


def tokens_of(user) -> list[ApiToken]:
    """The user's tokens, newest first."""
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_token(user, token_id: int) -> ApiToken:
    """Revoke one of the user's tokens (another user's token is not found)."""
    token = get_or_404(ApiToken, token_id)
    if token.user_id != user.id:
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at = clock.now_utc()
        db.session.flush()
        record(user, "api_token.revoke", token, None, {"prefix": token.prefix})
    return token


def revoke_all_tokens(actor, user) -> int:
    """Revoke every live token of `user` (on deactivation, so reactivating them brings none back)."""
    live = list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                          ApiToken.revoked_at.is_(None))))
    now = clock.now_utc()
    for token in live:
        token.revoked_at = now
        record(actor, "api_token.revoke", token, None, {"prefix": token.prefix, "reason": "user deactivated"})
    db.session.flush()
    return len(live)


def authenticate(header: str | None) -> ApiToken | None:
    """The live token named by an `Authorization: Bearer ...` header, with an active user; else None."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip().startswith(TOKEN_PREFIX):
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(value.strip())))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    return token
