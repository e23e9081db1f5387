"""Template helpers that mark disputed ledger lines on any page (the sale page, statements)."""

from __future__ import annotations

from flask import Flask, url_for
from flask_login import current_user

from webapp.auth import access
from webapp.disputes import services as service


def init_app(app: Flask) -> None:
    """Give every template `entry_disputes` and `dispute_url`."""
    app.context_processor(dispute_helpers)


def dispute_helpers() -> dict:
    """Lets any page showing ledger lines (the sale page, later statements) mark disputed ones."""

    def entry_disputes(entries) -> dict:
        """The dispute the signed-in user may see for each entry (open ones first)."""
        if not current_user.is_authenticated:
            return {}
        return service.disputes_by_entry(current_user, [entry.id for entry in entries])

    def dispute_url(dispute) -> str:
        """The dispute's page on the signed-in user's side."""
        if access.is_agent(current_user):
            return url_for("sales.my_dispute", dispute_id=dispute.id)
        return url_for("review.dispute_detail", dispute_id=dispute.id)

    return {"entry_disputes": entry_disputes, "dispute_url": dispute_url}
