"""A NUL character in any string of an API body (issue 12): PostgreSQL text cannot hold one, so it
was a 500 after validation on every operation that stores text. Now 422 naming the field, with
nothing written. Every registered operation that takes a body is covered: a new one fails here
until it is given a valid body below."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import get_args

import pytest
from sqlalchemy import select

import webapp.blueprints  # noqa: F401  (registers every operation in REGISTRY)
from tests.security._world import row_counts
from tests.web._api import error_of, headers_for
from webapp.webhooks.models import WebhookEndpoint
from webapp.webhooks.services import create_endpoint
from webapp.api.framework import NUL_MESSAGE, REGISTRY, Operation, _nul_fields
from webapp.commissions.models import CommissionEntry, CommissionPlan
from webapp.commissions.payouts import record_payout
from webapp.commissions.periods import close_period, period_for
from webapp.commissions.plans import PlanRules, create_plan
from webapp.disputes.models import Dispute
from webapp.disputes.services import open_dispute, open_plan_question
from webapp.extensions import db
from webapp.plandocs.models import PlanDocument
from webapp.plandocs.services import issue_missing
from webapp.spiffs.models import Spiff
from webapp.spiffs.services import SpiffRules, create_spiff

TODAY = date(2026, 11, 20)


def _holds_text(annotation) -> bool:
    """True when a field's type is (or may be) a plain string."""
    return annotation is str or any(_holds_text(arg) for arg in get_args(annotation))


def _text_fields(operation: Operation) -> list[str]:
    """The body's string fields."""
    return [name for name, info in operation.body.model_fields.items() if _holds_text(info.annotation)]


BODY_OPERATIONS = [op for op in REGISTRY if op.body is not None and _text_fields(op)]


@pytest.fixture
def world(build, factory):
    """Maria manages Alice (3%); a product; one pending and one approved sale of Alice's; a payout; a
    dispute of another approved sale's line."""
    build.on(TODAY)
    maria, (alice,) = build.team("Maria", "Alice")
    product = factory.product(name="Monitor")
    return {"maria": maria, "alice": alice, "admin": factory.user("admin"), "product": product,
            "category": product.category.code,
            "pending": factory.sale(alice, "200.00", date(2026, 11, 19), product=product, approve=False),
            "approved": factory.sale(alice, "300.00", date(2026, 11, 18), product=product),
            "payout": record_payout(maria, agent_id=alice.id, amount_cents=100, paid_on=TODAY),
            "plan": build.plan, "dispute": open_dispute(alice, _line(factory.sale(alice, "50.00", date(2026, 11, 17))), "Rate?")}


def _spiff(world) -> int:
    """The id of a SPIFF on the world's product (made the first time it is asked for)."""
    spiff = db.session.scalar(select(Spiff).where(Spiff.name == "NUL push"))
    if spiff is None:
        spiff = create_spiff(world["admin"], "NUL push", SpiffRules(
            first_day=date(2026, 11, 20), last_day=date(2026, 11, 30), per_unit=Decimal("5.00"),
            product_ids=[world["product"].id])).spiff
    return spiff.id


def _webhook(world) -> int:
    """The id of a webhook endpoint (made the first time it is asked for)."""
    endpoint = db.session.scalar(select(WebhookEndpoint))
    if endpoint is None:
        endpoint = create_endpoint(world["admin"], url="https://crm.example.com/hooks", event_types=["sale.created"])
    return endpoint.id


def _document(world) -> int:
    """The id of Alice's plan document (issued the first time it is asked for)."""
    document = db.session.scalar(select(PlanDocument.id).where(PlanDocument.agent_id == world["alice"].id))
    return document if document is not None else next(d.id for d in issue_missing() if d.agent_id == world["alice"].id)


def _question(world) -> int:
    """The id of Alice's open question about her plan document (asked the first time)."""
    question = db.session.scalar(select(Dispute.id).where(Dispute.plan_document_id.is_not(None)))
    return question if question is not None else open_plan_question(world["alice"], _document(world), "Per month?").id


def _unused_version(world) -> tuple[int, int]:
    """The plan and version ids of a plan nobody is on (made the first time it is asked for)."""
    plan = db.session.scalar(select(CommissionPlan).where(CommissionPlan.name == "NUL plan")) or create_plan(
        world["admin"], name="NUL plan", description=None, rules=PlanRules(base_rate=Decimal("2")),
        effective_from=date(2026, 11, 1))
    return plan.id, plan.versions[0].id


