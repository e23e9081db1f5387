"""The OpenAPI 3.1 document, generated from the registered operations and their pydantic models."""

from __future__ import annotations

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from webapp.api import conditional, idempotency
from webapp.api.errors import CODE_MEANINGS
from webapp.api.framework import ERROR_CODES, REGISTRY, ErrorBody, Operation
from webapp.formtools import MAX_DB_ID
from webapp.request_ids import HEADER as REQUEST_ID
from webapp.webhooks.catalog import EVENT_TYPES
from webapp.webhooks.sending import EVENT_ID_HEADER, TIMEOUT
from webapp.webhooks.signing import SIGNATURE_HEADER, TOLERANCE

STANDARD_ERRORS = (401, 403, 429)
_TEXT, _SECONDS = {"type": "string"}, {"type": "integer", "minimum": 0}
# Headers on every answer of an operation, errors included.
EVERY_ANSWER = {
    REQUEST_ID: {"description": "This request's id (the one sent, when it was 8 to 128 letters, digits or "
                                "._:-; else a new one): quote it when reporting a problem", "schema": _TEXT},
    "RateLimit-Limit": {"description": "Requests allowed per window to this token", "schema": _SECONDS},
    "RateLimit-Remaining": {"description": "Requests left in this window", "schema": _SECONDS},
    "RateLimit-Reset": {"description": "Seconds until the window starts over", "schema": _SECONDS},
}
ETAG = {"ETag": {"description": "The version of this object: send it as If-None-Match to read it again "
                                "cheaply, or as If-Match to change it only while it is this version",
                 "schema": _TEXT}}
CONDITIONAL_HEADERS = {
    conditional.IF_NONE_MATCH: {"description": "An ETag of this object: 304 with no body while it is still current",
                                "schema": _TEXT},
    conditional.IF_MATCH: {"description": "The ETag of the object as you last read it: the change is made only "
                                          "while it is still current, else 412 and nothing is written",
                           "schema": _TEXT},
}
KEY_HEADER = {"description": "Your key for this request: the same key with the same request within 24 hours "
                             "returns the first successful answer again (with Idempotent-Replayed: true) and "
                             "writes nothing; with a different request, 409 idempotency_key_reused. Keys are per "
                             "user.", "schema": idempotency.SCHEMA}
ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"description": 'Bearer realm="api", with error="invalid_token" when the token '
                                              "sent is unknown, revoked or its user inactive",
                               "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait before trying again",
                          "schema": {"type": "integer", "minimum": 1}}},
}


def _component_schemas() -> tuple[dict, dict]:
    """JSON Schemas of every model used, as components, and the $ref of each (model, mode)."""
    pairs: set[tuple[type[BaseModel], str]] = {(ErrorBody, "serialization")}
    for op in REGISTRY:
        if op.body is not None:
            pairs.add((op.body, "validation"))
        for model in op.responses.values():
            if model is not None:
                pairs.add((model, "serialization"))
    ordered = sorted(pairs, key=lambda pair: (pair[0].__name__, pair[1]))
    refs, schema = models_json_schema(ordered, ref_template="#/components/schemas/{model}")
    return refs, schema.get("$defs", {})


def _parameters(op: Operation) -> list[dict]:
    """Path parameters (integers) and the query model's fields."""
    params = []
    for name in _path_names(op.path):
        params.append({"name": name, "in": "path", "required": True,
                       "schema": {"type": "integer", "minimum": 1, "maximum": MAX_DB_ID}})
    headers = dict(op.headers)
    if op.idempotent:
        headers[idempotency.HEADER] = KEY_HEADER
    if op.etag and op.method == "get":
        headers[conditional.IF_NONE_MATCH] = CONDITIONAL_HEADERS[conditional.IF_NONE_MATCH]
    if op.if_match:
        headers[conditional.IF_MATCH] = CONDITIONAL_HEADERS[conditional.IF_MATCH]
    for name, spec in headers.items():
        params.append({"name": name, "in": "header", "required": False, **spec})
    if op.query is not None:
        schema = op.query.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            prop = {k: v for k, v in prop.items() if k != "title"}
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop,
                           **({"description": prop["description"]} if "description" in prop else {})})
    return params


def _path_names(path: str) -> list[str]:
    """The parameter names of a path, in order."""
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _links(op: Operation) -> dict:
    """OpenAPI links from what a POST creates to the operations on it: each operation under
    `<this path>/{<name>}` takes the new object's `id` as that parameter, and this path's own
    parameters as they were sent (POST /sales -> GET /sales/{sale_id}, approve, reject...)."""
    created = op.responses.get(201)
    if op.method != "post" or created is None or "id" not in created.model_fields:
        return {}
    links = {}
    for target in REGISTRY:
        rest = target.path.removeprefix(op.path + "/")
        if rest == target.path or not rest.startswith("{"):
            continue
        new_name = rest.split("}", 1)[0][1:]
        parameters = {name: f"$request.path.{name}" for name in _path_names(op.path)}
        parameters[new_name] = "$response.body#/id"
        if set(_path_names(target.path)) != set(parameters):
            continue  # it needs another object's id too (a delivery of the new endpoint)
        links[target.endpoint.removeprefix("api.")] = {
            "operationId": target.endpoint.removeprefix("api."), "parameters": parameters,
            "description": f"{target.method.upper()} {target.path} on what this made"}
    return links


