"""CSRF: every state-changing route refuses a request without the page's token."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from tests.conftest import TEST_PASSWORD, csrf_token_from
from webapp.audit.models import AuditEvent
from webapp.auth import services
from webapp.auth.models import Role, User
from webapp.extensions import db


# Callers that cannot hold a session's token prove their origin another way; without it they get 403.
SIGNED_INSTEAD_OF_CSRF = {"mail_webhooks.mailchimp"}  # X-Mandrill-Signature


def _post_rules(app):
    """Every URL rule that accepts POST."""
    return [rule for rule in app.url_map.iter_rules() if "POST" in rule.methods]


def _url_for_rule(app, rule, user_id: int, token: str) -> str:
    """A URL for `rule`, filling int arguments with a real user id and others with a reset token."""
    values = {
        name: user_id if isinstance(converter, IntegerConverter) else token
        for name, converter in rule._converters.items()
    }
    with app.test_request_context():
        return app.url_for(rule.endpoint, **values)


def _state() -> tuple:
    """What a forged request could change: the users, their fields, and the audit trail."""
    db.session.expire_all()
    users = db.session.execute(
        select(User.id, User.email, User.name, User.role, User.manager_id, User.active,
               User.password_hash, User.session_token).order_by(User.id)
    ).all()
    return tuple(users), db.session.scalar(select(func.count(AuditEvent.id)))


def test_the_known_state_changing_routes_are_covered(app):
    endpoints = {rule.endpoint for rule in _post_rules(app)}
    assert {"auth.login", "auth.logout", "auth.forgot_password", "auth.reset_password",
            "admin.user_new", "admin.user_edit"} <= endpoints


@pytest.mark.parametrize("as_role", ["anonymous", "admin"])
def test_every_post_route_refuses_a_request_without_a_token(app, factory, outbox, as_role, as_admin):
    victim = factory.user(Role.AGENT)
    with app.test_request_context():
        token = services.make_reset_token(victim)
    client = as_admin.client if as_role == "admin" else app.test_client()
    client.get("/login")  # a session exists, so only the token is missing
    form = {
        "email": "forged@example.com", "name": "Forged", "role": "admin", "manager_id": "",
        "password": "forged-password-1", "confirm": "forged-password-1", "active": "",
    }
    before = _state()
    for rule in _post_rules(app):
        url = _url_for_rule(app, rule, victim.id, token)
        response = client.post(url, data=form)
        if rule.endpoint in SIGNED_INSTEAD_OF_CSRF:
            assert response.status_code == 403, (rule.rule, response.status_code)
            assert _state() == before, rule.rule
            continue
        if rule.endpoint.startswith("api."):
            # The JSON API takes no cookies (so no CSRF): without a bearer token it is 401,
            # even for a browser with a signed-in session.
            assert response.status_code == 401, (rule.rule, response.status_code)
            assert _state() == before, rule.rule
            continue
        assert response.status_code == 400, (rule.rule, response.status_code)
        assert "This form has expired" in response.get_data(as_text=True)
        assert _state() == before, rule.rule
    assert outbox.list() == []
    if as_role == "admin":
        assert client.get("/admin/users").status_code == 200  # logout without a token did nothing


def test_a_token_from_another_session_is_refused(app, factory):
    user = factory.user(Role.AGENT)
    other = app.test_client()
    stolen = other.get("/login").get_data(as_text=True)
    client = app.test_client()
    client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD,
                                           "csrf_token": csrf_token_from(stolen)})
    assert response.status_code == 400


def test_htmx_request_with_the_token_in_the_header_is_accepted(as_agent):
    page = as_agent.get("/dashboard").get_data(as_text=True)
    token = csrf_token_from(page)
    response = as_agent.client.post("/logout", headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 302
    assert as_agent.get("/dashboard").status_code == 302


def test_htmx_form_post_with_the_header_token_creates_the_user(as_admin, factory):
    manager = factory.user(Role.MANAGER)
    token = csrf_token_from(as_admin.get("/admin/users/new").get_data(as_text=True))
    response = as_admin.client.post("/admin/users/new", headers={"X-CSRFToken": token, "HX-Request": "true"},
                                    data={"email": "htmx@example.com", "name": "Via Htmx", "role": "agent",
                                          "manager_id": str(manager.id), "password": "long-enough-pw"})
    assert response.status_code == 302
    assert db.session.scalar(select(User).where(User.email == "htmx@example.com")) is not None


def test_a_wrong_header_token_is_refused(as_agent):
    response = as_agent.client.post("/logout", headers={"X-CSRFToken": "not-the-token"})
    assert response.status_code == 400
    assert as_agent.get("/dashboard").status_code == 200
