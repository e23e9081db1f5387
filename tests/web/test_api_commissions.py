"""API v1 commissions (issue 7): an agent's figures over a date range and the estimate of a sale;
who may see whose figures, range and body validation, and that an estimate writes nothing."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from tests.web._api import API, count, error_of, headers_for
from webapp.catalog.models import Customer
from webapp.commissions.adjustments import add_manual_adjustment
from webapp.commissions.models import CommissionEntry
from webapp.commissions.payouts import record_payout
from webapp.extensions import db
from webapp.sales.models import Sale

TODAY = date(2026, 11, 20)
NOVEMBER = "start=2026-11-01&end=2026-11-20"


@pytest.fixture
def team(build, factory):
    """Maria manages Alice and Bob; Carol is on another team; 3% for all.

    Alice in November: approved sales of 1000.00 (Nov 3) and 2500.00 (Nov 9), a pending one, a
    -5.00 correction (Nov 12) and a payout of 50.00 (Nov 15)."""
    build.on(TODAY)
    maria, (alice, bob) = build.team("Maria", "Alice", "Bob")
    other_manager, (carol,) = build.team(None, "Carol")
    product = factory.product(name="Monitor", sku="MON-1")
    first = factory.sale(alice, "1000.00", date(2026, 11, 3), product=product)
    factory.sale(alice, "2500.00", date(2026, 11, 9), product=product)
    factory.sale(alice, "200.00", date(2026, 11, 10), product=product, approve=False)
    factory.sale(carol, "700.00", date(2026, 11, 6), product=product)
    correction = add_manual_adjustment(maria, alice.id, -500, "Duplicate bonus")
    # Adjustments count by the day they were made; make that day inside the frozen November.
    correction.created_at = datetime(2026, 11, 12, 12, 0, tzinfo=timezone.utc)
    record_payout(maria, agent_id=alice.id, amount_cents=5000, paid_on=date(2026, 11, 15), reference="TR-1")
    db.session.flush()
    return {"maria": maria, "alice": alice, "bob": bob, "carol": carol, "other_manager": other_manager,
            "admin": factory.user("admin"), "product": product, "first_sale": first, "correction": correction}


# --- GET /agents/{id}/commissions ---------------------------------------------------------------------------


def test_an_agent_reads_their_own_commission_for_a_range(api, team):
    response = api.get(f"{API}/agents/{team['alice'].id}/commissions?{NOVEMBER}",
                       headers=headers_for(team["alice"]))
    assert response.status_code == 200, response.json
    figures = response.json
    assert (figures["agent_id"], figures["start"], figures["end"]) == (
        team["alice"].id, "2026-11-01", "2026-11-20")
    names = ("volume", "earned", "adjustments", "total", "payouts", "opening_unpaid", "unpaid")
    assert {name: figures[name] for name in names} == {
        "volume": "3500.00", "earned": "105.00", "adjustments": "-5.00", "total": "100.00",
        "payouts": "50.00", "opening_unpaid": "0.00", "unpaid": "50.00"}
    assert [(line["date"], line["amount"], line["rate"], line["commission"], line["sku"])
            for line in figures["lines"]] == [("2026-11-03", "1000.00", "3", "30.00", "MON-1"),
                                              ("2026-11-09", "2500.00", "3", "75.00", "MON-1")]
    assert figures["lines"][0]["sale_id"] == team["first_sale"].id
    assert [(a["date"], a["kind"], a["reason"], a["amount"]) for a in figures["adjustment_lines"]] == [
        ("2026-11-12", "manual", "Duplicate bonus", "-5.00")]
    assert [(p["date"], p["reference"], p["amount"]) for p in figures["payout_lines"]] == [
        ("2026-11-15", "TR-1", "50.00")]


def test_a_shorter_range_carries_the_balance_before_it(api, team):
    headers = headers_for(team["alice"])
    early = api.get(f"{API}/agents/{team['alice'].id}/commissions?start=2026-11-01&end=2026-11-05",
                    headers=headers)
    late = api.get(f"{API}/agents/{team['alice'].id}/commissions?start=2026-11-06&end=2026-11-20",
                   headers=headers)
    assert (early.json["earned"], early.json["unpaid"]) == ("30.00", "30.00")
    assert (late.json["opening_unpaid"], late.json["earned"], late.json["unpaid"]) == (
        "30.00", "75.00", "50.00")


def test_managers_read_their_team_and_admins_everyone(api, team):
    for user, agent in ((team["maria"], team["alice"]), (team["maria"], team["bob"]),
                        (team["admin"], team["carol"]), (team["other_manager"], team["carol"])):
        response = api.get(f"{API}/agents/{agent.id}/commissions?{NOVEMBER}",
                           headers=headers_for(user, "read"))
        assert response.status_code == 200 and response.json["agent_id"] == agent.id
    assert api.get(f"{API}/agents/{team['carol'].id}/commissions?{NOVEMBER}",
                   headers=headers_for(team["admin"])).json["earned"] == "21.00"


def test_anyone_elses_figures_are_404(api, team):
    for user, agent_id in ((team["alice"], team["bob"].id), (team["alice"], team["carol"].id),
                           (team["maria"], team["carol"].id), (team["other_manager"], team["alice"].id),
                           (team["admin"], team["maria"].id), (team["admin"], 999999),
                           (team["alice"], 2**60)):
        error = error_of(api.get(f"{API}/agents/{agent_id}/commissions?{NOVEMBER}",
                                 headers=headers_for(user)), 404)
        assert error["code"] == "not_found"


@pytest.mark.parametrize("query, field, message", [
    ("start=2026-11-10&end=2026-11-01", "end", "The last day is before the first day."),
    ("start=2025-11-01&end=2026-11-02", "end", "A statement covers at most 366 days."),
    ("start=2026-11-21&end=2026-11-22", "start", "The range starts in the future."),
    ("end=2026-11-20", "start", None),
    ("start=2026-11-01", "end", None),
    ("start=2026-11-01T00:00:00&end=2026-11-20", "start", None),
    ("start=2026-11-01&end=2026-11-20T23:59:59", "end", None),
    ("start=01-11-2026&end=2026-11-20", "start", None),
    ("start=2026-11-31&end=2026-12-01", "start", None),
    ("start=2026-11-01&end=2026-11-20&page=2", "page", None),
    ("start=2026-11-01&start=2026-11-02&end=2026-11-20", "start", None),
])
def test_bad_ranges_are_422_with_the_field(api, team, query, field, message):
    error = error_of(api.get(f"{API}/agents/{team['alice'].id}/commissions?{query}",
                             headers=headers_for(team["alice"])), 422)
    assert field in error["fields"], error
    if message:
        assert error["fields"][field] == message


def test_commissions_need_a_valid_token(api, team):
    assert error_of(api.get(f"{API}/agents/{team['alice'].id}/commissions?{NOVEMBER}"), 401)
    assert error_of(api.get(f"{API}/agents/{team['alice'].id}/commissions?{NOVEMBER}",
                            headers={"Authorization": "Bearer st_nope"}), 401)


# --- POST /commissions/estimate -----------------------------------------------------------------------------


def estimate_body(team, **fields) -> dict:
    """A valid estimate body (override or drop fields with None)."""
    base = {"product_id": team["product"].id, "quantity": 2, "unit_price": "450.00", "sold_on": "2026-11-18"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def written() -> tuple[int, int, int]:
    """Sales, ledger entries and customers: an estimate writes none."""
    return count(Sale), count(CommissionEntry), count(Customer)


def test_an_agent_asks_what_a_sale_would_earn_and_nothing_is_written(api, team):
    before = written()
    response = api.post(f"{API}/commissions/estimate", headers=headers_for(team["alice"], "read"),
                        json=estimate_body(team))
    assert response.status_code == 200, response.json
    assert response.json == {"amount": "900.00", "commission": "27.00"}
    listed = api.post(f"{API}/commissions/estimate", headers=headers_for(team["alice"]),
                      json=estimate_body(team, unit_price=None))
    assert listed.json == {"amount": "2000.00", "commission": "60.00"}, "the list price when none is given"
    assert written() == before


def test_a_manager_estimates_for_a_team_agent_named_by_id(api, team, factory):
    maria = headers_for(team["maria"])
    response = api.post(f"{API}/commissions/estimate", headers=maria,
                        json=estimate_body(team, agent_id=team["bob"].id))
    assert response.status_code == 200 and response.json["commission"] == "27.00"
    for agent_id in (None, team["carol"].id):
        error = error_of(api.post(f"{API}/commissions/estimate", headers=maria,
                                  json=estimate_body(team, agent_id=agent_id)), 422)
        assert "agent_id" in error["fields"]
    planless = factory.user("agent", manager=team["maria"])
    response = api.post(f"{API}/commissions/estimate", headers=maria,
                        json=estimate_body(team, agent_id=planless.id))
    assert response.json == {"amount": "900.00", "commission": "0.00"}, "no plan, no commission"


@pytest.mark.parametrize("changes, field", [
    ({"unit_price": "1.234"}, "unit_price"), ({"unit_price": "1e3"}, "unit_price"),
    ({"unit_price": "-5"}, "unit_price"), ({"unit_price": 12.5}, "unit_price"),
    ({"unit_price": "0"}, "unit_price"),
    ({"quantity": 0}, "quantity"), ({"quantity": "2"}, "quantity"), ({"quantity": 1.5}, "quantity"),
    ({"sold_on": "2026-11-18T10:00:00"}, "sold_on"), ({"sold_on": "2026-11-21"}, "sold_on"),
    ({"sold_on": "18/11/2026"}, "sold_on"), ({"product_id": None}, "product_id"),
    ({"product_id": 999999}, "product_id"), ({"agent_id": 999999}, "agent_id"),
    ({"customer_id": 1}, "customer_id"),
])
def test_bad_estimate_bodies_are_422_with_the_field(api, team, changes, field):
    before = written()
    error = error_of(api.post(f"{API}/commissions/estimate", headers=headers_for(team["alice"]),
                              json=estimate_body(team, **changes)), 422)
    assert field in error["fields"], error
    assert written() == before


def test_a_restricted_product_is_not_estimated_for_an_agent_who_may_not_sell_it(api, team, factory):
    restricted = factory.product(restricted=True)
    error = error_of(api.post(f"{API}/commissions/estimate", headers=headers_for(team["alice"]),
                              json=estimate_body(team, product_id=restricted.id)), 422)
    assert error["fields"] == {"product_id": "Choose a product you can sell."}


def test_estimate_malformed_non_json_and_huge_bodies(api, team):
    headers = {**headers_for(team["alice"]), "Content-Type": "application/json"}
    assert error_of(api.post(f"{API}/commissions/estimate", headers=headers, data="{"), 400)
    assert error_of(api.post(f"{API}/commissions/estimate", headers=headers_for(team["alice"]), data="x=1"),
                    415)
    assert error_of(api.post(f"{API}/commissions/estimate", headers=headers,
                             data="[" + "1," * 40_000 + "1]"), 413)
    assert error_of(api.post(f"{API}/commissions/estimate", json=estimate_body(team)), 401)
