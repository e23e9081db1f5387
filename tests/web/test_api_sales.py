"""API v1 sales (issue 7): record (idempotent), list, read, approve, reject, void; every role,
token and bad input, and nothing written when a request is refused."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.web._api import API, count, error_of, headers_for
from webapp.auth.tokens import create_token, revoke_token
from webapp.audit.models import AuditEvent
from webapp.catalog.models import Customer
from webapp.commissions.models import CommissionEntry
from webapp.extensions import db
from webapp.sales.models import Sale
from webapp.sales.services import SaleInput, update_sale

TODAY = date(2026, 11, 20)


@pytest.fixture
def team(build, factory):
    """Maria manages Alice and Bob; Carol is on another team; everyone earns 3%; a product at 1000.00."""
    build.on(TODAY)
    maria, (alice, bob) = build.team("Maria", "Alice", "Bob")
    other_manager, (carol,) = build.team(None, "Carol")
    return {"maria": maria, "alice": alice, "bob": bob, "carol": carol, "other_manager": other_manager,
            "admin": factory.user("admin"), "product": factory.product(name="Monitor"),
            "customer": factory.customer("Clinic North")}


def body(team, **fields) -> dict:
    """A valid sale body for Alice (override or drop fields with None)."""
    base = {"product_id": team["product"].id, "customer_id": team["customer"].id, "quantity": 2,
            "unit_price": "450.00", "sold_on": "2026-11-18", "note": "Two monitors"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def written() -> tuple[int, int, int, int]:
    """Sales, customers, ledger entries and audit events: what a refused request must not change.

    The audit events of the tests' own tokens are left out."""
    audit = db.session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action.not_like("api_token.%")))
    return count(Sale), count(Customer), count(CommissionEntry), audit


# --- POST /sales ------------------------------------------------------------------------------------


def test_an_agent_records_a_sale_for_themselves(api, team):
    response = api.post(f"{API}/sales", headers=headers_for(team["alice"]), json=body(team))
    assert response.status_code == 201, response.json
    sale = response.json
    assert (sale["agent_id"], sale["entered_by_id"], sale["status"]) == (team["alice"].id, team["alice"].id,
                                                                         "pending")
    assert (sale["quantity"], sale["unit_price"], sale["amount"], sale["sold_on"]) == (2, "450.00", "900.00",
                                                                                      "2026-11-18")
    assert (sale["customer_name"], sale["product_name"], sale["note"]) == ("Clinic North", "Monitor",
                                                                           "Two monitors")
    assert sale["estimate"] == "27.00" and sale["commission"] is None, "pending: 3% as an estimate"
    assert db.session.get(Sale, sale["id"]).amount_cents == 90000


def test_the_unit_price_defaults_to_the_list_price_and_a_new_customer_is_made_by_name(api, team):
    response = api.post(f"{API}/sales", headers=headers_for(team["alice"]),
                        json=body(team, unit_price=None, customer_id=None, customer_name="New Clinic",
                                  customer_email="Buyer@New-Clinic.example"))
    assert response.status_code == 201, response.json
    assert response.json["unit_price"] == "1000.00" and response.json["amount"] == "2000.00"
    customer = db.session.get(Customer, response.json["customer_id"])
    assert (customer.name, customer.email) == ("New Clinic", "buyer@new-clinic.example")


def test_a_manager_records_for_a_team_agent_but_not_for_another_teams(api, team):
    headers = headers_for(team["maria"])
    response = api.post(f"{API}/sales", headers=headers, json=body(team, agent_id=team["bob"].id))
    assert response.status_code == 201
    assert (response.json["agent_id"], response.json["entered_by_id"]) == (team["bob"].id, team["maria"].id)
    before = written()
    for agent_id in (team["carol"].id, None, team["maria"].id, 10**9):
        error = error_of(api.post(f"{API}/sales", headers=headers, json=body(team, agent_id=agent_id)), 422)
        assert "agent_id" in error["fields"]
    assert written() == before


def test_an_admin_records_for_any_agent(api, team):
    response = api.post(f"{API}/sales", headers=headers_for(team["admin"]),
                        json=body(team, agent_id=team["carol"].id))
    assert response.status_code == 201 and response.json["agent_id"] == team["carol"].id


