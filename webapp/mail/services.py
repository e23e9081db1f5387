"""Queued email: record it with the change, deliver it after the commit, exactly once."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from webapp import clock
from webapp.errors import ServiceError
from webapp.extensions import db, redis_client
from webapp.mail.attachments import attachments_for, attachments_ready
from webapp.mail.backends import get_backend
from webapp.mail.messages import EmailMessage, MailProviderError
from webapp.mail.models import EmailStatus, OutgoingEmail
from webapp.tasks import enqueue, enqueue_after_commit

MAX_ATTEMPTS = 5

# A `sending` email older than this was interrupted (its worker died mid-send): the reconcile job
# (jobs.mail.reconcile_abandoned, every 15 s) queues it again, and deliver_email asks the provider
# before any resend. It is above the emails job timeout (40 s), itself above the provider call's
# timeout (15 s): while a send may legitimately still be running, nobody touches it. So a crash is
# reconciled within 45 s + 15 s plus queue time, about a minute.
SENDING_ABANDONED_AFTER = timedelta(seconds=45)


def queue_email(*, key: str, to: str, subject: str, text: str, html: str | None = None,
                meta: dict | None = None, statement_id: int | None = None, enqueue: bool = True) -> OutgoingEmail:
    """Record an email to send after the commit; the same key again returns the first one.

    A statement email (`statement_id`) carries the statement's PDF; its delivery is enqueued by
    the render job once the PDF exists (`enqueue=False` here).
    """
    existing = db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.key == key))
    if existing is not None:
        return existing
    email = OutgoingEmail(key=key, to=to, subject=subject[:200], text=text, html=html, meta=meta or {},
                          status=EmailStatus.QUEUED, statement_id=statement_id)
    db.session.add(email)
    db.session.flush()
    if enqueue:
        enqueue_after_commit("emails", "jobs.mail.deliver_email", email.id)
    return email


def _message(email: OutgoingEmail) -> EmailMessage:
    """The stored email as a message for the backend (its key travels in the metadata)."""
    return EmailMessage(to=email.to, subject=email.subject, text=email.text, html=email.html,
                        attachments=attachments_for(email),
                        metadata={**(email.meta or {}), "email_key": email.key})


def deliver_email(email_id: int) -> str:
    """Send one queued email unless it was already sent; returns the final status.

    The row is marked `sending` and committed before the provider is called, so a crash in
    between is recognisable. Any earlier attempt (a crash, a timeout, a 5xx after which the
    provider may still have taken the message) is first looked up at the provider and the email
    is resent only if the provider has no trace of it. A permanent provider error (a revoked key,
    an invalid message) marks the email failed at once instead of retrying.
    """
    email = db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.id == email_id).with_for_update())
    if email is None or email.status in (EmailStatus.SENT, EmailStatus.REJECTED):
        db.session.rollback()
        return email.status if email else "missing"
    if not attachments_ready(email):  # e.g. its statement's PDF: the render job enqueues it then
        db.session.rollback()
        return "waiting"
    if email.status == EmailStatus.SENDING and _send_in_progress(email):
        # Another worker (or the sweep) is in the middle of this send: leave it to them.
        db.session.rollback()
        return EmailStatus.SENDING
    backend = get_backend()
    if email.attempts > 0 and hasattr(backend, "find_sent"):
        # A failed lookup raises (the job retries later) rather than risk sending twice.
        found = backend.find_sent("email_key", email.key, since=email.sending_since)
        if found is not None:
            email.status, email.provider_id, email.sent_at, email.last_error = (
                EmailStatus.SENT, found, clock.now_utc(), None)
            db.session.commit()
            return EmailStatus.SENT
    email.status, email.attempts, email.sending_since = (EmailStatus.SENDING, email.attempts + 1,
                                                         clock.now_utc())
    db.session.commit()
    try:
        result = backend.send(_message(email))
    except Exception as exc:  # provider or network failure: record it; retry unless permanent
        _record_failure(email_id, exc)
        if isinstance(exc, MailProviderError) and exc.permanent:
            return EmailStatus.FAILED
        raise
    # Re-read under the lock: a webhook may have recorded a bounce while the call was running.
    email = db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.id == email_id).with_for_update())
    email.provider_id = email.provider_id or result.provider_id
    if email.status == EmailStatus.REJECTED:
        pass  # the provider already told us (webhook) that it bounced; keep that
    elif result.accepted:
        email.status, email.sent_at, email.last_error = EmailStatus.SENT, clock.now_utc(), None
    else:
        email.status, email.last_error = EmailStatus.REJECTED, result.reject_reason or result.status
    db.session.commit()
    return email.status


def _send_in_progress(email: OutgoingEmail) -> bool:
    """True while a `sending` row is younger than SENDING_ABANDONED_AFTER (its job may still run)."""
    since = email.sending_since
    if since is None:
        return False
    return clock.now_utc() - since < SENDING_ABANDONED_AFTER


def _record_failure(email_id: int, exc: Exception) -> None:
    """Store why a send failed: failed for good (permanent or out of attempts) or queued for a retry."""
    db.session.rollback()
    email = db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.id == email_id).with_for_update())
    permanent = isinstance(exc, MailProviderError) and exc.permanent
    out_of_tries = permanent or email.attempts >= MAX_ATTEMPTS
    email.status = EmailStatus.FAILED if out_of_tries else EmailStatus.QUEUED
    email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    db.session.commit()
    current_app.logger.warning("email %s not sent (attempt %s): %s", email.key, email.attempts, email.last_error)


def pending_email_ids(limit: int = 200) -> list[int]:
    """Emails still to send (queued, or left `sending` by a crash), oldest first."""
    return list(db.session.scalars(
        select(OutgoingEmail.id).where(OutgoingEmail.status.in_((EmailStatus.QUEUED, EmailStatus.SENDING)))
        .order_by(OutgoingEmail.id).limit(limit)))


def abandoned_email_ids(now=None, limit: int = 500) -> list[int]:
    """Emails left `sending` longer than SENDING_ABANDONED_AFTER (their send was interrupted), oldest first."""
    now = now or clock.now_utc()
    return list(db.session.scalars(
        select(OutgoingEmail.id)
        .where(OutgoingEmail.status == EmailStatus.SENDING, OutgoingEmail.sending_since < now - SENDING_ABANDONED_AFTER)
        .order_by(OutgoingEmail.id).limit(limit)))


def requeue_abandoned(now=None) -> int:
    """Queue a delivery job for every abandoned send; returns how many were queued.

    Only jobs are queued, nothing is sent here: deliver_email locks the row, re-checks its age and
    looks the email up at the provider before any resend, so a duplicate job never sends twice.
    """
    return _queue_deliveries(abandoned_email_ids(now))


def requeue_pending() -> int:
    """Queue a delivery job for every email still to send (the sweep for jobs Redis lost)."""
    # Jobs on the emails queue, not sends here: only that queue's 40 s job timeout keeps every send
    # shorter than SENDING_ABANDONED_AFTER (the periodic queue allows minutes).
    return _queue_deliveries(pending_email_ids())


def _queue_deliveries(ids: list[int]) -> int:
    """Queue one unique delivery job per email id; returns how many."""
    db.session.rollback()  # read-only: end the transaction before talking to Redis
    connection = redis_client()
    for email_id in ids:
        # A unique job: one already waiting for this email is returned, not queued twice.
        enqueue("emails", "jobs.mail.deliver_email", email_id, connection=connection)
    return len(ids)


def resend(email: OutgoingEmail) -> OutgoingEmail:
    """Queue a failed or rejected email again (never one that may have gone: sent or sending)."""
    if email.status not in (EmailStatus.FAILED, EmailStatus.REJECTED):
        raise ServiceError("Only an email known not to have been sent can be sent again.", status=409)
    email.status, email.last_error = EmailStatus.QUEUED, None
    db.session.flush()
    enqueue_after_commit("emails", "jobs.mail.deliver_email", email.id)
    return email
