"""API v1 disputes (as the pages have them): agents dispute their own ledger lines, or ask about
their own plan documents; both sides add to the thread; a manager of the agent accepts (posting a
correction) or rejects a line's dispute, and answers a plan question. Every rule and email is the
disputes service's."""

from __future__ import annotations

from webapp.api.convert import money
from webapp.api.dispute_schemas import (AcceptIn, AnswerIn, DisputeDetail, DisputeIn, DisputeOut, DisputePage,
                                        DisputeQuery, MessageIn, MessageOut, QuestionIn, RejectIn)
from webapp.api.framework import ApiError, decode_cursor, keyset_page, operation
from webapp.auth import access
from webapp.auth.models import Role
from webapp.disputes import services as disputes
from webapp.disputes.models import Dispute
from webapp.extensions import db
from webapp.money import MoneyError, parse_signed_money, to_cents

MANAGERS = (Role.MANAGER, Role.ADMIN)


def _fields(dispute: Dispute, messages: int) -> dict:
    """A dispute's fields as the API shows them."""
    return {"id": dispute.id, "agent_id": dispute.agent_id, "status": dispute.status, "entry_id": dispute.entry_id,
            "entry_kind": dispute.entry_kind, "entry_amount": money(dispute.entry_amount_cents),
            "sale_id": dispute.sale_id, "plan_document_id": dispute.plan_document_id,
            "opened_at": dispute.opened_at, "resolved_at": dispute.resolved_at,
            "resolved_by_id": dispute.resolved_by_id, "resolution_note": dispute.resolution_note,
            "adjustment_entry_id": dispute.adjustment_entry_id, "messages": messages}


def _detail(dispute: Dispute) -> DisputeDetail:
    """A dispute with its thread, read after the request's writes."""
    db.session.flush()
    db.session.refresh(dispute)
    thread = sorted(dispute.messages, key=lambda m: (m.created_at, m.id))
    return DisputeDetail(**_fields(dispute, len(thread)),
                         thread=[MessageOut(id=m.id, author_id=m.author_id, body=m.body, created_at=m.created_at)
                                 for m in thread])


@operation("GET", "/disputes", summary="Disputes (agents: their own; managers: their team's; admins: all)",
           tag="Disputes", area="ledger", query=DisputeQuery, responses={200: DisputePage})
def list_disputes(user, query: DisputeQuery):
    """Disputes and plan questions the user may see, newest first, paginated."""
    found = disputes.visible_disputes(user, query.status, before_id=decode_cursor(query.cursor),
                                      limit=query.limit + 1)
    page, after = keyset_page(found, query.limit)
    counts = disputes.message_counts([d.id for d in page])
    return DisputePage(items=[DisputeOut(**_fields(d, counts.get(d.id, 0))) for d in page], next_cursor=after)


@operation("GET", "/disputes/{dispute_id}", summary="One dispute, with its thread", tag="Disputes",
           area="ledger", responses={200: DisputeDetail})
def get_dispute(user, dispute_id: int):
    """A dispute the user may see (another agent's or team's: 404)."""
    return _detail(access.visible_dispute(user, dispute_id))


@operation("POST", "/disputes", summary="Dispute one of your ledger lines", tag="Disputes", area="ledger",
           body=DisputeIn, responses={201: DisputeDetail}, roles=(Role.AGENT,), write=True, errors=(404, 409))
def open_dispute(user, body: DisputeIn):
    """An agent objects to one of their own lines (another's line: 404; one open dispute per line:
    409); their manager is emailed."""
    return _detail(disputes.open_dispute(user, body.entry_id, body.comment)), 201


@operation("POST", "/disputes/{dispute_id}/messages", summary="Add to an open dispute's thread", tag="Disputes",
           area="ledger", body=MessageIn, responses={201: DisputeDetail}, write=True, errors=(409,))
def add_message(user, dispute_id: int, body: MessageIn):
    """A message from the agent or a manager of theirs; the other side is emailed (resolved: 409)."""
    dispute = access.visible_dispute(user, dispute_id)
    disputes.reply(user, dispute, body.body)
    return _detail(dispute), 201


@operation("POST", "/disputes/{dispute_id}/accept", summary="Accept a dispute, posting a correction",
           tag="Disputes", area="ledger", body=AcceptIn, responses={200: DisputeDetail}, roles=MANAGERS,
           write=True, errors=(409,))
def accept_dispute(user, dispute_id: int, body: AcceptIn):
    """Post the signed correction in today's period and close the dispute (resolved already: 409)."""
    try:
        amount_cents = to_cents(parse_signed_money(body.amount))
    except MoneyError as exc:
        raise ApiError(422, str(exc), {"amount": str(exc)}) from exc
    return _detail(disputes.accept(user, access.visible_dispute(user, dispute_id), amount_cents, body.note))


@operation("POST", "/disputes/{dispute_id}/reject", summary="Reject a dispute, with a reason", tag="Disputes",
           area="ledger", body=RejectIn, responses={200: DisputeDetail}, roles=MANAGERS, write=True,
           errors=(409,))
def reject_dispute(user, dispute_id: int, body: RejectIn):
    """Close the dispute with a reason; the ledger is unchanged (resolved already: 409)."""
    return _detail(disputes.reject(user, access.visible_dispute(user, dispute_id), body.reason))


@operation("POST", "/plan-documents/{document_id}/questions", summary="Ask your manager about one of your plan "
           "documents", tag="Disputes", area="ledger", body=QuestionIn, responses={201: DisputeDetail},
           roles=(Role.AGENT,), write=True, errors=(409,))
def ask_question(user, document_id: int, body: QuestionIn):
    """A question about the agent's own document still waiting for them (another's: 404; one open
    question per document, not about an acknowledged or replaced one: 409); the manager is emailed."""
    return _detail(disputes.open_plan_question(user, document_id, body.comment)), 201


@operation("POST", "/disputes/{dispute_id}/answer", summary="Answer a plan question", tag="Disputes",
           area="ledger", body=AnswerIn, responses={200: DisputeDetail}, roles=MANAGERS, write=True,
           errors=(409,))
def answer_question(user, dispute_id: int, body: AnswerIn):
    """The answer closes the question and the agent is emailed (a line's dispute, or one already
    closed: 409)."""
    return _detail(disputes.answer(user, access.visible_dispute(user, dispute_id), body.answer))
