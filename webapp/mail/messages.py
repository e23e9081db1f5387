"""Mail messages and the MailBackend protocol: what callers build and what every backend sends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


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


class MailProviderError(RuntimeError):
    """The provider refused or failed a call; `permanent` says whether retrying can help."""

    def __init__(self, status_code: int | None, text: str, permanent: bool = False, name: str | None = None):
        """Keep the HTTP status (None for network failures), the provider's text and its error name."""
        self.status_code = status_code
        self.text = text
        self.permanent = permanent
        self.name = name
        where = f"HTTP {status_code}" if status_code is not None else "no HTTP answer"
        kind = "permanent" if permanent else "transient"
        super().__init__(f"mail provider error ({where}, {kind}): {text}")

    def __reduce__(self):
        """Rebuild from the fields, so the error survives pickling (the default would lose them)."""
        return type(self), (self.status_code, self.text, self.permanent, self.name)


class MailBackend(Protocol):
    """A way to send an EmailMessage."""

    def send(self, message: EmailMessage) -> SendResult:
        """Send one message and report the provider's answer."""
        ...
