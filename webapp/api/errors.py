"""The API's one error shape, and every error code it answers with, each documented.

A code says what went wrong in words a program can branch on: the HTTP status's own code
("validation_error", "not_found"...), or for the rules a client most often needs to tell apart, the
rule's own ("closed_period", "four_eyes"...), which services name on the ServiceError they raise.
"""

from __future__ import annotations

from flask import jsonify

from webapp.errors import CLOSED_PERIOD, FOUR_EYES, NOT_SELLABLE

ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 412: "precondition_failed", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
               500: "server_error", 503: "unavailable"}
IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
# Every code, with what it means: the docs page and the OpenAPI document list them from here.
CODE_MEANINGS = {
    "bad_request": "The request is malformed: not JSON, a malformed header, a NUL character.",
    "unauthorized": "No valid token: missing, unknown, revoked or past its last day, or its user is inactive.",
    "forbidden": "The token's role or scope does not allow this operation.",
    FOUR_EYES: "You entered this sale: another manager or an admin must decide it.",
    "not_found": "Nothing with this id exists that you may see (another team's object answers the same).",
    "method_not_allowed": "The URL does not take this method.",
    "conflict": "The object's state does not allow this now (a sale already decided, a duplicate SKU).",
    IDEMPOTENCY_KEY_REUSED: "The Idempotency-Key was already used with a different request.",
    CLOSED_PERIOD: "The date or the change falls in a closed period, whose statements are final.",
    "precondition_failed": "If-Match named a version of the object that is no longer current.",
    "payload_too_large": "The body is larger than 64 KB.",
    "unsupported_media_type": "Send the body as application/json.",
    "validation_error": "Some fields are not valid; `fields` says which and why.",
    NOT_SELLABLE: "The product is unknown, archived, or restricted and not assigned to the agent.",
    "rate_limited": "Too many requests: wait the seconds Retry-After gives.",
    "server_error": "Something went wrong on our side; quote the X-Request-Id when reporting it.",
    "unavailable": "The database or the job queue cannot be reached; nothing was written, try again.",
}
# RFC 6750: every 401 names the scheme the API wants; error= says what was wrong with a token sent.
BEARER_CHALLENGE = 'Bearer realm="api"'


class ApiError(Exception):
    """An error answered as {"error": {"code", "message", "fields"}} with its HTTP status (and headers)."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}
        self.code = code or ERROR_CODES.get(status, "error")
        self.headers = dict(headers or {})


def error_response(status: int, message: str, fields: dict[str, str] | None = None, code: str | None = None,
                   headers=None):
    """The one JSON error shape of the API; a 401 always carries its Bearer challenge."""
    body = {"error": {"code": code or ERROR_CODES.get(status, "error"), "message": message, "fields": fields or {}}}
    response = jsonify(body)
    response.status_code = status
    response.headers.extend(headers or ())
    if status == 401:
        response.headers.setdefault("WWW-Authenticate", BEARER_CHALLENGE)
    return response
