"""API v1 editing and cancelling a pending sale (issue 17, parity with the pages): PUT /sales/{id}
and POST /sales/{id}/cancel, with the edit page's rules (its agent or whoever entered it, pending,
open period), If-Match against a stale copy, and nothing changed when refused."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.web._api import API, error_of, headers_for
from webapp.audit.models import AuditEvent
from webapp.extensions import db
from webapp.sales.models import Sale

TODAY = date(2026, 11, 20)


@pytest.fixture
def team(build, factory):
    """Maria manages Alice and Bob (3%); Carol is on another team; a product at 100.00; Alice's
    pending sale of one unit."""
    build.on(TODAY)
    maria, (alice, bob) = build.team("Maria", "Alice", "Bob")
    _, (carol,) = build.team(None, "Carol")
    product = factory.product(name="Monitor")
    return {"maria": maria, "alice": alice, "bob": bob, "carol": carol, "admin": factory.user("admin"),
            "product": product, "customer": factory.customer("Clinic North"),
            "sale": factory.sale(alice, "100.00", date(2026, 11, 18), product=product, approve=False)}


def edit(team, **fields) -> dict:
    """A full edit body for Alice's sale: two units at 90.00 on the 19th (override with fields)."""
    body = {"product_id": team["product"].id, "customer_id": team["customer"].id, "quantity": 2,
            "unit_price": "90.00", "sold_on": "2026-11-19", "note": "Two, discounted"}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def snapshot(sale_id: int) -> tuple:
    """What a refused change must leave as it was."""
    db.session.expire_all()
    sale = db.session.get(Sale, sale_id)
    return (sale.status, sale.quantity, sale.unit_price_cents, sale.sold_on, sale.customer_id, sale.note,
            [(c.agent_id, c.share_units) for c in sale.credits])


def test_the_agent_changes_their_pending_sale_and_sees_the_new_estimate(api, team):
    sale = team["sale"]
    response = api.put(f"{API}/sales/{sale.id}", headers=headers_for(team["alice"]), json=edit(team))
    assert response.status_code == 200, response.json
    changed = response.json
    assert (changed["quantity"], changed["unit_price"], changed["amount"], changed["sold_on"], changed["note"]) == (
        2, "90.00", "180.00", "2026-11-19", "Two, discounted")
    assert (changed["customer_id"], changed["status"], changed["estimate"]) == (
        team["customer"].id, "pending", "5.40")  # 3% of 180.00
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "sale.update",
                                                       AuditEvent.object_id == sale.id))
    assert event.before["quantity"] == 1 and event.after["quantity"] == 2


def test_a_manager_who_entered_the_sale_may_change_it(api, team, factory):
    entered = factory.sale(team["alice"], "100.00", date(2026, 11, 17), product=team["product"], approve=False,
                           entered_by=team["maria"])
    response = api.put(f"{API}/sales/{entered.id}", headers=headers_for(team["maria"]), json=edit(team))
    assert response.status_code == 200 and response.json["agent_id"] == team["alice"].id


def test_a_change_with_a_stale_etag_is_412_and_with_the_current_one_goes_through(api, team):
    sale, alice = team["sale"], headers_for(team["alice"])
    tag = api.get(f"{API}/sales/{sale.id}", headers=alice).headers["ETag"]
    assert api.put(f"{API}/sales/{sale.id}", headers={**alice, "If-Match": tag}, json=edit(team)).status_code == 200
    before = snapshot(sale.id)
    stale = api.put(f"{API}/sales/{sale.id}", headers={**alice, "If-Match": tag}, json=edit(team, quantity=5))
    assert error_of(stale, 412)["code"] == "precondition_failed"
    assert error_of(api.post(f"{API}/sales/{sale.id}/cancel", headers={**alice, "If-Match": tag}), 412)
    assert snapshot(sale.id) == before