def test_an_agent_cannot_record_for_someone_else(api, team):
    before = written()
    error = error_of(api.post(f"{API}/sales", headers=headers_for(team["alice"]),
                              json=body(team, agent_id=team["bob"].id)), 422)
    assert error["fields"] == {"agent_id": "Agents record their own sales."}
    assert written() == before
    own = api.post(f"{API}/sales", headers=headers_for(team["alice"]),
                   json=body(team, agent_id=team["alice"].id))
    assert own.status_code == 201


# --- idempotency ---------------------------------------------------------------------------------------


def test_the_same_key_and_body_returns_the_original_sale(api, team):
    headers = {**headers_for(team["alice"]), "Idempotency-Key": "order-2026-0001"}
    first = api.post(f"{API}/sales", headers=headers, json=body(team))
    before = written()
    again = api.post(f"{API}/sales", headers=headers, json=body(team))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"] and again.json == first.json
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert written() == before, "a replay writes nothing"


def test_the_same_key_with_a_different_body_is_409_and_writes_nothing(api, team):
    headers = {**headers_for(team["alice"]), "Idempotency-Key": "order-2026-0002"}
    original = api.post(f"{API}/sales", headers=headers, json=body(team)).json
    before = written()
    for changed in (body(team, quantity=3), body(team, unit_price="451.00"), body(team, sold_on="2026-11-17"),
                    body(team, note="Other"), body(team, note=None),
                    body(team, customer_id=None, customer_name="X"),
                    body(team, product_id=team["product"].id + 1000)):
        error = error_of(api.post(f"{API}/sales", headers=headers, json=changed), 409)
        assert error["code"] == "idempotency_key_reused" and "Idempotency-Key" in error["fields"]
    assert written() == before
    assert db.session.get(Sale, original["id"]).quantity == 2


def test_a_replay_with_an_omitted_price_or_a_new_customer_matches_what_it_made(api, team):
    headers = {**headers_for(team["alice"]), "Idempotency-Key": "order-2026-0003"}
    new_customer = body(team, unit_price=None, customer_id=None, customer_name="  Clinic South ",
                        customer_email="desk@south.example")
    first = api.post(f"{API}/sales", headers=headers, json=new_customer)
    before = written()
    again = api.post(f"{API}/sales", headers=headers, json=new_customer)
    assert (first.status_code, again.status_code) == (201, 200) and again.json["id"] == first.json["id"]
    assert written() == before, "no second customer either"
    other_email = {**new_customer, "customer_email": "other@south.example"}
    assert api.post(f"{API}/sales", headers=headers, json=other_email).status_code == 409


def test_a_replay_is_compared_with_the_sale_as_created_not_as_edited_since(api, team):
    headers = {**headers_for(team["alice"]), "Idempotency-Key": "order-2026-0004"}
    first = api.post(f"{API}/sales", headers=headers, json=body(team)).json
    sale = db.session.get(Sale, first["id"])
    update_sale(team["alice"], sale,
                SaleInput(product_id=sale.product_id, quantity=5, unit_price=Decimal("450.00"),
                          sold_on=sale.sold_on, customer_id=sale.customer_id, note="edited"))
    db.session.flush()
    again = api.post(f"{API}/sales", headers=headers, json=body(team))
    assert again.status_code == 200 and again.json["id"] == first["id"] and again.json["quantity"] == 5


def test_keys_belong_to_the_user_and_a_request_without_a_key_is_never_replayed(api, team):
    key = {"Idempotency-Key": "shared-key-123"}
    alice = api.post(f"{API}/sales", headers={**headers_for(team["alice"]), **key}, json=body(team))
    bob = api.post(f"{API}/sales", headers={**headers_for(team["bob"]), **key}, json=body(team))
    assert (alice.status_code, bob.status_code) == (201, 201) and alice.json["id"] != bob.json["id"]
    headers = headers_for(team["alice"])
    ids = {api.post(f"{API}/sales", headers=headers, json=body(team)).json["id"] for _ in range(2)}
    assert len(ids) == 2


@pytest.mark.parametrize("key", ["short", "x" * 65, "has space here", "ünïcode-key", ""])
def test_a_malformed_idempotency_key_is_400_and_writes_nothing(api, team, key):
    before = written()
    error = error_of(api.post(f"{API}/sales", headers={**headers_for(team["alice"]), "Idempotency-Key": key},
                              json=body(team)), 400)
    assert "Idempotency-Key" in error["fields"]
    assert written() == before


