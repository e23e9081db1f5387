"""Reminder jobs: the daily unpaid-balance reminder."""

from __future__ import annotations

from jobs import app_context


def send_reminders() -> dict:
    """Queue today's unpaid-balance reminders (at most one per agent per cadence); mail jobs send them."""
    from webapp.extensions import db
    from webapp.statements.reminders import send_reminders as send

    with app_context():
        summary = send()
        db.session.commit()  # the delivery jobs are enqueued by this commit
        return summary.as_dict()
