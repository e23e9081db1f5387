"""Outgoing email, recorded in the same transaction as the change that causes it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import UTCDateTime, db, enum_check


class EmailStatus(StrEnum):
    """Where a delivery stands. Ours, not the provider's: webapp.mail.SendResult has its own words."""

    QUEUED = "queued"      # waiting for its job (again, after a failed attempt with tries left)
    SENDING = "sending"    # marked (and committed) before the provider is called
    SENT = "sent"          # the provider took it
    REJECTED = "rejected"  # the provider refused it, or reported a bounce
    FAILED = "failed"      # out of attempts or a permanent error; a person may resend it


class OutgoingEmail(db.Model):
    """One message to send. Written with the change that causes it (so a rollback sends nothing),
    delivered by a job after the commit, and never sent twice: `key` is unique and the job
    marks the row `sending` (committed) before calling the provider.
    """

    __tablename__ = "outgoing_emails"
    __table_args__ = (
        enum_check("status", EmailStatus, name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the email is about, e.g. "sale-rejected:42"; the same key never makes two emails.
    key: Mapped[str] = mapped_column(String(120), unique=True)
    to: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=EmailStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Indexed: the provider's webhook events name the message by this id.
    provider_id: Mapped[str | None] = mapped_column(String(120), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    sending_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    meta: Mapped[dict | None] = mapped_column(JSON)
    # A statement email carries that statement's PDF; one delivery per statement.
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"), unique=True)
    # The latest event the provider reported for this message by webhook (send, deferral,
    # soft_bounce, hard_bounce, ...), when it happened and what it said. Events arrive late and out
    # of order, so an older event never overwrites a newer one.
    delivery_event: Mapped[str | None] = mapped_column(String(32))
    delivery_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery_detail: Mapped[str | None] = mapped_column(String(500))
