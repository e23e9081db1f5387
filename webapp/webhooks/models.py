"""The webhook tables: endpoints admins register, the events, and each event's delivery to each endpoint."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, SmallInteger, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import UTCDateTime, db


class WebhookEndpoint(db.Model):
    """A URL that receives the events it subscribes to, signed with its secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(200))
    # Event types, space-separated (a handful out of twelve: no table of their own).
    event_types: Mapped[str] = mapped_column(String(600))
    # Kept as is: every delivery is signed with it, so it cannot be a one-way hash like a token's.
    secret: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())

    @property
    def types(self) -> list[str]:
        """The subscribed event types."""
        return self.event_types.split()


class WebhookEvent(db.Model):
    """Something that happened, as integrations are told: its type, object and a small payload.

    `source_id` is the audit event it was made from: unique, so collecting twice makes it once."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict] = mapped_column(JSON)
    source_id: Mapped[int] = mapped_column(unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class DeliveryStatus:
    """Where one event's delivery to one endpoint stands."""

    PENDING = "pending"      # waiting for its (next) attempt
    SENDING = "sending"      # a job is posting it now (or crashed doing so: retried after a while)
    SUCCEEDED = "succeeded"  # the endpoint answered 2xx
    FAILED = "failed"        # no 2xx after every retry; "send again" starts over


class WebhookDelivery(db.Model):
    """One event for one endpoint: its attempts and the last answer."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
        # The sender's question: what is due (the unique key serves an endpoint's log, newest first).
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)  # every POST made, shown in the log
    failures: Mapped[int] = mapped_column(SmallInteger, default=0)  # since the last success or "send again"
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[int | None] = mapped_column(SmallInteger)  # HTTP status; None: no answer
    last_response: Mapped[str | None] = mapped_column(String(500))  # the start of the body, or the error

    endpoint = relationship(WebhookEndpoint)
    event = relationship(WebhookEvent)
