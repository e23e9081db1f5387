"""Import jobs: delete the uploads nobody confirmed within a day."""

from __future__ import annotations

from jobs import app_context


def sweep_uploads() -> int:
    """The clock's import tick: delete the expired import uploads (idempotent); how many went."""
    from webapp.sales.imports import sweep_expired

    with app_context():
        return sweep_expired()
