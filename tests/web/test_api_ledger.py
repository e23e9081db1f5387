"""API v1 ledger (issue 17, parity with the pages): an agent's entries filtered by period, kind and
sale, and manual adjustments with the adjustment service's rules; scoped as the pages are."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.web._api import API, count, error_of, every_item, headers_for
from webapp.audit.models import AuditEvent
from webapp.commissions.ledger import agent_balance
from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.extensions import db

TODAY = date(2026, 11, 20)


@pytest.fixture
def team(build, factory):
    """Maria manages Alice and Bob, Olga manages Carol (3% each); approved sales in October (its
    first half closed) and November."""
    build.on(TODAY)
    maria, (alice, bob) = build.team("Maria", "Alice", "Bob")
    olga, (carol,) = build.team("Olga", "Carol")
    sales = {"alice_oct": factory.sale(alice, "1000.00", date(2026, 10, 5)),
             "alice_nov": factory.sale(alice, "500.00", date(2026, 11, 3)),
             "bob_nov": factory.sale(bob, "200.00", date(2026, 11, 4)),
             "carol_nov": factory.sale(carol, "300.00", date(2026, 11, 4))}
    build.close(date(2026, 10, 5))
    return {"maria": maria, "alice": alice, "bob": bob, "olga": olga, "carol": carol,
            "admin": factory.user("admin"), **sales}


def _items(api, query: str, headers, limit: int = 2) -> list[dict]:
    """Every entry the ledger lists for `query`, page by page."""
    return every_item(api, "/ledger", headers, query, limit)


def _stored(**where) -> list[int]:
    """The ids of the stored entries matching `where`, newest first (what the ledger should list)."""
    query = select(CommissionEntry.id).order_by(CommissionEntry.id.desc())
    for name, value in where.items():
        column = getattr(CommissionEntry, name)
        query = query.where(column.in_(value) if isinstance(value, (list, set, tuple)) else column == value)
    return list(db.session.scalars(query))


def test_each_role_lists_the_entries_it_may_see(api, team):
    alice, bob, carol = team["alice"].id, team["bob"].id, team["carol"].id
    assert [e["id"] for e in _items(api, "", headers_for(team["alice"]))] == _stored(agent_id=alice)
    assert [e["id"] for e in _items(api, "", headers_for(team["maria"]))] == _stored(agent_id=[alice, bob])
    assert [e["id"] for e in _items(api, "", headers_for(team["olga"]))] == _stored(agent_id=carol)
    assert [e["id"] for e in _items(api, "", headers_for(team["admin"]))] == _stored()
    line = _items(api, f"sale_id={team['alice_nov'].id}", headers_for(team["alice"]))[0]
    assert (line["kind"], line["amount"], line["rate"], line["sale_id"], line["period_start"], line["period_closed"]) == (
        "sale", "15.00", "3", team["alice_nov"].id, "2026-11-01", False)
    assert line["derivation"] is not None and line["created_by_id"] is None


def test_filters_by_agent_period_kind_and_sale_with_a_total(api, team):
    maria, alice = headers_for(team["maria"]), team["alice"].id
    october = _items(api, f"agent_id={alice}&period_of=2026-10-09", maria)
    assert [e["id"] for e in october] == _stored(sale_id=team["alice_oct"].id)
    assert {(e["period_start"], e["period_end"], e["period_closed"]) for e in october} == {
        ("2026-10-01", "2026-10-15", True)}
    assert _items(api, "period_of=2026-10-20", maria) == []
    assert [e["id"] for e in _items(api, "kind=sale", maria)] == _stored(agent_id=[alice, team["bob"].id],
                                                                         kind="sale")
    page = api.get(f"{API}/ledger?limit=1&include_total=true&agent_id={alice}", headers=maria).json
    assert (len(page["items"]), page["total"]) == (1, len(_stored(agent_id=alice)))
    assert api.get(f"{API}/ledger", headers=maria).json["total"] is None


def test_another_agent_or_team_as_a_filter_is_404(api, team):
    assert error_of(api.get(f"{API}/ledger?agent_id={team['bob'].id}", headers=headers_for(team["alice"])), 404)
    assert error_of(api.get(f"{API}/ledger?agent_id={team['carol'].id}", headers=headers_for(team["maria"])), 404)
    # Another team's sale as a filter shows nothing of it.
    assert _items(api, f"sale_id={team['carol_nov'].id}", headers_for(team["maria"])) == []
    for query, field in (("kind=bonus", "kind"), ("period_of=2026-13-01", "period_of"), ("sale_id=0", "sale_id"),
                         ("cursor=bm9wZQ", "cursor"), ("include_total=perhaps", "include_total")):
        assert field in error_of(api.get(f"{API}/ledger?{query}", headers=headers_for(team["maria"])),
                                 422)["fields"]


def test_a_manager_posts_a_correction_that_counts_and_is_audited(api, team):
    before = agent_balance(team["alice"].id).unpaid
    response = api.post(f"{API}/ledger/adjustments", headers=headers_for(team["maria"]), json={
        "agent_id": team["alice"].id, "amount": "-12.50", "reason": "Returned cable", "sale_id": team["alice_nov"].id})
    assert response.status_code == 201, response.json
    entry = response.json
    assert (entry["kind"], entry["amount"], entry["reason"], entry["sale_id"], entry["created_by_id"]) == (
        "manual", "-12.50", "Returned cable", team["alice_nov"].id, team["maria"].id)
    assert (entry["period_start"], entry["period_closed"]) == ("2026-11-16", False)  # today's period
    assert agent_balance(team["alice"].id).unpaid == before - 1250
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.object_type == "CommissionEntry",
                                                             AuditEvent.object_id == entry["id"])) == "ledger.adjust"
    assert entry["id"] in [e["id"] for e in _items(api, "kind=manual", headers_for(team["alice"]))]


def _written() -> tuple[int, int]:
    """Entries and audit events (the tests' own tokens' left out): what a refusal must not change."""
    return count(CommissionEntry), db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action.not_like("api_token.%")))


@pytest.mark.parametrize("fields, field", [
    ({"amount": "0.00"}, "amount"), ({"amount": "12.345"}, "amount"), ({"amount": "- 5"}, "amount"),
    ({"amount": 5}, "amount"), ({"amount": "999999999999.00"}, "amount"), ({"reason": ""}, "reason"),
    ({"reason": "   "}, "reason"), ({"reason": "x" * 2001}, "reason"), ({"sale_id": "carol"}, "sale_id"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_correction_is_422_naming_the_field_and_posts_nothing(api, team, fields, field):
    maria = headers_for(team["maria"])
    body = {"agent_id": team["alice"].id, "amount": "5.00", "reason": "Bonus", **fields}
    if body.get("sale_id") == "carol":  # another agent's sale
        body["sale_id"] = team["carol_nov"].id
    before = _written()
    assert field in error_of(api.post(f"{API}/ledger/adjustments", headers=maria, json=body), 422)["fields"]
    assert _written() == before


def test_only_the_agents_managers_may_correct_their_ledger(api, team):
    body = {"agent_id": team["carol"].id, "amount": "5.00", "reason": "Bonus"}
    before = _written()
    assert error_of(api.post(f"{API}/ledger/adjustments", headers=headers_for(team["maria"]), json=body), 404)
    assert error_of(api.post(f"{API}/ledger/adjustments", headers=headers_for(team["carol"]), json=body), 403)
    assert error_of(api.post(f"{API}/ledger/adjustments", headers=headers_for(team["olga"], "read"), json=body), 403)
    assert _written() == before
    assert api.post(f"{API}/ledger/adjustments", headers=headers_for(team["admin"]), json=body).status_code == 201
    assert _stored(agent_id=team["carol"].id, kind=EntryKind.MANUAL)
