"""The API's OpenAPI document and its readable docs page (public: they describe, they expose no data)."""

from __future__ import annotations

from flask import jsonify, render_template

from webapp.api import bp
from webapp.api.errors import CODE_MEANINGS
from webapp.api.openapi import build_spec


@bp.route("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document (public: it describes, it does not expose data)."""
    return jsonify(build_spec())


@bp.route("/docs")
def docs():
    """A readable page of the API, rendered on the server from the same document."""
    return render_template("api/docs.html", spec=build_spec(), error_codes=CODE_MEANINGS)
