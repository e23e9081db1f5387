"""API v1 monthly targets (issue 17, parity with the targets page): a month's targets, set or
remove one (the agent-month recomputed); admins only."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.web._api import API, count, error_of, headers_for
from webapp.audit.models import AuditEvent
from webapp.commissions.models import CommissionEntry, EntryKind, Target
from webapp.extensions import db

TODAY = date(2026, 11, 20)


@pytest.fixture
def world(build, factory):
    """Alice on an attainment plan (2% up to 100% of the target, 5% beyond) with a 1000.00 sale on
    the 3rd; Bob on the flat plan; a manager and an admin."""
    build.on(TODAY)
    attainment = factory.plan(tiers=[("0", "2"), ("100", "5")], tier_mode="retroactive", basis="target_percent",
                              name="Attainment")
    maria, (bob,) = build.team("Maria", "Bob")
    alice = build.agent("Alice", maria, plan=attainment)
    factory.sale(alice, "1000.00", date(2026, 11, 3))
    return {"maria": maria, "alice": alice, "bob": bob, "admin": factory.user("admin")}


def _commission(agent) -> int:
    """The agent's commission lines (cents)."""
    db.session.expire_all()
    return sum(db.session.scalars(select(CommissionEntry.amount_cents).where(
        CommissionEntry.agent_id == agent.id, CommissionEntry.kind == EntryKind.SALE)))


def test_setting_a_target_recomputes_the_month_and_removing_it_too(api, world):
    admin, alice = headers_for(world["admin"]), world["alice"]
    body = {"agent_id": alice.id, "month": "2026-11"}
    below = _commission(alice)
    made = api.put(f"{API}/targets", headers=admin, json={**body, "amount": "800.00"})  # 125% attained
    assert made.status_code == 200 and made.json == {**body, "amount": "800.00"}
    assert _commission(alice) == 5000
    listed = api.get(f"{API}/targets?month=2026-11", headers=admin).json["items"]
    assert listed == [{"agent_id": alice.id, "month": "2026-11", "amount": "800.00"}]
    assert api.put(f"{API}/targets", headers=admin, json={**body, "amount": "2000.00"}).json["amount"] == "2000.00"
    assert _commission(alice) == 2000  # 50% attained: 2%
    removed = api.put(f"{API}/targets", headers=admin, json={**body, "amount": None})
    assert removed.status_code == 200 and removed.json == {**body, "amount": None}
    assert api.get(f"{API}/targets?month=2026-11", headers=admin).json["items"] == []
    assert _commission(alice) == below  # as before any target (COMMISSION_RULES.md section 9)
    assert [a for (a,) in db.session.execute(select(AuditEvent.action).where(
        AuditEvent.object_type == "Target").order_by(AuditEvent.id))] == ["target.set", "target.set", "target.remove"]


@pytest.mark.parametrize("fields, field", [
    ({"month": "2026-13"}, "month"), ({"month": "2026-11-01"}, "month"), ({"amount": "0.00"}, "amount"),
    ({"amount": "-5"}, "amount"), ({"amount": 500}, "amount"), ({"agent_id": "maria"}, "agent_id"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_target_is_422_naming_the_field(api, world, fields, field):
    body = {"agent_id": world["alice"].id, "month": "2026-11", "amount": "800.00", **fields}
    if body["agent_id"] == "maria":  # not an agent
        body["agent_id"] = world["maria"].id
    assert field in error_of(api.put(f"{API}/targets", headers=headers_for(world["admin"]), json=body),
                             422)["fields"]
    assert count(Target) == 0


def test_only_admins_see_or_set_targets(api, world):
    body = {"agent_id": world["alice"].id, "month": "2026-11", "amount": "800.00"}
    for who in ("maria", "alice"):
        assert error_of(api.put(f"{API}/targets", headers=headers_for(world[who]), json=body), 403)
        assert error_of(api.get(f"{API}/targets?month=2026-11", headers=headers_for(world[who])), 403)
    assert count(Target) == 0
    for query in ("", "month=11-2026", "month=2026-11&agent_id=0"):
        assert error_of(api.get(f"{API}/targets?{query}", headers=headers_for(world["admin"])), 422)


def test_a_months_targets_page_by_agent(api, world):
    admin = headers_for(world["admin"])
    for agent, amount in ((world["bob"], "300.00"), (world["alice"], "800.00")):
        assert api.put(f"{API}/targets", headers=admin, json={"agent_id": agent.id, "month": "2026-11",
                                                              "amount": amount}).status_code == 200
    first = api.get(f"{API}/targets?month=2026-11&limit=1", headers=admin).json
    second = api.get(f"{API}/targets?month=2026-11&limit=1&cursor={first['next_cursor']}", headers=admin).json
    assert [i["agent_id"] for i in first["items"] + second["items"]] == sorted([world["bob"].id, world["alice"].id])
    assert second["next_cursor"] is None
    assert api.get(f"{API}/targets?month=2026-12", headers=admin).json["items"] == []
