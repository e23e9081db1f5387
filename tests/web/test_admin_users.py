"""Admin user pages: creating and editing users, refusing bad input, ending sessions."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from tests.conftest import TEST_PASSWORD, Browser
from tests.support.rows import reload
from tests.web._html import by_id, field_error, tags
from webapp.api.models import ApiToken
from webapp.auth.tokens import create_token
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role, User
from webapp.extensions import db


def _user_count() -> int:
    """How many user rows exist."""
    return db.session.scalar(select(func.count(User.id)))


def _new_user_form(manager: User | None, **overrides) -> dict:
    """A valid create-user form for an agent on `manager`'s team."""
    form = {
        "email": "new.agent@example.com",
        "name": "New Agent",
        "role": "agent",
        "manager_id": str(manager.id) if manager else "",
        "password": "long-enough-password",
    }
    form.update(overrides)
    return form


def _edit_form(user: User, **overrides) -> dict:
    """The edit form as the page would send it for `user`, with changes."""
    form = {
        "name": user.name,
        "role": user.role,
        "manager_id": str(user.manager_id) if user.manager_id else "",
    }
    if user.active:
        form["active"] = "y"
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def test_admin_creates_an_agent_who_is_listed_audited_and_can_sign_in(app, as_admin, factory):
    manager = factory.user(Role.MANAGER)
    before = _user_count()
    response = as_admin.post("/admin/users/new", _new_user_form(manager, email="New.Agent@Example.com"))
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/admin/users"
    assert _user_count() == before + 1

    created = db.session.scalar(select(User).where(User.email == "new.agent@example.com"))
    assert created is not None
    assert (created.name, created.role, created.manager_id, created.active) == (
        "New Agent", "agent", manager.id, True)

    listing = as_admin.get("/admin/users").get_data(as_text=True)
    assert "new.agent@example.com" in listing and "New Agent" in listing

    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "user.create", AuditEvent.object_id == created.id))
    assert event is not None
    assert event.actor_id == as_admin.user.id
    assert event.after["email"] == "new.agent@example.com"
    assert "password" not in str(event.after) and "hash" not in str(event.after)

    login = Browser(app.test_client()).post(
        "/login", {"email": "new.agent@example.com", "password": "long-enough-password"})
    assert login.status_code == 302


def test_admin_creates_a_manager_without_a_manager(as_admin):
    response = as_admin.post("/admin/users/new", _new_user_form(
        None, email="boss@example.com", role="manager"))
    assert response.status_code == 302
    created = db.session.scalar(select(User).where(User.email == "boss@example.com"))
    assert created.role == "manager" and created.manager_id is None


@pytest.mark.parametrize("changes, field, message", [
    ({"password": "short"}, "password", "at least 10 characters"),
    ({"email": "not-an-email"}, "email", "valid email"),
    ({"email": ""}, "email", "required"),
    ({"name": ""}, "name", "required"),
    ({"name": "   "}, "name", ""),
    ({"manager_id": ""}, "manager_id", "manager"),
    ({"role": "superuser"}, "role", "valid choice"),
    ({"manager_id": "not-a-number"}, "manager_id", ""),
])
def test_bad_new_user_input_is_422_beside_the_field_and_writes_nothing(
        as_admin, factory, changes, field, message):
    manager = factory.user(Role.MANAGER)
    before = _user_count()
    response = as_admin.post("/admin/users/new", _new_user_form(manager, **changes))
    assert response.status_code == 422
    error = field_error(response.get_data(as_text=True), field)
    assert error is not None
    assert message.lower() in error.lower()
    assert _user_count() == before


def test_duplicate_email_in_another_case_is_refused(as_admin, factory):
    manager = factory.user(Role.MANAGER)
    factory.user(Role.AGENT, manager=manager, email="alice@example.com")
    before = _user_count()
    response = as_admin.post("/admin/users/new", _new_user_form(manager, email="Alice@Example.com"))
    assert response.status_code == 422
    assert "already exists" in field_error(response.get_data(as_text=True), "email")
    assert _user_count() == before


@pytest.mark.parametrize("make_manager", [
    lambda factory: factory.user(Role.AGENT),
    lambda factory: factory.user(Role.ADMIN),
    lambda factory: factory.user(Role.MANAGER, active=False),
])
def test_agent_whose_manager_is_not_an_active_manager_is_refused(as_admin, factory, make_manager):
    not_a_manager = make_manager(factory)
    before = _user_count()
    response = as_admin.post("/admin/users/new", _new_user_form(not_a_manager))
    assert response.status_code == 422
    assert "active manager" in field_error(response.get_data(as_text=True), "manager_id")
    assert _user_count() == before


def test_agent_with_unknown_manager_id_is_refused(as_admin):
    before = _user_count()
    response = as_admin.post("/admin/users/new", _new_user_form(None, manager_id="999999"))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "manager_id")
    assert _user_count() == before


def test_refused_form_keeps_what_was_typed_but_not_the_password(as_admin, factory):
    manager = factory.user(Role.MANAGER)
    response = as_admin.post("/admin/users/new", _new_user_form(manager, password="short"))
    html = response.get_data(as_text=True)
    assert 'value="new.agent@example.com"' in html
    assert 'value="New Agent"' in html
    assert by_id(html, "password").attrs.get("value") in (None, "")


def test_admin_moves_an_agent_to_another_manager(as_admin, factory):
    first, second = factory.user(Role.MANAGER), factory.user(Role.MANAGER)
    agent = factory.user(Role.AGENT, manager=first)
    response = as_admin.post(f"/admin/users/{agent.id}", _edit_form(agent, manager_id=str(second.id)))
    assert response.status_code == 302
    assert reload(agent).manager_id == second.id
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "user.update", AuditEvent.object_id == agent.id))
    assert event.before["manager_id"] == first.id and event.after["manager_id"] == second.id


