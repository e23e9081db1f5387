"""API v1 SPIFF administration (issue 17, parity with the SPIFF pages): create one (it pays the sales
already approved in its days), change it from a day, end it early; admins only, the SPIFF services'
rules as 422 naming the field."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.web._api import API, count, error_of, headers_for
from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.extensions import db
from webapp.spiffs.models import Spiff, SpiffVersion

TODAY = date(2026, 11, 20)


@pytest.fixture
def world(build, factory):
    """Alice (3%) sold two Monitors on the 10th and one on the 18th (approved); an admin; a manager."""
    build.on(TODAY)
    maria, (alice,) = build.team("Maria", "Alice")
    monitor = factory.product(name="Monitor")
    factory.sale(alice, "100.00", date(2026, 11, 10), product=monitor, quantity=2)
    factory.sale(alice, "100.00", date(2026, 11, 18), product=monitor)
    return {"maria": maria, "alice": alice, "admin": factory.user("admin"), "monitor": monitor}


def _rewards(agent) -> int:
    """The agent's SPIFF rewards (cents), after any clawback adjustments."""
    db.session.expire_all()
    return sum(db.session.scalars(select(CommissionEntry.amount_cents).where(
        CommissionEntry.agent_id == agent.id, CommissionEntry.spiff_id.is_not(None))))


def _body(world, **fields) -> dict:
    """A SPIFF of 5.00 per Monitor in November (a field given as None is left out)."""
    body = {"name": "Monitor push", "first_day": "2026-11-01", "last_day": "2026-11-30", "per_unit": "5.00",
            "product_ids": [world["monitor"].id], **fields}
    return {key: value for key, value in body.items() if value is not None or key == "per_unit"}


def test_a_new_spiff_pays_the_sales_already_approved_in_its_days(api, world):
    response = api.post(f"{API}/spiffs", headers=headers_for(world["admin"]), json=_body(world))
    assert response.status_code == 201, response.json
    made = response.json
    assert (made["spiff"]["name"], made["spiff"]["per_unit"], made["spiff"]["status"]) == (
        "Monitor push", "5.00", "active")
    assert made["recomputed"] >= 1 and made["recompute_pending"] is False
    assert _rewards(world["alice"]) == 1500  # three Monitors
    listed = api.get(f"{API}/spiffs", headers=headers_for(world["alice"])).json["items"]
    assert [(s["name"], s["earned_this_month"]) for s in listed] == [("Monitor push", "15.00")]


def test_a_version_from_a_day_and_an_early_end_recompute_the_days_they_change(api, world):
    admin = headers_for(world["admin"])
    spiff = api.post(f"{API}/spiffs", headers=admin, json=_body(world)).json["spiff"]
    changed = api.post(f"{API}/spiffs/{spiff['id']}/versions", headers=admin,
                       json={**_body(world, per_unit="8.00", name=None), "effective_from": "2026-11-15"})
    assert changed.status_code == 201, changed.json
    assert changed.json["spiff"]["version"] == 2
    assert _rewards(world["alice"]) == 2 * 500 + 800  # the 18th's Monitor at the new rate
    ended = api.post(f"{API}/spiffs/{spiff['id']}/end", headers=admin, json={"last_day": "2026-11-16"})
    assert ended.status_code == 200 and ended.json["spiff"]["last_day"] == "2026-11-16"
    assert _rewards(world["alice"]) == 1000  # the 18th earns nothing any more


@pytest.mark.parametrize("fields, field", [
    ({"name": ""}, "name"), ({"per_unit": None}, "per_unit"), ({"percent": "2.5"}, "per_unit"),
    ({"per_unit": "0.001"}, "per_unit"), ({"last_day": "2026-10-31"}, "last_day"),
    ({"product_ids": []}, "product_ids"), ({"product_ids": [999999]}, "product_ids"),
    ({"team_ids": [999999]}, "team_ids"), ({"cap": "0.00"}, "cap"), ({"colour": "red"}, "colour"),
])
def test_a_bad_spiff_is_422_naming_the_field_and_makes_nothing(api, world, fields, field):
    before = (count(Spiff), count(SpiffVersion), count(CommissionEntry))
    error = error_of(api.post(f"{API}/spiffs", headers=headers_for(world["admin"]), json=_body(world, **fields)),
                     422)
    assert field in error["fields"], error
    assert (count(Spiff), count(SpiffVersion), count(CommissionEntry)) == before


def test_only_admins_run_spiffs_and_names_are_taken_once(api, world):
    admin = headers_for(world["admin"])
    spiff = api.post(f"{API}/spiffs", headers=admin, json=_body(world)).json["spiff"]
    before = (count(Spiff), count(SpiffVersion))
    assert "already exists" in error_of(api.post(f"{API}/spiffs", headers=admin, json=_body(world)),
                                        422)["fields"]["name"]
    for who in ("maria", "alice"):
        assert error_of(api.post(f"{API}/spiffs", headers=headers_for(world[who]), json=_body(world, name="x")), 403)
        assert error_of(api.post(f"{API}/spiffs/{spiff['id']}/end", headers=headers_for(world[who]),
                                 json={"last_day": "2026-11-16"}), 403)
    assert error_of(api.post(f"{API}/spiffs/999999/end", headers=admin, json={"last_day": "2026-11-16"}), 404)
    assert "already ends" in error_of(api.post(f"{API}/spiffs/{spiff['id']}/end", headers=admin,
                                               json={"last_day": "2026-12-05"}), 422)["fields"]["last_day"]
    assert (count(Spiff), count(SpiffVersion)) == before
    assert _rewards(world["alice"]) == 1500 and not db.session.scalar(select(CommissionEntry.id).where(
        CommissionEntry.kind == EntryKind.ADJUSTMENT))