def _closed_october() -> int:
    """The id of the first half of October, closed (nothing in it is owed: paying it pays nothing)."""
    period = period_for(date(2026, 10, 5))
    if period.is_open:
        close_period(None, period)
    return period.id


def _line(sale) -> int:
    """The id of the sale's commission line."""
    return db.session.scalar(select(CommissionEntry.id).where(CommissionEntry.sale_id == sale.id,
                                                              CommissionEntry.kind == "sale"))


# endpoint -> (who calls it, its URL arguments, a body it accepts); every string field gets a NUL in turn.
VALID = {
    "api.create_sale": ("alice", lambda w: {}, lambda w: {
        "product_id": w["product"].id, "customer_name": "Clinic North", "customer_email": "a@clinic.example",
        "quantity": 1, "unit_price": "10.00", "sold_on": "2026-11-20", "note": "Two monitors"}),
    "api.reject_sale": ("maria", lambda w: {"sale_id": w["pending"].id}, lambda w: {"reason": "Wrong price"}),
    "api.void_sale": ("maria", lambda w: {"sale_id": w["approved"].id}, lambda w: {"reason": "Returned"}),
    "api.create_product": ("admin", lambda w: {}, lambda w: {
        "sku": "NUL-1", "name": "Dock", "category": w["category"], "list_price": "12.50",
        "restricted": False}),
    "api.update_product": ("admin", lambda w: {"product_id": w["product"].id}, lambda w: {
        "name": "Monitor 2", "category": w["category"], "list_price": "15.00", "active": True}),
    "api.start_run": ("maria", lambda w: {}, lambda w: {
        "start": "2026-11-01", "end": "2026-11-20", "agent_ids": [w["alice"].id], "message": "For November"}),
    "api.estimate": ("maria", lambda w: {}, lambda w: {
        "product_id": w["product"].id, "quantity": 1, "unit_price": "10.00", "sold_on": "2026-11-20",
        "agent_id": w["alice"].id}),
    "api.update_sale": ("alice", lambda w: {"sale_id": w["pending"].id}, lambda w: {
        "product_id": w["product"].id, "customer_name": "Clinic South", "customer_email": "b@clinic.example",
        "quantity": 2, "unit_price": "10.00", "sold_on": "2026-11-19", "note": "Three monitors"}),
    "api.open_dispute": ("alice", lambda w: {}, lambda w: {"entry_id": _line(w["approved"]), "comment": "Rate?"}),
    "api.add_message": ("alice", lambda w: {"dispute_id": w["dispute"].id}, lambda w: {"body": "Any news?"}),
    "api.accept_dispute": ("maria", lambda w: {"dispute_id": w["dispute"].id}, lambda w: {
        "amount": "1.00", "note": "Fixed"}),
    "api.reject_dispute": ("maria", lambda w: {"dispute_id": w["dispute"].id}, lambda w: {"reason": "No"}),
    "api.pay_closed_period": ("maria", lambda w: {"period_id": _closed_october()}, lambda w: {"digest": "any"}),
    "api.create_category": ("admin", lambda w: {}, lambda w: {"code": "kits", "name": "Kits"}),
    "api.update_category": ("admin", lambda w: {"category_id": w["product"].category_id}, lambda w: {
        "name": "Screens"}),
    "api.create_version": ("admin", lambda w: {"plan_id": w["plan"].id}, lambda w: {
        "effective_from": "2026-11-20", "base_rate": "4", "terms": "Four percent"}),
    "api.create_spiff": ("admin", lambda w: {}, lambda w: {
        "name": "Monitor push", "first_day": "2026-11-20", "last_day": "2026-11-30", "per_unit": "5.00",
        "product_ids": [w["product"].id]}),
    "api.create_spiff_version": ("admin", lambda w: {"spiff_id": _spiff(w)}, lambda w: {
        "effective_from": "2026-11-25", "first_day": "2026-11-20", "last_day": "2026-11-30", "per_unit": "6.00",
        "product_ids": [w["product"].id]}),
    "api.set_target": ("admin", lambda w: {}, lambda w: {"agent_id": w["alice"].id, "month": "2026-11",
                                                        "amount": "500.00"}),
    "api.create_adjustment": ("maria", lambda w: {}, lambda w: {
        "agent_id": w["alice"].id, "amount": "-2.50", "reason": "Returned cable"}),
    "api.create_customer": ("alice", lambda w: {}, lambda w: {
        "name": "Harbour Vets", "email": "front@harbour.example", "phone": "0123", "region": "Coast"}),
    "api.record_payout": ("maria", lambda w: {}, lambda w: {
        "agent_id": w["alice"].id, "amount": "1.00", "paid_on": "2026-11-20", "reference": "Run 47"}),
    "api.reverse_payout": ("maria", lambda w: {"payout_id": w["payout"].id}, lambda w: {"reason": "Wrong account"}),
    "api.create_webhook": ("admin", lambda w: {}, lambda w: {
        "url": "https://crm.example.com/hooks", "event_types": ["sale.created"], "description": "CRM"}),
    "api.update_webhook": ("admin", lambda w: {"webhook_id": _webhook(w)}, lambda w: {
        "event_types": ["sale.approved"], "description": "CRM sync"}),
    "api.create_plan": ("admin", lambda w: {}, lambda w: {
        "name": "Enterprise", "description": "Large accounts", "effective_from": "2026-11-20", "base_rate": "3",
        "terms": "Paid monthly"}),
    "api.update_version": ("admin", lambda w: dict(zip(("plan_id", "version_id"), _unused_version(w))), lambda w: {
        "base_rate": "2.5", "terms": "Corrected"}),
    "api.acknowledge_document": ("alice", lambda w: {"document_id": _document(w)}, lambda w: {
        "typed_name": "Alice", "confirm": True}),
    "api.ask_question": ("alice", lambda w: {"document_id": _document(w)}, lambda w: {"comment": "Per month?"}),
    "api.create_user": ("admin", lambda w: {}, lambda w: {
        "email": "bea@example.com", "name": "Bea", "role": "agent", "password": "correct horse battery 7",
        "manager_id": w["maria"].id}),
    "api.update_user": ("admin", lambda w: {"user_id": w["alice"].id}, lambda w: {"name": "Alice Able"}),
    "api.update_settings": ("admin", lambda w: {}, lambda w: {"company_name": "Acme Sales"}),
    "api.import_sales": ("maria", lambda w: {}, lambda w: {
        "csv": f"key,agent_email,sku,customer,quantity,unit_price,date,note\nrow-0001,{w['alice'].email},"
               f"{w['product'].sku},Acme,1,10.00,2026-11-18,\n"}),
    "api.import_targets": ("admin", lambda w: {}, lambda w: {
        "csv": f"email,month,amount\n{w['alice'].email},2026-11,5000.00\n"}),
    "api.simulate_plan": ("admin", lambda w: {}, lambda w: {
        "base_rate": "3", "sales_csv": "date,amount,sku,category\n2026-11-03,10.00,,\n"}),
    "api.decide_sales": ("maria", lambda w: {}, lambda w: {"action": "reject", "reason": "Duplicate",
                                                          "sale_ids": [w["pending"].id]}),
    "api.answer_question": ("maria", lambda w: {"dispute_id": _question(w)}, lambda w: {"answer": "Yes"}),
}


