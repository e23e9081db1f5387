"""X-Request-Id: every answer names its request, and the app's log lines written while serving it
carry the same id, so a report quoting it leads to the traceback.

An id sent by the client or a proxy in front (8 to 128 letters, digits or ._:-) is kept, so one id
follows a request through every hop; anything else is replaced by a new random one (a log line must
not take text a client chose beyond that). gunicorn's access log writes the id too (Dockerfile)."""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler

HEADER = "X-Request-Id"
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{8,128}")
LOG_FORMAT = "[%(asctime)s] %(levelname)s %(request_id)s in %(module)s: %(message)s"


def current() -> str:
    """The id of the request being served ("-" outside one)."""
    if not has_request_context():
        return "-"
    if "request_id" not in g:
        sent = request.headers.get(HEADER, "")
        g.request_id = sent if _ACCEPTED.fullmatch(sent) else uuid.uuid4().hex
    return g.request_id


class RequestIdFilter(logging.Filter):
    """Stamp each log record with the request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add `request_id` to the record (always passes it on)."""
        record.request_id = current()
        return True


def init_app(app: Flask) -> None:
    """Answer every request with its id, and write the id in the app's log lines."""

    @app.after_request
    def _name_the_request(response):
        response.headers[HEADER] = current()
        return response

    # Flask's own handler (it logs every unhandled exception with its traceback); set once per process.
    if not any(isinstance(f, RequestIdFilter) for f in default_handler.filters):
        default_handler.addFilter(RequestIdFilter())
        default_handler.setFormatter(logging.Formatter(LOG_FORMAT, defaults={"request_id": "-"}))
