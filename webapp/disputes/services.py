"""Disputes: an agent objects to a ledger line; a manager of their team replies and resolves it.
An agent may instead ask a question about one of their plan documents (a dispute with
`plan_document_id` and no line): the manager answers it, which closes it (status answered).

Accepting posts a manual ledger entry (kind "manual", webapp.commissions.adjustments) in today's
open period, under the agent lock; the ledger never recomputes manual entries, so the correction
stays as the manager set it.
Every event queues an email to the other side (sent after the commit). Services flush; the
route commits once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app, render_template
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from webapp import clock
from webapp.audit.services import record
from webapp.auth import access
from webapp.auth.models import User
from webapp.commissions.adjustments import add_manual_adjustment
from webapp.commissions.ledger import lock_agent
from webapp.disputes.models import Dispute, DisputeMessage, DisputeStatus
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.formtools import check_plain_text
from webapp.mail.services import queue_email
from webapp.plandocs.models import PlanDocument

MAX_TEXT = 2000
# An accepted dispute's note becomes the adjustment's reason after "Dispute #N accepted: ".
MAX_NOTE = 1900
STATUS_FILTERS = (*DisputeStatus, "all")


def _snapshot(dispute: Dispute) -> dict:
    """The audited fields of a dispute."""
    return {"entry_id": dispute.entry_id, "plan_document_id": dispute.plan_document_id,
            "agent_id": dispute.agent_id, "sale_id": dispute.sale_id,
            "entry_amount_cents": dispute.entry_amount_cents, "status": dispute.status,
            "resolved_by_id": dispute.resolved_by_id, "adjustment_entry_id": dispute.adjustment_entry_id,
            "resolution_note": dispute.resolution_note}


def _noun(dispute: Dispute) -> str:
    """What the agent raised: "question" (about a plan document) or "dispute" (of a line)."""
    return "question" if dispute.is_plan_question else "dispute"


def _text(value: str | None, field: str, empty: str) -> str:
    """Required free text: stripped, not empty, at most MAX_TEXT characters."""
    value = check_plain_text((value or "").strip(), field, multiline=True)
    if not value:
        raise ServiceError(empty, field)
    if len(value) > MAX_TEXT:
        raise ServiceError(f"Keep it under {MAX_TEXT} characters.", field)
    return value


# ---- Lookups ---------------------------------------------------------------------------------


def open_dispute_for(entry_id: int) -> Dispute | None:
    """The open dispute of a ledger line, if any."""
    return db.session.scalar(select(Dispute).where(Dispute.entry_id == entry_id,
                                                   Dispute.status == DisputeStatus.OPEN))


def disputes_by_entry(user: User, entry_ids: list[int]) -> dict[int, Dispute]:
    """The latest dispute the user may see for each of these lines (open ones win)."""
    if not entry_ids:
        return {}
    query = (select(Dispute).where(Dispute.entry_id.in_(entry_ids), access.agent_scope(user, Dispute.agent_id))
             .order_by(Dispute.id))
    found: dict[int, Dispute] = {}
    for dispute in db.session.scalars(query):
        current = found.get(dispute.entry_id)
        if current is None or not current.is_open:
            found[dispute.entry_id] = dispute
    return found


# ---- Lists ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisputeRow:
    """A dispute as a list shows it: the record, how many messages, and the last activity."""

    dispute: Dispute
    messages: int
    last_activity: datetime


def _rows(query) -> list[DisputeRow]:
    """Run a dispute query, open ones first (oldest waiting first), then newest resolved first."""
    # A plan question has no period or sale (NULL: nothing joined); a line dispute has no document.
    query = query.options(joinedload(Dispute.agent), joinedload(Dispute.period), joinedload(Dispute.sale),
                          joinedload(Dispute.plan_document)).order_by(
        case((Dispute.status == DisputeStatus.OPEN, 0), else_=1),
        case((Dispute.status == DisputeStatus.OPEN, Dispute.id), else_=-Dispute.id))
    disputes = list(db.session.scalars(query))
    stats = {row.dispute_id: row for row in db.session.execute(
        select(DisputeMessage.dispute_id, func.count().label("n"), func.max(DisputeMessage.created_at).label("last"))
        .where(DisputeMessage.dispute_id.in_([d.id for d in disputes]))
        .group_by(DisputeMessage.dispute_id))} if disputes else {}
    rows = []
    for dispute in disputes:
        stat = stats.get(dispute.id)
        times = [t for t in (stat and stat.last, dispute.resolved_at, dispute.opened_at) if t is not None]
        rows.append(DisputeRow(dispute=dispute, messages=stat.n if stat else 0, last_activity=max(times)))
    return rows


def _team_query(user: User):
    """Disputes of the agents the user manages (admins: all)."""
    return select(Dispute).where(access.agent_scope(user, Dispute.agent_id))


def team_disputes(user: User, status: str = DisputeStatus.OPEN) -> list[DisputeRow]:
    """The team's disputes with this status ("all" for every one), open ones first."""
    query = _team_query(user)
    if status in set(DisputeStatus):
        query = query.where(Dispute.status == status)
    return _rows(query)