# --- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("changes, field", [
    ({"unit_price": "1.234"}, "unit_price"),
    ({"unit_price": "1e3"}, "unit_price"),
    ({"unit_price": "-5"}, "unit_price"),
    ({"unit_price": 12.5}, "unit_price"),
    ({"unit_price": 12}, "unit_price"),
    ({"unit_price": "0"}, "unit_price"),
    ({"unit_price": "0.00"}, "unit_price"),
    ({"unit_price": " 12.50"}, "unit_price"),
    ({"unit_price": "1,250.00"}, "unit_price"),
    ({"unit_price": "NaN"}, "unit_price"),
    ({"quantity": 0}, "quantity"),
    ({"quantity": "2"}, "quantity"),
    ({"quantity": 2.5}, "quantity"),
    ({"quantity": 0.0}, "quantity"),  # a whole number (JSON Schema: an integer), below 1
    ({"quantity": True}, "quantity"),
    ({"quantity": 1_000_001}, "quantity"),
    ({"quantity": None}, "quantity"),
    ({"sold_on": "2026-11-20T10:00:00"}, "sold_on"),
    ({"sold_on": "2026-11-20T00:00:00"}, "sold_on"),
    ({"sold_on": "2026-11-20T10:00:00Z"}, "sold_on"),
    ({"sold_on": "20-11-2026"}, "sold_on"),
    ({"sold_on": "2026-02-30"}, "sold_on"),
    ({"sold_on": 20261120}, "sold_on"),
    ({"sold_on": ""}, "sold_on"),
    ({"sold_on": "2026-11-21"}, "sold_on"),  # the future (today is the 20th)
    ({"product_id": "1"}, "product_id"),
    ({"product_id": 0}, "product_id"),
    ({"product_id": 2**60}, "product_id"),
    ({"product_id": None}, "product_id"),
    ({"customer_id": 10**9}, "customer_id"),
    ({"customer_id": None}, "customer_id"),
    ({"customer_name": "Both"}, "customer_name"),
    ({"customer_id": None, "customer_name": ""}, "customer_name"),
    ({"customer_id": None, "customer_name": "X", "customer_email": "not-an-email"}, "customer_email"),
    ({"note": "n" * 2001}, "note"),
    ({"note": 5}, "note"),
    ({"colour": "red"}, "colour"),
    ({"status": "approved"}, "status"),
])
def test_bad_sale_bodies_are_422_with_the_field_and_write_nothing(api, team, changes, field):
    before = written()
    error = error_of(api.post(f"{API}/sales", headers=headers_for(team["alice"]),
                              json=body(team, **changes)), 422)
    assert error["code"] == "validation_error" and field in error["fields"], error
    assert written() == before


def test_an_extra_field_is_named_as_unexpected(api, team):
    error = error_of(api.post(f"{API}/sales", headers=headers_for(team["alice"]),
                              json=body(team, colour="red")), 422)
    assert error["fields"] == {"colour": "Unexpected field."}


def test_products_the_agent_may_not_sell_are_refused(api, team, factory):
    before = written()
    for product in (factory.product(restricted=True), factory.product(active=False)):
        error = error_of(api.post(f"{API}/sales", headers=headers_for(team["alice"]),
                                  json=body(team, product_id=product.id)), 422)
        assert error["fields"] == {"product_id": "Choose a product you can sell."}
    assert written() == before


def test_every_field_the_service_refuses_is_named_at_once(api, team, factory):
    before = written()
    error = error_of(api.post(f"{API}/sales", headers=headers_for(team["alice"]),
                              json=body(team, product_id=factory.product(active=False).id, sold_on="2099-01-01")), 422)
    assert error["fields"] == {"product_id": "Choose a product you can sell.",
                               "sold_on": "The sale date cannot be in the future."}
    assert written() == before


def test_malformed_json_non_json_a_non_object_and_huge_bodies_write_nothing(api, team):
    headers = headers_for(team["alice"])
    json_headers = {**headers, "Content-Type": "application/json"}
    before = written()
    assert error_of(api.post(f"{API}/sales", headers=json_headers, data='{"product_id": 1,'),
                    400)["code"] == "bad_request"
    assert error_of(api.post(f"{API}/sales", headers=headers, data={"product_id": "1"}), 415)
    assert error_of(api.post(f"{API}/sales", headers=json_headers, data="[1, 2]"), 422)
    assert error_of(api.post(f"{API}/sales", headers=json_headers, data=""), 400)
    huge = json.dumps(body(team, note="n" * 70_000))
    assert error_of(api.post(f"{API}/sales", headers=json_headers, data=huge),
                    413)["code"] == "payload_too_large"
    assert written() == before


