"""Read helpers for the plan document pages: the agent's list, and one document as a user may see it.

Visibility is the access policy's (webapp/auth/access.py, agent_scope): the agent sees their own
documents, a manager their team's, an admin everyone's; anything else is NotFound (404).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, select
from sqlalchemy.orm import joinedload, undefer

from webapp.auth import access
from webapp.auth.models import User
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.paging import Paged, Window, paginate
from webapp.plandocs.models import DocumentState, PlanAcknowledgement, PlanDocument
from webapp.plandocs.services import state_expression

PAGE_SIZE = 25
# Documents that wait for the agent come first, then questioned ones, then the settled ones.
_STATE_ORDER = {DocumentState.PENDING.value: 0, DocumentState.QUESTIONED.value: 1,
                DocumentState.ACKNOWLEDGED.value: 2, DocumentState.SUPERSEDED.value: 3}


@dataclass(frozen=True)
class DocumentRow:
    """A document with its state (derived by the database, see services.state_expression)."""

    document: PlanDocument
    state: DocumentState


@dataclass(frozen=True)
class DocumentPage(Paged):
    """One page of an agent's documents, waiting ones first."""

    rows: list[DocumentRow]
    window: Window


def agent_documents(agent: User, page: int = 1) -> DocumentPage:
    """The agent's documents: waiting first, then by newest issue; page `page` of them."""
    state = state_expression().label("state")
    window, query = paginate(select(PlanDocument, state).where(PlanDocument.agent_id == agent.id), page, PAGE_SIZE)
    rank = case(_STATE_ORDER, value=state, else_=4)
    rows = db.session.execute(query.options(joinedload(PlanDocument.acknowledgement))
                              .order_by(rank, PlanDocument.created_at.desc(), PlanDocument.id.desc())).all()
    return DocumentPage([DocumentRow(document, DocumentState(value)) for document, value in rows], window)


def visible_document(user: User, document_id: int, *, with_body: bool = False) -> DocumentRow:
    """A document the user may see (own, team's, any for admins) with its state, else NotFound.

    `with_body` loads the stored HTML in the same query (the document page shows it)."""
    query = (select(PlanDocument, state_expression().label("state"))
             .where(PlanDocument.id == document_id, access.agent_scope(user, PlanDocument.agent_id))
             .options(joinedload(PlanDocument.agent), joinedload(PlanDocument.acknowledgement)))
    if with_body:
        query = query.options(undefer(PlanDocument.body_html))
    found = db.session.execute(query).first()
    if found is None:
        raise NotFound()
    return DocumentRow(found[0], DocumentState(found[1]))


def own_document(agent: User, document_id: int) -> PlanDocument:
    """One of the agent's own documents (acting on it), else NotFound: nobody acts for another agent."""
    document = db.session.scalar(select(PlanDocument).where(PlanDocument.id == document_id,
                                                            PlanDocument.agent_id == agent.id))
    if document is None or not access.is_agent(agent):
        raise NotFound()
    return document


def acknowledgement_of(document: PlanDocument) -> PlanAcknowledgement | None:
    """The document's acknowledgement, read afresh (None: not acknowledged)."""
    return db.session.scalar(select(PlanAcknowledgement).where(PlanAcknowledgement.document_id == document.id))
