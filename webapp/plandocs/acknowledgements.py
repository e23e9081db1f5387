"""The agent's side of a plan document: acknowledging it, and the audited views and downloads.

An acknowledgement records what the agent saw (the document's number and SHA-256, copied, so the
record stands on its own), the name they typed, when, and from where. It is written once per
document and never changed; its PDF (the document with an acknowledgement block) is rendered by a
worker job after the commit. Services flush; the caller commits.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp import clock
from webapp.audit.services import record
from webapp.auth.models import User
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.formtools import check_plain_text
from webapp.plandocs import reading
from webapp.plandocs.models import DocumentState, PlanAcknowledgement, PlanDocument, RenderStatus
from webapp.plandocs.services import state_of
from webapp.tasks import enqueue_after_commit

USER_AGENT_LENGTH = 512
NAME_LENGTH = 200
ACKNOWLEDGEABLE = (DocumentState.PENDING, DocumentState.QUESTIONED)


def _normal(name: str) -> str:
    """A name compared loosely: case and runs of spaces do not matter."""
    return " ".join(name.split()).casefold()


def check_typed_name(agent: User, typed_name: str | None) -> str:
    """The typed name (trimmed) if it is the account's name (ignoring case and repeated spaces),
    else a ServiceError beside the `typed_name` field."""
    typed = " ".join((typed_name or "").split())
    if not typed:
        raise ServiceError(f"Type your full name to acknowledge: {agent.name}", "typed_name")
    check_plain_text(typed, "typed_name")
    if len(typed) > NAME_LENGTH or _normal(typed) != _normal(agent.name):
        raise ServiceError(f"Type your full name as on your account: {agent.name}", "typed_name")
    return typed


def _refusal(document: PlanDocument, state: DocumentState) -> ServiceError:
    """Why a document in `state` cannot be acknowledged (409: nothing typed is wrong)."""
    if state == DocumentState.ACKNOWLEDGED:
        return ServiceError(f"You have already acknowledged plan document No. {document.number}.", status=409)
    return ServiceError(f"Plan document No. {document.number} was replaced by a newer revision; "
                        "read and acknowledge that one instead (see Plan documents).", status=409)


def acknowledge(agent: User, document: PlanDocument, typed_name: str | None, ip: str | None,
                user_agent: str | None) -> PlanAcknowledgement:
    """Record the agent's acknowledgement of their pending (or questioned) document; its PDF is
    rendered after the commit. A second submission at the same moment gets the first's record."""
    if document.agent_id != agent.id:
        raise NotFound()
    typed = check_typed_name(agent, typed_name)
    # The row lock makes two submissions (or a supersede) wait for each other: the second sees the first.
    db.session.execute(select(PlanDocument.id).where(PlanDocument.id == document.id).with_for_update())
    state = state_of(document)
    if state not in ACKNOWLEDGEABLE:
        raise _refusal(document, state)
    acknowledgement = PlanAcknowledgement(
        document_id=document.id, agent_id=agent.id, document_number=document.number,
        document_sha256=document.sha256, typed_name=typed, acknowledged_at=clock.now_utc(),
        ip_address=(ip or None) and ip[:45], user_agent=(user_agent or None) and user_agent[:USER_AGENT_LENGTH],
        status=RenderStatus.PENDING)
    try:
        # The unique document_id lets only one in; the other submission gets that one.
        with db.session.begin_nested():
            db.session.add(acknowledgement)
            db.session.flush()
    except IntegrityError:
        existing = db.session.scalar(select(PlanAcknowledgement).where(PlanAcknowledgement.document_id == document.id))
        if existing is None:
            raise
        return existing
    record(agent, "plan_document.acknowledge", document, None,
           {"number": document.number, "sha256": document.sha256, "acknowledgement_id": acknowledgement.id,
            "typed_name": typed, "ip_address": acknowledgement.ip_address})
    enqueue_after_commit("default", "jobs.plandocs.render_acknowledgement", acknowledgement.id)
    return acknowledgement


def record_view(user: User, document: PlanDocument) -> None:
    """Audit that `user` opened the document's page (the agent's own reading, or a manager's check)."""
    record(user, "plan_document.view", document, None, {"number": document.number})


def document_pdf(user: User, document: PlanDocument) -> bytes:
    """The issued PDF's bytes (NotFound until rendered); the download is audited."""
    data = reading.document_pdf(document)
    record(user, "plan_document.download", document, None,
           {"number": document.number, "pdf": "issued", "pdf_sha256": document.pdf_sha256})
    return data


def acknowledged_pdf(user: User, document: PlanDocument) -> tuple[bytes, PlanAcknowledgement]:
    """The acknowledged PDF's bytes and its acknowledgement (NotFound until rendered); audited."""
    acknowledgement, data = reading.acknowledgement_pdf(document)
    record(user, "plan_document.download", document, None,
           {"number": document.number, "pdf": "acknowledged", "pdf_sha256": acknowledgement.pdf_sha256})
    return data, acknowledgement