# --- tokens and roles ---------------------------------------------------------------------------------------


def test_missing_invalid_and_revoked_tokens_are_401_and_write_nothing(api, team):
    token, plaintext = create_token(team["alice"], name="shop")
    revoke_token(team["alice"], token.id)
    before = written()
    for headers in ({}, {"Authorization": "Bearer st_forged"}, {"Authorization": f"Basic {plaintext}"},
                    {"Authorization": f"Bearer {plaintext}"}):
        assert error_of(api.post(f"{API}/sales", headers=headers, json=body(team)),
                        401)["code"] == "unauthorized"
        assert error_of(api.get(f"{API}/sales", headers=headers), 401)
    assert written() == before


def test_a_read_only_token_reads_but_cannot_record_or_decide(api, team, factory):
    sale = factory.sale(team["alice"], "100.00", date(2026, 11, 2), approve=False)
    before = written()
    alice_read, maria_read = headers_for(team["alice"], "read"), headers_for(team["maria"], "read")
    assert error_of(api.post(f"{API}/sales", headers=alice_read, json=body(team)), 403)["message"] == (
        "This token cannot change sales: it needs sales:write.")
    assert error_of(api.post(f"{API}/sales/{sale.id}/approve", headers=maria_read), 403)
    assert error_of(api.post(f"{API}/sales/{sale.id}/reject", headers=maria_read, json={"reason": "x"}), 403)
    assert written() == before
    assert api.get(f"{API}/sales/{sale.id}", headers=alice_read).status_code == 200


# --- GET /sales and /sales/{id} -----------------------------------------------------------------------------


@pytest.fixture
def sales(team, factory):
    """Alice: approved (Nov 3), pending (Nov 10); Bob: approved (Nov 5); Carol: approved (Nov 6)."""
    other = factory.product(name="Cart")
    return {
        "alice_approved": factory.sale(team["alice"], "1000.00", date(2026, 11, 3), product=team["product"]),
        "alice_pending": factory.sale(team["alice"], "200.00", date(2026, 11, 10), product=other,
                                      approve=False),
        "bob": factory.sale(team["bob"], "400.00", date(2026, 11, 5), product=team["product"]),
        "carol": factory.sale(team["carol"], "700.00", date(2026, 11, 6), product=team["product"]),
    }


def ids_of(response) -> list[int]:
    """The ids of a page of sales."""
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def test_each_role_lists_the_sales_it_may_see_newest_first(api, team, sales):
    s = {name: sale.id for name, sale in sales.items()}
    assert ids_of(api.get(f"{API}/sales", headers=headers_for(team["alice"]))) == [s["alice_pending"],
                                                                                   s["alice_approved"]]
    assert ids_of(api.get(f"{API}/sales", headers=headers_for(team["maria"]))) == [
        s["bob"], s["alice_pending"], s["alice_approved"]]
    assert set(ids_of(api.get(f"{API}/sales", headers=headers_for(team["admin"])))) >= set(s.values())
    assert ids_of(api.get(f"{API}/sales", headers=headers_for(team["other_manager"]))) == [s["carol"]]


def test_the_list_shows_commission_for_approved_and_an_estimate_for_pending(api, team, sales):
    items = {i["id"]: i for i in api.get(f"{API}/sales", headers=headers_for(team["alice"])).json["items"]}
    approved, pending = items[sales["alice_approved"].id], items[sales["alice_pending"].id]
    assert (approved["status"], approved["commission"], approved["estimate"]) == ("approved", "30.00", None)
    assert (pending["status"], pending["commission"], pending["estimate"]) == ("pending", None, "6.00")
    assert approved["decided_by_id"] == team["maria"].id and approved["decided_at"].endswith("Z")


