"""Email jobs: deliver one queued email; sweep up any the queue lost."""

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