def team_counts(user: User) -> dict[str, int]:
    """How many of the team's disputes (and plan questions) have each status, and in all."""
    query = (select(Dispute.status, func.count()).where(access.agent_scope(user, Dispute.agent_id))
             .group_by(Dispute.status))
    counts = {status: 0 for status in DisputeStatus}
    counts.update({status: int(n) for status, n in db.session.execute(query)})
    counts["all"] = sum(counts.values())
    return counts


def agent_disputes(agent: User) -> list[DisputeRow]:
    """The agent's own disputes and plan questions, open ones first."""
    return _rows(select(Dispute).where(Dispute.agent_id == agent.id))


def visible_disputes(user: User, status: str | None = None, *, before_id: int | None = None,
                     limit: int = 50) -> list[Dispute]:
    """Disputes and plan questions the user may see (agents their own, managers their team's,
    admins all), with this status if given, newest first; only ids below `before_id` (a keyset page)."""
    query = select(Dispute).where(access.agent_scope(user, Dispute.agent_id))
    if status is not None:
        query = query.where(Dispute.status == status)
    if before_id is not None:
        query = query.where(Dispute.id < before_id)
    return list(db.session.scalars(query.order_by(Dispute.id.desc()).limit(limit)))


def message_counts(dispute_ids: list[int]) -> dict[int, int]:
    """How many messages each of these disputes' threads holds."""
    if not dispute_ids:
        return {}
    return {dispute_id: int(n) for dispute_id, n in db.session.execute(
        select(DisputeMessage.dispute_id, func.count()).where(DisputeMessage.dispute_id.in_(dispute_ids))
        .group_by(DisputeMessage.dispute_id))}


# ---- Actions ----------------------------------------------------------------------------------


def open_dispute(agent: User, entry_id: int, comment: str) -> Dispute:
    """Dispute one of the agent's own ledger lines with a comment (one open dispute per line)."""
    entry = access.own_entry(agent, entry_id)
    comment = _text(comment, "comment", "Say what is wrong with this line.")
    if open_dispute_for(entry.id) is not None:
        raise ServiceError("This line already has an open dispute; add to its thread instead.", status=409)
    now = clock.now_utc()
    dispute = Dispute(entry_id=entry.id, agent_id=agent.id, sale_id=entry.sale_id, period_id=entry.period_id,
                      entry_kind=entry.kind, entry_amount_cents=entry.amount_cents, status=DisputeStatus.OPEN,
                      opened_at=now)
    try:
        # Two submissions at once: the partial unique index lets only one open dispute in.
        with db.session.begin_nested():
            db.session.add(dispute)
            db.session.flush()
    except IntegrityError:
        raise ServiceError("This line already has an open dispute; add to its thread instead.", status=409) from None
    message = DisputeMessage(dispute_id=dispute.id, author_id=agent.id, body=comment, created_at=now)
    db.session.add(message)
    db.session.flush()
    record(agent, "dispute.open", dispute, None, _snapshot(dispute))
    _notify_manager(dispute, "opened", message)
    return dispute


def reply(user: User, dispute: Dispute, body: str) -> DisputeMessage:
    """Add a message to an open dispute's thread; the other side is emailed."""
    access.visible_dispute(user, dispute.id)
    body = _text(body, "body", "Write a message.")
    if not dispute.is_open:
        raise ServiceError(f"This {_noun(dispute)} was {dispute.status}; its thread is closed.", status=409)
    message = DisputeMessage(dispute_id=dispute.id, author_id=user.id, body=body, created_at=clock.now_utc())
    db.session.add(message)
    db.session.flush()
    if access.is_manager_side(user):
        _notify_agent(dispute, "reply", message)
    else:
        _notify_manager(dispute, "reply", message)
    return message