def test_list_filters(api, team, sales):
    maria = headers_for(team["maria"])
    s = {name: sale.id for name, sale in sales.items()}
    assert ids_of(api.get(f"{API}/sales?status=pending", headers=maria)) == [s["alice_pending"]]
    assert ids_of(api.get(f"{API}/sales?start=2026-11-04&end=2026-11-09", headers=maria)) == [s["bob"]]
    assert ids_of(api.get(f"{API}/sales?agent_id={team['alice'].id}", headers=maria)) == [
        s["alice_pending"], s["alice_approved"]]
    assert ids_of(api.get(f"{API}/sales?product_id={team['product'].id}", headers=maria)) == [
        s["bob"], s["alice_approved"]]
    assert ids_of(api.get(f"{API}/sales?agent_id={team['alice'].id}",
                          headers=headers_for(team["alice"]))) == [s["alice_pending"], s["alice_approved"]]


def test_another_agent_as_a_list_filter_is_404(api, team, sales):
    assert error_of(api.get(f"{API}/sales?agent_id={team['bob'].id}", headers=headers_for(team["alice"])),
                    404)
    assert error_of(api.get(f"{API}/sales?agent_id={team['carol'].id}", headers=headers_for(team["maria"])),
                    404)
    assert error_of(api.get(f"{API}/sales?agent_id={team['maria'].id}", headers=headers_for(team["admin"])),
                    404)


@pytest.mark.parametrize("query, field", [
    ("status=approve", "status"), ("start=2026-11-20T00:00:00", "start"), ("end=20-11-2026", "end"),
    ("start=2026-02-30", "start"), ("start=2026-11-10&end=2026-11-01", "end"), ("limit=0", "limit"),
    ("limit=101", "limit"), ("limit=ten", "limit"), ("cursor=bm9wZQ", "cursor"), ("agent_id=abc", "agent_id"),
    ("product_id=-1", "product_id"), ("colour=red", "colour"), ("status=pending&status=approved", "status"),
])
def test_bad_list_queries_are_422_with_the_parameter(api, team, query, field):
    error = error_of(api.get(f"{API}/sales?{query}", headers=headers_for(team["maria"])), 422)
    assert field in error["fields"], error


def test_the_list_pages_with_a_cursor(api, team, factory):
    made = [factory.sale(team["alice"], "10.00", date(2026, 11, day)).id for day in range(1, 6)]
    headers = headers_for(team["alice"])
    first = api.get(f"{API}/sales?limit=2", headers=headers).json
    second = api.get(f"{API}/sales?limit=2&cursor={first['next_cursor']}", headers=headers).json
    third = api.get(f"{API}/sales?limit=2&cursor={second['next_cursor']}", headers=headers).json
    assert [i["id"] for page in (first, second, third) for i in page["items"]] == made[::-1]
    assert third["next_cursor"] is None


def test_one_sale_is_visible_to_its_agent_their_manager_and_admins_only(api, team, sales):
    sale = sales["alice_pending"]
    for user in (team["alice"], team["maria"], team["admin"]):
        response = api.get(f"{API}/sales/{sale.id}", headers=headers_for(user))
        assert response.status_code == 200 and response.json["id"] == sale.id
    for user in (team["bob"], team["carol"], team["other_manager"]):
        assert error_of(api.get(f"{API}/sales/{sale.id}", headers=headers_for(user)),
                        404)["code"] == "not_found"
    assert error_of(api.get(f"{API}/sales/999999", headers=headers_for(team["admin"])), 404)
    assert error_of(api.get(f"{API}/sales/{2**62}", headers=headers_for(team["admin"])), 404)


# --- approve, reject, void ----------------------------------------------------------------------------------


def test_a_manager_approves_a_pending_sale_and_its_commission_posts(api, team, sales):
    sale = sales["alice_pending"]
    response = api.post(f"{API}/sales/{sale.id}/approve", headers=headers_for(team["maria"]))
    assert response.status_code == 200, response.json
    assert (response.json["status"], response.json["commission"], response.json["estimate"]) == (
        "approved", "6.00", None)
    assert response.json["decided_by_id"] == team["maria"].id


def test_deciding_is_for_managers_and_admins_of_the_team(api, team, sales):
    sale = sales["alice_pending"]
    before = written()
    for agent in (team["alice"], team["bob"]):
        for action, payload in (("approve", None), ("reject", {"reason": "no"}), ("void", {"reason": "no"})):
            error = error_of(api.post(f"{API}/sales/{sale.id}/{action}", headers=headers_for(agent),
                                      json=payload), 403)
            assert error["code"] == "forbidden"
    assert error_of(api.post(f"{API}/sales/{sale.id}/approve", headers=headers_for(team["other_manager"])),
                    404)
    assert written() == before
    assert api.post(f"{API}/sales/{sale.id}/approve", headers=headers_for(team["admin"])).status_code == 200


