"""Plan documents and their acknowledgements."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (JSON, CheckConstraint, Date, ForeignKey, Index, LargeBinary, String, Text,
                        UniqueConstraint, event, inspect)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from webapp.extensions import UTCDateTime, db, enum_check


class RenderStatus(StrEnum):
    """Where a stored PDF stands (a document's, or an acknowledgement's)."""

    PENDING = "pending"    # the render job has not stored it yet
    RENDERED = "rendered"  # stored with its sha256
    FAILED = "failed"      # the render failed; the dispatcher's sweep tries again


class DocumentState(StrEnum):
    """Where an agent stands with a document (derived, never stored: see queries.state_expression)."""

    PENDING = "pending"            # issued, waiting for the agent
    QUESTIONED = "questioned"      # the agent asked a question that is not answered yet
    ACKNOWLEDGED = "acknowledged"  # the agent typed their name and confirmed
    SUPERSEDED = "superseded"      # the version was edited before acknowledgement; a newer revision replaces it


class PlanDocument(db.Model):
    """One agent's plan document for one plan version under one assignment.

    Immutable once issued: its number comes from a gap-free counter, `body_html` is the document
    exactly as the agent reads it (rendered once, at issue), and `sha256` is the SHA-256 of that
    HTML's UTF-8 bytes, so anyone can check a copy against it. `content` holds the same facts as
    data (for the API). Only the follow-up columns (superseded_at, reminders, the PDF) change.
    """

    __tablename__ = "plan_documents"
    __table_args__ = (
        enum_check("status", RenderStatus, name="status_known"),
        # One document per assignment, version and revision of the version's document: issuing
        # twice (a retried job, two sweeps at once) finds the first.
        UniqueConstraint("assignment_id", "version_id", "revision", name="uq_plan_documents_issue"),
        Index("ix_plan_documents_agent_created", "agent_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assignment_id: Mapped[int] = mapped_column(ForeignKey("plan_assignments.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("commission_plans.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("plan_versions.id"), index=True)
    # The version's document revision at issue (an edit of an unearned version raises it).
    revision: Mapped[int]
    # The days this document governs for the agent (effective_to None: until replaced).
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    content: Mapped[dict] = mapped_column(JSON)
    body_html: Mapped[str] = deferred(mapped_column(Text))
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default=RenderStatus.PENDING)
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    render_error: Mapped[str | None] = mapped_column(Text)
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminders_sent: Mapped[int] = mapped_column(default=0, server_default="0")
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    agent = relationship("User")
    plan = relationship("CommissionPlan")
    version = relationship("PlanVersion")
    assignment = relationship("PlanAssignment")
    acknowledgement: Mapped[PlanAcknowledgement | None] = relationship(back_populates="document", uselist=False)


class PlanAcknowledgement(db.Model):
    """An agent's acknowledgement of a document: what they saw (number and SHA-256), the name they
    typed, when, and from where. Never changed or deleted; at most one per document."""

    __tablename__ = "plan_acknowledgements"
    __table_args__ = (
        enum_check("status", RenderStatus, name="status_known"),
        UniqueConstraint("document_id", name="uq_plan_acknowledgements_document_id"),
        CheckConstraint("length(typed_name) > 0", name="typed_name_given"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("plan_documents.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    document_number: Mapped[int]
    document_sha256: Mapped[str] = mapped_column(String(64))
    typed_name: Mapped[str] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    # The document's PDF with an acknowledgement block (name, time, hash), rendered by a job.
    status: Mapped[str] = mapped_column(String(10), default=RenderStatus.PENDING)
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    render_error: Mapped[str | None] = mapped_column(Text)
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    document: Mapped[PlanDocument] = relationship(back_populates="acknowledgement")
    agent = relationship("User")


# What was issued or acknowledged never changes: only the follow-up and PDF columns may.
IMMUTABLE = {
    PlanDocument: ("number", "agent_id", "assignment_id", "plan_id", "version_id", "revision", "effective_from",
                   "effective_to", "content", "body_html", "sha256", "created_at"),
    PlanAcknowledgement: ("document_id", "agent_id", "document_number", "document_sha256", "typed_name",
                          "acknowledged_at", "ip_address", "user_agent"),
}


class ImmutableRecord(Exception):
    """Raised when code tries to change what a document or acknowledgement says."""


def _refuse_changes(mapper, connection, target) -> None:
    """Refuse an ORM update that changes an issued document's or an acknowledgement's record."""
    state = inspect(target)
    changed = [name for name in IMMUTABLE[type(target)] if state.attrs[name].history.has_changes()]
    if changed:
        raise ImmutableRecord(f"{type(target).__name__} {target.id} is immutable; tried to change {changed}")


for _model in IMMUTABLE:
    event.listen(_model, "before_update", _refuse_changes)

