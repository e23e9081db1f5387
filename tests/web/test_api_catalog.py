"""API v1 catalogue administration (issue 17, parity with the admin's catalogue pages): categories,
and the agents assigned a product (who may sell it when it is restricted)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.web._api import API, count, error_of, headers_for
from webapp.audit.models import AuditEvent
from webapp.catalog.models import Category, ProductAssignment
from webapp.extensions import db

TODAY = date(2026, 11, 20)


@pytest.fixture
def world(build, factory):
    """Maria manages Alice and Bob; an admin; a restricted product nobody is assigned yet."""
    build.on(TODAY)
    maria, (alice, bob) = build.team("Maria", "Alice", "Bob")
    return {"maria": maria, "alice": alice, "bob": bob, "admin": factory.user("admin"),
            "product": factory.product(name="Laser", restricted=True)}


def test_everyone_reads_the_categories_and_admins_make_them(api, world):
    admin = headers_for(world["admin"])
    made = api.post(f"{API}/categories", headers=admin, json={"code": "dental_kits", "name": "Dental kits"})
    assert made.status_code == 201, made.json
    assert (made.json["code"], made.json["name"], made.json["active"]) == ("dental_kits", "Dental kits", True)
    listed = api.get(f"{API}/categories", headers=headers_for(world["alice"])).json["items"]
    assert {"id": made.json["id"], "code": "dental_kits", "name": "Dental kits", "active": True} in listed
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.object_type == "Category",
                                                             AuditEvent.object_id == made.json["id"])) == "category.save"
    archived = api.patch(f"{API}/categories/{made.json['id']}", headers=admin, json={"active": False})
    assert (archived.json["name"], archived.json["active"], archived.json["code"]) == ("Dental kits", False,
                                                                                       "dental_kits")


@pytest.mark.parametrize("body, field", [
    ({"code": "Dental Kits", "name": "x"}, "code"), ({"code": "d", "name": "x"}, "code"), ({"name": "x"}, "code"),
    ({"code": "dental", "name": "  "}, "name"), ({"code": "dental", "name": "x" * 81}, "name"),
])
def test_a_bad_category_is_422_naming_the_field(api, world, body, field):
    before = count(Category)
    assert field in error_of(api.post(f"{API}/categories", headers=headers_for(world["admin"]), json=body),
                             422)["fields"]
    assert count(Category) == before


def test_a_category_code_is_taken_once_and_only_admins_change_categories(api, world):
    admin = headers_for(world["admin"])
    first = api.post(f"{API}/categories", headers=admin, json={"code": "lasers", "name": "Lasers"}).json
    before = count(Category)
    assert "exists already" in error_of(api.post(f"{API}/categories", headers=admin,
                                                 json={"code": "lasers", "name": "Again"}), 422)["fields"]["code"]
    assert error_of(api.post(f"{API}/categories", headers=headers_for(world["maria"]),
                             json={"code": "mine", "name": "Mine"}), 403)
    assert error_of(api.patch(f"{API}/categories/{first['id']}", headers=headers_for(world["maria"]),
                              json={"name": "Mine"}), 403)
    assert error_of(api.patch(f"{API}/categories/999999", headers=admin, json={"name": "Ghost"}), 404)
    assert error_of(api.patch(f"{API}/categories/{first['id']}", headers=admin, json={"code": "x"}), 422)
    assert count(Category) == before


def test_assigning_a_restricted_product_lets_exactly_those_agents_sell_it(api, world):
    admin, product = headers_for(world["admin"]), world["product"]
    url = f"{API}/products/{product.id}/agents"
    assert api.get(url, headers=admin).json == {"agent_ids": []}
    assert error_of(api.get(f"{API}/products/{product.id}", headers=headers_for(world["alice"])), 404)
    assigned = api.put(url, headers=admin, json={"agent_ids": [world["alice"].id]})
    assert assigned.status_code == 200 and assigned.json == {"agent_ids": [world["alice"].id]}
    assert api.get(f"{API}/products/{product.id}", headers=headers_for(world["alice"])).status_code == 200
    assert error_of(api.get(f"{API}/products/{product.id}", headers=headers_for(world["bob"])), 404)
    assert api.put(url, headers=admin, json={"agent_ids": [world["bob"].id]}).json == {"agent_ids": [world["bob"].id]}
    assert error_of(api.get(f"{API}/products/{product.id}", headers=headers_for(world["alice"])), 404)


def test_only_agents_are_assigned_and_only_by_admins(api, world):
    admin, product = headers_for(world["admin"]), world["product"]
    url = f"{API}/products/{product.id}/agents"
    before = count(ProductAssignment)
    assert error_of(api.put(url, headers=admin, json={"agent_ids": [world["maria"].id]}), 422)["fields"] == {
        "agent_ids": "Choose agents only."}
    assert error_of(api.put(url, headers=admin, json={"agent_ids": [0]}), 422)
    assert error_of(api.put(url, headers=headers_for(world["maria"]), json={"agent_ids": [world["alice"].id]}), 403)
    assert error_of(api.get(url, headers=headers_for(world["maria"])), 403)
    assert error_of(api.put(f"{API}/products/999999/agents", headers=admin, json={"agent_ids": []}), 404)
    assert count(ProductAssignment) == before
