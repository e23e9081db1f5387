"""Outgoing mail behind one small interface, so the provider can change without the callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from flask import current_app


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class EmailMessage:
    """One message to one recipient."""

    to: str
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """What the provider said: sent/queued/scheduled/rejected/invalid, its id, and why if refused."""

    status: str
    provider_id: str | None = None
    reject_reason: str | None = None

    @property
    def accepted(self) -> bool:
        """True when the provider took the message for delivery."""
        return self.status in {"sent", "queued", "scheduled"}


class MailBackend(Protocol):
    """A way to send an EmailMessage."""

    def send(self, message: EmailMessage) -> SendResult:
        """Send one message and report the provider's answer."""
        ...


def get_backend() -> MailBackend:
    """The configured backend for this app (created once per app)."""
    backend = current_app.extensions.get("mail_backend")
    if backend is None:
        name = current_app.config["MAIL_BACKEND"]
        if name == "outbox":
            from webapp.mail.outbox import OutboxBackend

            backend = OutboxBackend(current_app.config["OUTBOX_DIR"])
        else:
            raise RuntimeError(f"mail backend {name!r} is not available in this version")
        current_app.extensions["mail_backend"] = backend
    return backend


def send_email(message: EmailMessage) -> SendResult:
    """Send a message through the configured backend. Call only after the database commit."""
    return get_backend().send(message)
