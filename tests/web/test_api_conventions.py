"""What every API answer does, as integrators expect from the APIs they trust (issue 17, item 3):
X-Request-Id (and the logs), RateLimit-* headers, ETag with If-None-Match and If-Match,
Idempotency-Key on every POST that writes, and rule-specific error codes."""

from __future__ import annotations

import io
import json
import logging
from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask.logging import default_handler
from sqlalchemy import select, update

from tests.web._api import API, count, error_of, headers_for
from webapp import clock
from webapp.api import idempotency
from webapp.api.errors import CODE_MEANINGS, ERROR_CODES
from webapp.api.models import IdempotentAnswer
from webapp.catalog.models import Product
from webapp.extensions import db
from webapp.sales.models import Sale
from webapp.sales.services import SaleInput, update_sale

TODAY = date(2026, 11, 20)


@pytest.fixture
def team(build, factory):
    """Maria manages Alice; an admin; a product; Alice's pending sale entered by herself."""
    build.on(TODAY)
    maria, (alice,) = build.team("Maria", "Alice")
    product = factory.product(name="Monitor", sku="MON-1")
    pending = factory.sale(alice, "900.00", date(2026, 11, 18), product=product, approve=False)
    return {"maria": maria, "alice": alice, "admin": factory.user("admin"), "product": product, "pending": pending}


def product_body(**fields) -> dict:
    """A valid new product in the team's product's category (override fields)."""
    category = db.session.scalar(select(Product).where(Product.sku == "MON-1")).category.code
    return {"sku": "DESK-1", "name": "Desk", "category": category, "list_price": "250.00", **fields}


# --- X-Request-Id ------------------------------------------------------------------------------------


def test_every_answer_names_its_request(api, client, team):
    answers = [api.get(f"{API}/me", headers=headers_for(team["alice"])), api.get(f"{API}/me"),
               api.get(f"{API}/nothing-here"), client.get("/login"), client.get("/no-such-page")]
    ids = [answer.headers.get("X-Request-Id") for answer in answers]
    assert all(ids) and len(set(ids)) == len(ids), ids
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


@pytest.mark.parametrize("sent, kept", [("lb-7f3a9c21.0042", True), ("a" * 128, True), ("a" * 129, False),
                                        ("short", False), ("has space 12345", False), ("bad\\nline12345", False),
                                        ("tab\tinside1234", False), ("quote\"12345678", False)])
def test_a_request_id_sent_by_a_proxy_is_kept_only_when_it_is_safe(api, sent, kept):
    answered = api.get(f"{API}/me", headers={"X-Request-Id": sent}).headers["X-Request-Id"]
    assert (answered == sent) is kept
    if not kept:
        assert len(answered) == 32


