"""Sign-in throttling: per account and per client address; only failures count."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_PASSWORD, Browser
from webapp.auth.models import Role


@pytest.fixture
def limits(app):
    """Set small sign-in limits for one test, restoring the configured ones after."""
    saved = {key: app.config[key] for key in ("LOGIN_LIMIT_ACCOUNT", "LOGIN_LIMIT_IP")}

    def set_limits(account: str, ip: str) -> None:
        """Use these limit strings for the rest of the test."""
        app.config["LOGIN_LIMIT_ACCOUNT"] = account
        app.config["LOGIN_LIMIT_IP"] = ip

    yield set_limits
    app.config.update(saved)


def _attempt(app, email: str, password: str, ip: str):
    """One sign-in POST from a fresh browser at client address `ip`."""
    return Browser(app.test_client()).post(
        "/login", {"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip}
    )


def test_account_is_throttled_after_failures_even_with_the_right_password(app, factory, limits):
    limits(account="3 per minute", ip="100 per minute")
    victim = factory.user(Role.AGENT)
    other = factory.user(Role.AGENT)
    for _ in range(3):
        assert _attempt(app, victim.email, "wrong-password", "10.0.0.1").status_code == 401

    assert _attempt(app, victim.email, TEST_PASSWORD, "10.0.0.1").status_code == 429
    # The limit follows the account, not the address it was attacked from...
    assert _attempt(app, victim.email, TEST_PASSWORD, "10.0.0.2").status_code == 429
    # ... whatever the email's spelling.
    assert _attempt(app, victim.email.upper(), TEST_PASSWORD, "10.0.0.3").status_code == 429
    # Another account from another address is not affected.
    assert _attempt(app, other.email, TEST_PASSWORD, "10.0.0.2").status_code == 302


def test_throttled_answer_says_to_wait(app, factory, limits):
    limits(account="1 per minute", ip="100 per minute")
    user = factory.user(Role.AGENT)
    _attempt(app, user.email, "wrong-password", "10.0.0.1")
    response = _attempt(app, user.email, TEST_PASSWORD, "10.0.0.1")
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)


def test_address_is_throttled_after_failures_across_accounts(app, factory, limits):
    limits(account="100 per minute", ip="3 per minute")
    user = factory.user(Role.MANAGER)
    for n in range(3):
        assert _attempt(app, f"guess{n}@example.com", "wrong-password", "10.0.0.9").status_code == 401

    assert _attempt(app, user.email, TEST_PASSWORD, "10.0.0.9").status_code == 429
    assert _attempt(app, user.email, TEST_PASSWORD, "10.0.0.10").status_code == 302


def test_successful_sign_ins_do_not_count_toward_either_limit(app, factory, limits):
    limits(account="2 per minute", ip="2 per minute")
    user = factory.user(Role.AGENT)
    for _ in range(5):
        assert _attempt(app, user.email, TEST_PASSWORD, "10.0.0.5").status_code == 302
    # Both budgets are untouched: a failure is still answered as a failure, not throttled.
    assert _attempt(app, user.email, "wrong-password", "10.0.0.5").status_code == 401
    assert _attempt(app, user.email, TEST_PASSWORD, "10.0.0.5").status_code == 302


def test_viewing_the_login_page_does_not_count(app, limits):
    limits(account="1 per minute", ip="1 per minute")
    client = app.test_client()
    for _ in range(5):
        assert client.get("/login", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 200


def test_forwarded_for_header_does_not_dodge_the_address_limit_without_a_trusted_proxy(app, factory, limits):
    assert app.config["TRUST_PROXY_HOPS"] == 0
    limits(account="100 per minute", ip="2 per minute")
    for n in range(2):
        response = Browser(app.test_client()).post(
            "/login", {"email": f"guess{n}@example.com", "password": "wrong-password"},
            environ_base={"REMOTE_ADDR": "10.0.0.20"}, headers={"X-Forwarded-For": f"192.0.2.{n}"})
        assert response.status_code == 401
    spoofed = Browser(app.test_client()).post(
        "/login", {"email": "guess9@example.com", "password": "wrong-password"},
        environ_base={"REMOTE_ADDR": "10.0.0.20"}, headers={"X-Forwarded-For": "192.0.2.99"})
    assert spoofed.status_code == 429
