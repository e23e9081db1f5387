"""Admin pages: the development outbox (messages the outbox mail backend kept instead of sending)."""

from __future__ import annotations

from flask import abort, render_template

from webapp.admin import bp
from webapp.auth.decorators import admin_required
from webapp.mail.backends import get_backend


def _outbox():
    """The outbox backend, or 404 when mail goes to a real provider."""
    backend = get_backend()
    if not hasattr(backend, "list"):
        abort(404)
    return backend


@bp.route("/outbox")
@admin_required
def outbox():
    """Messages kept by the development mail backend, newest first."""
    return render_template("admin/outbox.html", messages=_outbox().list())


@bp.route("/outbox/<message_id>")
@admin_required
def outbox_message(message_id: str):
    """One kept message: headers, text body, links to its HTML body and attachments."""
    message = _outbox().get(message_id) or abort(404)
    return render_template("admin/outbox_message.html", message=message)


@bp.route("/outbox/<message_id>/html")
@admin_required
def outbox_html(message_id: str):
    """The HTML body, sandboxed: it is mail content, not part of the app."""
    html = _outbox().html(message_id)
    if html is None:
        abort(404)
    # Mail HTML carries inline styles; a sandbox CSP lets it render but run nothing.
    return html, 200, {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    }


@bp.route("/outbox/<message_id>/attachments/<filename>")
@admin_required
def outbox_attachment(message_id: str, filename: str):
    """One attachment with its own content type (PDFs open in the browser)."""
    found = _outbox().attachment(message_id, filename) or abort(404)
    data, content_type = found
    return data, 200, {
        "Content-Type": content_type,
        "Content-Disposition": f'inline; filename="{filename}"',
    }
