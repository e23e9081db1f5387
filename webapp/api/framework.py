"""The small layer between HTTP and the services: bearer auth, JSON in and out, one error shape,
and the registry the OpenAPI document is generated from.

Request and response bodies are pydantic models (well kept, and their JSON Schema is the
2020-12 dialect that OpenAPI 3.1 uses as is), so validation and documentation come from the
same declarations.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps
from typing import Any, Callable, Generic, TypeVar

from flask import Response, current_app, g, jsonify, request, url_for
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from webapp import clock
from webapp.api import bp, conditional, idempotency
from webapp.auth import access
from webapp.auth.models import Role
from webapp.auth.tokens import authenticate
from webapp.api.json_numbers import NUL_MESSAGE, _nul_fields, whole_numbers_as_integers  # noqa: F401  (re-exported)
from webapp.api.text import CURSOR_PATTERN
from webapp.api.models import IdempotentAnswer
from webapp.api.errors import BEARER_CHALLENGE, ERROR_CODES, ApiError, error_response  # noqa: F401  (re-exported)
from webapp.errors import NotFound, ServiceError
from webapp.extensions import csrf, db, limiter
from webapp.formtools import MAX_DB_ID
from webapp.operations import services as operations

# No cookies, no CSRF: API clients authenticate every request with a bearer token.
csrf.exempt(bp)

ALL_ROLES = (Role.AGENT, Role.MANAGER, Role.ADMIN)
MAX_BODY_BYTES = 64 * 1024
INVALID_TOKEN = BEARER_CHALLENGE + ', error="invalid_token"'
Item = TypeVar("Item", bound=BaseModel)


class Strict(BaseModel):
    """Base of request bodies: unknown fields are errors, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str
    message: str
    fields: dict[str, str] = Field(default_factory=dict, description="Field name -> message")


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer of the API."""

    error: ErrorDetail


class PageQuery(BaseModel):
    """Base of list queries: `limit` items after the opaque `cursor` of the previous page.

    Unknown parameters are refused (a misspelt filter would otherwise list everything)."""

    model_config = ConfigDict(extra="forbid")
    limit: int = Field(50, ge=1, le=100)
    cursor: str | None = Field(None, max_length=120, json_schema_extra={"pattern": CURSOR_PATTERN})


class Page(BaseModel, Generic[Item]):
    """Base of list answers: the items, and the cursor of the next page (null on the last)."""

    items: list[Item]
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    """An opaque cursor for the item after `last_id`."""
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id a cursor stands for; 422 for anything we did not make."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    match = re.fullmatch(r"id:(\d{1,18})", text)
    if match is None or int(match.group(1)) > MAX_DB_ID:
        raise ApiError(422, "The cursor is not valid; use next_cursor from the previous page.",
                       {"cursor": "Not valid."})
    return int(match.group(1))


# The header naming the background operation an answer started (GET it for the progress).
OPERATION_LOCATION = "Operation-Location"


def keyset_page(found: list, limit: int, key=lambda item: item.id) -> tuple[list, str | None]:
    """The first `limit` of `found` (asked for with limit + 1) and the cursor after the last of
    them, or None when nothing is left."""
    page = found[:limit]
    return page, encode_cursor(key(page[-1])) if len(found) > limit else None


def encode_keyset(sort: str, value: object, last_id: int) -> str:
    """An opaque cursor for the item after (value, last_id) in `sort` order; the default order
    ("-id") keeps the id-only form, so cursors made before sorting existed still work."""
    text = f"id:{last_id}" if sort == "-id" else f"{sort}|{value}|{last_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_keyset(cursor: str | None, sort: str, parse) -> tuple | None:
    """The (value, id) a cursor made by encode_keyset for `sort` stands for, its value read by
    `parse`; 422 for a cursor we did not make or one of another order."""
    if cursor is None or sort == "-id":
        last_id = decode_cursor(cursor)
        return None if last_id is None else (last_id, last_id)
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        match = re.fullmatch(r"([a-z_-]{1,20})\|([0-9-]{1,20})\|(\d{1,18})", text)
        value = parse(match.group(2)) if match and match.group(1) == sort else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = None
    if value is None or int(match.group(3)) > MAX_DB_ID:
        raise ApiError(422, "The cursor is not valid for this sort; use next_cursor from the previous page "
                            "with the same sort.", {"cursor": "Not valid."})
    return value, int(match.group(3))


@dataclass
class Operation:
    """One documented API operation."""

    method: str
    path: str
    endpoint: str
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    responses: dict[int, type[BaseModel] | None]
    roles: tuple[str, ...]
    write: bool
    area: str | None
    errors: tuple[int, ...] = field(default_factory=tuple)
    binary: str | None = None
    headers: dict[str, dict] = field(default_factory=dict)
    etag: bool = False  # its 200 answer carries an ETag (and a GET honours If-None-Match)
    if_match: bool = False  # honours If-Match (412 when stale)
    idempotent: bool = False  # takes an Idempotency-Key through webapp/api/idempotency.py


REGISTRY: list[Operation] = []


def _fields_from(exc: ValidationError, prefix: str = "") -> dict[str, str]:
    """pydantic's errors as {field: message}."""
    fields: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        name = ".".join(str(part) for part in error["loc"]) or "body"
        message = "Unexpected field." if error["type"] == "extra_forbidden" else error["msg"]
        fields.setdefault(prefix + name, message)
    return fields


