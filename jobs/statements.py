"""Statement jobs: render one statement's PDF; start a period's statement run; the dispatcher tick."""

from __future__ import annotations

from jobs import app_context


def render_statement(statement_id: int) -> str:
    """Render and store one statement's PDF, then its email is enqueued (no-op once rendered)."""
    from webapp.statements.rendering import render_statement as render

    with app_context():
        return render(statement_id)


def start_period_run(period_id: int) -> int:
    """Close a period and issue its statements (the run is unique per period); returns the run id."""
    from webapp.commissions.models import Period
    from webapp.extensions import db
    from webapp.statements.services import start_period_run as start

    with app_context():
        period = db.session.get(Period, period_id)
        run = start(None, period)
        db.session.commit()
        return run.id


def dispatch() -> dict:
    """The scheduler's statement tick: start due period runs, queue pending renders and deliveries."""
    from webapp.statements.dispatch import dispatch as run_dispatch

    with app_context():
        return run_dispatch().as_dict()
