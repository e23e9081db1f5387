"""API v1 commission plans (issue 17, parity with the admin's plan pages): plans and versions with
their rules as exact decimal strings, a new version (which recomputes the plan's agents), and plan
assignments; admins only, the plan services' rules as 422 naming the field."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.web._api import API, count, error_of, headers_for
from webapp.commissions.models import CommissionEntry, EntryKind, PlanAssignment, PlanVersion
from webapp.extensions import db

TODAY = date(2026, 11, 20)


@pytest.fixture
def world(build, factory):
    """Alice on the team's 3% plan with a 1000.00 Monitor sale on the 3rd; a tiered plan nobody is on; Bob
    on no plan; an admin and a manager."""
    build.on(TODAY)
    maria, (alice,) = build.team("Maria", "Alice")
    bob = build.agent("Bob", maria, plan=None)
    tiered = factory.plan(tiers=[("0", "2"), ("5000", "4.5")], tier_mode="marginal", name="Tiered")
    monitor = factory.product(name="Monitor")
    factory.sale(alice, "1000.00", date(2026, 11, 3), product=monitor)
    return {"maria": maria, "alice": alice, "bob": bob, "admin": factory.user("admin"), "flat": build.plan,
            "tiered": tiered, "category": monitor.category}


def _line(sale_agent) -> int:
    """The agent's commission lines' total (cents)."""
    db.session.expire_all()
    return sum(db.session.scalars(select(CommissionEntry.amount_cents).where(
        CommissionEntry.agent_id == sale_agent.id, CommissionEntry.kind == EntryKind.SALE)))


def test_admins_read_every_plan_with_its_rules(api, world):
    plans = {p["name"]: p for p in api.get(f"{API}/plans", headers=headers_for(world["admin"])).json["items"]}
    [tiered] = plans["Tiered"]["versions"]
    assert (tiered["base_rate"], tiered["tier_mode"], tiered["basis"]) == (None, "marginal", "amount")
    assert tiered["tiers"] == [{"start": "0.00", "rate": "2"}, {"start": "5000.00", "rate": "4.5"}]
    one = api.get(f"{API}/plans/{world['flat'].id}", headers=headers_for(world["admin"]))
    assert one.json["versions"][0]["base_rate"] == "3" and one.headers["ETag"]
    for who in ("maria", "alice"):
        assert error_of(api.get(f"{API}/plans", headers=headers_for(world[who])), 403)
    assert error_of(api.get(f"{API}/plans/999999", headers=headers_for(world["admin"])), 404)


def test_a_new_version_from_a_day_recomputes_the_agents_on_the_plan(api, world):
    assert _line(world["alice"]) == 3000
    response = api.post(f"{API}/plans/{world['flat'].id}/versions", headers=headers_for(world["admin"]), json={
        "effective_from": "2026-11-01", "base_rate": "4", "terms": "Four percent from November",
        "category_rates": [{"category_id": world["category"].id, "rate": "5.25"}]})
    assert response.status_code == 201, response.json
    version = response.json
    assert (version["version"], version["effective_from"], version["base_rate"], version["terms"]) == (
        2, "2026-11-01", "4", "Four percent from November")
    assert version["category_rates"] == [{"category_id": world["category"].id, "rate": "5.25"}]
    assert _line(world["alice"]) == 5250  # the Monitor's category at 5.25% of 1000.00


@pytest.mark.parametrize("fields, field", [
    ({"base_rate": "4", "tiers": [{"start": "0", "rate": "2"}]}, "base_rate"),
    ({"tiers": [{"start": "0", "rate": "2"}]}, "tier_mode"),
    ({"base_rate": "101"}, "base_rate"), ({"base_rate": "3.12345"}, "base_rate"), ({"base_rate": "-1"}, "base_rate"),
    ({"base_rate": "3", "category_rates": [{"category_id": 999999, "rate": "1"}]}, "category_rates"),
    ({"base_rate": "3", "basis": "target_percent"}, "basis"), ({"base_rate": "3", "effective_from": "2026-10-01"},
                                                               "effective_from"),
    ({"base_rate": "3", "tiers": [{"start": "0", "rate": "2", "cap": "9"}]}, "tiers.0.cap"),
    ({"base_rate": "3", "colour": "red"}, "colour"),
])
def test_a_bad_version_is_422_naming_the_field_and_adds_nothing(api, world, build, fields, field):
    build.close(date(2026, 10, 15))
    before = count(PlanVersion)
    body = {"effective_from": "2026-11-01", **fields}
    error = error_of(api.post(f"{API}/plans/{world['flat'].id}/versions", headers=headers_for(world["admin"]),
                              json=body), 422)
    assert field in error["fields"], error
    assert count(PlanVersion) == before


def test_assignments_put_an_agent_on_a_plan_and_end_it(api, world):
    admin = headers_for(world["admin"])
    made = api.post(f"{API}/plan-assignments", headers=admin, json={
        "agent_id": world["bob"].id, "plan_id": world["tiered"].id, "effective_from": "2026-11-01"})
    assert made.status_code == 201, made.json
    assert {k: made.json[k] for k in ("agent_id", "plan_id", "effective_from", "effective_to")} == {
        "agent_id": world["bob"].id, "plan_id": world["tiered"].id, "effective_from": "2026-11-01",
        "effective_to": None}
    listed = api.get(f"{API}/plan-assignments?agent_id={world['bob'].id}", headers=admin).json["items"]
    assert [a["id"] for a in listed] == [made.json["id"]]
    assert [a["agent_id"] for a in api.get(f"{API}/plan-assignments?plan_id={world['tiered'].id}&on=2026-11-05",
                                           headers=admin).json["items"]] == [world["bob"].id]
    ended = api.post(f"{API}/plan-assignments/{made.json['id']}/end", headers=admin,
                     json={"effective_to": "2026-11-30"})
    assert ended.status_code == 200 and ended.json["effective_to"] == "2026-11-30"
    assert api.get(f"{API}/plan-assignments?agent_id={world['bob'].id}&on=2026-12-01",
                   headers=admin).json["items"] == []


def test_overlapping_or_foreign_assignments_are_refused(api, world):
    admin = headers_for(world["admin"])
    before = count(PlanAssignment)
    clash = api.post(f"{API}/plan-assignments", headers=admin, json={
        "agent_id": world["alice"].id, "plan_id": world["tiered"].id, "effective_from": "2026-11-01"})
    assert "already on" in error_of(clash, 422)["fields"]["effective_from"]
    for body, field in (({"agent_id": world["maria"].id, "plan_id": world["tiered"].id,
                          "effective_from": "2026-11-01"}, "agent_id"),
                        ({"agent_id": world["bob"].id, "plan_id": 999999, "effective_from": "2026-11-01"}, "plan_id"),
                        ({"agent_id": world["bob"].id, "plan_id": world["tiered"].id, "effective_from": "2026-11-10",
                          "effective_to": "2026-11-01"}, "effective_to")):
        assert field in error_of(api.post(f"{API}/plan-assignments", headers=admin, json=body), 422)["fields"]
    assert error_of(api.post(f"{API}/plan-assignments", headers=headers_for(world["maria"]), json={
        "agent_id": world["bob"].id, "plan_id": world["tiered"].id, "effective_from": "2026-11-01"}), 403)
    assert count(PlanAssignment) == before
    assert error_of(api.post(f"{API}/plan-assignments/999999/end", headers=admin,
                             json={"effective_to": "2026-11-30"}), 404)
