"""The API's OpenAPI document and its readable docs page (public: they describe, they expose no data)."""

from __future__ import annotations

import re

from flask import jsonify, render_template
from markupsafe import Markup, escape

from webapp.api import bp
from webapp.api.errors import CODE_MEANINGS
from webapp.api.framework import rate_limit
from webapp.api.openapi import build_spec
from webapp.api.text import AROUND, SEARCH_PATTERN, plain_text_pattern
from webapp.webhooks.catalog import EVENT_TYPES


@bp.route("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document (public: it describes, it does not expose data)."""
    return jsonify(build_spec())


@bp.route("/docs")
def docs():
    """A readable page of the API, rendered on the server from the same document."""
    return render_template("api/docs.html", spec=build_spec(), error_codes=CODE_MEANINGS,
                           rate_limit=rate_limit(), event_types=EVENT_TYPES)


@bp.app_template_filter("code_ticks")
def code_ticks(text: str | None) -> Markup:
    """The document's `code` spans (Markdown, for OpenAPI tools) as <code> on the page, escaped."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text or ""))))


@bp.app_template_filter("path_breaks")
def path_breaks(path: str) -> Markup:
    """An operation's path, escaped, allowed to wrap after each slash (never inside a name)."""
    return escape(path).replace("/", Markup("/<wbr>"))


@bp.app_template_filter("name_breaks")
def name_breaks(name: str) -> Markup:
    """A field's name, escaped; a long one may wrap after an underscore, so it fits a phone (a short
    one stays whole, as the page's text mentions it)."""
    if len(name) <= LONG_NAME:
        return escape(name)
    return escape(name).replace("_", Markup("_<wbr>"))


# Longer names than this would stick out of a 390 px screen's field column.
LONG_NAME = 20


@bp.app_template_filter("type_of")
def type_of(schema: dict) -> str:
    """A field's type in words: its type or the schema it names, what an array holds, the values an
    enum allows, "or null" when it may be null."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(type_of(branch) for branch in schema["anyOf"])
    if schema.get("type") == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    words = str(schema.get("type", "any"))
    if "enum" in schema:
        words += f" ({', '.join(str(value) for value in schema['enum'])})"
    if "format" in schema:
        words += f" ({schema['format']})"
    return words


# The plain-text patterns (webapp/api/text.py) as the docs page says them (see "Rules beyond the schemas").
PLAIN_TEXT_WORDS = {
    plain_text_pattern(multiline=multiline, required=required):
        ("Plain text" + ("; line breaks and tabs allowed" if multiline else ", one line") +
         ("; not only spaces." if required else "."))
    for multiline in (False, True) for required in (False, True)} | {SEARCH_PATTERN: "Any text but NUL; not only spaces."}


@bp.app_template_filter("notes_of")
def notes_of(schema: dict, description: str | None = None) -> Markup:
    """A field's description (its own, or a branch's when it may be null) and the pattern it must
    match, for the Notes column."""
    branches = [schema, *schema.get("anyOf", [])]
    text = description or next((b["description"] for b in branches if b.get("description")), "")
    pattern = next((b["pattern"] for b in branches if b.get("pattern")), None)
    if text and pattern and not text.rstrip().endswith((".", ")", ":")):
        text = text.rstrip() + "."  # the pattern's words start a sentence of their own
    if pattern in PLAIN_TEXT_WORDS:  # the regex of the plain-text rule is long; its words say it
        return code_ticks(text) + Markup(" {}").format(PLAIN_TEXT_WORDS[pattern])
    if pattern and AROUND in pattern:  # trimmed: the pattern without the whitespace classes around it
        return code_ticks(text) + Markup(" Spaces around it are trimmed: <code>{}</code>").format(
            pattern.replace(AROUND, ""))
    return code_ticks(text) + (Markup(" <code>{}</code>").format(pattern) if pattern else "")
