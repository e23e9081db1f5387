"""API v1 foundation: tokens, authentication, the error shape, products, the OpenAPI document."""

import json

import pytest
from sqlalchemy import func, select

from tests.conftest import browser_as
from tests.web._api import error_of
from webapp.api.models import ApiToken
from webapp.auth.tokens import create_token
from webapp.catalog.models import Product
from webapp.extensions import db


def bearer(plaintext: str) -> dict:
    """Authorization header for a token."""
    return {"Authorization": f"Bearer {plaintext}"}


def token_for(user, scope="write") -> str:
    """A fresh token's plaintext for `user`."""
    return create_token(user, name=f"test {scope}", scope=scope)[1]


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_profile_page_shows_a_new_token_once_and_stores_only_its_hash(as_agent):
    response = as_agent.post("/profile/tokens", {"name": "Web shop", "scope": "write"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    start = html.index('class="token-value">') + len('class="token-value">')
    plaintext = html[start:html.index("</code>", start)]
    assert plaintext.startswith("st_") and len(plaintext) > 40
    token = db.session.scalars(select(ApiToken).where(ApiToken.user_id == as_agent.user.id)).one()
    assert plaintext not in (token.token_hash, token.prefix) and token.prefix == plaintext[:10]
    assert plaintext not in as_agent.get("/profile/tokens").get_data(as_text=True), "shown more than once"


def test_profile_token_needs_a_name(as_agent):
    response = as_agent.post("/profile/tokens", {"name": "", "scope": "write"})
    assert response.status_code == 422 and _count(ApiToken) == 0


def test_revoked_token_stops_working_and_others_cannot_revoke_it(app, api, factory, as_agent):
    token, plaintext = create_token(as_agent.user, name="shop")
    assert api.get("/api/v1/me", headers=bearer(plaintext)).status_code == 200
    stranger = factory.user("agent")
    assert browser_as(app, stranger).post(f"/profile/tokens/{token.id}/revoke", {}, token_from="/profile/tokens").status_code == 404
    assert as_agent.post(f"/profile/tokens/{token.id}/revoke", {}, token_from="/profile/tokens").status_code == 302
    response = api.get("/api/v1/me", headers=bearer(plaintext))
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer st_not-a-real-token", "Basic dXNlcjpwYXNz",
                                    "st_token-without-scheme"])
