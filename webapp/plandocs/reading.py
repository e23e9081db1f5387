"""Reading plan documents as a user may see them (agents their own, managers their team's, admins
all): a keyset-paged list with each document's state, one document, and its stored PDFs.

The same rule as everywhere (access.agent_scope): a document of an agent the user may not see does
not exist for them (404). Reads never change a document; the caller records what was read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload, undefer

from webapp.auth.access import agent_scope
from webapp.auth.models import User
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.plandocs.models import DocumentState, PlanAcknowledgement, PlanDocument
from webapp.plandocs.services import state_expression

STATES = tuple(state.value for state in DocumentState)


@dataclass(frozen=True)
class DocumentRow:
    """A document with its derived state and when it was acknowledged (None: not yet)."""

    document: PlanDocument
    state: str
    acknowledged_at: datetime | None


def documents_before(user: User, *, agent_id: int | None = None, state: str | None = None,
                     before_number: int | None = None, limit: int = 50) -> list[DocumentRow]:
    """The documents the user may see, newest (highest number) first, filtered by agent and state.

    Only numbers below `before_number`: a keyset page, stable while documents are issued."""
    # A subquery, not a join: state_expression correlates to plan_acknowledgements itself.
    acknowledged_at = (select(PlanAcknowledgement.acknowledged_at)
                       .where(PlanAcknowledgement.document_id == PlanDocument.id).scalar_subquery())
    query = (select(PlanDocument, state_expression().label("state"), acknowledged_at)
             .where(agent_scope(user, PlanDocument.agent_id)))
    if agent_id is not None:
        query = query.where(PlanDocument.agent_id == agent_id)
    if state in STATES:
        query = query.where(state_expression() == state)
    if before_number is not None:
        query = query.where(PlanDocument.number < before_number)
    rows = db.session.execute(query.order_by(PlanDocument.number.desc()).limit(limit)).all()
    return [DocumentRow(document, row_state, acknowledged) for document, row_state, acknowledged in rows]


def visible_document(user: User, document_id: int) -> PlanDocument:
    """A document the user may see, with its stored HTML and acknowledgement, else NotFound."""
    document = db.session.scalar(
        select(PlanDocument).where(PlanDocument.id == document_id, agent_scope(user, PlanDocument.agent_id))
        .options(undefer(PlanDocument.body_html), joinedload(PlanDocument.acknowledgement)))
    if document is None:
        raise NotFound()
    return document


def _checked(data: bytes | None, sha256: str | None, message: str) -> bytes:
    """Stored PDF bytes that match their recorded sha256, else NotFound with `message`."""
    if data is None or sha256 is None or hashlib.sha256(data).hexdigest() != sha256:
        raise NotFound(message)
    return data


def document_pdf(document: PlanDocument) -> bytes:
    """The issued PDF, checked against its sha256 (NotFound while the worker has not rendered it)."""
    return _checked(document.pdf, document.pdf_sha256, "This document's PDF is not ready yet.")


def acknowledgement_pdf(document: PlanDocument) -> tuple[PlanAcknowledgement, bytes]:
    """The acknowledgement and its acknowledged PDF (NotFound when unacknowledged or not rendered yet)."""
    acknowledgement = document.acknowledgement
    if acknowledgement is None:
        raise NotFound("This document has not been acknowledged.")
    return acknowledgement, _checked(acknowledgement.pdf, acknowledgement.pdf_sha256,
                                     "The acknowledged PDF is not ready yet.")
