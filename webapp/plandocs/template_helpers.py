"""Template helpers for plan documents: long dates, and the agent's "documents waiting" banner."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date
from flask import Flask, request
from flask_login import current_user

from webapp.auth import access
from webapp.plandocs.services import awaiting_count


def long_date(value: str | date | None) -> str:
    """An ISO date (or a date) as words, e.g. "December 1, 2026"; "" for None."""
    if not value:
        return ""
    day = value if isinstance(value, date) else date.fromisoformat(value)
    return format_date(day, "long", locale="en_US")


def plan_documents_waiting() -> int:
    """How many plan documents wait for the signed-in agent (0 for everyone else, and in fragments)."""
    if not current_user.is_authenticated or not access.is_agent(current_user) or request.headers.get("HX-Request"):
        return 0
    return awaiting_count(current_user.id)


def init_app(app: Flask) -> None:
    """Register the `long_date` filter and the banner's count."""
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.globals["plan_documents_waiting"] = plan_documents_waiting
