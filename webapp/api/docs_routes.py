"""The API's OpenAPI document and its readable docs page (public: they describe, they expose no data)."""

from __future__ import annotations

import re

from flask import jsonify, render_template
from markupsafe import Markup, escape

from webapp.api import bp
from webapp.api.errors import CODE_MEANINGS
from webapp.api.framework import rate_limit
from webapp.api.openapi import build_spec


@bp.route("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document (public: it describes, it does not expose data)."""
    return jsonify(build_spec())


@bp.route("/docs")
def docs():
    """A readable page of the API, rendered on the server from the same document."""
    return render_template("api/docs.html", spec=build_spec(), error_codes=CODE_MEANINGS,
                           rate_limit=rate_limit())


@bp.app_template_filter("code_ticks")
def code_ticks(text: str | None) -> Markup:
    """The document's `code` spans (Markdown, for OpenAPI tools) as <code> on the page, escaped."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text or ""))))