def test_deciding_twice_is_409_and_changes_nothing(api, team, sales):
    maria = headers_for(team["maria"])
    approved = sales["alice_approved"]
    before = written()
    error = error_of(api.post(f"{API}/sales/{approved.id}/approve", headers=maria), 409)
    assert error["code"] == "conflict" and "already approved" in error["message"]
    assert error_of(api.post(f"{API}/sales/{approved.id}/reject", headers=maria, json={"reason": "late"}),
                    409)
    pending = sales["alice_pending"]
    assert error_of(api.post(f"{API}/sales/{pending.id}/void", headers=maria, json={"reason": "refund"}), 409)
    assert written() == before


def test_a_manager_cannot_approve_a_sale_they_entered(api, team):
    maria = headers_for(team["maria"])
    entered = api.post(f"{API}/sales", headers=maria, json=body(team, agent_id=team["alice"].id)).json
    before = written()
    error = error_of(api.post(f"{API}/sales/{entered['id']}/approve", headers=maria), 403)
    assert "another manager or an admin" in error["message"]
    assert written() == before
    assert api.post(f"{API}/sales/{entered['id']}/approve",
                    headers=headers_for(team["admin"])).status_code == 200


def test_reject_and_void_need_a_reason(api, team, sales):
    maria = headers_for(team["maria"])
    pending, approved = sales["alice_pending"], sales["alice_approved"]
    before = written()
    for payload, field in (({}, "reason"), ({"reason": ""}, "reason"), ({"reason": "   "}, "reason"),
                           ({"reason": 5}, "reason"), ({"reason": "x" * 2001}, "reason"),
                           ({"reason": "ok", "extra": 1}, "extra")):
        assert field in error_of(api.post(f"{API}/sales/{pending.id}/reject", headers=maria, json=payload),
                                 422)["fields"]
        assert field in error_of(api.post(f"{API}/sales/{approved.id}/void", headers=maria, json=payload),
                                 422)["fields"]
    assert error_of(api.post(f"{API}/sales/{pending.id}/reject", headers=maria, data="reason"), 415)
    assert written() == before
    rejected = api.post(f"{API}/sales/{pending.id}/reject", headers=maria, json={"reason": "Duplicate entry"})
    assert (rejected.status_code, rejected.json["status"], rejected.json["reason"]) == (200, "rejected",
                                                                                       "Duplicate entry")
    voided = api.post(f"{API}/sales/{approved.id}/void", headers=maria, json={"reason": "Refunded"})
    assert (voided.status_code, voided.json["status"], voided.json["commission"]) == (200, "voided", None)


def test_deciding_another_agents_or_an_unknown_sale_is_404(api, team, sales):
    maria = headers_for(team["maria"])
    assert error_of(api.post(f"{API}/sales/{sales['carol'].id}/void", headers=maria, json={"reason": "x"}),
                    404)
    assert error_of(api.post(f"{API}/sales/999999/approve", headers=maria), 404)
    assert db.session.scalar(select(Sale.status).where(Sale.id == sales["carol"].id)) == "approved"


# --- Split sales (COMMISSION_RULES.md section 8) -------------------------------------------------


def test_an_agent_records_a_split_sale_and_every_holder_reads_their_part(api, team):
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    response = api.post(f"{API}/sales", headers=headers_for(alice),
                        json=body(team, unit_price="100.01", quantity=1,
                                  co_agents=[{"agent_id": bob.id, "share": "40"}]))
    assert response.status_code == 201, response.json
    sale = response.json
    # 100.01: Bob 40.00 (40.004 rounded down), Alice the rest; shares as four-place strings.
    assert sale["credits"] == [{"agent_id": alice.id, "share": "60.0000", "credit": "60.01"},
                               {"agent_id": bob.id, "share": "40.0000", "credit": "40.00"}]
    assert sale["estimate"] == "1.80"  # Alice's own part: 3% of 60.01 = 1.8003
    as_bob = api.get(f"{API}/sales/{sale['id']}", headers=headers_for(bob))
    assert as_bob.status_code == 200 and as_bob.json["estimate"] == "1.20"  # 3% of 40.00
    assert sale["id"] in ids_of(api.get(f"{API}/sales", headers=headers_for(bob)))
    assert api.get(f"{API}/sales/{sale['id']}", headers=headers_for(carol)).status_code == 404
    approved = api.post(f"{API}/sales/{sale['id']}/approve", headers=headers_for(team["maria"]))
    assert approved.status_code == 200 and approved.json["commission"] == "3.00"  # the manager: both holders
    assert api.get(f"{API}/sales/{sale['id']}", headers=headers_for(bob)).json["commission"] == "1.20"