def _lock_open(manager: User, dispute: Dispute, *, question: bool = False) -> dict:
    """Take the agent lock, re-read the dispute and check it is still open; returns its snapshot.

    `question`: the action is answering a plan question (else accepting or rejecting a line's
    dispute); the other kind is refused."""
    if not access.is_manager_side(manager):
        raise NotFound()
    access.visible_dispute(manager, dispute.id)
    if dispute.is_plan_question and not question:
        raise ServiceError("This is a question about a plan document: answer it (it cannot be accepted or "
                           "rejected).", status=409)
    if question and not dispute.is_plan_question:
        raise ServiceError("Only a question about a plan document is answered; accept or reject this "
                           "dispute instead.", status=409)
    lock_agent(dispute.agent_id)
    # Another manager may have resolved it a moment ago: read it again under the lock.
    db.session.refresh(dispute)
    if not dispute.is_open:
        who = f" by {dispute.resolved_by.name}" if dispute.resolved_by else ""
        raise ServiceError(f"This {_noun(dispute)} was already {dispute.status}{who}.", status=409)
    return _snapshot(dispute)


def accept(manager: User, dispute: Dispute, amount_cents: int, note: str | None = None) -> Dispute:
    """Accept a dispute: post a manual adjustment of `amount_cents` (signed) in today's open period."""
    before = _lock_open(manager, dispute)
    note = check_plain_text((note or "").strip(), "note", multiline=True) or None
    if note is not None and len(note) > MAX_NOTE:
        raise ServiceError(f"Keep the note under {MAX_NOTE} characters.", "note")
    # The reason is what the agent's statement shows beside the adjustment.
    entry = add_manual_adjustment(manager, dispute.agent_id, amount_cents,
                                  f"Dispute #{dispute.id} accepted" + (f": {note}" if note else ""),
                                  sale_id=dispute.sale_id)
    dispute.status, dispute.resolved_at, dispute.resolved_by_id = DisputeStatus.ACCEPTED, clock.now_utc(), manager.id
    dispute.adjustment_entry_id, dispute.resolution_note = entry.id, note
    db.session.flush()
    record(manager, "dispute.accept", dispute, before, _snapshot(dispute))
    _notify_agent(dispute, "accepted")
    return dispute


def reject(manager: User, dispute: Dispute, reason: str) -> Dispute:
    """Reject a dispute with a reason; the ledger is unchanged."""
    before = _lock_open(manager, dispute)
    reason = _text(reason, "reason", "Give a reason.")
    dispute.status, dispute.resolved_at, dispute.resolved_by_id = DisputeStatus.REJECTED, clock.now_utc(), manager.id
    dispute.resolution_note = reason
    db.session.flush()
    record(manager, "dispute.reject", dispute, before, _snapshot(dispute))
    _notify_agent(dispute, "rejected")
    return dispute


# ---- Plan questions ---------------------------------------------------------------------------

QUESTION_TAKEN = "You already asked about this document; add to that question's thread instead."


def own_plan_document(agent: User, document_id: int) -> PlanDocument:
    """One of the agent's own plan documents, else NotFound (another agent's document is 404)."""
    document = db.session.get(PlanDocument, document_id) if access.is_agent(agent) else None
    if document is None or document.agent_id != agent.id:
        raise NotFound()
    return document


def open_question_for(document_id: int) -> Dispute | None:
    """The open question about a plan document, if any."""
    return db.session.scalar(select(Dispute).where(Dispute.plan_document_id == document_id,
                                                   Dispute.status == DisputeStatus.OPEN))


def question_refusal(document: PlanDocument) -> str | None:
    """Why no question may be asked about this document now (acknowledged, replaced), or None."""
    if document.acknowledgement is not None:
        return "You already acknowledged this document; questions are for documents still waiting for you."
    if document.superseded_at is not None:
        return "A newer revision replaces this document; ask about that one instead."
    return None


