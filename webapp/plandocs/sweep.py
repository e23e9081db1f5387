"""The plan documents' periodic sweep, read from the database rather than from Redis: documents not
issued yet, and PDFs (a document's, an acknowledgement's) still pending or failed, whose render job
Redis may have lost. The job (jobs/plandocs.sweep) issues in committed batches, then calls
`enqueue_renders`; a render job is a no-op once its PDF is stored, so queueing one twice is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from webapp.extensions import db, redis_client
from webapp.plandocs.models import PlanAcknowledgement, PlanDocument, RenderStatus
from webapp.tasks import enqueue

# PDFs queued per tick at most: the rest are found again by the next tick.
RENDER_LIMIT = 200
UNRENDERED = (RenderStatus.PENDING, RenderStatus.FAILED)


@dataclass
class RenderSweep:
    """What one sweep queued."""

    documents: int = 0
    acknowledgements: int = 0
    enqueue_errors: int = 0

    def as_dict(self) -> dict:
        """A plain dict (the job's result)."""
        return {"documents": self.documents, "acknowledgements": self.acknowledgements,
                "enqueue_errors": self.enqueue_errors}


def unrendered_ids(model, limit: int = RENDER_LIMIT) -> list[int]:
    """Ids of `model` rows (documents or acknowledgements) whose PDF is pending or failed, oldest first."""
    return list(db.session.scalars(select(model.id).where(model.status.in_(UNRENDERED))
                                   .order_by(model.id).limit(limit)))


def enqueue_renders(limit: int = RENDER_LIMIT) -> RenderSweep:
    """Queue a render job for each document and acknowledgement still without its PDF."""
    summary = RenderSweep()
    work = [("jobs.plandocs.render_document", i, "documents") for i in unrendered_ids(PlanDocument, limit)]
    work += [("jobs.plandocs.render_acknowledgement", i, "acknowledgements")
             for i in unrendered_ids(PlanAcknowledgement, limit)]
    db.session.rollback()  # read-only: end the transaction before talking to Redis
    connection = redis_client()
    for index, (func_name, object_id, counter) in enumerate(work):
        try:
            enqueue("default", func_name, object_id, connection=connection)
        except Exception as exc:  # Redis down: the rows are still pending for the next tick
            summary.enqueue_errors += len(work) - index
            current_app.logger.warning("plan document sweep could not enqueue %s(%s) and %s more: %s", func_name,
                                       object_id, len(work) - index - 1, type(exc).__name__)
            break
        setattr(summary, counter, getattr(summary, counter) + 1)
    return summary
