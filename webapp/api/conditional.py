"""ETags and conditional requests (RFC 9110): If-None-Match on reads, If-Match on changes.

A single object's answer carries a strong ETag, the hash of its JSON. A read with If-None-Match
naming it answers 304 with no body. A change with If-Match goes ahead only while the object is
still as the client last saw it; otherwise 412 precondition_failed and nothing is written. The
object is read for the comparison under the lock the change itself takes, so no other change can
slip in between.
"""

from __future__ import annotations

import hashlib

from flask import Response, request
from webapp.api.errors import ApiError

IF_MATCH = "If-Match"
IF_NONE_MATCH = "If-None-Match"
STALE = "This object changed since you read it; read it again (its new ETag), then decide."


def etag_of(body: bytes) -> str:
    """The strong ETag of an answer's body."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _tags(header: str) -> list[str]:
    """The entity tags a header lists (weak ones keep their W/)."""
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def tag(response: Response, honour_if_none_match: bool) -> Response:
    """Give a 200 answer its ETag; for a read (`honour_if_none_match`), 304 without a body when
    If-None-Match names it (or is *)."""
    etag = etag_of(response.get_data())
    response.headers["ETag"] = etag
    wanted = request.headers.get(IF_NONE_MATCH) if honour_if_none_match else None
    # If-None-Match compares weakly: W/"x" names the same version as "x".
    if wanted is not None and (wanted.strip() == "*" or etag in [t.removeprefix("W/") for t in _tags(wanted)]):
        unchanged = Response(status=304)
        unchanged.headers["ETag"] = etag
        return unchanged
    return response


def check_if_match(current_body: bytes) -> None:
    """412 unless If-Match is absent, * or names the ETag of the object's answer now (`current_body`);
    strong comparison: a weak tag never matches a change."""
    wanted = request.headers.get(IF_MATCH)
    if wanted is None or wanted.strip() == "*":
        return
    if etag_of(current_body) not in _tags(wanted):
        raise ApiError(412, STALE, {IF_MATCH: "Not the current ETag."})
