"""The configured mail backend (outbox for development, Mailchimp in production) and sending."""

from __future__ import annotations

from flask import current_app

from webapp.mail.mailchimp import MailchimpBackend
from webapp.mail.messages import EmailMessage, MailBackend, SendResult
from webapp.mail.outbox import OutboxBackend


def get_backend() -> MailBackend:
    """The configured backend for this app (created once per app)."""
    backend = current_app.extensions.get("mail_backend")
    if backend is None:
        name = current_app.config["MAIL_BACKEND"]
        if name == "outbox":
            backend = OutboxBackend(current_app.config["OUTBOX_DIR"])
        elif name == "mailchimp":
            config = current_app.config
            backend = MailchimpBackend(config["MAILCHIMP_API_KEY"], config["MAIL_FROM"],
                                       config["MAIL_FROM_NAME"], host=config["MAILCHIMP_API_HOST"] or None)
        else:
            raise RuntimeError(f"mail backend {name!r} is not available in this version")
        current_app.extensions["mail_backend"] = backend
    return backend


def send_email(message: EmailMessage) -> SendResult:
    """Send a message through the configured backend. Call only after the database commit."""
    return get_backend().send(message)
