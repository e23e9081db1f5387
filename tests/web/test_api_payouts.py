"""API v1 payouts (issue 17, parity with the pages): list, read, record, reverse; managers their team's,
admins all, agents none; the payout service's rules as 4xx with the field, and nothing written
when a request is refused."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.web._api import API, count, error_of, every_item, headers_for
from webapp.audit.models import AuditEvent
from webapp.auth.tokens import create_token
from webapp.commissions.ledger import agent_balance
from webapp.commissions.models import Payout
from webapp.extensions import db
from webapp.operations import services as operations

TODAY = date(2026, 11, 20)


@pytest.fixture
def team(build, factory):
    """Maria manages Alice and Bob, Olga manages Carol; each agent has 30.00 approved commission
    (a 1000.00 sale at 3%)."""
    build.on(TODAY)
    maria, (alice, bob) = build.team("Maria", "Alice", "Bob")
    olga, (carol,) = build.team("Olga", "Carol")
    for agent in (alice, bob, carol):
        factory.sale(agent, "1000.00", date(2026, 11, 3))
    return {"maria": maria, "alice": alice, "bob": bob, "olga": olga, "carol": carol,
            "admin": factory.user("admin")}


def written() -> tuple[int, int]:
    """Payouts and audit events (the tests' own tokens' left out): what a refusal must not change."""
    audit = db.session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action.not_like("api_token.%")))
    return count(Payout), audit


def _pay(api, headers, agent, amount="10.00", **fields):
    """POST /payouts for `agent`."""
    return api.post(f"{API}/payouts", headers=headers,
                    json={"agent_id": agent.id, "amount": amount, "paid_on": "2026-11-19", **fields})


def test_a_manager_records_a_payout_for_their_agent(api, team):
    response = _pay(api, headers_for(team["maria"]), team["alice"], "12.50", reference="Bank run 47")
    assert response.status_code == 201, response.json
    paid = response.json
    assert {k: paid[k] for k in ("agent_id", "amount", "paid_on", "reference", "advance", "reverses_id",
                                  "reversed_by_id", "created_by_id")} == {
        "agent_id": team["alice"].id, "amount": "12.50", "paid_on": "2026-11-19", "reference": "Bank run 47",
        "advance": False, "reverses_id": None, "reversed_by_id": None, "created_by_id": team["maria"].id}
    payout = db.session.get(Payout, paid["id"])
    assert (payout.amount_cents, payout.agent_id) == (1250, team["alice"].id)
    assert agent_balance(team["alice"].id).unpaid == 3000 - 1250
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.object_type == "Payout",
                                                             AuditEvent.object_id == payout.id)) == "payout.create"


def test_the_unpaid_balance_caps_a_payout_unless_it_is_an_advance(api, team):
    maria = headers_for(team["maria"])
    before = written()
    error = error_of(_pay(api, maria, team["alice"], "30.01"), 422)
    assert list(error["fields"]) == ["amount"] and "unpaid balance" in error["fields"]["amount"]
    assert written() == before
    assert _pay(api, maria, team["alice"], "30.01", advance=True).json["advance"] is True
    assert _pay(api, maria, team["bob"], "30.00").status_code == 201  # exactly the balance


@pytest.mark.parametrize("fields, field", [
    ({"amount": "0.00"}, "amount"), ({"amount": "-5.00"}, "amount"), ({"amount": "1.234"}, "amount"),
    ({"amount": 10}, "amount"), ({"paid_on": "2026-11-21"}, "paid_on"), ({"paid_on": "19/11/2026"}, "paid_on"),
    ({"reference": "x" * 121}, "reference"), ({"advance": "yes"}, "advance"), ({"colour": "red"}, "colour"),
    ({"reference": "bad\x00byte"}, "reference"),
])
def test_bad_payouts_are_422_with_the_field_and_write_nothing(api, team, fields, field):
    before = written()
    error = error_of(_pay(api, headers_for(team["maria"]), team["alice"], **fields), 422)
    assert field in error["fields"], error
    assert written() == before


def test_a_payout_in_a_closed_period_is_refused_with_its_code(api, team, build):
    build.close(date(2026, 10, 15))
    before = written()
    error = error_of(_pay(api, headers_for(team["maria"]), team["alice"], paid_on="2026-10-15"), 422)
    assert (error["code"], list(error["fields"])) == ("closed_period", ["paid_on"])
    assert written() == before


def test_another_teams_agent_is_404_and_agents_may_not_pay(api, team):
    before = written()
    assert error_of(_pay(api, headers_for(team["maria"]), team["carol"]), 404)["code"] == "not_found"
    assert error_of(_pay(api, headers_for(team["maria"]), team["olga"]), 422)["fields"] == {
        "agent_id": "Choose an agent."}
    assert error_of(_pay(api, headers_for(team["alice"]), team["alice"]), 403)
    assert error_of(api.get(f"{API}/payouts", headers=headers_for(team["alice"])), 403)
    assert written() == before
    assert _pay(api, headers_for(team["admin"]), team["carol"]).status_code == 201


def test_a_token_needs_the_payouts_area(api, team):
    maria = team["maria"]
    ledger_only = {"Authorization": "Bearer " + create_token(maria, name="books", access={"ledger": "write"})[1]}
    read_only = {"Authorization": "Bearer " + create_token(maria, name="payroll", access={"payouts": "read"})[1]}
    before = written()
    refused = _pay(api, read_only, team["alice"])
    assert error_of(refused, 403) and 'scope="payouts:write"' in refused.headers["WWW-Authenticate"]
    listed = api.get(f"{API}/payouts", headers=ledger_only)
    assert error_of(listed, 403) and 'scope="payouts:read"' in listed.headers["WWW-Authenticate"]
    assert written() == before
    assert api.get(f"{API}/payouts", headers=read_only).status_code == 200


def test_the_list_is_the_teams_newest_first_filtered_paged_and_counted(api, team):
    maria, olga = headers_for(team["maria"]), headers_for(team["olga"])
    made = [_pay(api, maria, agent, amount, paid_on=day).json["id"] for agent, amount, day in (
        (team["alice"], "1.00", "2026-11-05"), (team["bob"], "2.00", "2026-11-10"),
        (team["alice"], "3.00", "2026-11-15"), (team["alice"], "4.00", "2026-11-19"))]
    carols = _pay(api, olga, team["carol"]).json["id"]

    def ids(query, headers=maria, limit=2):
        return [item["id"] for item in every_item(api, "/payouts", headers, query, limit)]

    assert ids("") == made[::-1]
    assert ids(f"agent_id={team['alice'].id}") == [made[3], made[2], made[0]]
    assert ids("start=2026-11-06&end=2026-11-15") == [made[2], made[1]]
    assert ids("", headers=olga) == [carols]
    assert set(ids("", headers=headers_for(team["admin"]), limit=100)) == {*made, carols}
    page = api.get(f"{API}/payouts?limit=1&include_total=true&agent_id={team['alice'].id}", headers=maria).json
    assert (len(page["items"]), page["total"]) == (1, 3)
    assert api.get(f"{API}/payouts", headers=maria).json["total"] is None
    assert error_of(api.get(f"{API}/payouts?agent_id={team['carol'].id}", headers=maria), 404)
    for query, field in (("start=2026-11-10&end=2026-11-01", "end"), ("cursor=bm9wZQ", "cursor"),
                         ("agent_id=0", "agent_id"), ("kind=advance", "kind")):
        assert field in error_of(api.get(f"{API}/payouts?{query}", headers=maria), 422)["fields"]


def test_reversing_answers_the_reversal_once_and_the_payout_shows_it(api, team):
    maria = headers_for(team["maria"])
    paid = _pay(api, maria, team["alice"], "10.00").json
    assert error_of(api.post(f"{API}/payouts/{paid['id']}/reverse", headers=maria, json={"reason": ""}),
                    422)["fields"].keys() == {"reason"}
    response = api.post(f"{API}/payouts/{paid['id']}/reverse", headers=maria, json={"reason": "Wrong account"})
    assert response.status_code == 201, response.json
    reversal = response.json
    assert (reversal["amount"], reversal["reverses_id"], reversal["paid_on"]) == ("-10.00", paid["id"], "2026-11-20")
    assert reversal["reference"] == f"Reversal of payout {paid['id']}: Wrong account"
    shown = api.get(f"{API}/payouts/{paid['id']}", headers=maria)
    assert shown.json["reversed_by_id"] == reversal["id"] and shown.headers["ETag"]
    assert agent_balance(team["alice"].id).unpaid == 3000
    before = written()
    for target in (paid["id"], reversal["id"]):
        assert error_of(api.post(f"{API}/payouts/{target}/reverse", headers=maria, json={"reason": "again"}),
                        409)["code"] == "conflict"
    assert written() == before


def test_another_teams_payout_is_404_to_read_or_reverse(api, team):
    carols = _pay(api, headers_for(team["olga"]), team["carol"]).json["id"]
    maria = headers_for(team["maria"])
    before = written()
    assert error_of(api.get(f"{API}/payouts/{carols}", headers=maria), 404)
    assert error_of(api.post(f"{API}/payouts/{carols}/reverse", headers=maria, json={"reason": "x"}), 404)
    assert error_of(api.get(f"{API}/payouts/999999", headers=maria), 404)
    assert written() == before
    assert api.get(f"{API}/payouts/{carols}", headers=headers_for(team["admin"])).status_code == 200


def test_a_retried_payout_with_its_key_is_recorded_once(api, team):
    headers = {**headers_for(team["maria"]), "Idempotency-Key": "payroll-2026-11-alice"}
    first = _pay(api, headers, team["alice"], "5.00")
    again = _pay(api, headers, team["alice"], "5.00")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert error_of(_pay(api, headers, team["alice"], "6.00"), 409)["code"] == "idempotency_key_reused"
    assert count(Payout) == 1


# --- paying a closed period's statements ------------------------------------------------------------


def test_paying_a_closed_period_pays_what_the_plan_showed_once(api, team, build):
    maria = headers_for(team["maria"])
    november = build.close(date(2026, 11, 15))  # the team's sales of the 3rd are in it (30.00 each)
    _pay(api, maria, team["bob"], "10.00")  # paid by hand since: the run pays the rest
    plan = api.get(f"{API}/periods/{november.id}/payment-plan", headers=maria).json
    assert {(i["agent_id"], i["closing"], i["paid_since"], i["amount"]) for i in plan["items"]} == {
        (team["alice"].id, "30.00", "0.00", "30.00"), (team["bob"].id, "30.00", "10.00", "20.00")}
    assert plan["total"] == "50.00"
    before = count(Payout)
    assert error_of(api.post(f"{API}/periods/{november.id}/pay", headers=maria, json={"digest": "stale"}), 409)
    assert count(Payout) == before
    paid = api.post(f"{API}/periods/{november.id}/pay", headers=maria, json={"digest": plan["digest"]})
    assert paid.status_code == 200, paid.json
    assert {(p["agent_id"], p["amount"], p["reference"]) for p in paid.json["items"]} == {
        (team["alice"].id, "30.00", f"Period {november.label}"), (team["bob"].id, "20.00", f"Period {november.label}")}
    assert agent_balance(team["alice"].id).unpaid == 0 and agent_balance(team["bob"].id).unpaid == 0
    again = api.get(f"{API}/periods/{november.id}/payment-plan", headers=maria).json
    assert again["total"] == "0.00"
    assert api.post(f"{API}/periods/{november.id}/pay", headers=maria,
                    json={"digest": again["digest"]}).json["items"] == []


def test_a_team_larger_than_a_request_pays_is_paid_by_a_background_operation(api, app, team, build, monkeypatch):
    monkeypatch.setitem(app.config, "OPERATION_INLINE_LIMIT", 1)
    maria = headers_for(team["maria"])
    november = build.close(date(2026, 11, 15))
    plan = api.get(f"{API}/periods/{november.id}/payment-plan", headers=maria).json
    paid = api.post(f"{API}/periods/{november.id}/pay", headers=maria, json={"digest": plan["digest"]})
    assert paid.status_code == 200, paid.json
    assert paid.json["items"] == [] and count(Payout) == 0, "nothing is paid inside the request"
    operation_id = paid.json["operation_id"]
    assert paid.headers["Operation-Location"] == f"{API}/operations/{operation_id}"
    operations.run_to_end(operation_id)
    followed = api.get(f"{API}/operations/{operation_id}", headers=maria).json
    assert followed["status"] == "done" and followed["done"] == followed["total"] == 2
    assert {(p.agent_id, p.amount_cents) for p in db.session.scalars(select(Payout))} == {
        (team["alice"].id, 3000), (team["bob"].id, 3000)}
    assert api.get(f"{API}/periods/{november.id}/payment-plan", headers=maria).json["total"] == "0.00"


def test_an_open_period_cannot_be_paid_and_others_see_only_their_team(api, team, build):
    from webapp.commissions.periods import period_for

    maria, olga = headers_for(team["maria"]), headers_for(team["olga"])
    open_period = period_for(date(2026, 11, 20))
    assert "still open" in error_of(api.get(f"{API}/periods/{open_period.id}/payment-plan", headers=maria),
                                    409)["message"]
    assert error_of(api.post(f"{API}/periods/{open_period.id}/pay", headers=maria, json={"digest": "x"}), 409)
    november = build.close(date(2026, 11, 15))
    assert [i["agent_id"] for i in api.get(f"{API}/periods/{november.id}/payment-plan",
                                           headers=olga).json["items"]] == [team["carol"].id]
    assert error_of(api.get(f"{API}/periods/{november.id}/payment-plan", headers=headers_for(team["alice"])), 403)
    assert error_of(api.get(f"{API}/periods/999999/payment-plan", headers=maria), 404)
    assert error_of(api.post(f"{API}/periods/{november.id}/pay", headers=maria, json={}), 422)