def _error(status: int) -> dict:
    """A documented error response."""
    return {"description": ERROR_CODES.get(status, "error").replace("_", " ").capitalize(),
            "headers": {**EVERY_ANSWER, **ERROR_HEADERS.get(status, {})},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


SUCCESS = {200: "OK", 201: "Created"}


def _responses(op: Operation, refs: dict) -> dict[str, dict]:
    """An operation's documented answers: its own, 304 for a conditional read, and its errors."""
    responses: dict[str, dict] = {}
    for status, model in op.responses.items():
        if op.binary and status < 300:
            responses[str(status)] = {"description": "The file", "headers": EVERY_ANSWER, "content": {
                op.binary: {"schema": {"type": "string", "contentMediaType": op.binary}}}}
        elif model is None:
            responses[str(status)] = {"description": "No content", "headers": EVERY_ANSWER}
        else:
            headers = {**EVERY_ANSWER, **(ETAG if op.etag and status == 200 else {})}
            responses[str(status)] = {"description": SUCCESS.get(status, "OK"), "headers": headers, "content": {
                "application/json": {"schema": refs[(model, "serialization")]}}}
            if status == 201 and (links := _links(op)):
                responses[str(status)]["links"] = links
    if op.etag and op.method == "get":
        responses["304"] = {"description": "Not modified: the ETag sent in If-None-Match is still current",
                            "headers": {**EVERY_ANSWER, **ETAG}}
    extra = set(STANDARD_ERRORS) | set(op.errors)
    if op.body is not None:
        extra |= {400, 413, 415, 422}
    if op.query is not None or "{" in op.path:
        extra |= {422}
    if op.query is not None:
        extra |= {400}  # a NUL character in a query value is refused app-wide before validation
    if "{" in op.path:
        extra |= {404}
    if op.idempotent:
        extra |= {400, 409}  # a malformed key; a key used with another request
    if op.if_match:
        extra |= {412}
    for status in sorted(extra):
        responses.setdefault(str(status), _error(status))
    return responses


def _item(op: Operation, refs: dict) -> dict:
    """One operation's entry under its path."""
    item = {
        "operationId": op.endpoint.split(".", 1)[1],
        "summary": op.summary,
        "tags": [op.tag],
        "description": f"Roles: {', '.join(op.roles)}. " + (
            f"Token scope: {op.area}:{'write' if op.write else 'read'}." if op.area else
            "Token scope: write on the area of the change it carries on." if op.write else "Any token."),
        "parameters": _parameters(op),
        "responses": _responses(op, refs),
    }
    if op.body is not None:
        item["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": refs[(op.body, "validation")]}}}
    return item


def _webhooks() -> dict:
    """OpenAPI 3.1's `webhooks`: each event type as the signed POST a registered endpoint receives."""
    headers = [
        {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": _TEXT,
         "description": f"t=<unix seconds>,v1=<hex HMAC-SHA256, keyed with the endpoint's secret, of "
                        f"\"<t>.<raw body>\">; refuse a t more than {TOLERANCE} seconds from your clock"},
        {"name": EVENT_ID_HEADER, "in": "header", "required": True, "schema": _TEXT,
         "description": "The event's id (as in the body): a delivery may come twice, deduplicate on it"},
    ]
    return {event.name: {"post": {
        "summary": event.name, "description": event.description, "security": [], "parameters": headers,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/EventOut", "properties": {"type": {"const": event.name}}}}}},
        "responses": {"2XX": {"description": f"Received. Anything else, or no answer within {TIMEOUT[1]} "
                                             "seconds, is retried for about a day"}},
    }} for event in EVENT_TYPES}


def build_spec(server_url: str = "/api/v1") -> dict:
    """The whole OpenAPI 3.1 document."""
    refs, schemas = _component_schemas()
    schemas["ErrorDetail"]["properties"]["code"].update(
        enum=sorted(CODE_MEANINGS), description="What went wrong, for programs: " + "; ".join(
            f"{code}: {meaning}" for code, meaning in sorted(CODE_MEANINGS.items())))
    paths: dict[str, dict] = {}
    for op in REGISTRY:
        paths.setdefault(op.path, {})[op.method] = _item(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sales Tracking API", "version": "1.0.0",
                 "description": "Record sales and read commissions. Money is a decimal string with two "
                                "places (\"1250.00\"); dates are ISO 8601 (YYYY-MM-DD). Errors always have "
                                "the shape {\"error\": {\"code\", \"message\", \"fields\"}}; `code` is one of "
                                "those listed on ErrorDetail. Every answer carries X-Request-Id and the "
                                "RateLimit-* headers; one object's answer an ETag; every POST that writes "
                                "takes an Idempotency-Key. No answer may be cached (Cache-Control: no-store)."},
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "paths": dict(sorted(paths.items())),
        "webhooks": _webhooks(),
        "components": {"schemas": schemas, "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer", "description": "A personal API token from your profile page."}}},
    }