def test_missing_or_invalid_token_is_401_in_the_error_shape(api, header):
    response = api.get("/api/v1/me", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert set(response.json) == {"error"} and set(response.json["error"]) == {"code", "message", "fields"}


def test_a_deactivated_users_token_is_refused(api, factory):
    user = factory.user("agent")
    plaintext = token_for(user)
    user.active = False
    db.session.flush()
    assert api.get("/api/v1/me", headers=bearer(plaintext)).status_code == 401


def test_a_signed_in_browser_session_is_not_api_auth(as_agent):
    assert as_agent.get("/api/v1/me").status_code == 401


def test_me_describes_the_tokens_user(api, factory):
    user = factory.user("agent")
    response = api.get("/api/v1/me", headers=bearer(token_for(user)))
    assert response.json == {"id": user.id, "email": user.email, "name": user.name, "role": "agent",
                             "manager_id": user.manager_id}
    assert "Set-Cookie" not in response.headers


def test_agents_list_only_products_they_may_sell(api, factory):
    agent = factory.user("agent")
    open_product = factory.product(name="Open")
    factory.product(name="Restricted", restricted=True)
    factory.product(name="Archived", active=False)
    response = api.get("/api/v1/products", headers=bearer(token_for(agent)))
    assert [p["name"] for p in response.json["items"]] == ["Open"]
    assert response.json["items"][0]["list_price"] == "1000.00" and response.json["items"][0]["id"] == open_product.id


def test_product_list_pages_with_an_opaque_cursor(api, factory):
    admin = factory.user("admin")
    made = [factory.product() for _ in range(5)]
    headers = bearer(token_for(admin))
    first = api.get("/api/v1/products?limit=2", headers=headers).json
    second = api.get(f"/api/v1/products?limit=2&cursor={first['next_cursor']}", headers=headers).json
    ids = [p["id"] for p in first["items"] + second["items"]]
    assert ids == [p.id for p in made[:4]]
    bad = api.get("/api/v1/products?cursor=bm9wZQ", headers=headers)
    assert bad.status_code == 422 and "cursor" in bad.json["error"]["fields"]
    assert api.get("/api/v1/products?limit=0", headers=headers).status_code == 422
    assert api.get("/api/v1/products?limit=1&limit=2", headers=headers).status_code == 422
    assert "activ" in error_of(api.get("/api/v1/products?activ=true", headers=headers), 422)["fields"]


def test_admin_creates_and_changes_a_product(api, factory):
    admin = factory.user("admin")
    category = factory.category(code="medical")
    headers = bearer(token_for(admin))
    created = api.post("/api/v1/products", headers=headers, json={
        "sku": "MED-9", "name": "Monitor", "category": "medical", "list_price": "12500.50"})
    assert created.status_code == 201 and created.json["list_price"] == "12500.50"
    product = db.session.get(Product, created.json["id"])
    assert (product.category_id, product.list_price_cents) == (category.id, 1250050)
    changed = api.patch(f"/api/v1/products/{product.id}", headers=headers, json={"active": False})
    assert changed.status_code == 200 and changed.json["active"] is False


def test_an_archived_category_is_refused_under_the_bodys_own_field_name(api, factory):
    admin = factory.user("admin")
    factory.category(code="old_line").active = False
    product = factory.product()
    headers = bearer(token_for(admin))
    before = _count(Product)
    created = api.post("/api/v1/products", headers=headers, json={
        "sku": "OLD-1", "name": "X", "category": "old_line", "list_price": "10.00"})
    moved = api.patch(f"/api/v1/products/{product.id}", headers=headers, json={"category": "old_line"})
    for response in (created, moved):
        assert response.status_code == 422, response.json
        assert set(response.json["error"]["fields"]) == {"category"}
    assert _count(Product) == before
    db.session.refresh(product)
    assert product.category.code != "old_line"


@pytest.mark.parametrize("body, field", [
    ({"sku": "A-1", "name": "X", "category": "medical", "list_price": "1.234"}, "list_price"),
    ({"sku": "A-1", "name": "X", "category": "medical", "list_price": "1e3"}, "list_price"),
    ({"sku": "A-1", "name": "X", "category": "medical", "list_price": "-5"}, "list_price"),
    ({"sku": "A-1", "name": "X", "category": "medical", "list_price": 12.5}, "list_price"),
    ({"sku": "A-1", "name": "X", "category": "medical", "list_price": "0"}, "list_price"),
    ({"sku": "A-1", "name": "X", "category": "nope", "list_price": "10.00"}, "category"),
    ({"sku": "A-1", "name": "X", "category": "medical", "list_price": "10.00", "colour": "red"}, "colour"),
    ({"sku": "A-1", "category": "medical", "list_price": "10.00"}, "name"),
    ({"sku": 5, "name": "X", "category": "medical", "list_price": "10.00"}, "sku"),
])
def test_bad_product_bodies_are_422_with_the_field_and_write_nothing(api, factory, body, field):
    admin = factory.user("admin")
    factory.category(code="medical")
    before = _count(Product)
    response = api.post("/api/v1/products", headers=bearer(token_for(admin)), json=body)
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"]
    assert _count(Product) == before


def test_malformed_json_non_json_and_huge_bodies(api, factory):
    admin = factory.user("admin")
    headers = bearer(token_for(admin))
    malformed = api.post("/api/v1/products", headers={**headers, "Content-Type": "application/json"}, data="{oops")
    assert malformed.status_code == 400 and malformed.json["error"]["code"] == "bad_request"
    form = api.post("/api/v1/products", headers=headers, data={"sku": "x"})
    assert form.status_code == 415
    huge = api.post("/api/v1/products", headers={**headers, "Content-Type": "application/json"},
                    data=json.dumps({"name": "x" * 200_000}))
    assert huge.status_code == 413 and huge.json["error"]["code"] == "payload_too_large"


def test_roles_and_read_only_tokens(api, factory):
    agent, admin = factory.user("agent"), factory.user("admin")
    body = {"sku": "B-1", "name": "Y", "category": "c", "list_price": "1.00"}
    assert api.post("/api/v1/products", headers=bearer(token_for(agent)), json=body).status_code == 403
    assert api.post("/api/v1/products", headers=bearer(token_for(admin, "read")), json=body).status_code == 403


def test_throttling_is_per_token(app, api, factory, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    first, second = token_for(factory.user("agent")), token_for(factory.user("agent"))
    codes = [api.get("/api/v1/me", headers=bearer(first)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = api.get("/api/v1/me", headers=bearer(first))
    assert limited.json["error"]["code"] == "rate_limited"
    assert api.get("/api/v1/me", headers=bearer(second)).status_code == 200


def test_unknown_api_urls_and_methods_answer_json(api):
    assert api.get("/api/v1/nothing-here").json["error"]["code"] == "not_found"
    assert api.delete("/api/v1/me").json["error"]["code"] == "method_not_allowed"


def test_openapi_document_is_3_1_and_describes_every_operation(app, api):
    spec = api.get("/api/v1/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    documented = {(method.upper(), "/api/v1" + path) for path, item in spec["paths"].items() for method in item}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint not in ("api.openapi_document", "api.docs"):
            path = rule.rule.replace("<int:", "{").replace(">", "}")
            routed |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed
    for item in spec["paths"].values():
        for op in item.values():
            assert "401" in op["responses"] and op["operationId"]
    refs = json.dumps(spec).count("#/components/schemas/")
    assert refs and all(name in spec["components"]["schemas"] for name in ("ErrorBody", "ProductOut"))


def test_docs_page_lists_the_operations(api):
    from webapp.api.framework import REGISTRY

    # Paths may wrap after each slash (<wbr>); the text read is the same.
    html = api.get("/api/v1/docs").get_data(as_text=True).replace("<wbr>", "")
    for text in ("Authorization: Bearer", "Verifying a plan document", "Rules beyond the schemas"):
        assert text in html
    missing = [f"{op.method.upper()} {op.path}" for op in REGISTRY
               if f'id="{op.endpoint.removeprefix("api.")}"' not in html or f"<code>/api/v1{op.path}</code>" not in html]
    assert len(REGISTRY) >= 74 and missing == []


def test_docs_page_lists_every_webhook_event_and_how_to_check_a_signature(api):
    from webapp.webhooks.catalog import EVENT_TYPES

    html = api.get("/api/v1/docs").get_data(as_text=True)
    assert 'id="webhooks"' in html and "Sales-Tracking-Signature" in html and "deduplicate on the event" in html
    assert [event.name for event in EVENT_TYPES if f"<code>{event.name}</code>" not in html] == []
    assert len(EVENT_TYPES) == 12
    # The OpenAPI document describes each as the POST a receiver gets (OpenAPI 3.1 `webhooks`).
    spec = api.get("/api/v1/openapi.json").json
    assert sorted(spec["webhooks"]) == sorted(event.name for event in EVENT_TYPES)
    received = spec["webhooks"]["payout.recorded"]["post"]
    assert [h["name"] for h in received["parameters"]] == ["Sales-Tracking-Signature", "Sales-Tracking-Event-Id"]
    body = received["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"] in ("#/components/schemas/" + name for name in spec["components"]["schemas"])
    assert body["properties"]["type"] == {"const": "payout.recorded"}
