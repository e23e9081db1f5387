"""Files other packages attach to stored emails, without mail importing those packages.

A package registers an AttachmentSource on the app (statements: each statement email's PDF).
Before an email is sent, every source must say it is ready (or the email waits for its job to
be enqueued again); the message then carries every source's files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app

from webapp.mail.messages import Attachment
from webapp.mail.models import OutgoingEmail

_EXTENSION = "mail_attachment_sources"


@dataclass(frozen=True)
class AttachmentSource:
    """Whether an email's files are ready, and the files themselves (none for most emails)."""

    ready: Callable[[OutgoingEmail], bool]
    files: Callable[[OutgoingEmail], tuple[Attachment, ...]]


def register_attachment_source(app: Flask, source: AttachmentSource) -> None:
    """Add a source for every email this app sends."""
    app.extensions.setdefault(_EXTENSION, []).append(source)


def _sources() -> list[AttachmentSource]:
    """The sources registered on the current app."""
    return current_app.extensions.get(_EXTENSION, [])


def attachments_ready(email: OutgoingEmail) -> bool:
    """True when every source has what it attaches to this email."""
    return all(source.ready(email) for source in _sources())


def attachments_for(email: OutgoingEmail) -> tuple[Attachment, ...]:
    """Every source's files for this email."""
    return tuple(file for source in _sources() for file in source.files(email))
