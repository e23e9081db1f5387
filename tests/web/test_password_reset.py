"""Password reset: the emailed link, its single use, expiry, tampering and weak passwords."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

import itsdangerous.timed
import pytest
from itsdangerous import URLSafeTimedSerializer

from tests.conftest import TEST_PASSWORD, Browser, csrf_token_from, sign_in
from webapp.auth import services
from webapp.auth.models import Role
from webapp.extensions import db
from webapp.mail.services import deliver_email, pending_email_ids

NEW_PASSWORD = "a-brand-new-password"
SAME_ANSWER = "If an active account uses that email, a reset link is on its way."


class _DeliveredOutbox:
    """The outbox backend, read after delivering what the queue holds (as the email worker would)."""

    def __init__(self, backend):
        self.backend = backend

    def list(self):
        """Deliver the queued emails, then list the outbox."""
        for email_id in pending_email_ids():
            deliver_email(email_id)
        return self.backend.list()

    def html(self, message_id):
        """A delivered message's HTML part."""
        return self.backend.html(message_id)


@pytest.fixture
def outbox(outbox):
    """Reset emails are queued and sent after the commit (issue 12): deliver them before reading."""
    return _DeliveredOutbox(outbox)


def _reset_path_from(outbox) -> str:
    """The reset link of the only message in the outbox, as a path."""
    messages = outbox.list()
    assert len(messages) == 1
    match = re.search(r"https?://\S+/password/reset/\S+", messages[0].text)
    assert match, messages[0].text
    return urlsplit(match.group(0)).path


def _signs_in(app, email: str, password: str) -> bool:
    """True if a fresh browser can sign in with these credentials."""
    response = Browser(app.test_client()).post("/login", {"email": email, "password": password})
    return response.status_code == 302


def _request_link(browser, email: str):
    """Ask for a reset link for `email`, following the redirect to the sign-in page."""
    return browser.post("/password/forgot", {"email": email}, follow_redirects=True)


def test_reset_request_for_known_email_sends_one_message_with_a_link(browser, factory, outbox):
    user = factory.user(Role.AGENT)
    response = _request_link(browser, user.email)
    assert response.status_code == 200
    assert SAME_ANSWER in response.get_data(as_text=True)
    [message] = outbox.list()
    assert message.to == user.email
    assert message.has_html
    assert _reset_path_from(outbox).startswith("/password/reset/")


def test_reset_request_for_unknown_email_says_the_same_and_sends_nothing(browser, outbox):
    response = _request_link(browser, "nobody@example.com")
    assert response.status_code == 200
    assert SAME_ANSWER in response.get_data(as_text=True)
    assert outbox.list() == []


def test_reset_request_for_inactive_user_sends_nothing(browser, factory, outbox):
    user = factory.user(Role.AGENT, active=False)
    response = _request_link(browser, user.email)
    assert SAME_ANSWER in response.get_data(as_text=True)
    assert outbox.list() == []


def test_reset_link_sets_a_new_password(app, browser, factory, outbox):
    user = factory.user(Role.AGENT)
    _request_link(browser, user.email)
    path = _reset_path_from(outbox)
    assert browser.get(path).status_code == 200

    response = browser.post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert not _signs_in(app, user.email, TEST_PASSWORD)
    assert _signs_in(app, user.email, NEW_PASSWORD)


def test_reset_link_works_only_once(app, browser, factory, outbox):
    user = factory.user(Role.AGENT)
    _request_link(browser, user.email)
    path = _reset_path_from(outbox)
    browser.post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    again = browser.get(path)
    assert again.status_code == 410
    assert "already been used" in again.get_data(as_text=True)
    # Posting through the used link changes nothing either (the token comes from the sign-in page).
    reuse = browser.post(path, {"password": "yet-another-password", "confirm": "yet-another-password"},
                         token_from="/password/forgot")
    assert reuse.status_code == 410
    assert _signs_in(app, user.email, NEW_PASSWORD)


def test_reset_link_opened_after_its_lifetime_is_410(app, browser, factory, outbox, monkeypatch):
    user = factory.user(Role.AGENT)
    _request_link(browser, user.email)
    path = _reset_path_from(outbox)
    assert app.config["PASSWORD_RESET_MAX_AGE"] == 3600
    real_time = time.time
    # The server's clock moves on two hours before the link is opened.
    monkeypatch.setattr(itsdangerous.timed, "time", SimpleNamespace(time=lambda: real_time() + 7200))
    response = browser.get(path)
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)


