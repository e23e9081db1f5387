"""Webhook jobs: collect new events and queue what is due (the clock's 10-second tick); send one
endpoint's due deliveries."""

from __future__ import annotations

import time

from jobs import app_context

COLLECT_BUDGET = 30  # seconds of batches one tick collects (the periodic queue's jobs stay short)


def collect() -> int:
    """Copy new events from the audit log, queue their deliveries and every other due one, and
    delete events past their 30 days; returns how many events were new (idempotent)."""
    from webapp.extensions import db
    from webapp.webhooks import sending, services

    with app_context():
        new = 0
        # A backlog (a bulk approval, a stopped clock) is worked through in committed batches,
        # for up to about 30 s; the next tick goes on from there.
        started = time.monotonic()
        while True:
            batch = services.collect()
            db.session.commit()  # the enqueues follow the commit (webapp.tasks.enqueue_after_commit)
            new += batch
            if batch < services.COLLECT_BATCH or time.monotonic() - started > COLLECT_BUDGET:
                break
        sending.queue_due()
        services.prune()
        db.session.commit()
        return new


def deliver_endpoint(endpoint_id: int) -> int:
    """POST an endpoint's due deliveries for up to 30 s; returns how many were attempted (each is
    claimed in the database first, so a duplicate job sends nothing twice)."""
    from webapp.webhooks.sending import deliver_endpoint as deliver

    with app_context():
        return deliver(endpoint_id)