@pytest.mark.parametrize("who, status", [("bob", 404), ("carol", 404), ("maria", 404), ("admin", 404)])
def test_only_its_agent_or_whoever_entered_it_may_change_it(api, team, who, status):
    sale = team["sale"]
    before = snapshot(sale.id)
    assert error_of(api.put(f"{API}/sales/{sale.id}", headers=headers_for(team[who]), json=edit(team)),
                    status)["code"] == "not_found"
    assert error_of(api.post(f"{API}/sales/{sale.id}/cancel", headers=headers_for(team[who])), status)
    assert snapshot(sale.id) == before


def test_a_co_agent_reads_the_split_sale_but_may_not_change_it(api, team):
    made = api.post(f"{API}/sales", headers=headers_for(team["alice"]), json={
        **edit(team), "co_agents": [{"agent_id": team["bob"].id, "share": "40"}]}).json
    before = snapshot(made["id"])
    refused = api.put(f"{API}/sales/{made['id']}", headers=headers_for(team["bob"]), json=edit(team))
    assert "only its agent can change" in error_of(refused, 403)["message"]
    assert snapshot(made["id"]) == before
    # Its agent may change the split too; each refused field is named in the body's terms.
    bad = api.put(f"{API}/sales/{made['id']}", headers=headers_for(team["alice"]),
                  json=edit(team, co_agents=[{"agent_id": team["bob"].id, "share": "40"},
                                             {"agent_id": team["maria"].id, "share": "10"}]))  # not an agent
    assert "co_agents.1.agent_id" in error_of(bad, 422)["fields"]
    assert snapshot(made["id"]) == before


def test_a_decided_sale_or_one_in_a_closed_period_is_409(api, team, factory, build):
    approved = factory.sale(team["alice"], "100.00", date(2026, 11, 16), product=team["product"])
    alice = headers_for(team["alice"])
    before = snapshot(approved.id)
    assert "approved" in error_of(api.put(f"{API}/sales/{approved.id}", headers=alice, json=edit(team)),
                                  409)["message"]
    assert error_of(api.post(f"{API}/sales/{approved.id}/cancel", headers=alice), 409)
    assert snapshot(approved.id) == before
    october = factory.sale(team["alice"], "100.00", date(2026, 10, 10), product=team["product"], approve=False)
    build.close(date(2026, 10, 10))
    assert error_of(api.put(f"{API}/sales/{october.id}", headers=alice, json=edit(team, sold_on="2026-10-10")),
                    409)["code"] == "closed_period"


@pytest.mark.parametrize("fields, field", [
    ({"quantity": 0}, "quantity"), ({"unit_price": "-1"}, "unit_price"), ({"sold_on": "2026-11-21"}, "sold_on"),
    ({"customer_name": "New Clinic"}, "customer_name"), ({"product_id": 999999}, "product_id"),
    ({"agent_id": 5}, "agent_id"), ({"quantity": None}, "quantity"),
])
def test_a_bad_change_is_422_naming_the_field_and_changes_nothing(api, team, fields, field):
    sale = team["sale"]
    before = snapshot(sale.id)
    error = error_of(api.put(f"{API}/sales/{sale.id}", headers=headers_for(team["alice"]),
                             json=edit(team, **fields)), 422)
    assert field in error["fields"], error
    assert snapshot(sale.id) == before


def test_cancelling_withdraws_the_sale_once(api, team):
    sale, alice = team["sale"], headers_for(team["alice"])
    assert error_of(api.post(f"{API}/sales/{sale.id}/cancel", headers=headers_for(team["alice"], "read")), 403)
    response = api.post(f"{API}/sales/{sale.id}/cancel", headers=alice)
    assert response.status_code == 200 and response.json["status"] == "cancelled"
    assert response.json["decided_by_id"] == team["alice"].id and response.json["estimate"] is None
    assert "cancelled" in error_of(api.post(f"{API}/sales/{sale.id}/cancel", headers=alice), 409)["message"]
    assert error_of(api.put(f"{API}/sales/{sale.id}", headers=alice, json=edit(team)), 409)
