"""The OpenAPI 3.1 document, generated from the registered operations and their pydantic models."""

from __future__ import annotations

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from webapp.api.framework import ERROR_CODES, REGISTRY, ErrorBody, Operation
from webapp.formtools import MAX_DB_ID

STANDARD_ERRORS = (401, 403, 429)
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
    for name in [part[1:-1] for part in op.path.split("/") if part.startswith("{")]:
        params.append({"name": name, "in": "path", "required": True,
                       "schema": {"type": "integer", "minimum": 1, "maximum": MAX_DB_ID}})
    for name, spec in op.headers.items():
        params.append({"name": name, "in": "header", "required": False, **spec})
    if op.query is not None:
        schema = op.query.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            prop = {k: v for k, v in prop.items() if k != "title"}
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop,
                           **({"description": prop["description"]} if "description" in prop else {})})
    return params


def _error(status: int) -> dict:
    """A documented error response."""
    return {"description": ERROR_CODES.get(status, "error").replace("_", " ").capitalize(),
            **({"headers": ERROR_HEADERS[status]} if status in ERROR_HEADERS else {}),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


def build_spec(server_url: str = "/api/v1") -> dict:
    """The whole OpenAPI 3.1 document."""
    refs, schemas = _component_schemas()
    paths: dict[str, dict] = {}
    for op in REGISTRY:
        responses: dict[str, dict] = {}
        for status, model in op.responses.items():
            if op.binary and status < 300:
                responses[str(status)] = {"description": "The file", "content": {
                    op.binary: {"schema": {"type": "string", "contentMediaType": op.binary}}}}
            elif model is None:
                responses[str(status)] = {"description": "No content"}
            else:
                responses[str(status)] = {"description": "OK", "content": {"application/json": {
                    "schema": refs[(model, "serialization")]}}}
        extra = set(STANDARD_ERRORS) | set(op.errors)
        if op.body is not None:
            extra |= {400, 413, 415, 422}
        if op.query is not None or "{" in op.path:
            extra |= {422}
        if op.query is not None:
            extra |= {400}  # a NUL character in a query value is refused app-wide before validation
        if "{" in op.path:
            extra |= {404}
        for status in sorted(extra):
            responses.setdefault(str(status), _error(status))
        item = {
            "operationId": op.endpoint.split(".", 1)[1],
            "summary": op.summary,
            "tags": [op.tag],
            "description": f"Roles: {', '.join(op.roles)}." + (" Needs a write token." if op.write else ""),
            "parameters": _parameters(op),
            "responses": responses,
        }
        if op.body is not None:
            item["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": refs[(op.body, "validation")]}}}
        paths.setdefault(op.path, {})[op.method] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sales Tracking API", "version": "1.0.0",
                 "description": "Record sales and read commissions. Money is a decimal string with two "
                                "places (\"1250.00\"); dates are ISO 8601 (YYYY-MM-DD). Errors always have "
                                "the shape {\"error\": {\"code\", \"message\", \"fields\"}}."},
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": schemas, "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer", "description": "A personal API token from your profile page."}}},
    }
