"""Issuing a period twice at the same moment (PostgreSQL): two POST /periods/{id}/statements, from a
double click or two managers, race. One starts the run (201), the other answers that run (200), and
the period is closed once: one period.close audit row, so one period.closed webhook event.

Before the period's row was locked, the second waited on the first's UPDATE of the period, closed it
again, lost on the unique run and still answered 201.

Real commits on a private engine (every row added is deleted afterwards); each request has its own
client, session and connection.
"""

from __future__ import annotations

import threading
from datetime import date

from sqlalchemy import func, select

from tests.support.committed import against_an_approval, approved_then_pending, first_to_return_lingers, in_threads
from webapp.audit.models import AuditEvent
from webapp.auth.tokens import create_token
from webapp.commissions.periods import period_for
from webapp.extensions import db
from webapp.statements import services as statement_services
from webapp.statements.models import StatementRun

HOLD = 0.3  # seconds the first issue keeps the period closed, uncommitted
WAIT = 10  # seconds: a barrier or a join taking longer means the test is stuck


def test_two_issues_of_a_period_at_once_start_one_run_and_close_it_once(app, factory, committed, today,
                                                                         monkeypatch):
    today(date(2033, 7, 10))
    manager = factory.user("manager")
    plan = factory.plan(base_rate="3", name=f"Issue race {manager.id}")
    agent = factory.user("agent", manager=manager)
    factory.assign(agent, plan)
    factory.sale(agent, "1000.00", date(2033, 7, 5))
    today(date(2033, 7, 20))
    period = period_for(date(2033, 7, 5))
    tokens = [create_token(manager, name=f"race {n}", scope="write")[1] for n in range(2)]
    db.session.commit()
    url = f"/api/v1/periods/{period.id}/statements"

    # The first close lingers (the period's row locked, nothing committed); each close notes its period.
    close_period, closed = first_to_return_lingers(statement_services.close_period, HOLD,
                                                   lambda _done, _actor, found: found.id)
    monkeypatch.setattr(statement_services, "close_period", close_period)
    start, responses = threading.Barrier(2), [None, None]

    def send(index, token):
        """One POST, from its own client."""
        client = app.test_client()
        start.wait(WAIT)
        responses[index] = client.post(url, headers={"Authorization": f"Bearer {token}"})

    in_threads(send, [(token,) for token in tokens], WAIT)

    assert sorted(r.status_code for r in responses) == [200, 201], [r.get_json() for r in responses]
    assert len({r.get_json()["id"] for r in responses}) == 1, "both answer the one run"
    assert closed == [period.id], "the period is closed once"
    with committed.connect() as connection:
        runs = connection.execute(select(func.count()).select_from(StatementRun)
                                  .where(StatementRun.period_id == period.id)).scalar_one()
        closes = connection.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "period.close", AuditEvent.object_id == period.id)).scalar_one()
    assert (runs, closes) == (1, 1)


def test_issuing_a_period_and_approving_a_sale_of_one_of_its_agents_do_not_deadlock(app, factory, committed, today,
                                                                                     monkeypatch):
    """The issue holds the period (closed, uncommitted) and then writes each agent's statement; an
    approval holds its agent and waits for the period. The statement's reference to the agent must
    not wait for the agent's ledger lock (FOR UPDATE did: PostgreSQL then failed one of them)."""
    from webapp.sales.models import Sale

    ids = approved_then_pending(factory, today, date(2033, 8, 1), "Issue deadlock")
    closed = threading.Event()
    real_close = statement_services.close_period

    def close_then_pause(actor, found):
        """Closed and uncommitted: let the approval lock its agent and wait for the period."""
        real_close(actor, found)
        closed.set()
        threading.Event().wait(0.5)

    monkeypatch.setattr(statement_services, "close_period", close_then_pause)

    outcome = against_an_approval(app, lambda actor: statement_services.issue_period(actor, ids["period"]),
                                  ids["sale"], ids["manager"], closed)
    assert outcome == {"holder": "done", "approve": "done"}
    with committed.connect() as connection:
        status = connection.execute(select(Sale.status).where(Sale.id == ids["sale"])).scalar_one()
        runs = connection.execute(select(func.count()).select_from(StatementRun)
                                  .where(StatementRun.period_id == ids["period"])).scalar_one()
    assert (status, runs) == ("approved", 1)
