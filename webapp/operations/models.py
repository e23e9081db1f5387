"""The background_operations table: one heavy operation, its items, progress, errors and result."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import UTCDateTime, db


class OperationStatus:
    """Where an operation stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class BackgroundOperation(db.Model):
    """An operation too large for a request (a plan change's recompute, a period's statements, a
    bulk decision), worked through by a job in batches.

    `params["items"]` holds the ids to work through, fixed when it starts, so a retry works on
    exactly what the request saw; `done` counts the items whose batch committed (in the same
    transaction as their work), so a retried step resumes there and never does one twice.
    """

    __tablename__ = "background_operations"
    __table_args__ = (CheckConstraint("done >= 0 AND done <= total", name="done_within_total"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=OperationStatus.QUEUED, index=True)
    params: Mapped[dict] = mapped_column(JSON)
    total: Mapped[int]
    done: Mapped[int] = mapped_column(default=0)
    # Per-item refusals (a sale decided meanwhile): the operation goes on, each is listed.
    errors: Mapped[list] = mapped_column(JSON, default=list)
    # Why a step failed (the operation stops there until retried).
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    # Last queued or progress: a queued or running operation unchanged for long lost its job.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    created_by = relationship("User")

    @property
    def items(self) -> list:
        """The ids the operation works through, in order."""
        return self.params.get("items", [])

    @property
    def finished(self) -> bool:
        """True once done or failed (the page stops polling)."""
        return self.status in (OperationStatus.DONE, OperationStatus.FAILED)

    @property
    def percent(self) -> int:
        """Whole percent of the items done (100 for an empty operation)."""
        return 100 if not self.total else self.done * 100 // self.total
