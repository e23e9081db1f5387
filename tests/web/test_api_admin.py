"""API v1 administration (issue 17, parity with the users and settings pages): accounts listed,
read, created and changed (role, team, deactivation, which ends sessions and revokes tokens), and
the installation's settings; admins only, the services' rules as 422 beside the field, nothing
written when refused."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support.rows import counts
from tests.web._api import API, count, error_of, headers_for
from webapp.audit.models import AuditEvent
from webapp.auth.models import User
from webapp.auth.services import authenticate
from webapp.auth.tokens import create_token
from webapp.commissions.models import Settings
from webapp.extensions import db

PASSWORD = "correct horse battery staple 7"


@pytest.fixture
def world(build, factory):
    """Maria's Alice, Olga's team (no agents), an admin."""
    build.on(date(2026, 11, 20))
    maria, (alice,) = build.team("Maria", "Alice")
    olga = factory.user("manager", name="Olga")
    return {"maria": maria, "alice": alice, "olga": olga, "admin": factory.user("admin", name="Ada")}


def test_admins_list_and_read_accounts_by_id_with_filters(api, world):
    admin = headers_for(world["admin"])
    page = api.get(f"{API}/users?limit=2", headers=admin).json
    assert [u["id"] for u in page["items"]] == sorted(u["id"] for u in page["items"]) and page["next_cursor"]
    agents = api.get(f"{API}/users?role=agent", headers=admin).json["items"]
    assert [(u["name"], u["manager_id"]) for u in agents] == [("Alice", world["maria"].id)]
    one = api.get(f"{API}/users/{world['alice'].id}", headers=admin)
    assert one.json["email"] == world["alice"].email and "password" not in one.get_data(as_text=True)
    assert one.headers["ETag"]
    assert error_of(api.get(f"{API}/users/999999", headers=admin), 404)
    for who in ("maria", "alice"):
        assert error_of(api.get(f"{API}/users", headers=headers_for(world[who])), 403)


def test_making_or_changing_accounts_takes_a_token_that_writes_every_area(api, world):
    # An account can do everything its role allows: a token for the catalogue (admin:write alone)
    # must not make an admin with a password it knows.
    admin_only = {"Authorization": f"Bearer {create_token(world['admin'], name='catalogue', access={'admin': 'write'})[1]}"}
    before = counts(User)
    body = {"email": "eve@example.com", "name": "Eve", "role": "admin", "password": PASSWORD}
    assert "sales:write" in error_of(api.post(f"{API}/users", headers=admin_only, json=body), 403)["message"]
    assert error_of(api.patch(f"{API}/users/{world['alice'].id}", headers=admin_only, json={"role": "admin"}), 403)
    assert counts(User) == before and api.get(f"{API}/users", headers=admin_only).status_code == 200


def test_an_admin_creates_an_agent_who_can_sign_in(api, world):
    response = api.post(f"{API}/users", headers=headers_for(world["admin"]), json={
        "email": " Bea@Example.COM ", "name": "Bea", "role": "agent", "password": PASSWORD,
        "manager_id": world["olga"].id})
    assert response.status_code == 201, response.json
    assert (response.json["email"], response.json["manager_id"], response.json["active"]) == (
        "bea@example.com", world["olga"].id, True)
    assert authenticate("bea@example.com", PASSWORD).id == response.json["id"]
    assert db.session.get(User, response.json["id"]).password_hash != PASSWORD


@pytest.mark.parametrize("fields, field", [
    ({"email": "alice-taken"}, "email"),                      # replaced by Alice's own address below
    ({"email": "not an address"}, "email"),
    ({"password": "short"}, "password"),
    ({"password": "password123"}, "password"),
    ({"manager_id": "alice"}, "manager_id"),                  # an agent is no manager
    ({"manager_id": 999999}, "manager_id"),
    ({"role": "owner"}, "role"),
    ({"name": "   "}, "name"),
    ({"name": "Bea\nEvil"}, "name"),
    ({"active": False}, "active"),                            # not a field of a new account
])
def test_a_refused_account_names_the_field_and_writes_nothing(api, world, fields, field):
    admin = headers_for(world["admin"])
    body = {"email": "bea@example.com", "name": "Bea", "role": "agent", "password": PASSWORD,
            "manager_id": world["olga"].id, **fields}
    if body["email"] == "alice-taken":
        body["email"] = world["alice"].email.upper()
    if body["manager_id"] == "alice":
        body["manager_id"] = world["alice"].id
    before = counts(User, AuditEvent)
    error = error_of(api.post(f"{API}/users", headers=admin, json=body), 422)
    assert field in error["fields"], error
    assert counts(User, AuditEvent) == before


def test_an_account_is_moved_renamed_and_deactivated_which_revokes_its_tokens(api, world):
    admin, alice = headers_for(world["admin"]), headers_for(world["alice"])
    url = f"{API}/users/{world['alice'].id}"
    assert api.get(f"{API}/me", headers=alice).status_code == 200
    etag = api.get(url, headers=admin).headers["ETag"]
    moved = api.patch(url, headers={**admin, "If-Match": etag}, json={"manager_id": world["olga"].id,
                                                                     "name": "Alice Able"})
    assert moved.status_code == 200, moved.json
    assert (moved.json["manager_id"], moved.json["name"], moved.json["role"]) == (
        world["olga"].id, "Alice Able", "agent")
    assert error_of(api.patch(url, headers={**admin, "If-Match": etag}, json={"active": False}), 412)
    off = api.patch(url, headers=admin, json={"active": False})
    assert off.status_code == 200 and off.json["active"] is False
    assert error_of(api.get(f"{API}/me", headers=alice), 401), "a deactivated account's tokens are revoked"


def test_refused_changes_of_an_account_write_nothing(api, world):
    admin, manager = headers_for(world["admin"]), headers_for(world["maria"])  # their tokens' audit rows first
    before = counts(User, AuditEvent)
    me = f"{API}/users/{world['admin'].id}"
    assert "role" in error_of(api.patch(me, headers=admin, json={"active": False}), 422)["fields"]
    assert "role" in error_of(api.patch(me, headers=admin, json={"role": "agent"}), 422)["fields"]
    maria = f"{API}/users/{world['maria'].id}"
    assert "role" in error_of(api.patch(maria, headers=admin, json={"role": "agent"}), 422)["fields"], \
        "Alice is still on Maria's team"
    assert "manager_id" in error_of(api.patch(f"{API}/users/{world['alice'].id}", headers=admin,
                                              json={"manager_id": world["alice"].id}), 422)["fields"]
    assert error_of(api.patch(f"{API}/users/999999", headers=admin, json={"name": "X"}), 404)
    assert error_of(api.patch(maria, headers=manager, json={"name": "X"}), 403)
    assert counts(User, AuditEvent) == before


def test_an_admin_reads_and_changes_the_settings(api, world):
    admin = headers_for(world["admin"])
    settings = api.get(f"{API}/settings", headers=admin).json
    assert settings["period_cadence"] in ("semi_monthly", "monthly") and settings["company_name"]
    changed = api.patch(f"{API}/settings", headers=admin, json={"approval_required": False,
                                                                "company_name": "  Acme Sales  "})
    assert changed.status_code == 200, changed.json
    assert (changed.json["approval_required"], changed.json["company_name"], changed.json["grace_hours"]) == (
        False, "Acme Sales", settings["grace_hours"])
    db.session.expire_all()
    assert db.session.get(Settings, 1).approval_required is False


def test_settings_changed_since_they_were_read_are_a_412_and_an_unchanged_patch_audits_nothing(api, world):
    admin, url = headers_for(world["admin"]), f"{API}/settings"
    read = api.get(url, headers=admin)
    etag = read.headers["ETag"]
    audited = count(AuditEvent)
    same = api.patch(url, headers={**admin, "If-Match": etag}, json={"grace_hours": read.json["grace_hours"]})
    assert same.status_code == 200 and same.json == read.json and same.headers["ETag"] == etag
    assert count(AuditEvent) == audited, "nothing changed, nothing to audit"
    changed = api.patch(url, headers={**admin, "If-Match": etag}, json={"grace_hours": 24})
    assert changed.status_code == 200 and changed.json["grace_hours"] == 24 and changed.headers["ETag"] != etag
    assert count(AuditEvent) == audited + 1
    # Another admin's PATCH with the ETag read before that change changes nothing.
    assert error_of(api.patch(url, headers={**admin, "If-Match": etag}, json={"grace_hours": 72}), 412)
    assert api.get(url, headers=admin).json["grace_hours"] == 24 and count(AuditEvent) == audited + 1


@pytest.mark.parametrize("body, field", [
    ({"grace_hours": 721}, "grace_hours"), ({"reminder_days": -1}, "reminder_days"),
    ({"statement_requests_per_hour": 0}, "statement_requests_per_hour"), ({"period_cadence": "weekly"}, "period_cadence"),
    ({"company_name": "   "}, "company_name"), ({"company_name": "Acme\u202eEvil"}, "company_name"),
    ({"colour": "red"}, "colour"),
])
def test_refused_settings_name_the_field_and_change_nothing(api, world, body, field):
    admin = headers_for(world["admin"])
    before = api.get(f"{API}/settings", headers=admin).json
    assert field in error_of(api.patch(f"{API}/settings", headers=admin, json=body), 422)["fields"]
    assert api.get(f"{API}/settings", headers=admin).json == before
    assert error_of(api.patch(f"{API}/settings", headers=headers_for(world["maria"]), json={}), 403)
