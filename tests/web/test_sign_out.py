"""Signing out ends a session for good: copies of its cookies stop working; "Sign out everywhere"."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select

from tests.conftest import TEST_PASSWORD, Browser
from tests.web._html import tags
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.extensions import db

DOMAIN = "sales.test"


def _sign_in_through_the_form(app, user, remember: bool = True) -> Browser:
    """A browser signed in through the real login form (with "Keep me signed in" when asked)."""
    browser = Browser(app.test_client())
    form = {"email": user.email, "password": TEST_PASSWORD}
    if remember:
        form["remember"] = "y"
    response = browser.post("/login", form)
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/"
    return browser


def _cookie(browser: Browser, name: str) -> str:
    """The value of one of the browser's cookies, as an attacker would copy it."""
    cookie = browser.client.get_cookie(name, domain=DOMAIN)
    assert cookie is not None, f"no {name} cookie"
    return cookie.value


def _opens_dashboard_with(app, name: str, value: str) -> bool:
    """Whether a fresh browser holding only this copied cookie gets the agent's dashboard."""
    client = app.test_client()
    client.set_cookie(name, value, domain=DOMAIN)
    response = client.get("/dashboard")
    if response.status_code == 302:
        assert urlsplit(response.headers["Location"]).path == "/login"
        return False
    assert response.status_code == 200
    return True


def test_copied_session_and_remember_cookies_stop_working_after_sign_out(app, factory):
    agent = factory.user(Role.AGENT)
    browser = _sign_in_through_the_form(app, agent)
    session, remember = _cookie(browser, "session"), _cookie(browser, "remember_token")
    # The copies work while the user is signed in (else the test below would prove nothing).
    assert _opens_dashboard_with(app, "session", session)
    assert _opens_dashboard_with(app, "remember_token", remember)

    response = browser.post("/logout", token_from="/dashboard")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"

    assert not _opens_dashboard_with(app, "session", session)
    assert not _opens_dashboard_with(app, "remember_token", remember)
    assert browser.get("/dashboard").status_code == 302
    # The user signs in again as usual, with a session that works.
    again = _sign_in_through_the_form(app, agent, remember=False)
    assert again.get("/dashboard").status_code == 200


def test_sign_out_says_other_devices_are_signed_out_too(app, factory):
    agent = factory.user(Role.AGENT)
    browser = _sign_in_through_the_form(app, agent)
    page = browser.post("/logout", token_from="/dashboard", follow_redirects=True).get_data(as_text=True)
    assert "signed out, here and on any other device" in page


def test_profile_offers_sign_out_everywhere_as_a_post_form_with_csrf(as_agent):
    page = tags(as_agent.get("/profile/tokens").get_data(as_text=True))
    form = next(t for t in page
                if t.name == "form" and t.attrs.get("action") == "/profile/sign-out-everywhere")
    assert form.attrs["method"] == "post"
    assert any(t.name == "input" and t.attrs.get("name") == "csrf_token" and t.attrs.get("value")
               for t in page if any(a is form for a in t.ancestors))
    assert "Sign out everywhere" in form.text


def test_sign_out_everywhere_ends_every_session_and_remember_cookie(app, factory):
    agent = factory.user(Role.AGENT)
    laptop = _sign_in_through_the_form(app, agent)
    session, remember = _cookie(laptop, "session"), _cookie(laptop, "remember_token")
    phone = _sign_in_through_the_form(app, agent, remember=False)
    assert laptop.get("/dashboard").status_code == 200
    assert _opens_dashboard_with(app, "remember_token", remember)

    response = phone.post("/profile/sign-out-everywhere", token_from="/profile/tokens")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"

    assert phone.get("/dashboard").status_code == 302
    assert laptop.get("/dashboard").status_code == 302
    assert not _opens_dashboard_with(app, "session", session)
    assert not _opens_dashboard_with(app, "remember_token", remember)
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "user.sign_out_everywhere")).all()
    assert [(e.actor_id, e.object_type, e.object_id) for e in events] == [(agent.id, "User", agent.id)]
    again = _sign_in_through_the_form(app, agent)
    assert again.get("/dashboard").status_code == 200


def test_sign_out_everywhere_leaves_other_users_signed_in(app, factory):
    agent = factory.user(Role.AGENT)
    colleague = factory.user(Role.AGENT, manager=agent.manager)
    theirs = _sign_in_through_the_form(app, colleague)
    mine = _sign_in_through_the_form(app, agent, remember=False)
    mine.post("/profile/sign-out-everywhere", token_from="/profile/tokens")
    assert theirs.get("/dashboard").status_code == 200


def test_sign_out_everywhere_refuses_a_get(as_agent):
    assert as_agent.get("/profile/sign-out-everywhere").status_code == 405
    assert as_agent.get("/dashboard").status_code == 200
