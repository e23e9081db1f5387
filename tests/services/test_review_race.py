"""The review queue under a real race (PostgreSQL): two people press Approve on the same sale.

tests/services/test_concurrency.py races the approve_sale service itself; these go through the
review queue's HTTP routes, each request on its own client, app context, session and connection,
so they also cover what the manager sees: one approval, one ledger line, and for the other a
409 naming who approved it (not a 500). The `committed` fixture and `_setup` come from that
module (real commits on a private engine, every added row deleted afterwards).
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_from, sign_in
from tests.services.test_concurrency import WAIT, _expected, _setup, committed  # noqa: F401  (fixture)
from tests.support.committed import first_to_return_lingers, in_threads
from webapp.audit.models import AuditEvent
from webapp.auth.models import User
from webapp.commissions.models import CommissionEntry
from webapp.extensions import db
from webapp.manage import queue
from webapp.sales.models import Sale

HOLD = 0.3  # seconds the first decision keeps its lock before the commit, so the other must wait


def _client(app, user_id: int):
    """A signed-in client for the user, with a CSRF token read from the queue page."""
    with app.app_context():
        user = db.session.get(User, user_id)
        client = app.test_client()
        sign_in(client, user)
        db.session.remove()
    page = client.get("/manage/review")
    assert page.status_code == 200
    return client, csrf_token_from(page.get_data(as_text=True))


def _hold_the_first_decision(monkeypatch) -> None:
    """Make the first request to finish deciding sleep (lock held, not committed) before returning."""
    decide, _ = first_to_return_lingers(queue.decide, HOLD, lambda _result, _user, sale, *_: sale.id)
    monkeypatch.setattr(queue, "decide", decide)


def _race(requests: list) -> list:
    """Send (client, url, data) requests at once from threads; returns the responses in order."""
    start = threading.Barrier(len(requests))
    responses: list = [None] * len(requests)

    def send(index: int, client, url: str, data: dict) -> None:
        """One person's click."""
        start.wait(WAIT)
        responses[index] = client.post(url, data=data, headers={"HX-Request": "true"})

    in_threads(send, requests, WAIT)
    return responses


def _names(connection, *user_ids: int) -> dict[int, str]:
    """User names by id."""
    return dict(connection.execute(select(User.id, User.name).where(User.id.in_(user_ids))).all())


@pytest.mark.parametrize("manager_first", [True, False])
def test_two_people_approving_one_sale_from_the_queue(app, factory, committed, monkeypatch,  # noqa: F811
                                                      manager_first):
    ids = _setup(factory)
    sale_id = ids["pending"][0]
    people = [ids["manager"], ids["admin"]] if manager_first else [ids["admin"], ids["manager"]]
    clients = [_client(app, person) for person in people]
    _hold_the_first_decision(monkeypatch)

    responses = _race([(client, f"/manage/review/{sale_id}/approve", {"csrf_token": token})
                       for client, token in clients])

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409], [r.get_data(as_text=True)[:300] for r in responses]
    won = next(i for i, r in enumerate(responses) if r.status_code == 200)
    lost = responses[1 - won]
    with committed.connect() as connection:
        sale = connection.execute(select(Sale.status, Sale.decided_by_id).where(Sale.id == sale_id)).one()
        assert tuple(sale) == ("approved", people[won])
        amounts = connection.execute(select(CommissionEntry.amount_cents)
                                     .where(CommissionEntry.sale_id == sale_id)).scalars().all()
        assert amounts == [_expected(ids, [ids["first"], sale_id])[sale_id]]
        approvals = connection.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "sale.approve", AuditEvent.object_id == sale_id)).scalar_one()
        assert approvals == 1
        winner = _names(connection, people[won])[people[won]]
    body = lost.get_data(as_text=True)
    assert f"This sale was already approved by {winner}." in body
    assert "review-changed" in lost.headers["HX-Trigger"]
    assert "row-decided" in responses[won].get_data(as_text=True)


def test_two_overlapping_bulk_approvals_decide_each_sale_once(app, factory, committed,  # noqa: F811
                                                               monkeypatch):
    ids = _setup(factory)
    first, second = ids["pending"]
    (manager, manager_token), (admin, admin_token) = _client(app, ids["manager"]), _client(app, ids["admin"])
    _hold_the_first_decision(monkeypatch)

    responses = _race([
        (manager, "/manage/review/bulk", {"csrf_token": manager_token, "action": "approve",
                                          "sale_ids": [str(first), str(second)]}),
        (admin, "/manage/review/bulk", {"csrf_token": admin_token, "action": "approve",
                                        "sale_ids": [str(second), str(first)]}),
    ])

    assert [r.status_code for r in responses] == [200, 200]
    with committed.connect() as connection:
        rows = connection.execute(select(Sale.id, Sale.status, Sale.decided_by_id)
                                  .where(Sale.id.in_([first, second]))).all()
        assert {status for _id, status, _by in rows} == {"approved"}
        per_sale = dict(connection.execute(
            select(CommissionEntry.sale_id, func.count()).where(CommissionEntry.sale_id.in_([first, second]))
            .group_by(CommissionEntry.sale_id)).all())
        assert per_sale == {first: 1, second: 1}
        expected = _expected(ids, [ids["first"], first, second])
        amounts = dict(connection.execute(select(CommissionEntry.sale_id, CommissionEntry.amount_cents)
                                          .where(CommissionEntry.sale_id.in_([first, second]))).all())
        assert amounts == {first: expected[first], second: expected[second]}
        names = _names(connection, ids["manager"], ids["admin"])
    # Every sale the one request approved is reported to the other as already approved by them.
    deciders = {sale_id: by for sale_id, _status, by in rows}
    bodies = [r.get_data(as_text=True) for r in responses]
    for sale_id, by in deciders.items():
        other = bodies[1] if by == ids["manager"] else bodies[0]
        assert f"Sale #{sale_id}" in other and f"already approved by {names[by]}." in other