def test_a_crash_is_logged_with_the_id_the_client_was_given(app, api, team, monkeypatch):
    """The traceback Flask logs for an unhandled error carries the X-Request-Id of the 500."""
    import webapp.api.account_routes as account_routes

    def broken(**_fields):
        raise RuntimeError("boom for the log test")

    monkeypatch.setattr(account_routes, "UserOut", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    stream = io.StringIO()
    monkeypatch.setattr(default_handler, "stream", stream)
    app.logger.addHandler(default_handler)
    try:
        response = api.get(f"{API}/me", headers={**headers_for(team["alice"]), "X-Request-Id": "support-ticket-4711"})
    finally:
        app.logger.removeHandler(default_handler)
    assert error_of(response, 500)["code"] == "server_error"
    assert response.headers["X-Request-Id"] == "support-ticket-4711"
    logged = stream.getvalue()
    assert "support-ticket-4711" in logged and "boom for the log test" in logged


def test_log_lines_outside_a_request_say_so(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(default_handler, "stream", stream)
    default_handler.handle(logging.LogRecord("webapp", logging.WARNING, __file__, 1, "hello", None, None))
    assert stream.getvalue().split("] ", 1)[1].startswith("WARNING - in ")


# --- RateLimit-* -----------------------------------------------------------------------------------


def test_rate_limit_headers_count_down_and_the_429_says_when_to_retry(app, api, team, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    headers = headers_for(team["alice"])
    # One budget per token, whatever the operation.
    answers = [api.get(f"{API}/{path}", headers=headers) for path in ("me", "sales", "products", "me")]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["RateLimit-Limit"] for a in answers] == ["3"] * 4
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(0 <= int(a.headers["RateLimit-Reset"]) <= 60 for a in answers)
    refused = answers[-1]
    assert error_of(refused, 429)["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Refusals are answers too: a bad token's 401 counts against its own bucket and says so.
    unauthorised = api.get(f"{API}/me", headers={"Authorization": "Bearer st_nope"})
    assert unauthorised.status_code == 401 and unauthorised.headers["RateLimit-Remaining"] == "2"


# --- ETag and If-None-Match ----------------------------------------------------------------------


def test_one_object_has_an_etag_and_an_unchanged_one_answers_304(api, team):
    headers, url = headers_for(team["maria"]), f"{API}/sales/{team['pending'].id}"
    first = api.get(url, headers=headers)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 34
    assert api.get(url, headers=headers).headers["ETag"] == etag  # the same object, the same tag
    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        unchanged = api.get(url, headers={**headers, "If-None-Match": sent})
        assert unchanged.status_code == 304 and unchanged.data == b"" and unchanged.headers["ETag"] == etag
    assert api.get(url, headers={**headers, "If-None-Match": '"other"'}).status_code == 200
    approved = api.post(f"{url}/approve", headers=headers)
    assert approved.status_code == 200 and approved.headers["ETag"] != etag
    again = api.get(url, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 200 and again.json["status"] == "approved"
    assert again.headers["ETag"] == approved.headers["ETag"]


def test_pages_of_objects_and_files_carry_no_etag(api, team):
    headers = headers_for(team["maria"])
    assert "ETag" not in api.get(f"{API}/sales", headers=headers).headers
    assert "ETag" not in api.get(f"{API}/products", headers=headers).headers


def test_a_product_can_be_read_alone_and_agents_only_what_they_may_sell(api, team, factory):
    product, restricted = team["product"], factory.product(restricted=True)
    read = api.get(f"{API}/products/{product.id}", headers=headers_for(team["alice"]))
    assert read.status_code == 200 and read.json["sku"] == "MON-1" and "ETag" in read.headers
    assert error_of(api.get(f"{API}/products/{restricted.id}", headers=headers_for(team["alice"])), 404)
    assert api.get(f"{API}/products/{restricted.id}", headers=headers_for(team["admin"])).status_code == 200
    assert error_of(api.get(f"{API}/products/999999", headers=headers_for(team["admin"])), 404)


# --- If-Match --------------------------------------------------------------------------------------


def test_a_decision_on_a_sale_changed_since_it_was_read_is_412_and_changes_nothing(api, team):
    headers, url = headers_for(team["maria"]), f"{API}/sales/{team['pending'].id}"
    seen = api.get(url, headers=headers).headers["ETag"]
    # Alice changes her pending sale after Maria read it.
    sale = team["pending"]
    update_sale(team["alice"], sale, SaleInput(product_id=team["product"].id, quantity=3, unit_price=Decimal(300),
                                               sold_on=sale.sold_on, customer_id=sale.customer_id))
    db.session.commit()
    for stale in (seen, f"W/{seen}"):  # a weak tag never matches a change
        error = error_of(api.post(f"{url}/approve", headers={**headers, "If-Match": stale}), 412)
        assert error["code"] == "precondition_failed" and "If-Match" in error["fields"]
    db.session.expire_all()
    assert db.session.get(Sale, sale.id).status == "pending"
    current = api.get(url, headers=headers).headers["ETag"]
    # If-Match compares strongly: even the current tag, sent weak, is no promise of the same bytes.
    assert error_of(api.post(f"{url}/approve", headers={**headers, "If-Match": f"W/{current}"}), 412)
    approved = api.post(f"{url}/approve", headers={**headers, "If-Match": f'"older", {current}'})
    assert approved.status_code == 200 and approved.json["status"] == "approved"


def test_if_match_star_and_no_if_match_go_ahead(api, team, factory):
    headers = headers_for(team["maria"])
    other = factory.sale(team["alice"], "100.00", date(2026, 11, 19), approve=False)
    assert api.post(f"{API}/sales/{team['pending'].id}/reject", headers={**headers, "If-Match": "*"},
                    json={"reason": "Duplicate"}).json["status"] == "rejected"
    assert api.post(f"{API}/sales/{other.id}/approve", headers=headers).json["status"] == "approved"


def test_if_match_on_another_teams_sale_is_404_not_412(api, team, build):
    _, (stranger,) = build.team(None, "Stranger")
    sale = build.factory.sale(stranger, "100.00", date(2026, 11, 19), approve=False)
    error = error_of(api.post(f"{API}/sales/{sale.id}/approve",
                              headers={**headers_for(team["maria"]), "If-Match": '"x"'}), 404)
    assert error["code"] == "not_found"


def test_a_product_change_with_a_stale_etag_is_412_and_the_product_stays(api, team):
    headers, url = headers_for(team["admin"]), f"{API}/products/{team['product'].id}"
    seen = api.get(url, headers=headers).headers["ETag"]
    renamed = api.patch(url, headers={**headers, "If-Match": seen}, json={"name": "Monitor 27"})
    assert renamed.status_code == 200 and renamed.json["name"] == "Monitor 27"
    assert renamed.headers["ETag"] == api.get(url, headers=headers).headers["ETag"] != seen
    error = error_of(api.patch(url, headers={**headers, "If-Match": seen}, json={"list_price": "1.00"}), 412)
    assert error["code"] == "precondition_failed"
    db.session.expire_all()
    assert db.session.get(Product, team["product"].id).list_price_cents == 100_000


# --- Idempotency-Key ---------------------------------------------------------------------------------


def test_a_retried_post_gets_the_first_answer_and_writes_nothing(api, team):
    headers = {**headers_for(team["admin"]), "Idempotency-Key": "create-desk-0001"}
    first = api.post(f"{API}/products", headers=headers, json=product_body())
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    products = count(Product)
    # The same request, spelt differently (key order, spacing): the same answer, nothing new.
    reordered = '{ "list_price": "250.00", "name": "Desk", "sku": "DESK-1", "category": "%s" }' % (
        product_body()["category"])
    for again in (api.post(f"{API}/products", headers=headers, json=product_body()),
                  api.post(f"{API}/products", headers=headers, data=reordered, content_type="application/json")):
        assert again.status_code == 201 and again.json == first.json
        assert again.headers["Idempotent-Replayed"] == "true"
    assert count(Product) == products


def test_the_same_key_with_another_request_is_409_and_writes_nothing(api, team):
    headers = {**headers_for(team["admin"]), "Idempotency-Key": "create-desk-0002"}
    api.post(f"{API}/products", headers=headers, json=product_body())
    products = count(Product)
    for other in ({"json": product_body(sku="DESK-2")}, {"json": product_body(name="Chair")}):
        error = error_of(api.post(f"{API}/products", headers=headers, **other), 409)
        assert error["code"] == "idempotency_key_reused" and "Idempotency-Key" in error["fields"]
    # Another operation under the key is another request too: the sale stays pending.
    error = error_of(api.post(f"{API}/sales/{team['pending'].id}/approve", headers=headers), 409)
    assert error["code"] == "idempotency_key_reused"
    db.session.expire_all()
    assert count(Product) == products and db.session.get(Sale, team["pending"].id).status == "pending"


def test_keys_are_per_user_and_a_refused_request_keeps_its_key_free(api, team, factory):
    key = "shared-key-0003"
    second_admin = factory.user("admin")
    refused = api.post(f"{API}/products", headers={**headers_for(team["admin"]), "Idempotency-Key": key},
                       json=product_body(list_price="-5"))
    assert error_of(refused, 422)["code"] == "validation_error"
    assert db.session.scalar(select(IdempotentAnswer).where(IdempotentAnswer.key == key)) is None
    fixed = api.post(f"{API}/products", headers={**headers_for(team["admin"]), "Idempotency-Key": key},
                     json=product_body())
    assert fixed.status_code == 201
    theirs = api.post(f"{API}/products", headers={**headers_for(second_admin), "Idempotency-Key": key},
                      json=product_body(sku="DESK-9"))
    assert theirs.status_code == 201 and theirs.json["id"] != fixed.json["id"]


def test_a_decision_retried_with_its_key_answers_the_decision_again(api, team):
    headers = {**headers_for(team["maria"]), "Idempotency-Key": "approve-sale-0004"}
    url = f"{API}/sales/{team['pending'].id}/approve"
    first = api.post(url, headers=headers)
    assert first.status_code == 200 and first.json["status"] == "approved"
    again = api.post(url, headers=headers)  # without the key this would be 409 "already approved"
    assert again.status_code == 200 and again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert error_of(api.post(url, headers=headers_for(team["maria"])), 409)["code"] == "conflict"


def test_a_malformed_key_is_400(api, team):
    for bad in ("short", "has space inside", "x" * 65):
        error = error_of(api.post(f"{API}/products", headers={**headers_for(team["admin"]), "Idempotency-Key": bad},
                                  json=product_body()), 400)
        assert "Idempotency-Key" in error["fields"]
    assert count(Product) == 1


def test_answers_are_kept_a_day_then_the_key_is_new_again(api, team):
    headers = {**headers_for(team["admin"]), "Idempotency-Key": "create-desk-0005"}
    assert api.post(f"{API}/products", headers=headers, json=product_body()).status_code == 201
    stored = db.session.scalar(select(IdempotentAnswer).where(IdempotentAnswer.key == "create-desk-0005"))
    db.session.execute(update(IdempotentAnswer).where(IdempotentAnswer.id == stored.id)
                       .values(created_at=clock.now_utc() - idempotency.KEEP + timedelta(minutes=1)))
    assert api.post(f"{API}/products", headers=headers, json=product_body()).headers["Idempotent-Replayed"] == "true"
    db.session.execute(update(IdempotentAnswer).where(IdempotentAnswer.id == stored.id)
                       .values(created_at=clock.now_utc() - idempotency.KEEP - timedelta(seconds=1)))
    # Past the day the request runs again: here the SKU it made is taken, so it is refused.
    again = api.post(f"{API}/products", headers=headers, json=product_body())
    assert "Idempotent-Replayed" not in again.headers and error_of(again, 422)["fields"] == {
        "sku": "A product with this SKU exists already."}


def test_the_hourly_sweep_deletes_answers_past_their_day_only(api, team):
    from jobs.api import sweep_idempotency
    from jobs.schedule import DECLARED

    for n in range(3):
        api.post(f"{API}/products", headers={**headers_for(team["admin"]), "Idempotency-Key": f"sweep-key-000{n}"},
                 json=product_body(sku=f"SWEEP-{n}"))
    rows = db.session.scalars(select(IdempotentAnswer).order_by(IdempotentAnswer.id)).all()
    assert len(rows) == 3
    db.session.execute(update(IdempotentAnswer).where(IdempotentAnswer.id.in_([rows[0].id, rows[1].id]))
                       .values(created_at=clock.now_utc() - idempotency.KEEP - timedelta(seconds=1)))
    db.session.commit()
    assert sweep_idempotency() == 2
    assert db.session.scalars(select(IdempotentAnswer.key)).all() == ["sweep-key-0002"]
    assert sweep_idempotency() == 0
    job = next(job for job in DECLARED if job.name == "idempotency-sweep")
    assert (job.func, job.interval, job.queue) == ("jobs.api.sweep_idempotency", 60 * 60, "periodic")


# --- Error codes -------------------------------------------------------------------------------------


def test_rules_answer_their_own_codes(api, team, build, factory):
    alice, maria = headers_for(team["alice"]), headers_for(team["maria"])
    sale = {"product_id": team["product"].id, "customer_name": "Clinic", "quantity": 1, "sold_on": "2026-11-18"}
    restricted = factory.product(restricted=True)
    assert error_of(api.post(f"{API}/sales", headers=alice, json={**sale, "product_id": restricted.id}),
                    422)["code"] == "not_sellable"
    build.close(date(2026, 10, 15))
    assert error_of(api.post(f"{API}/sales", headers=alice, json={**sale, "sold_on": "2026-10-15"}),
                    422)["code"] == "closed_period"
    entered = api.post(f"{API}/sales", headers=maria, json={**sale, "agent_id": team["alice"].id}).json
    assert error_of(api.post(f"{API}/sales/{entered['id']}/approve", headers=maria), 403)["code"] == "four_eyes"


def test_every_code_is_documented(api):
    assert set(ERROR_CODES.values()) <= set(CODE_MEANINGS)
    spec = api.get(f"{API}/openapi.json").json
    code = spec["components"]["schemas"]["ErrorDetail"]["properties"]["code"]
    assert code["enum"] == sorted(CODE_MEANINGS)
    page = api.get(f"{API}/docs").get_data(as_text=True)
    assert all(f"<code>{name}</code>" in page for name in CODE_MEANINGS)
    # The document's Markdown `code` spans are code on the page, never stray backticks.
    assert "`" not in page and "<code>fields</code>" in page
    assert "Each token may make requests up to 600 per minute, counted across every operation" in page
    assert "<li><code>201</code> Created" in page
    # Allowed values show even where a field may be null; arrays say what they hold; paths wrap at slashes.
    assert "string (pending, approved, rejected, cancelled, voided) or null" in page
    assert "array of TierRule" in page and "<code>/<wbr>api/<wbr>v1/<wbr>sales</code>" in page


def test_the_document_states_the_headers_of_each_operation(api):
    paths = api.get(f"{API}/openapi.json").json["paths"]
    create_product, approve, read_sale = (paths["/products"]["post"], paths["/sales/{sale_id}/approve"]["post"],
                                          paths["/sales/{sale_id}"]["get"])

    def headers_in(op):
        return {p["name"] for p in op["parameters"] if p["in"] == "header"}

    assert "Idempotency-Key" in headers_in(create_product) and {"409", "400"} <= set(create_product["responses"])
    assert {"If-Match", "Idempotency-Key"} <= headers_in(approve) and "412" in approve["responses"]
    assert "If-None-Match" in headers_in(read_sale) and "304" in read_sale["responses"]
    assert "ETag" in read_sale["responses"]["200"]["headers"]
    for path in paths.values():
        for op in path.values():
            for response in op["responses"].values():
                assert {"X-Request-Id", "RateLimit-Limit", "RateLimit-Remaining",
                        "RateLimit-Reset"} <= set(response["headers"])


def test_a_whole_number_written_with_a_fraction_is_an_integer(api, build, factory):
    # JSON Schema counts 2.0 and 1e0 as integers: a client's JSON library may write an id or a
    # quantity so, and the document promises they are taken; 2.5 is still refused.
    build.on(date(2026, 11, 20))
    _, (alice,) = build.team("Maria", "Alice")
    product = factory.product(name="Monitor")
    body = {"product_id": float(product.id), "quantity": 2.0, "sold_on": "2026-11-20", "customer_name": "Acme"}
    made = api.post("/api/v1/sales", headers=headers_for(alice), data=json.dumps({**body, "quantity": 2.0}),
                    content_type="application/json")
    assert made.status_code == 201, made.json
    assert made.json["quantity"] == 2 and made.json["product_id"] == product.id
    exponent = api.post("/api/v1/sales", headers=headers_for(alice), content_type="application/json",
                        data=json.dumps(body).replace('"quantity": 2.0', '"quantity": 1e0'))
    assert exponent.status_code == 201 and exponent.json["quantity"] == 1
    error = error_of(api.post("/api/v1/sales", headers=headers_for(alice), json={**body, "quantity": 2.5}), 422)
    assert list(error["fields"]) == ["quantity"]


def test_a_body_nested_too_deep_is_a_400_with_or_without_a_whole_number(api, build, factory):
    # Parsing 3.0 as an integer reads the body with Python's json, whose recursion limit a 60 KB
    # body of brackets passes: it must still be the 400 pydantic answers, never a 500.
    build.on(date(2026, 11, 20))
    _, (alice,) = build.team("Maria", "Alice")
    for tail in ("", ', "quantity": 1.0'):
        body = '{"x": ' + "[" * 20_000 + "]" * 20_000 + tail + "}"
        response = api.post("/api/v1/sales", headers=headers_for(alice), data=body, content_type="application/json")
        assert response.status_code in (400, 422), (tail, response.status_code)
