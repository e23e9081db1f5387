"""Audit events for what no person does but integrations want to hear of: a statement's email
delivered, or given up on. Mail knows nothing of webhooks (nor much of statements), so these are
noticed where the email's status changes are flushed."""

from __future__ import annotations

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from webapp.audit.models import AuditEvent
from webapp.mail.models import EmailStatus, OutgoingEmail

_GIVEN_UP = (EmailStatus.FAILED, EmailStatus.REJECTED)


def _statement_email_outcome(email: OutgoingEmail) -> str | None:
    """The audit action for a statement email whose status this flush changes, if it is an outcome."""
    history = inspect(email).attrs.status.history
    if email.statement_id is None or not history.added:
        return None
    before = history.deleted[0] if history.deleted else None
    if email.status == EmailStatus.SENT and before != EmailStatus.SENT:
        return "statement.deliver"
    if email.status in _GIVEN_UP and before not in _GIVEN_UP:
        return "statement.delivery_fail"
    return None


def _audit_statement_emails(session: Session, _context, _instances) -> None:
    """Before a flush: an audit event (by the system) for each statement email delivered or given up on."""
    for obj in list(session.dirty):
        if isinstance(obj, OutgoingEmail) and (action := _statement_email_outcome(obj)) is not None:
            session.add(AuditEvent(actor_id=None, action=action, object_type="Statement", object_id=obj.statement_id,
                                   after={"email_status": obj.status}))


def init_app(app) -> None:
    """Listen to every session's flushes (once per process)."""
    if not event.contains(Session, "before_flush", _audit_statement_emails):
        event.listen(Session, "before_flush", _audit_statement_emails)