@pytest.mark.parametrize("split, field, words", [
    ({"co_agents": [{"agent_id": "BOB", "share": "40"}], "share": "50"}, "share", "add up to 90%"),
    ({"co_agents": [{"agent_id": "BOB", "share": "100"}]}, "share", "above 0"),
    ({"co_agents": [{"agent_id": "BOB", "share": "12.34567"}]}, "co_agents.0.share", "four decimals"),
    ({"co_agents": [{"agent_id": "BOB", "share": "0"}]}, "co_agents.0.share", "above 0%"),
    ({"co_agents": [{"agent_id": "BOB", "share": "10"}, {"agent_id": "ALICE", "share": "10"}]},
     "co_agents.1.agent_id", "own agent"),
    ({"co_agents": [{"agent_id": "BOB", "share": "10"}, {"agent_id": "BOB", "share": "10"}]},
     "co_agents.1.agent_id", "already co-agent 1"),
    ({"co_agents": [{"agent_id": "MARIA", "share": "10"}]}, "co_agents.0.agent_id", "active agent"),
])
def test_bad_co_agents_or_shares_are_a_422_naming_the_field_and_write_nothing(api, team, split, field, words):
    names = {"BOB": team["bob"].id, "ALICE": team["alice"].id, "MARIA": team["maria"].id}
    for co in split["co_agents"]:
        co["agent_id"] = names[co["agent_id"]]
    before = written()
    error = error_of(api.post(f"{API}/sales", headers=headers_for(team["alice"]), json=body(team, **split)), 422)
    assert words in error["fields"][field], error
    assert written() == before


def test_five_co_agents_or_a_float_share_are_refused_by_the_schema(api, team):
    before = written()
    five = [{"agent_id": team["bob"].id, "share": "1"}] * 5
    error = error_of(api.post(f"{API}/sales", headers=headers_for(team["alice"]), json=body(team, co_agents=five)),
                     422)
    assert "co_agents" in error["fields"]
    floats = [{"agent_id": team["bob"].id, "share": 40.5}]
    error = error_of(api.post(f"{API}/sales", headers=headers_for(team["alice"]), json=body(team, co_agents=floats)),
                     422)
    assert "co_agents.0.share" in error["fields"]
    assert written() == before


def test_the_same_key_with_other_co_agents_is_a_409(api, team):
    headers = {**headers_for(team["alice"]), "Idempotency-Key": "split-key-0001"}
    split = body(team, co_agents=[{"agent_id": team["bob"].id, "share": "40"}])
    assert api.post(f"{API}/sales", headers=headers, json=split).status_code == 201
    assert api.post(f"{API}/sales", headers=headers, json=split).status_code == 200
    before = written()
    changed = body(team, co_agents=[{"agent_id": team["bob"].id, "share": "30"}])
    error_of(api.post(f"{API}/sales", headers=headers, json=changed), 409)
    error_of(api.post(f"{API}/sales", headers=headers, json=body(team)), 409)
    assert written() == before


def test_an_unknown_product_without_a_price_is_refused_beside_the_product_alone(api, team):
    # No unit_price stands for the product's list price: with the product unknown, "enter a price"
    # beside a field the client left out would send them after the wrong field.
    before = written()
    error = error_of(api.post(f"{API}/sales", headers=headers_for(team["alice"]),
                              json=body(team, product_id=999999, unit_price=None)), 422)
    assert list(error["fields"]) == ["product_id"], error
    assert "unit_price" in error_of(api.post(f"{API}/sales", headers=headers_for(team["alice"]), json=body(
        team, product_id=999999, unit_price="12.345")), 422)["fields"], "a price given is still checked"
    assert written() == before