def _token_key() -> str:
    """Throttle per token (the header's hash is cheap; bad tokens share one bucket per address)."""
    header = request.headers.get("Authorization", "")
    return "api-token:" + hashlib.sha256(header.encode()).hexdigest()[:32] if header else "api-anon:" + (
        request.remote_addr or "unknown")


def _json_body(model: type[BaseModel]) -> BaseModel:
    """Parse and validate the JSON request body."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, f"The body is larger than {MAX_BODY_BYTES // 1024} KB.")
    if request.mimetype != "application/json":
        raise ApiError(415, "Send the body as application/json.")
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, f"The body is larger than {MAX_BODY_BYTES // 1024} KB.")
    try:
        parsed = model.model_validate_json(whole_numbers_as_integers(raw))
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise ApiError(400, "The body is not valid JSON.") from exc
        raise ApiError(422, "Some fields are not valid.", _fields_from(exc)) from exc
    holding_nul = _nul_fields(parsed.model_dump())
    if holding_nul:
        raise ApiError(422, "Some fields are not valid.", holding_nul)
    return parsed


def _query(model: type[BaseModel]) -> BaseModel:
    """Validate the query string (repeated keys are refused rather than silently dropped)."""
    args = request.args
    repeated = [key for key in args if len(args.getlist(key)) > 1]
    if repeated:
        raise ApiError(422, "Give each query parameter once.", {key: "Given more than once." for key in repeated})
    try:
        return model.model_validate(args.to_dict())
    except ValidationError as exc:
        raise ApiError(422, "Some query parameters are not valid.", _fields_from(exc)) from exc


def _touch(token) -> None:
    """Record when a token was last used (at most once a minute: it costs a write)."""
    now = clock.now_utc()
    last = token.last_used_at
    if last is None or now - last > timedelta(minutes=1):
        token.last_used_at = now


def _authorised_user(roles: tuple[str, ...], write: bool, area: str | None):
    """The user behind the request's bearer token: 401 without a valid token, 403 for the wrong
    role, or a token without read (or, for a change, write) access to the operation's area."""
    credentials = request.headers.get("Authorization")
    token = authenticate(credentials)
    if token is None:
        challenge = INVALID_TOKEN if credentials else BEARER_CHALLENGE
        raise ApiError(401, "Send a valid API token: Authorization: Bearer <token>.",
                       headers={"WWW-Authenticate": challenge})
    user = token.user
    if not access.has_role(user, *roles):
        raise ApiError(403, "Your role cannot use this operation.")
    g.api_token = token
    if area is not None:
        require_scope(area, write)
    _touch(token)
    return user


def require_scope(area: str, write: bool) -> None:
    """403 unless the request's token may read (or, with `write`, change) `area`; for operations
    whose area depends on the object they act on."""
    if not g.api_token.allows(area, write):
        needed = f"{area}:{'write' if write else 'read'}"
        raise ApiError(403, f"This token cannot {'change' if write else 'read'} {area}: it needs {needed}.",
                       headers={"WWW-Authenticate":
                                f'{BEARER_CHALLENGE}, error="insufficient_scope", scope="{needed}"'})


class DryRun(Exception):  # noqa: N818  (an answer, not an error)
    """Raised by a view to answer `result` after rolling back everything it wrote (a dry run):
    nothing is committed, no job is queued, and no Idempotency-Key keeps the answer."""

    def __init__(self, result: BaseModel):
        """The answer, built before the rollback expires what it read."""
        super().__init__()
        self.result = result


def _run_view(call: Callable[[], Any], claimed: IdempotentAnswer | None, etag: bool) -> Response:
    """Call the view; a service's refusal rolls back and becomes the API's error, success commits
    (with its answer stored in the request's claimed Idempotency-Key, when it has one)."""
    try:
        result = call()
    except DryRun as dry:
        db.session.rollback()
        return _respond(dry.result, 200)
    except NotFound as exc:
        db.session.rollback()
        raise ApiError(404, "Not found.") from exc
    except ServiceError as exc:
        db.session.rollback()
        status = exc.status if 400 <= exc.status < 500 else 422
        fields = {error.field: error.message for error in getattr(exc, "errors", [exc]) if error.field}
        raise ApiError(status, exc.message, fields, code=exc.code) from exc
    # A view answers a model, (model, status) or (model, status, headers).
    result, status, *extra = result if isinstance(result, tuple) else (result, 200)
    response = _respond(result, status)
    response.headers.update(extra[0] if extra else {})
    started = operations.started()
    if started is not None:  # the rest of the work goes on in the background: say where to follow it
        response.headers[OPERATION_LOCATION] = url_for("api.get_operation", operation_id=started.id)
    if claimed is not None and 200 <= status < 300:
        idempotency.complete(claimed, response)
    db.session.commit()
    if etag and status == 200 and isinstance(result, BaseModel):
        return conditional.tag(response, honour_if_none_match=request.method == "GET")
    return response