def _caller(app, world, operation: Operation):
    """A client, the headers of who calls the operation, its URL and a body it accepts (VALID)."""
    who, path_args, valid = VALID[operation.endpoint]
    with app.test_request_context():
        url = app.url_for(operation.endpoint, **path_args(world))
    return app.test_client(), headers_for(world[who]), url, valid(world)


def _in_savepoint(check) -> None:
    """Run `check` and undo what it wrote, so the next request starts from the same rows."""
    savepoint = db.session.connection().begin_nested()
    try:
        check()
    finally:
        savepoint.rollback()
        db.session.expire_all()


def test_every_operation_with_text_in_its_body_is_covered():
    assert {op.endpoint for op in BODY_OPERATIONS} == set(VALID), "give each new operation a body in VALID"


@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=[op.endpoint for op in BODY_OPERATIONS])
def test_a_nul_in_any_string_field_is_422_naming_it_and_writes_nothing(app, world, operation):
    client, headers, url, body = _caller(app, world, operation)

    def accepts_the_valid_body():  # the base body gets through, so only the NUL can be refused
        response = client.open(url, method=operation.method.upper(), json=body, headers=headers)
        assert response.status_code < 400, response.get_data(as_text=True)

    _in_savepoint(accepts_the_valid_body)
    for field in _text_fields(operation):
        def refuses_the_nul():
            before = row_counts()
            response = client.open(url, method=operation.method.upper(),
                                   json={**body, field: "a\u0000b"}, headers=headers)
            error = error_of(response, 422)
            assert list(error["fields"]) == [field], (field, error)
            assert row_counts() == before

        _in_savepoint(refuses_the_nul)


