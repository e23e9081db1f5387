"""Webhook jobs: collect new events and queue what is due (the clock's 10-second tick); send one
endpoint's due deliveries."""

from __future__ import annotations

from jobs import app_context


def collect() -> int:
    """Copy new events from the audit log, queue their deliveries and every other due one, and
    delete events past their 30 days; returns how many events were new (idempotent)."""
    from webapp.extensions import db
    from webapp.webhooks import sending, services

    with app_context():
        new = services.collect()
        sending.queue_due()
        services.prune()
        db.session.commit()  # the enqueues follow the commit (webapp.tasks.enqueue_after_commit)
        return new


def deliver_endpoint(endpoint_id: int) -> int:
    """POST an endpoint's due deliveries for up to 30 s; returns how many were attempted (each is
    claimed in the database first, so a duplicate job sends nothing twice)."""
    from webapp.webhooks.sending import deliver_endpoint as deliver

    with app_context():
        return deliver(endpoint_id)
