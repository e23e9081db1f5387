"""Signing in and out: success, uniform failures, CSRF, and the `next` parameter."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest

from tests.conftest import TEST_PASSWORD, Browser
from tests.web._html import field_error
from webapp.auth import services
from webapp.auth.models import Role

FAILURE_MESSAGE = "Email or password is not correct."


def _session_user_id(client) -> str | None:
    """The Flask-Login user id stored in the client's session cookie, if any."""
    with client.session_transaction() as session:
        return session.get("_user_id")


def _count_hash_checks(monkeypatch) -> list[str]:
    """Record every stored hash the sign-in code checks a password against."""
    checked: list[str] = []
    real = services.check_password_hash

    def counting(stored, password):
        """Note the hash, then check for real."""
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(services, "check_password_hash", counting)
    return checked


def test_login_with_right_password_redirects_home_and_signs_in(browser, factory):
    user = factory.user(Role.AGENT)
    response = browser.post("/login", {"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert _session_user_id(browser.client) == user.get_id()
    home = browser.get("/", follow_redirects=True)
    assert home.status_code == 200
    assert user.name in home.get_data(as_text=True)


def test_login_email_is_case_insensitive(browser, factory):
    user = factory.user(Role.MANAGER)
    response = browser.post("/login", {"email": "  " + user.email.upper(), "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert _session_user_id(browser.client) == user.get_id()


def test_wrong_password_and_unknown_email_answer_the_same(browser, factory, monkeypatch):
    user = factory.user(Role.AGENT)
    checked = _count_hash_checks(monkeypatch)

    wrong_password = browser.post("/login", {"email": user.email, "password": "not-the-password"})
    assert checked == [user.password_hash]

    unknown_email = browser.post("/login", {"email": "nobody@example.com", "password": TEST_PASSWORD})
    # The unknown email still pays for one hash check (against the dummy hash), so timing
    # does not tell an attacker which emails have accounts.
    assert checked == [user.password_hash, services._DUMMY_HASH]

    assert wrong_password.status_code == unknown_email.status_code == 401
    wrong_html = wrong_password.get_data(as_text=True)
    unknown_html = unknown_email.get_data(as_text=True)
    assert field_error(wrong_html, "password") == field_error(unknown_html, "password") == FAILURE_MESSAGE
    assert field_error(wrong_html, "email") is None and field_error(unknown_html, "email") is None
    assert _session_user_id(browser.client) is None


def test_inactive_user_cannot_sign_in_and_gets_the_same_answer(browser, factory, monkeypatch):
    user = factory.user(Role.AGENT, active=False)
    checked = _count_hash_checks(monkeypatch)
    response = browser.post("/login", {"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 401
    assert field_error(response.get_data(as_text=True), "password") == FAILURE_MESSAGE
    assert checked == [user.password_hash]
    assert _session_user_id(browser.client) is None
    assert "/login" in browser.get("/").headers["Location"]


def test_login_post_without_csrf_token_is_refused_and_signs_nobody_in(client, factory):
    user = factory.user(Role.ADMIN)
    client.get("/login")  # a session exists, only the token is missing
    response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert _session_user_id(client) is None
    assert "/login" in client.get("/").headers["Location"]


def test_login_with_empty_fields_is_422_with_field_messages(browser):
    response = browser.post("/login", {"email": "", "password": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "email")
    assert field_error(html, "password")


def test_login_follows_a_same_site_next(browser, factory):
    user = factory.user(Role.MANAGER)
    bounced = browser.get("/manage/team")
    assert bounced.status_code == 302
    login_url = bounced.headers["Location"]
    assert urlsplit(login_url).path == "/login"
    response = browser.post(login_url, {"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/manage/team"


def test_login_keeps_query_string_of_a_same_site_next(browser, factory):
    user = factory.user(Role.MANAGER)
    response = browser.post("/login?next=/manage/team%3Fperiod%3D2026-11-01",
                            {"email": user.email, "password": TEST_PASSWORD}, token_from="/login")
    assert response.headers["Location"] == "/manage/team?period=2026-11-01"


def _where_a_browser_goes(location: str) -> str:
    """The host a browser would reach from a Location header on http://sales.test/login.

    Browsers drop tabs and newlines inside URLs and read a backslash as a slash.
    """
    cleaned = re.sub(r"[\t\n\r]", "", location.strip()).replace("\\", "/")
    return urlsplit(urljoin("http://sales.test/login", cleaned)).netloc


@pytest.mark.parametrize("target", [
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "https://evil.example/",
    "http:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "javascript:alert(1)",
])
def test_login_ignores_a_next_that_leaves_the_site(app, factory, target):
    user = factory.user(Role.AGENT)
    browser = Browser(app.test_client())
    response = browser.post("/login", {"email": user.email, "password": TEST_PASSWORD},
                            query_string={"next": target})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert _where_a_browser_goes(location) == "sales.test", location
    assert location == "/"


def test_signed_in_user_visiting_login_goes_home(as_agent):
    response = as_agent.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_logout_ends_the_session(as_agent):
    response = as_agent.post("/logout", token_from="/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert as_agent.get("/dashboard").status_code == 302


def test_logout_by_get_is_not_allowed(as_agent):
    assert as_agent.get("/logout").status_code == 405
    assert as_agent.get("/dashboard").status_code == 200


def test_remember_me_cookie_signs_in_a_new_browser_session(browser, factory):
    user = factory.user(Role.AGENT)
    response = browser.post("/login", {"email": user.email, "password": TEST_PASSWORD, "remember": "y"})
    assert response.status_code == 302
    remember = browser.client.get_cookie("remember_token", domain="sales.test")
    assert remember is not None
    # A browser restart drops the session cookie but keeps the remember cookie.
    browser.client.delete_cookie("session", domain="sales.test")
    assert browser.get("/dashboard").status_code == 200