def test_reset_link_expiry_follows_the_configured_max_age(app, browser, factory, outbox, monkeypatch):
    user = factory.user(Role.AGENT)
    _request_link(browser, user.email)
    path = _reset_path_from(outbox)
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MAX_AGE", -1)
    response = browser.post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                            token_from="/password/forgot")
    assert response.status_code == 410
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MAX_AGE", 3600)
    assert _signs_in(app, user.email, TEST_PASSWORD)


@pytest.mark.parametrize("tamper", [
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
    lambda token: "x" + token,
    lambda token: "not-a-token",
])
def test_tampered_reset_link_is_404(browser, factory, outbox, tamper):
    user = factory.user(Role.AGENT)
    _request_link(browser, user.email)
    token = _reset_path_from(outbox).rsplit("/", 1)[1]
    response = browser.get(f"/password/reset/{tamper(token)}")
    assert response.status_code == 404
    assert "not valid" in response.get_data(as_text=True)


def test_reset_link_signed_with_another_key_is_404(app, browser, factory):
    user = factory.user(Role.AGENT)
    forged = URLSafeTimedSerializer("someone-elses-key", salt="password-reset").dumps(
        {"uid": user.id, "pw": services._password_fingerprint(user)})
    assert browser.get(f"/password/reset/{forged}").status_code == 404


def test_too_short_new_password_is_422_beside_the_field_and_changes_nothing(app, browser, factory, outbox):
    user = factory.user(Role.AGENT)
    _request_link(browser, user.email)
    path = _reset_path_from(outbox)
    response = browser.post(path, {"password": "short", "confirm": "short"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="password-error">[^<]*at least 10 characters', html)
    assert _signs_in(app, user.email, TEST_PASSWORD)
    # The link was not used up by the refused attempt.
    assert browser.get(path).status_code == 200


def test_mismatched_confirmation_is_422_and_changes_nothing(app, browser, factory, outbox):
    user = factory.user(Role.AGENT)
    _request_link(browser, user.email)
    path = _reset_path_from(outbox)
    response = browser.post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"})
    assert response.status_code == 422
    assert re.search(r'id="confirm-error">[^<]*differ', response.get_data(as_text=True))
    assert _signs_in(app, user.email, TEST_PASSWORD)


def test_reset_ends_the_users_other_sessions(app, browser, factory, outbox):
    user = factory.user(Role.MANAGER)
    elsewhere = app.test_client()
    sign_in(elsewhere, user)
    assert elsewhere.get("/manage/team").status_code == 200

    _request_link(browser, user.email)
    path = _reset_path_from(outbox)
    assert browser.post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302

    response = elsewhere.get("/manage/team")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_reset_is_written_to_the_audit_trail(browser, factory, outbox):
    from sqlalchemy import select

    from webapp.audit.models import AuditEvent

    user = factory.user(Role.AGENT)
    _request_link(browser, user.email)
    browser.post(_reset_path_from(outbox), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "User", AuditEvent.object_id == user.id)
    ).all()
    assert "user.password_reset" in actions


def test_reset_link_uses_base_url_not_the_request_host(app, factory, outbox, monkeypatch):
    user = factory.user(Role.AGENT)
    # As deployed: no SERVER_NAME, so Flask would build external URLs from the Host header,
    # which the client chooses (a poisoned link would hand the token to evil.example).
    monkeypatch.setitem(app.config, "SERVER_NAME", None)
    monkeypatch.setitem(app.config, "BASE_URL", "https://sales.example.com/")
    client = app.test_client()
    page = client.get("/password/forgot", headers={"Host": "evil.example"})
    token = csrf_token_from(page.get_data(as_text=True))
    response = client.post("/password/forgot", data={"email": user.email, "csrf_token": token},
                           headers={"Host": "evil.example"})
    assert response.status_code == 302
    [message] = outbox.list()
    links = re.findall(r"https?://[^\s\"<]+", message.text + (outbox.html(message.id) or ""))
    assert links
    assert all(link.startswith("https://sales.example.com/password/reset/") for link in links), links
