""""Pay all statements of a period" under a real race (PostgreSQL): the confirmation is sent twice
at once (a double click, two tabs). Each agent is paid once; the other request records nothing.

Real commits on a private engine (every row added is deleted afterwards); each request has its own
client, session and connection.
"""

from __future__ import annotations

import threading
from datetime import date

from sqlalchemy import select

from tests.conftest import csrf_token_from, sign_in
from tests.support.committed import first_to_return_lingers, in_threads
from tests.web._html import tags
from webapp.commissions.models import Payout
from webapp.commissions.periods import close_period, period_for
from webapp.extensions import db
from webapp.commissions import period_payments as money_service

HOLD = 0.3  # seconds the first run keeps its locks before committing
WAIT = 10  # seconds: a barrier or a join taking longer means the test is stuck


def _confirmation(app, manager_id: int) -> tuple:
    """A signed-in client with the confirmation form's fields (CSRF token, period, digest)."""
    from webapp.auth.models import User

    with app.app_context():
        client = app.test_client()
        sign_in(client, db.session.get(User, manager_id))
        db.session.remove()
    html = client.get("/manage/payouts/pay-period").get_data(as_text=True)
    fields = {t.attrs["name"]: t.attrs["value"] for t in tags(html, "input")
              if t.attrs.get("name") in ("period", "digest")}
    assert set(fields) == {"period", "digest"}, html[:500]
    return client, {"csrf_token": csrf_token_from(html), **fields}


def test_two_pay_all_runs_at_once_pay_each_agent_once(app, factory, committed, today, monkeypatch):
    today(date(2031, 3, 10))
    manager = factory.user("manager")
    plan = factory.plan(base_rate="3", name=f"Pay race {manager.id}")
    agents = [factory.user("agent", manager=manager) for _ in range(2)]
    for agent, amount in zip(agents, ("1000.00", "2000.00")):
        factory.assign(agent, plan)
        factory.sale(agent, amount, date(2031, 3, 5))
    today(date(2031, 3, 20))
    close_period(None, period_for(date(2031, 3, 5)))
    period_for(date(2031, 3, 20))  # exists before the race, so neither thread creates it
    db.session.commit()
    ids = {a.id: a for a in agents}

    # The first run to get through lingers (locks held, not committed); each run notes how many it paid.
    pay_period, done = first_to_return_lingers(money_service.pay_period, HOLD, lambda made, *_: len(made))
    monkeypatch.setattr(money_service, "pay_period", pay_period)
    requests = [_confirmation(app, manager.id) for _ in range(2)]
    start, responses = threading.Barrier(2), [None, None]

    def send(index, client, data):
        """One click of "Pay"."""
        start.wait(WAIT)
        responses[index] = client.post("/manage/payouts/pay-period", data=data)

    in_threads(send, requests, WAIT)

    assert [r.status_code for r in responses] == [302, 302]
    assert sorted(done) == [0, 2]  # one run paid both agents, the other found nothing left to pay
    with committed.connect() as connection:
        paid = connection.execute(select(Payout.agent_id, Payout.amount_cents)
                                  .where(Payout.agent_id.in_(list(ids)))).all()
    assert sorted(paid) == sorted([(agents[0].id, 3000), (agents[1].id, 6000)])
