"""Email jobs: deliver one queued email; sweep up any the queue lost; re-queue interrupted sends."""

from __future__ import annotations

from jobs import app_context


def deliver_email(email_id: int) -> str:
    """Deliver one queued email (a duplicate or retried job finds it sent and does nothing)."""
    from webapp.mail.services import deliver_email as deliver

    with app_context():
        return deliver(email_id)


def dispatch_pending() -> int:
    """Deliver every email still queued in the database (covers a lost Redis or a crash)."""
    from webapp.mail.services import deliver_email as deliver, pending_email_ids

    delivered = 0
    with app_context():
        for email_id in pending_email_ids():
            try:
                deliver(email_id)
                delivered += 1
            except Exception:  # recorded on the row by deliver(); the next sweep retries
                continue
    return delivered


def reconcile_abandoned() -> int:
    """Queue again the sends a crash left `sending` (older than SENDING_ABANDONED_AFTER); returns how many."""
    from webapp.mail.services import requeue_abandoned

    # Queues jobs rather than sending here: this runs every 15 s on the periodic queue, which must
    # not wait on a provider, and each delivery job asks the provider before any resend.
    with app_context():
        return requeue_abandoned()
