"""API v1 bulk decisions (issue 17, parity with the review queue's bulk actions): the listed sales
or every matching pending sale of the caller's team, each decided on its own; many go to a
background operation; refused requests write nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.support.rows import counts
from tests.web._api import API, error_of, headers_for
from webapp.commissions.models import CommissionEntry
from webapp.extensions import db
from webapp.operations.services import run_to_end
from webapp.sales.models import Sale

TODAY = date(2026, 11, 20)


@pytest.fixture
def world(build, factory):
    """Maria's Alice and Bob with pending sales (Bob's one of 900.00), Olga's Carol with one; an
    admin."""
    build.on(TODAY)
    maria, (alice, bob) = build.team("Maria", "Alice", "Bob")
    olga, (carol,) = build.team("Olga", "Carol")
    sale = factory.sale
    return {"maria": maria, "olga": olga, "admin": factory.user("admin"), "alice": alice,
            "pending": [sale(alice, "100.00", date(2026, 11, 3), approve=False),
                        sale(alice, "200.00", date(2026, 11, 4), approve=False),
                        sale(bob, "900.00", date(2026, 11, 5), approve=False)],
            "carols": sale(carol, "300.00", date(2026, 11, 6), approve=False)}


def _statuses(*sales) -> list[str]:
    """The sales' statuses as stored now."""
    db.session.expire_all()
    return [db.session.get(Sale, s.id).status for s in sales]


def test_listed_sales_are_decided_each_on_its_own(api, world):
    alice_1, alice_2, bobs = world["pending"]
    response = api.post(f"{API}/sales/decisions", headers=headers_for(world["maria"]), json={
        "action": "approve", "sale_ids": [alice_1.id, world["carols"].id, alice_2.id, 999999]})
    assert response.status_code == 200, response.json
    assert response.json["decided"] == [alice_1.id, alice_2.id] and response.json["operation_id"] is None
    assert [(r["sale_id"], r["status"]) for r in response.json["refused"]] == [
        (world["carols"].id, 404), (999999, 404)], "another team's sale is refused as if unknown"
    assert _statuses(alice_1, alice_2, bobs, world["carols"]) == ["approved", "approved", "pending", "pending"]
    assert db.session.scalar(select(CommissionEntry.id).where(CommissionEntry.sale_id == alice_1.id))


def test_every_matching_sale_is_rejected_with_the_reason(api, world):
    alice_1, alice_2, bobs = world["pending"]
    response = api.post(f"{API}/sales/decisions", headers=headers_for(world["maria"]), json={
        "action": "reject", "reason": "Duplicate entries", "matching": {"agent_id": world["alice"].id,
                                                                         "max_amount": "150.00"}})
    assert response.status_code == 200, response.json
    assert (response.json["decided"], response.json["refused"]) == ([alice_1.id], [])
    assert _statuses(alice_1, alice_2, bobs) == ["rejected", "pending", "pending"]
    assert db.session.get(Sale, alice_1.id).reason == "Duplicate entries"


def test_many_matching_sales_go_to_a_background_operation(app, api, world, monkeypatch):
    monkeypatch.setitem(app.config, "OPERATION_INLINE_LIMIT", 2)
    response = api.post(f"{API}/sales/decisions", headers=headers_for(world["maria"]),
                        json={"action": "approve", "matching": {}})
    assert response.status_code == 200, response.json
    operation_id = response.json["operation_id"]
    assert response.headers["Operation-Location"].endswith(f"/operations/{operation_id}")
    assert _statuses(*world["pending"]) == ["pending"] * 3, "nothing decided in the request"
    run_to_end(operation_id)
    assert _statuses(*world["pending"], world["carols"]) == ["approved"] * 3 + ["pending"]


@pytest.mark.parametrize("body, field", [
    ({"action": "approve"}, "sale_ids"),                                         # neither
    ({"action": "approve", "sale_ids": [1], "matching": {}}, "sale_ids"),        # both
    ({"action": "reject", "sale_ids": [1]}, "reason"),                           # a rejection needs why
    ({"action": "void", "sale_ids": [1]}, "action"),
    ({"action": "approve", "sale_ids": []}, "sale_ids"),
    ({"action": "approve", "sale_ids": list(range(1, 202))}, "sale_ids"),
    ({"action": "approve", "matching": {"min_amount": "1.005"}}, "matching.min_amount"),
    ({"action": "approve", "matching": {"start": "2026-11-31"}}, "matching.start"),
])
def test_a_refused_decision_names_the_field_and_decides_nothing(api, world, body, field):
    headers = headers_for(world["maria"])
    before = counts(Sale, CommissionEntry)
    assert field in error_of(api.post(f"{API}/sales/decisions", headers=headers, json=body), 422)["fields"]
    assert counts(Sale, CommissionEntry) == before and _statuses(*world["pending"]) == ["pending"] * 3


def test_agents_and_read_tokens_cannot_decide(api, world):
    body = {"action": "approve", "sale_ids": [world["pending"][0].id]}
    assert error_of(api.post(f"{API}/sales/decisions", headers=headers_for(world["alice"]), json=body), 403)
    assert error_of(api.post(f"{API}/sales/decisions", headers=headers_for(world["maria"], "read"), json=body), 403)
    error = error_of(api.post(f"{API}/sales/decisions", headers=headers_for(world["olga"]),
                              json={"action": "approve", "matching": {"agent_id": world["alice"].id}}), 422)
    assert list(error["fields"]) == ["matching"], "another team's agent matches nothing of Olga's"
    assert _statuses(*world["pending"]) == ["pending"] * 3
