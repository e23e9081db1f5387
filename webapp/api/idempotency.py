"""Idempotency-Key on the API's POSTs: a retried request gets the first answer instead of a second write.

A sale and a statement run keep their key with what they made, for good, and answer a retry
themselves (the sale or run already made). Every other POST that writes goes through here: its first
successful answer is stored under the user's key in the same transaction as what it wrote, and the
same request again within KEEP gets that answer back (status and body, with Idempotent-Replayed:
true). The same key with another request is refused (409 idempotency_key_reused). A refused
request (4xx) stores nothing, so it can be corrected and sent again under the same key.

Two requests racing with one key: the key's row is inserted before the request runs, so the second
waits on the unique constraint for the first's transaction, then answers what the first stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import timedelta

from flask import Response, current_app, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from webapp import clock
from webapp.api.errors import IDEMPOTENCY_KEY_REUSED, ApiError
from webapp.api.models import IdempotentAnswer
from webapp.extensions import db
from webapp.sales.checks import KEY_PATTERN

HEADER = "Idempotency-Key"
SCHEMA = {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"}
REPLAYED_HEADER = "Idempotent-Replayed"
KEEP = timedelta(hours=24)
# What a view adds to an answer it gives again for a retry under its own key (a sale, a run).
REPLAYED = {REPLAYED_HEADER: "true"}
KEY_RULE = "Use 8 to 64 letters, digits, dashes or underscores."


def key_header() -> str | None:
    """The client's Idempotency-Key header (None without one); 400 for a malformed key."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not KEY_PATTERN.match(key):  # the same rule as a sale's key
        raise ApiError(400, f"The {HEADER} header is not valid. {KEY_RULE}", {HEADER: KEY_RULE})
    return key


def reused_error(what: str) -> ApiError:
    """409 for a key already used with another request (`what` that request made)."""
    message = f"This key was used for a different {what}; use a new key for a new request."
    return ApiError(409, f"{HEADER} already used. {message}", {HEADER: message}, code=IDEMPOTENCY_KEY_REUSED)


@dataclass(frozen=True)
class Attempt:
    """A request sent with a key: whose, which key, and what request (its fingerprint)."""

    user_id: int
    key: str
    fingerprint: str


def attempt(user) -> Attempt | None:
    """The request's Attempt, or None when it carries no key."""
    key = key_header()
    if key is None:
        return None
    return Attempt(user.id, key, _fingerprint())


def _fingerprint() -> str:
    """HMAC-SHA256 (keyed with the app's secret) of the method, the path with its query and the
    body; a JSON body in canonical form, so spacing and key order do not make a retry a different
    request. Keyed, because a body may hold a secret (a new account's password) that a plain hash
    kept for a day would let anyone reading the table guess offline."""
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode() if raw else b""
    except ValueError:
        body = raw
    head = f"{request.method} {request.full_path.rstrip('?')}\n".encode()
    return hmac.new(current_app.secret_key.encode(), head + body, hashlib.sha256).hexdigest()


def replay(attempt: Attempt) -> Response | None:
    """The stored answer to this request, None if the key is new (or its answer expired, which is
    then deleted); 409 when the key answered another request."""
    stored = db.session.scalar(select(IdempotentAnswer).where(
        IdempotentAnswer.user_id == attempt.user_id, IdempotentAnswer.key == attempt.key))
    if stored is None:
        return None
    if stored.created_at <= clock.now_utc() - KEEP:
        db.session.delete(stored)
        db.session.flush()
        return None
    if stored.fingerprint != attempt.fingerprint:
        raise reused_error("request")
    response = Response(stored.body, status=stored.status, mimetype="application/json")
    response.headers[REPLAYED_HEADER] = "true"
    return response


def claim(attempt: Attempt) -> IdempotentAnswer | Response:
    """Take the key for this request before it runs, or the answer already stored under it.

    The key's row is inserted now and filled in by `complete` in the same transaction. A twin sent
    with the same key at the same moment waits on the row's unique constraint until this
    transaction ends: it then answers what this one stored, or, if this one was refused and rolled
    back, runs itself."""
    stored = replay(attempt)
    if stored is not None:
        return stored
    row = IdempotentAnswer(user_id=attempt.user_id, key=attempt.key, fingerprint=attempt.fingerprint, status=0,
                           body="", created_at=clock.now_utc())
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()  # nothing was written yet: the request has not run
        stored = replay(attempt)
        if stored is None:  # the twin's answer expired in between: rare enough to ask for a retry
            raise ApiError(409, "This key is in use by another request; send it again.", {HEADER: "In use."},
                           code=IDEMPOTENCY_KEY_REUSED) from None
        return stored
    return row


def complete(row: IdempotentAnswer, response: Response) -> None:
    """Store the request's successful answer in its claimed row (committed with what it wrote)."""
    row.status, row.body = response.status_code, response.get_data(as_text=True)
    db.session.flush()


def sweep_expired() -> int:
    """Delete the answers older than KEEP (the hourly sweep); how many went."""
    deleted = db.session.execute(delete(IdempotentAnswer).where(
        IdempotentAnswer.created_at <= clock.now_utc() - KEEP)).rowcount
    db.session.commit()
    return deleted
