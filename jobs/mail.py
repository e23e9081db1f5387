"""Email jobs: deliver one queued email; sweep up any the queue lost; re-queue interrupted sends."""

from __future__ import annotations

from jobs import app_context


def deliver_email(email_id: int) -> str:
    """Deliver one queued email (a duplicate or retried job finds it sent and does nothing)."""
    from webapp.mail.services import deliver_email as deliver

    with app_context():
        return deliver(email_id)


def dispatch_pending() -> int:
    """Queue a delivery job for every email still to send in the database (covers a lost Redis or
    a crash); returns how many were queued."""
    from webapp.mail.services import requeue_pending

    with app_context():
        return requeue_pending()


def reconcile_abandoned() -> int:
    """Queue again the sends a crash left `sending` (older than SENDING_ABANDONED_AFTER); returns how many."""
    from webapp.mail.services import requeue_abandoned

    # Queues jobs rather than sending here: this runs every 15 s on the periodic queue, which must
    # not wait on a provider, and each delivery job asks the provider before any resend.
    with app_context():
        return requeue_abandoned()
