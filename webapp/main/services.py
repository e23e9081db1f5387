"""Services behind the home pages."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select, text

from webapp.auth.models import Role, User
from webapp.extensions import db, redis_client


def team_of(manager: User) -> list[User]:
    """The manager's agents (admins see every agent), by name."""
    query = select(User).where(User.role == Role.AGENT.value).order_by(User.name)
    if manager.role == Role.MANAGER.value:
        query = query.where(User.manager_id == manager.id)
    return list(db.session.scalars(query))


def health_checks() -> dict[str, str]:
    """Ask the database and Redis for a trivial answer; report 'ok' or the error class."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not reachable"; the class name says which
        db.session.rollback()
        current_app.logger.warning("healthz: database: %r", exc)
        checks["database"] = type(exc).__name__
    try:
        redis_client().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        current_app.logger.warning("healthz: redis: %r", exc)
        checks["redis"] = type(exc).__name__
    return checks
