"""API v1 plan documents: list, read (with the exact HTML issued and the acknowledgement), and the
issued and acknowledged PDFs.

Who sees which document is webapp.plandocs.reading's rule (agents their own, managers their
team's, admins all; others: 404). Every read of one document and every download is audited.
"""

from __future__ import annotations

from typing import Any

from flask import request

from webapp.api.convert import money
from webapp.api.framework import ApiError, decode_cursor, encode_cursor, operation
from webapp.api.plandoc_schemas import (AcknowledgementIn, AcknowledgementOut, NamedRef, PlanDocumentDetail,
                                        PlanDocumentOut, PlanDocumentPage, PlanDocumentQuery)
from webapp.audit.services import record
from webapp.auth import access
from webapp.errors import NotFound
from webapp.auth.models import Role
from webapp.plandocs import acknowledgements, queries, reading
from webapp.plandocs.models import PlanAcknowledgement, PlanDocument, RenderStatus
from webapp.plandocs.services import state_of
from webapp.web import stored_pdf

CENTS = "_cents"


def _pdf_ready(row: PlanDocument | PlanAcknowledgement) -> bool:
    """The row's PDF is stored with its hash."""
    return row.status == RenderStatus.RENDERED and row.pdf_sha256 is not None


def _fields(document: PlanDocument, state: str, acknowledged_at) -> dict:
    """The fields every document shows (names as issued, from its content)."""
    content = document.content
    return {"id": document.id, "number": document.number,
            "agent": NamedRef(id=document.agent_id, name=content["agent"]["name"]),
            "plan": NamedRef(id=document.plan_id, name=content["plan"]["name"]),
            "version": content["plan"]["version"], "revision": document.revision,
            "effective_from": document.effective_from, "effective_to": document.effective_to,
            "issued_at": document.created_at, "state": state, "sha256": document.sha256,
            "pdf_ready": _pdf_ready(document), "acknowledged_at": acknowledged_at}


def api_content(value: Any) -> Any:
    """Stored content with the API's money convention: each `x_cents` integer becomes `x`, "12.50"."""
    if isinstance(value, dict):
        return {(key[: -len(CENTS)] if key.endswith(CENTS) else key):
                (money(item) if key.endswith(CENTS) else api_content(item)) for key, item in value.items()}
    if isinstance(value, list):
        return [api_content(item) for item in value]
    return value


def _acknowledgement(acknowledgement: PlanAcknowledgement | None) -> AcknowledgementOut | None:
    """The acknowledgement as the API shows it (None: not acknowledged)."""
    if acknowledgement is None:
        return None
    return AcknowledgementOut(typed_name=acknowledgement.typed_name,
                              acknowledged_at=acknowledgement.acknowledged_at,
                              document_number=acknowledgement.document_number,
                              document_sha256=acknowledgement.document_sha256,
                              ip_address=acknowledgement.ip_address, user_agent=acknowledgement.user_agent,
                              pdf_ready=_pdf_ready(acknowledgement))


@operation("GET", "/plan-documents",
           summary="Plan documents (agents: their own; managers: their team's; admins: all), newest first",
           tag="Plan documents", area="ledger", query=PlanDocumentQuery,
           responses={200: PlanDocumentPage}, errors=(404,))
def list_plan_documents(user, query: PlanDocumentQuery):
    """Documents the user may see, filtered by agent and state, paginated by number."""
    if query.agent_id is not None:
        access.own_or_managed_agent(user, query.agent_id)  # another team's agent: 404
    rows = reading.documents_before(user, agent_id=query.agent_id, state=query.state,
                                    before_number=decode_cursor(query.cursor), limit=query.limit + 1)
    page = rows[: query.limit]
    more = len(rows) > query.limit
    return PlanDocumentPage(items=[PlanDocumentOut(**_fields(row.document, row.state, row.acknowledged_at))
                                   for row in page],
                            next_cursor=encode_cursor(page[-1].document.number) if more else None)


@operation("GET", "/plan-documents/{document_id}",
           summary="One plan document: its content, the exact HTML issued (sha256 is its hash) and its "
                   "acknowledgement", tag="Plan documents", area="ledger", responses={200: PlanDocumentDetail})
def get_plan_document(user, document_id: int):
    """A document the user may see (others': 404); the read is audited."""
    document = reading.visible_document(user, document_id)
    record(user, "plan_document.view", document, None, {"via": "api"})
    return _detail(document, document.acknowledgement)


def _detail(document: PlanDocument, acknowledgement: PlanAcknowledgement | None) -> PlanDocumentDetail:
    """A document with its content, exact HTML and acknowledgement."""
    return PlanDocumentDetail(
        **_fields(document, state_of(document), acknowledgement.acknowledged_at if acknowledgement else None),
        content=api_content(document.content), html=document.body_html,
        acknowledgement=_acknowledgement(acknowledgement))


@operation("POST", "/plan-documents/{document_id}/acknowledgement",
           summary="Acknowledge one of your plan documents (your name as on your account)",
           tag="Plan documents", area="ledger", body=AcknowledgementIn, responses={201: PlanDocumentDetail},
           roles=(Role.AGENT,), write=True, errors=(409,))
def acknowledge_document(user, document_id: int, body: AcknowledgementIn):
    """The agent's own pending or questioned document (another's: 404; acknowledged or replaced
    already: 409); the acknowledged PDF is rendered after the commit."""
    document = queries.own_document(user, document_id)
    acknowledgement = acknowledgements.acknowledge(user, document, body.typed_name, request.remote_addr,
                                                   request.headers.get("User-Agent"))
    return _detail(document, acknowledgement), 201



@operation("GET", "/plan-documents/{document_id}/pdf",
           summary="The issued document's PDF, exactly as stored (404 until it is rendered)",
           tag="Plan documents", area="ledger",
           responses={200: None}, binary="application/pdf")
def plan_document_pdf(user, document_id: int):
    """The issued PDF with its sha256; the download is audited."""
    document = reading.visible_document(user, document_id)
    try:
        data = reading.document_pdf(document)
    except NotFound as exc:
        raise ApiError(404, exc.message) from exc  # the document is theirs: say why there is no file
    record(user, "plan_document.download", document, None,
           {"via": "api", "pdf": "issued", "pdf_sha256": document.pdf_sha256})
    return stored_pdf(data, document.pdf_sha256, f"plan-document-{document.number}.pdf")


@operation("GET", "/plan-documents/{document_id}/acknowledgement.pdf",
           summary="The acknowledged PDF: the document with the acknowledgement block (404 when not "
                   "acknowledged, or until it is rendered)", tag="Plan documents", area="ledger",
           responses={200: None},
           binary="application/pdf")
def plan_acknowledgement_pdf(user, document_id: int):
    """The acknowledged PDF with its sha256; the download is audited."""
    document = reading.visible_document(user, document_id)
    try:
        acknowledgement, data = reading.acknowledgement_pdf(document)
    except NotFound as exc:
        raise ApiError(404, exc.message) from exc
    record(user, "plan_document.download", document, None,
           {"via": "api", "pdf": "acknowledged", "pdf_sha256": acknowledgement.pdf_sha256})
    return stored_pdf(data, acknowledgement.pdf_sha256,
                         f"plan-document-{document.number}-acknowledged.pdf")
