"""Disputes of ledger lines and their threads."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import UTCDateTime, db, enum_check


class DisputeStatus(StrEnum):
    """open -> accepted | rejected (a line's dispute) or answered (a plan question); final."""

    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ANSWERED = "answered"


class Dispute(db.Model):
    """An agent's objection to one ledger line, resolved by a manager.

    The line itself may later disappear (an open-period line of a sale that is then voided is
    deleted by the ledger), so the dispute keeps what it was about: the sale, the period and the
    amount at the time, and its `entry_id` becomes NULL rather than blocking the ledger.
    """

    __tablename__ = "disputes"
    __table_args__ = (
        enum_check("status", DisputeStatus, name="status_known"),
        CheckConstraint("status = 'open' OR resolved_at IS NOT NULL", name="resolved_has_time"),
        CheckConstraint("status <> 'accepted' OR adjustment_entry_id IS NOT NULL", name="accepted_has_adjustment"),
        CheckConstraint("status <> 'rejected' OR resolution_note IS NOT NULL", name="rejected_has_reason"),
        # A dispute is about a ledger line (what it was is kept) or a question about a plan document.
        CheckConstraint("(plan_document_id IS NULL AND period_id IS NOT NULL AND entry_kind IS NOT NULL"
                        " AND entry_amount_cents IS NOT NULL)"
                        " OR (plan_document_id IS NOT NULL AND entry_id IS NULL AND sale_id IS NULL)",
                        name="about_a_line_or_a_plan"),
        # Only a plan question is answered (a line's dispute is accepted or rejected), with the answer.
        CheckConstraint("status <> 'answered' OR (plan_document_id IS NOT NULL AND resolution_note IS NOT NULL)",
                        name="answered_is_a_plan_question"),
        # One open dispute per line at a time; a resolved line may be disputed again.
        Index("uq_disputes_open_entry", "entry_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        Index("ix_disputes_agent_status", "agent_id", "status"),
        # One open question per plan document at a time.
        Index("uq_disputes_open_plan_document", "plan_document_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("commission_entries.id", ondelete="SET NULL"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # What the line was when disputed (it may change in an open period, or go).
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"), index=True)
    period_id: Mapped[int | None] = mapped_column(ForeignKey("periods.id"))
    entry_kind: Mapped[str | None] = mapped_column(String(16))
    entry_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    # A question about a plan document instead of a line (then the entry fields are empty).
    plan_document_id: Mapped[int | None] = mapped_column(ForeignKey("plan_documents.id"))
    status: Mapped[str] = mapped_column(String(16), default=DisputeStatus.OPEN)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The manual entry an accepted dispute posted (manual entries are never recomputed or deleted).
    adjustment_entry_id: Mapped[int | None] = mapped_column(ForeignKey("commission_entries.id"))
    # The manager's note on acceptance, the reason for a rejection, or the answer to a plan question.
    resolution_note: Mapped[str | None] = mapped_column(Text)

    entry = relationship("CommissionEntry", foreign_keys=[entry_id])
    adjustment_entry = relationship("CommissionEntry", foreign_keys=[adjustment_entry_id])
    agent = relationship("User", foreign_keys=[agent_id])
    resolved_by = relationship("User", foreign_keys=[resolved_by_id])
    sale = relationship("Sale")
    period = relationship("Period")
    plan_document = relationship("PlanDocument")
    messages: Mapped[list[DisputeMessage]] = relationship(
        back_populates="dispute", order_by="DisputeMessage.id")

    @property
    def is_open(self) -> bool:
        """True until a manager accepts or rejects it."""
        return self.status == DisputeStatus.OPEN

    @property
    def is_plan_question(self) -> bool:
        """True for a question about a plan document (answered, never accepted or rejected)."""
        return self.plan_document_id is not None


class DisputeMessage(db.Model):
    """One message of a dispute's thread (the agent's opening comment is the first)."""

    __tablename__ = "dispute_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    dispute: Mapped[Dispute] = relationship(back_populates="messages")
    author = relationship("User")
