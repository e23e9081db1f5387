"""API jobs: forget the Idempotency-Key answers older than a day."""

from __future__ import annotations

from jobs import app_context


def sweep_idempotency() -> int:
    """The clock's hourly tick: delete the stored Idempotency-Key answers past their day (idempotent)."""
    from webapp.api.idempotency import sweep_expired

    with app_context():
        return sweep_expired()