def _respond(result: Any, status: int):
    """A pydantic model as JSON with its status; a ready Response (e.g. a PDF) as it is."""
    if isinstance(result, BaseModel):
        response = jsonify(result.model_dump(mode="json"))
        response.status_code = status
        return response
    return result


def rate_limit() -> str:
    """Requests each token may make (API_RATE_LIMIT, e.g. "600 per minute")."""
    return current_app.config.get("API_RATE_LIMIT", "600 per minute")


def operation(method: str, path: str, *, summary: str, tag: str, area: str | None,
              responses: dict[int, type[BaseModel] | None],
              body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
              roles: tuple[str, ...] = ALL_ROLES, write: bool = False, errors: tuple[int, ...] = (),
              binary: str | None = None, headers: dict[str, dict] | None = None,
              current: Callable[..., BaseModel] | None = None, own_key: bool = False) -> Callable:
    """Register an API operation: auth, role and scope checks, body/query validation, JSON out.

    `area`: the token scope area it reads (or, with `write`, changes): webapp.auth.tokens.AREAS;
    None for what any token may call (its own user).
    `headers` documents optional request headers: {name: {"description": ..., "schema": {...}}}.
    `current(user, **path_args)`: the object a change acts on as its GET answers it, read under the
    lock the change takes; the operation then honours If-Match. A POST that writes takes an
    Idempotency-Key, unless `own_key`: the view keeps the key with what it makes and answers retries.
    A GET of one object (not a page, not a file), and a change with `current`, answer with an ETag.
    """
    rule = re.sub(r"\{(\w+)\}", r"<int:\1>", path)
    ok_model = responses.get(200)
    etag = current is not None or (method == "GET" and binary is None and ok_model is not None
                                   and not issubclass(ok_model, Page))
    takes_key = method == "POST" and write and not own_key

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def handler(**path_args):
            user = _authorised_user(roles, write, area)
            # Ids are PostgreSQL INTEGERs: a larger one names nothing and would fail the query.
            if any(value > MAX_DB_ID for value in path_args.values()):
                raise ApiError(404, "Not found.")
            kwargs: dict[str, Any] = dict(path_args)
            if body is not None:
                kwargs["body"] = _json_body(body)
            if query is not None:
                kwargs["query"] = _query(query)
            key = idempotency.attempt(user) if takes_key else None
            claimed = idempotency.claim(key) if key is not None else None
            if isinstance(claimed, Response):  # the answer stored under this key
                db.session.commit()
                return claimed

            def call():
                """The view, after If-Match is checked against the object as it is now."""
                if current is not None and conditional.IF_MATCH in request.headers:
                    conditional.check_if_match(_respond(current(user, **path_args), 200).get_data())
                return view(user, **kwargs)

            return _run_view(call, claimed, etag)

        # One budget per token across every operation (limit() would count each operation apart).
        limited = limiter.shared_limit(rate_limit, scope="api", key_func=_token_key)(handler)
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=limited, methods=[method])
        REGISTRY.append(Operation(method=method.lower(), path=path, endpoint=f"api.{view.__name__}",
                                  summary=summary, tag=tag, body=body, query=query, responses=responses,
                                  roles=roles, write=write, area=area, errors=errors, binary=binary,
                                  headers=dict(headers or {}), etag=etag, if_match=current is not None,
                                  idempotent=takes_key))
        return handler

    return decorator


@bp.after_request
def _rate_limit_headers(response):
    """RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (seconds until the window starts
    over) on every answer of a rate-limited operation, refusals included."""
    limit = limiter.current_limit
    if limit is None:
        return response
    try:
        reset_at, remaining = limit.window
    except Exception:  # noqa: BLE001  (the limit store went away: the answer goes without them)
        return response
    response.headers["RateLimit-Limit"] = str(limit.limit.amount)
    response.headers["RateLimit-Remaining"] = str(max(0, remaining))
    response.headers["RateLimit-Reset"] = str(max(0, math.ceil(reset_at - time.time())))
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    """Answer an ApiError in the API's error shape."""
    return error_response(exc.status, exc.message, exc.fields, exc.code, exc.headers)