def open_plan_question(agent: User, document_id: int, comment: str) -> Dispute:
    """Ask the agent's manager a question about one of the agent's own plan documents (one open
    question per document; not about an acknowledged or replaced one)."""
    document = own_plan_document(agent, document_id)
    comment = _text(comment, "comment", "Write your question.")
    if (refusal := question_refusal(document)) is not None:
        raise ServiceError(refusal, status=409)
    if open_question_for(document.id) is not None:
        raise ServiceError(QUESTION_TAKEN, status=409)
    now = clock.now_utc()
    dispute = Dispute(agent_id=agent.id, plan_document_id=document.id, status=DisputeStatus.OPEN, opened_at=now)
    try:
        # Two submissions at once: the partial unique index lets only one open question in.
        with db.session.begin_nested():
            db.session.add(dispute)
            db.session.flush()
    except IntegrityError:
        raise ServiceError(QUESTION_TAKEN, status=409) from None
    message = DisputeMessage(dispute_id=dispute.id, author_id=agent.id, body=comment, created_at=now)
    db.session.add(message)
    db.session.flush()
    record(agent, "plan_question.open", dispute, None, _snapshot(dispute))
    _notify_manager(dispute, "opened", message)
    return dispute


def answer(manager: User, dispute: Dispute, body: str) -> Dispute:
    """Answer an open plan question: the answer joins the thread and closes it (status answered)."""
    before = _lock_open(manager, dispute, question=True)
    body = _text(body, "answer", "Write your answer.")
    now = clock.now_utc()
    # The answer is also the thread's last message, so the conversation reads on its own.
    message = DisputeMessage(dispute_id=dispute.id, author_id=manager.id, body=body, created_at=now)
    db.session.add(message)
    dispute.status, dispute.resolved_at, dispute.resolved_by_id = DisputeStatus.ANSWERED, now, manager.id
    dispute.resolution_note = body
    db.session.flush()
    record(manager, "plan_question.answer", dispute, before, _snapshot(dispute))
    _notify_agent(dispute, "answered", message)
    return dispute


# ---- Emails -----------------------------------------------------------------------------------

SUBJECTS = {
    ("manager", "opened"): "{agent} disputed a commission line",
    ("manager", "reply"): "{agent} replied on dispute #{id}",
    ("agent", "reply"): "{author} replied on your dispute #{id}",
    ("agent", "accepted"): "Your dispute #{id} was accepted",
    ("agent", "rejected"): "Your dispute #{id} was rejected",
}
QUESTION_SUBJECTS = {
    ("manager", "opened"): "{agent} asked about plan document No. {number}",
    ("manager", "reply"): "{agent} replied on question #{id} (plan document No. {number})",
    ("agent", "reply"): "{author} replied on your question about plan document No. {number}",
    ("agent", "answered"): "Your question about plan document No. {number} was answered",
}


def _queue(dispute: Dispute, to: User, side: str, event: str, message: DisputeMessage | None) -> None:
    """Queue one email about a dispute event (keyed, so a retried request queues it once)."""
    base_url = current_app.config.get("BASE_URL") or ""
    path = f"/manage/disputes/{dispute.id}" if side == "manager" else f"/disputes/{dispute.id}"
    context = {"dispute": dispute, "recipient": to, "side": side, "event": event, "message": message,
               "link": f"{base_url}{path}" if base_url else None}
    document = dispute.plan_document
    subjects = QUESTION_SUBJECTS if document is not None else SUBJECTS
    subject = subjects[(side, event)].format(agent=dispute.agent.name, id=dispute.id,
                                             author=message.author.name if message else "",
                                             number=document.number if document is not None else "")
    key = f"dispute-{dispute.id}-{event}" + (f"-{message.id}" if event == "reply" else "")
    queue_email(key=key, to=to.email, subject=subject,
                text=render_template("email/dispute.txt", **context),
                html=render_template("email/dispute.html", **context),
                meta={"kind": f"{'plan_question' if document is not None else 'dispute'}_{event}",
                      "dispute_id": str(dispute.id)})


def _notify_manager(dispute: Dispute, event: str, message: DisputeMessage) -> None:
    """Tell the agent's manager (if the agent has an active one)."""
    manager = dispute.agent.manager
    if manager is not None and manager.active:
        _queue(dispute, manager, "manager", event, message)


def _notify_agent(dispute: Dispute, event: str, message: DisputeMessage | None = None) -> None:
    """Tell the agent about a manager's reply, decision or answer."""
    _queue(dispute, dispute.agent, "agent", event, message)