def test_admin_promotes_an_agent_to_manager(as_admin, factory):
    agent = factory.user(Role.AGENT)
    response = as_admin.post(f"/admin/users/{agent.id}", _edit_form(agent, role="manager", manager_id=""))
    assert response.status_code == 302
    reloaded = reload(agent)
    assert (reloaded.role, reloaded.manager_id) == ("manager", None)


def test_edit_refuses_an_agent_without_a_manager(as_admin, factory):
    agent = factory.user(Role.AGENT)
    manager_id = agent.manager_id
    response = as_admin.post(f"/admin/users/{agent.id}", _edit_form(agent, manager_id=""))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "manager_id")
    assert reload(agent).manager_id == manager_id


def test_admin_cannot_deactivate_themselves(as_admin):
    admin = as_admin.user
    response = as_admin.post(f"/admin/users/{admin.id}", _edit_form(admin, active=None))
    assert response.status_code == 422
    assert "deactivate yourself" in response.get_data(as_text=True)
    assert reload(admin).active is True
    assert as_admin.get("/admin/users").status_code == 200


def test_admin_cannot_demote_themselves(as_admin):
    admin = as_admin.user
    response = as_admin.post(f"/admin/users/{admin.id}", _edit_form(admin, role="manager"))
    assert response.status_code == 422
    assert reload(admin).role == "admin"


def test_manager_with_active_agents_cannot_be_demoted(as_admin, factory):
    manager, other = factory.user(Role.MANAGER), factory.user(Role.MANAGER)
    factory.user(Role.AGENT, manager=manager)
    response = as_admin.post(f"/admin/users/{manager.id}",
                             _edit_form(manager, role="agent", manager_id=str(other.id)))
    assert response.status_code == 422
    assert "agents to another manager" in response.get_data(as_text=True)
    assert reload(manager).role == "manager"


def test_manager_with_active_agents_cannot_be_deactivated(as_admin, factory):
    manager = factory.user(Role.MANAGER)
    factory.user(Role.AGENT, manager=manager)
    response = as_admin.post(f"/admin/users/{manager.id}", _edit_form(manager, active=None))
    assert response.status_code == 422
    assert reload(manager).active is True


def test_manager_whose_agents_are_all_inactive_can_be_deactivated(as_admin, factory):
    manager = factory.user(Role.MANAGER)
    factory.user(Role.AGENT, manager=manager, active=False)
    response = as_admin.post(f"/admin/users/{manager.id}", _edit_form(manager, active=None))
    assert response.status_code == 302
    assert reload(manager).active is False


def test_deactivation_ends_the_users_session_at_once(as_admin, as_agent):
    agent = as_agent.user
    assert as_agent.get("/dashboard").status_code == 200

    response = as_admin.post(f"/admin/users/{agent.id}", _edit_form(agent, active=None))
    assert response.status_code == 302
    assert reload(agent).active is False

    next_request = as_agent.get("/dashboard")
    assert next_request.status_code == 302
    assert urlsplit(next_request.headers["Location"]).path == "/login"
    listing = as_admin.get("/admin/users").get_data(as_text=True)
    assert "Deactivated" in listing


def test_reactivated_user_signs_in_again_but_old_sessions_stay_ended(app, as_admin, as_agent):
    agent = as_agent.user
    as_admin.post(f"/admin/users/{agent.id}", _edit_form(agent, active=None))
    agent = reload(agent)
    response = as_admin.post(f"/admin/users/{agent.id}", _edit_form(agent, active="y"))
    assert response.status_code == 302
    assert as_agent.get("/dashboard").status_code == 302
    login = Browser(app.test_client()).post("/login", {"email": agent.email, "password": TEST_PASSWORD})
    assert login.status_code == 302


def test_deactivation_revokes_api_tokens_for_good(app, as_admin, factory):
    agent = factory.user(Role.AGENT)
    token, plaintext = create_token(agent, name="Web shop")
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {plaintext}"}
    assert api.get("/api/v1/me", headers=bearer).status_code == 200

    assert as_admin.post(f"/admin/users/{agent.id}", _edit_form(agent, active=None)).status_code == 302
    assert api.get("/api/v1/me", headers=bearer).status_code == 401
    agent = reload(agent)
    assert as_admin.post(f"/admin/users/{agent.id}", _edit_form(agent, active="y")).status_code == 302
    assert reload(agent).active is True

    assert api.get("/api/v1/me", headers=bearer).status_code == 401
    assert db.session.get(ApiToken, token.id).revoked_at is not None
    revocations = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "api_token.revoke", AuditEvent.object_id == token.id)).all()
    assert [(e.actor_id, e.after["reason"]) for e in revocations] == [(as_admin.user.id, "user deactivated")]
    # A token made after reactivation works.
    fresh = create_token(reload(agent), name="New shop")[1]
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_edit_page_shows_the_current_role_manager_and_status(as_admin, factory):
    first, second = factory.user(Role.MANAGER), factory.user(Role.MANAGER)
    agent = factory.user(Role.AGENT, manager=second)
    html = as_admin.get(f"/admin/users/{agent.id}").get_data(as_text=True)
    selected = [(o.attrs["value"], o.text) for o in tags(html, "option") if "selected" in o.attrs]
    assert selected == [("agent", "Agent"), (str(second.id), second.name)]
    assert str(first.id) in [o.attrs["value"] for o in tags(html, "option")]
    assert "checked" in by_id(html, "active").attrs
