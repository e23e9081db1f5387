"""Statements and statement runs."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (JSON, CheckConstraint, Date, ForeignKey, Index, LargeBinary, String, Text,
                        UniqueConstraint, func)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from webapp.extensions import UTCDateTime, db, enum_check


class StatementKind(StrEnum):
    """What a run was for; each of its statements has the run's kind."""

    PERIOD = "period"  # a period's statements, issued when it closes (one run per period)
    ADHOC = "adhoc"    # any dates, on request (the hourly limit counts these runs)


# The background operation that issues a large period run's statements (webapp.operations; its
# params name the run): the run's pages wait for it before calling the run finished.
PERIOD_ISSUE_KIND = "period_issue"


class StatementStatus(StrEnum):
    """Where a statement's PDF stands."""

    PENDING = "pending"    # issued; the render job has not stored its PDF yet
    RENDERED = "rendered"  # the PDF and its sha256 are stored; the email may go
    FAILED = "failed"      # the render failed; "Render again" makes it pending again


class StatementRun(db.Model):
    """One request to issue statements: a period's run (at most one per period) or an ad-hoc one."""

    __tablename__ = "statement_runs"
    __table_args__ = (
        enum_check("kind", StatementKind, name="kind_known"),
        # Two dispatchers (or two clicks) can never start two runs for one period.
        UniqueConstraint("period_id", name="uq_statement_runs_period_id"),
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        # An API client's Idempotency-Key names one run of its user (a retry gets that run back).
        UniqueConstraint("requested_by_id", "idempotency_key", name="uq_statement_runs_requester_key"),
        # The hourly limit counts a requester's recent runs.
        Index("ix_statement_runs_requester_created", "requested_by_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    period_id: Mapped[int | None] = mapped_column(ForeignKey("periods.id"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    message: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())

    statements: Mapped[list[Statement]] = relationship(back_populates="run", order_by="Statement.number")
    requested_by = relationship("User")


class Statement(db.Model):
    """An issued statement: immutable once made (number, figures snapshot, PDF bytes and sha256)."""

    __tablename__ = "statements"
    __table_args__ = (
        enum_check("kind", StatementKind, name="kind_known"),
        enum_check("status", StatementStatus, name="status_known"),
        # A period statement is issued once per agent (ad-hoc ones have no period: NULLs differ).
        UniqueConstraint("agent_id", "period_id", name="uq_statements_agent_period"),
        Index("ix_statements_agent_start", "agent_id", "start_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Gap-free: taken from the settings row's counter inside the issuing transaction.
    number: Mapped[int] = mapped_column(unique=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("statement_runs.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(8))
    period_id: Mapped[int | None] = mapped_column(ForeignKey("periods.id"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    # Every figure and line as issued (JSON, money as integer cents): the statement never changes
    # even if the ledger later gets adjustments.
    snapshot: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=StatementStatus.PENDING)
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    render_error: Mapped[str | None] = mapped_column(Text)
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())

    run: Mapped[StatementRun] = relationship(back_populates="statements")
    agent = relationship("User")
    period = relationship("Period")
