"""API v1 customers (search, read, add) and agents (list, read) (issue 17, parity with the pages):
the directory the sale form searches, and the team a manager sees on their pages."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.web._api import API, count, error_of, every_item, headers_for
from webapp.audit.models import AuditEvent
from webapp.auth.tokens import create_token
from webapp.catalog.models import Customer
from webapp.extensions import db

TODAY = date(2026, 11, 20)


@pytest.fixture
def team(build, factory):
    """Maria manages Alice and Bob (Bob deactivated); Olga manages Carol; three customers."""
    build.on(TODAY)
    maria, (alice, bob) = build.team("Maria", "Alice", "Bob")
    olga, (carol,) = build.team("Olga", "Carol")
    bob.active = False
    customers = [factory.customer(name) for name in ("Clinic North", "South Dental", "Northgate Pharmacy")]
    customers[1].email = "desk@south.example"
    db.session.flush()
    return {"maria": maria, "alice": alice, "bob": bob, "olga": olga, "carol": carol,
            "admin": factory.user("admin"), "customers": customers}


def _ids(api, path: str, headers, query: str = "", limit: int = 2) -> list[int]:
    """Every id the list gives, page by page."""
    return [item["id"] for item in every_item(api, path, headers, query, limit)]


def test_everyone_who_records_sales_searches_the_one_directory(api, team):
    north, south, northgate = (c.id for c in team["customers"])
    for user in ("alice", "maria", "admin"):
        headers = headers_for(team[user])
        assert _ids(api, "/customers", query="q=NORTH", headers=headers) == [north, northgate]
        assert _ids(api, "/customers", query="q=south.example", headers=headers) == [south]
        assert _ids(api, "/customers", query="q=100%25", headers=headers) == []  # a % is a letter, not a wildcard
        assert set(_ids(api, "/customers", headers=headers)) >= {north, south, northgate}
    shown = api.get(f"{API}/customers/{south}", headers=headers_for(team["alice"]))
    assert {k: shown.json[k] for k in ("id", "name", "email")} == {"id": south, "name": "South Dental",
                                                                     "email": "desk@south.example"}
    assert shown.headers["ETag"]
    assert error_of(api.get(f"{API}/customers/999999", headers=headers_for(team["alice"])), 404)


def test_adding_a_customer_is_audited_and_usable_for_a_sale(api, team, factory):
    alice = headers_for(team["alice"])
    response = api.post(f"{API}/customers", headers=alice,
                        json={"name": "  Harbour Vets ", "email": "Front@Harbour.example", "region": "Coast"})
    assert response.status_code == 201, response.json
    made = response.json
    assert (made["name"], made["email"], made["region"], made["phone"]) == (
        "Harbour Vets", "front@harbour.example", "Coast", None)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.create"))
    assert (event.actor_id, event.object_id) == (team["alice"].id, made["id"])
    product = factory.product(name="Monitor")
    sale = api.post(f"{API}/sales", headers=alice, json={
        "product_id": product.id, "customer_id": made["id"], "quantity": 1, "sold_on": "2026-11-19"})
    assert sale.status_code == 201 and sale.json["customer_name"] == "Harbour Vets"


@pytest.mark.parametrize("body, field", [
    ({"name": "   "}, "name"), ({"name": "x" * 121}, "name"), ({}, "name"),
    ({"name": "Vets", "email": "not an email"}, "email"), ({"name": "Vets", "phone": "1" * 41}, "phone"),
    ({"name": "Vets\x00"}, "name"), ({"name": "Vets", "colour": "red"}, "colour"), ({"name": 7}, "name"),
])
def test_a_bad_customer_is_422_naming_the_field_and_adds_nothing(api, team, body, field):
    headers = headers_for(team["alice"])
    before = (count(Customer), db.session.scalar(select(func.count()).select_from(AuditEvent)))
    error = error_of(api.post(f"{API}/customers", headers=headers, json=body), 422)
    assert field in error["fields"], error
    assert (count(Customer), db.session.scalar(select(func.count()).select_from(AuditEvent))) == before


def test_a_read_token_or_one_without_sales_cannot_add_a_customer(api, team):
    alice = team["alice"]
    ledger = {"Authorization": "Bearer " + create_token(alice, name="books", access={"ledger": "write"})[1]}
    before = count(Customer)
    assert error_of(api.post(f"{API}/customers", headers=headers_for(alice, "read"), json={"name": "Vets"}), 403)
    assert error_of(api.post(f"{API}/customers", headers=ledger, json={"name": "Vets"}), 403)
    assert error_of(api.get(f"{API}/customers", headers=ledger), 403)
    assert count(Customer) == before


def test_managers_list_their_team_and_admins_every_agent(api, team):
    alice, bob, carol = team["alice"].id, team["bob"].id, team["carol"].id
    maria = headers_for(team["maria"])
    assert _ids(api, "/agents", headers=maria, limit=1) == [alice, bob]
    assert _ids(api, "/agents", query="active=true", headers=maria) == [alice]
    assert _ids(api, "/agents", query="active=false", headers=maria) == [bob]
    assert _ids(api, "/agents", headers=headers_for(team["olga"])) == [carol]
    assert _ids(api, "/agents", headers=headers_for(team["admin"])) == [alice, bob, carol]
    shown = api.get(f"{API}/agents/{bob}", headers=maria).json
    assert shown == {"id": bob, "name": "Bob", "email": team["bob"].email, "manager_id": team["maria"].id,
                     "active": False}


def test_another_teams_agent_is_404_and_agents_have_no_team_list(api, team):
    maria = headers_for(team["maria"])
    assert error_of(api.get(f"{API}/agents/{team['carol'].id}", headers=maria), 404)
    assert error_of(api.get(f"{API}/agents/{team['olga'].id}", headers=maria), 404)  # not an agent
    assert error_of(api.get(f"{API}/agents", headers=headers_for(team["alice"])), 403)
    assert error_of(api.get(f"{API}/agents/{team['alice'].id}", headers=headers_for(team["alice"])), 403)
    for query, field in (("active=maybe", "active"), ("cursor=bm9wZQ", "cursor"), ("role=agent", "role")):
        assert field in error_of(api.get(f"{API}/agents?{query}", headers=maria), 422)["fields"]
