"""API tokens, a user's credentials for the JSON API: create (shown once), list, revoke, authenticate."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date

from sqlalchemy import select

from webapp import clock
from webapp.api.models import ApiToken
from webapp.audit.services import record
from webapp.errors import NotFound, ServiceError, get_or_404
from webapp.extensions import db
from webapp.formtools import check_plain_text

TOKEN_PREFIX = "st_"
# What a token can be given, area by area (never more than its user's role allows).
AREAS = {"sales": "Sales, customers, products and SPIFFs", "ledger": "Commissions, statements and plan documents",
         "payouts": "Payouts", "admin": "Administration (the catalogue, plans, users)"}
LEVELS = ("none", "read", "write")
SCOPES = ("read", "write")  # the shorthands: every area read, or every area write


def _hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user, *, name: str, scope: str | None = "write", access: dict[str, str] | None = None,
                 expires_on: date | None = None) -> tuple[ApiToken, str]:
    """Make a token for `user`; returns the record and the plaintext (shown once, never stored).

    `access` gives each area "none", "read" or "write" (an area left out: none); without it,
    `scope` gives every area the same. `expires_on` is its last day (None: until revoked)."""
    name = check_plain_text((name or "").strip(), "name")
    if not name or len(name) > 80:
        raise ServiceError("Name the token (at most 80 characters), e.g. the shop it is for.", "name")
    if access is None:
        if scope not in SCOPES:
            raise ServiceError("Choose read or write.", "scope")
        access = dict.fromkeys(AREAS, scope)
    scopes = _scopes(access)
    if expires_on is not None and expires_on < clock.today():
        raise ServiceError("That day has passed: choose today or a later day, or leave it empty.", "expires_on")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_hash(plaintext), prefix=plaintext[:10], scopes=scopes,
                     expires_on=expires_on)
    db.session.add(token)
    db.session.flush()
    record(user, "api_token.create", token, None, {"name": name, "scopes": scopes, "prefix": token.prefix,
                                                   "expires_on": expires_on.isoformat() if expires_on else None})
    return token, plaintext


def _scopes(access: dict[str, str]) -> str:
    """The stored scopes ("sales:write ledger:read") of an area -> level choice, checked."""
    unknown = set(access) - set(AREAS)
    if unknown or any(level not in LEVELS for level in access.values()):
        raise ServiceError("Choose none, read or write for each area.", "access")
    granted = [f"{area}:{access[area]}" for area in AREAS if access.get(area, "none") != "none"]
    if not granted:
        raise ServiceError("Give the token read or write access to at least one area.", "access")
    return " ".join(granted)


def access_of(token: ApiToken) -> list[tuple[str, str]]:
    """(area, level) of each area the token reaches, in the areas' order, for the tokens list."""
    return [(area, token.level(area)) for area in AREAS if token.level(area) != "none"]


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
    """The live token named by an `Authorization: Bearer ...` header (not revoked, not past its last
    day), with an active user; else None."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip().startswith(TOKEN_PREFIX):
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(value.strip())))
    if token is None or token.revoked_at is not None or not token.user.active or token.expired(clock.today()):
        return None
    return token