def _documented_patterns(operation: Operation) -> dict[str, str]:
    """The body's top-level text fields whose schema states a pattern, with it."""
    properties = operation.body.model_json_schema()["properties"]
    patterns = {}
    for name, schema in properties.items():
        for branch in schema.get("anyOf", [schema]):
            if branch.get("type") == "string" and "pattern" in branch:
                patterns[name] = branch["pattern"]
    return patterns


def _samples(base: str) -> list[str]:
    """Variants of a valid value: a control character, a line break, a direction override or mark
    inside it; wrapped in whitespace the service trims; only such whitespace."""
    inside = [base[:1] + character + base[1:] for character in ("\u0001", "\n", "\u202e", "\u200f", "\u0085")]
    return [*inside, f"  {base}\t\n", "\u0085 \u3000"]


@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=[op.endpoint for op in BODY_OPERATIONS])
def test_each_text_field_refuses_exactly_what_its_documented_pattern_forbids(app, world, operation):
    # The document's pattern of a text field (webapp/api/text.py) and the service's plain-text check
    # must agree: text the pattern forbids is a 422 naming the field, text it allows is taken.
    client, headers, url, body = _caller(app, world, operation)
    for field, pattern in _documented_patterns(operation).items():
        base = body.get(field) or ("ann@example.com" if "email" in field else "Acme")
        for sample in _samples(base):
            # As JSON Schema reads it: "$" is the very end (Python's would also match before a final "\n").
            forbidden = re.search(re.sub(r"\$$", r"\\Z", pattern), sample) is None

            def answers_as_documented():
                before = row_counts()
                response = client.open(url, method=operation.method.upper(), json={**body, field: sample},
                                       headers=headers)
                if forbidden:  # refused beside this field (a blank customer_name: beside the id it asks for)
                    named = {field, "customer_id"} if field == "customer_name" else {field}
                    assert error_of(response, 422)["fields"].keys() & named, (field, sample)
                    assert row_counts() == before
                else:
                    assert response.status_code < 400, (field, sample, response.get_data(as_text=True))

            _in_savepoint(answers_as_documented)


def _refused_zero(operation: Operation) -> list[str]:
    """The body's top-level fields whose schema states that zero is refused (`not` its pattern)."""
    return [name for name, schema in operation.body.model_json_schema()["properties"].items()
            if any("not" in branch for branch in schema.get("anyOf", [schema]))]


ZERO_OPERATIONS = [op for op in REGISTRY if op.body is not None and _refused_zero(op)]


@pytest.mark.parametrize("operation", ZERO_OPERATIONS, ids=[op.endpoint for op in ZERO_OPERATIONS])
def test_an_amount_documented_as_not_zero_is_refused_when_zero(app, world, operation):
    client, headers, url, body = _caller(app, world, operation)
    for field in _refused_zero(operation):
        for zero in ("0", "0.00", "00.0"):
            def refuses_zero():
                before = row_counts()
                response = client.open(url, method=operation.method.upper(), json={**body, field: zero},
                                       headers=headers)
                assert field in error_of(response, 422)["fields"], (field, zero)
                assert row_counts() == before

            _in_savepoint(refuses_zero)


def test_a_nul_in_a_list_item_is_named_by_its_position(app, world):
    # No body has a list of strings yet; the check walks nested values all the same.
    assert _nul_fields({"tags": ["ok", "a\x00b"], "inner": {"x": "\x00"}, "n": 3, "s": "fine"}) == {
        "tags.1": NUL_MESSAGE, "inner.x": NUL_MESSAGE}
