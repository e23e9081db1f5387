"""Services behind the home pages."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import text

from webapp.extensions import db, redis_client


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
