"""API tokens with read or write access per area and a last day (issue 17, item 3): made on the
profile page, enforced on every operation, shown in the tokens list."""

from __future__ import annotations

import re

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.web._api import API, count, error_of
from webapp.api.framework import REGISTRY
from webapp.api.models import ApiToken
from webapp.audit.models import AuditEvent
from webapp.auth.tokens import AREAS, create_token
from webapp.extensions import db
from webapp.sales.models import Sale

TODAY = date(2026, 11, 20)


@pytest.fixture
def world(build, factory):
    """Alice, an agent on a plan, and a product she may sell."""
    build.on(TODAY)
    _, (alice,) = build.team("Maria", "Alice")
    return {"alice": alice, "product": factory.product(name="Monitor")}


def bearer(user, **options) -> dict:
    """The Authorization header of a fresh token of `user` made with `options`."""
    return {"Authorization": f"Bearer {create_token(user, name='scoped', **options)[1]}"}


def sale_body(world) -> dict:
    """A valid sale of Alice's."""
    return {"product_id": world["product"].id, "customer_name": "Clinic", "quantity": 1, "sold_on": "2026-11-18"}


def test_a_token_reaches_only_the_areas_it_was_given(api, world):
    headers = bearer(world["alice"], access={"sales": "read"})
    assert api.get(f"{API}/sales", headers=headers).status_code == 200
    assert api.get(f"{API}/me", headers=headers).status_code == 200  # any token may say whose it is
    sales = count(Sale)
    refused = api.post(f"{API}/sales", headers=headers, json=sale_body(world))
    assert error_of(refused, 403)["code"] == "forbidden" and "sales:write" in refused.json["error"]["message"]
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="api", error="insufficient_scope", scope="sales:write"'
    assert count(Sale) == sales
    unread = api.get(f"{API}/statements", headers=headers)
    assert error_of(unread, 403) and 'scope="ledger:read"' in unread.headers["WWW-Authenticate"]


def test_write_access_to_an_area_includes_reading_it_and_nothing_else(api, world):
    headers = bearer(world["alice"], access={"sales": "write", "ledger": "none"})
    assert api.post(f"{API}/sales", headers=headers, json=sale_body(world)).status_code == 201
    assert api.get(f"{API}/sales", headers=headers).status_code == 200
    assert api.get(f"{API}/agents/{world['alice'].id}/commissions?start=2026-11-01&end=2026-11-30",
                   headers=headers).status_code == 403


def test_a_token_never_gives_more_than_its_users_role(api, world):
    headers = bearer(world["alice"], access=dict.fromkeys(AREAS, "write"))
    body = {"sku": "X-1", "name": "X", "category": world["product"].category.code, "list_price": "1.00"}
    assert error_of(api.post(f"{API}/products", headers=headers, json=body), 403)["message"] == (
        "Your role cannot use this operation.")


def test_every_operation_names_its_area(api):
    # Only the caller's own account and the progress of their own background work take any token;
    # retrying an operation takes write access to the area of its change (checked once it is read).
    assert {op.path for op in REGISTRY if op.area is None} == {"/me", "/operations/{operation_id}",
                                                               "/operations/{operation_id}/retry"}
    assert all(op.area in AREAS for op in REGISTRY if op.area is not None)
    spec = api.get(f"{API}/openapi.json").json
    assert "Token scope: sales:write." in spec["paths"]["/sales"]["post"]["description"]
    assert "Token scope: admin:write." in spec["paths"]["/products"]["post"]["description"]
    assert "Token scope: ledger:read." in spec["paths"]["/statements"]["get"]["description"]
    assert "Token scope: write on the area" in spec["paths"]["/operations/{operation_id}/retry"]["post"]["description"]


def test_a_token_works_through_its_last_day_and_not_after(api, world, today):
    headers = bearer(world["alice"], expires_on=TODAY + timedelta(days=1))
    assert api.get(f"{API}/me", headers=headers).status_code == 200
    today(TODAY + timedelta(days=1))
    assert api.get(f"{API}/me", headers=headers).status_code == 200
    today(TODAY + timedelta(days=2))
    expired = api.get(f"{API}/me", headers=headers)
    assert error_of(expired, 401)["code"] == "unauthorized"
    assert expired.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_the_profile_page_makes_a_scoped_token_with_a_last_day_and_lists_it(app, world, today):
    from tests.conftest import browser_as

    page = browser_as(app, world["alice"])
    form = page.get("/profile/tokens").get_data(as_text=True)
    # An agent is offered the areas an agent has operations in: not payouts, not administration.
    assert 'name="sales"' in form and 'name="ledger"' in form and 'name="expires_on"' in form
    assert 'name="payouts"' not in form and 'name="admin"' not in form
    response = page.post("/profile/tokens", {"name": "Web shop", "sales": "write", "ledger": "read",
                                             "payouts": "write", "admin": "write", "expires_on": "2026-12-31"},
                         token_from="/profile/tokens")
    assert response.status_code == 200
    token = db.session.scalars(select(ApiToken).where(ApiToken.user_id == world["alice"].id)).one()
    assert (token.scopes, token.expires_on) == ("sales:write ledger:read", date(2026, 12, 31))
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "api_token.create")).one()
    assert event.after["scopes"] == "sales:write ledger:read" and event.after["expires_on"] == "2026-12-31"
    listed = page.get("/profile/tokens").get_data(as_text=True)
    assert "<li>sales: read and write</li>" in listed and "<li>ledger: read</li>" in listed
    assert "2026-12-31" in listed and "Expired" not in listed
    today(date(2027, 1, 1))
    assert "Expired" in page.get("/profile/tokens").get_data(as_text=True)


@pytest.mark.parametrize("fields, message", [
    ({"sales": "none", "ledger": "none", "payouts": "none", "admin": "none"}, "at least one area"),
    ({"expires_on": "2026-11-19"}, "That day has passed"),
    ({"expires_on": "19/11/2026"}, "Enter a date like"),
    ({"expires_on": "12-14"}, "Enter a date like"),  # half typed: said, never a token without a last day
    ({"sales": "everything"}, "Not a valid choice"),
])
def test_a_token_the_page_cannot_make_is_refused_beside_its_field(app, world, fields, message):
    from tests.conftest import browser_as

    page = browser_as(app, world["alice"])
    data = {"name": "Web shop", "sales": "write", "ledger": "read", "payouts": "none", "admin": "none", **fields}
    response = page.post("/profile/tokens", data, token_from="/profile/tokens")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    # Beside the field (or the areas' fieldset), never only above the form.
    assert re.search(r'<p class="field-error" id="[a-z_]+-error">[^<]*' + re.escape(message), html), html
    assert 'class="form-error"' not in html
    if "expires_on" in fields:  # what was typed is kept, in a text box that can show it
        assert re.search(r'<input[^>]*id="expires_on"[^>]*type="text"[^>]*value="' + re.escape(fields["expires_on"]),
                         html)
    assert count(ApiToken) == 0


@pytest.mark.parametrize("role, offered", [
    ("manager", {"sales", "ledger", "payouts"}), ("admin", {"sales", "ledger", "payouts", "admin"}),
])
def test_each_role_is_offered_the_areas_it_has_operations_in(app, factory, role, offered):
    from tests.conftest import browser_as

    form = browser_as(app, factory.user(role)).get("/profile/tokens").get_data(as_text=True)
    assert {area for area in AREAS if f'name="{area}"' in form} == offered
