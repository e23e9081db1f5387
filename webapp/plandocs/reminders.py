"""Plan document reminders: a pending document (not acknowledged, not superseded, no open question;
its agent active) gets an email every `settings.plan_reminder_days` days (0 turns them off) until
the agent acts.

A daily job calls `send_reminders()` batch by batch. The documents due are found by one query:
those whose last reminder (or, before the first, their issue) is at least the cadence old. Each
reminder's email key names the document and its cadence slot (whole cadences since issue), so a
second run the same day, a retried job or two runs at once queue it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app, render_template
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from webapp import clock
from webapp.audit.services import record
from webapp.auth.models import User
from webapp.commissions.periods import get_settings
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import queue_email
from webapp.plandocs.models import DocumentState, PlanDocument
from webapp.plandocs.services import state_expression

BATCH = 500
KEY_PREFIX = "plan-document-reminder"


@dataclass
class ReminderSummary:
    """What one batch of a reminder run did."""

    off: bool = False  # reminders are turned off (plan_reminder_days = 0)
    queued: list[int] = field(default_factory=list)  # document ids reminded now
    skipped: list[int] = field(default_factory=list)  # due, but this slot's reminder already exists
    seen: int = 0  # documents this batch looked at (a full batch means: ask for the next one)
    last_id: int = 0  # the highest document id looked at (where the next batch starts)

    def as_dict(self) -> dict:
        """A plain dict (the job's result, kept by RQ)."""
        return {"off": self.off, "queued": self.queued, "skipped": self.skipped}


def reminder_key(document_id: int, slot: int) -> str:
    """The email key of a document's reminder in cadence slot `slot`."""
    return f"{KEY_PREFIX}:{document_id}:{slot}"


def slot_of(document: PlanDocument, now: datetime, every: int) -> int:
    """Whole cadences of `every` days since the document was issued."""
    return (now - document.created_at).days // every


def due_query(now: datetime, every: int, after_id: int = 0, limit: int = BATCH):
    """Pending documents of active agents, last reminded (or issued) `every` days ago or more, by id."""
    since = func.coalesce(PlanDocument.last_reminded_at, PlanDocument.created_at)
    return (select(PlanDocument).join(User, User.id == PlanDocument.agent_id)
            .where(User.active.is_(True), state_expression() == DocumentState.PENDING.value,
                   since <= now - timedelta(days=every), PlanDocument.id > after_id)
            .options(selectinload(PlanDocument.agent)).order_by(PlanDocument.id).limit(limit)
            # Two runs at once each take different documents rather than wait on each other.
            .with_for_update(of=PlanDocument, skip_locked=True))


def _email(document: PlanDocument, agent: User, slot: int, now: datetime) -> None:
    """Queue one reminder email (keyed by document and slot)."""
    link = f"{current_app.config.get('BASE_URL') or ''}/plan-documents/{document.id}"
    context = {"document": document, "c": document.content, "agent": agent, "link": link,
               "days": (now - document.created_at).days}
    queue_email(key=reminder_key(document.id, slot), to=agent.email,
                subject=f"Reminder: please read and acknowledge your commission plan "
                        f"(document No. {document.number})",
                text=render_template("email/plan_document_reminder.txt", **context),
                html=render_template("email/plan_document_reminder.html", **context),
                meta={"kind": "plan_document_reminder", "plan_document_id": str(document.id)})


def _remind(document: PlanDocument, now: datetime, every: int) -> bool:
    """Queue the document's reminder for its current slot, count it and audit it; False when that
    slot's reminder exists already (possible only when the cadence changed between reminders)."""
    slot = slot_of(document, now, every)
    key = reminder_key(document.id, slot)
    if db.session.scalar(select(OutgoingEmail.id).where(OutgoingEmail.key == key)) is not None:
        return False
    try:
        with db.session.begin_nested():
            _email(document, document.agent, slot, now)
    except IntegrityError:  # queued by a run at the same moment (the key is unique)
        return False
    before = document.reminders_sent
    document.reminders_sent, document.last_reminded_at = before + 1, now
    record(None, "plan_document.remind", document, {"reminders_sent": before},
           {"reminders_sent": before + 1, "slot": slot, "email_key": key})
    return True


def send_reminders(now: datetime | None = None, *, after_id: int = 0, limit: int = BATCH) -> ReminderSummary:
    """Remind the agents of up to `limit` due documents with ids above `after_id`. Flushes; the
    caller commits, then asks for the next batch from `summary.last_id` while `seen == limit`."""
    now = now or clock.now_utc()
    summary = ReminderSummary()
    every = get_settings().plan_reminder_days
    if every <= 0:
        summary.off = True
        return summary
    documents = list(db.session.scalars(due_query(now, every, after_id, limit)))
    for document in documents:
        (summary.queued if _remind(document, now, every) else summary.skipped).append(document.id)
    summary.seen = len(documents)
    summary.last_id = documents[-1].id if documents else after_id
    return summary
