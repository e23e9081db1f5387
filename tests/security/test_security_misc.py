"""Security headers on every GET response for every role, login throttling end to end, the PDF
fetcher's refusals, and no secret in logs or pages."""

from __future__ import annotations

import logging
import re

import pytest

from tests.conftest import TEST_PASSWORD, Browser
from tests.security._world import ROLES, World
from tests.security.test_authorization_matrix import QUERY, _rules
from tests.web._html import csp_directives
from webapp.auth.models import Role
from webapp.mail.services import deliver_email, pending_email_ids


def _header_problems(response) -> list[str]:
    """What is missing or weak in a response's security headers."""
    problems = []
    header = response.headers.get("Content-Security-Policy")
    if not header:
        return ["no Content-Security-Policy"]
    csp = csp_directives(header)
    for directive in ("script-src", "style-src"):
        sources = csp.get(directive, csp.get("default-src"))
        if not sources or {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(sources):
            problems.append(f"{directive} {sources}")
    if csp.get("frame-ancestors") != ["'none'"]:
        problems.append(f"frame-ancestors {csp.get('frame-ancestors')}")
    if response.headers.get("X-Frame-Options") != "DENY":
        problems.append(f"X-Frame-Options {response.headers.get('X-Frame-Options')}")
    if response.headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("no nosniff")
    if response.headers.get("Referrer-Policy") not in {"same-origin", "strict-origin-when-cross-origin",
                                                       "no-referrer"}:
        problems.append(f"Referrer-Policy {response.headers.get('Referrer-Policy')}")
    return problems


@pytest.mark.parametrize("role", ROLES)
def test_every_get_response_carries_the_security_headers(app, factory, today, role):
    """Every rule's URL (POST-only ones answer 405), pages, redirects, 403/404 pages, CSVs, PDFs, API JSON."""
    world = World(app, factory, today)
    values = world.ids()
    client = world.browsers[role].client
    failures, statuses = [], set()
    for rule in _rules(app):
        if rule.endpoint == "auth.logout":
            continue
        arguments = {name: values.get(name, "css/app.css") for name in rule.arguments}
        with app.test_request_context():
            url = app.url_for(rule.endpoint, **arguments)
        headers = world.bearer[role] if rule.endpoint.startswith("api.") else {}
        with client.get(url + QUERY.get(rule.endpoint, ""), headers=headers) as response:
            statuses.add(response.status_code)
            problems = _header_problems(response)
        if problems:
            failures.append(f"{role} GET {url} ({response.status_code}): {problems}")
    for url in ("/no-such-page", "/api/v1/no-such-thing"):
        with client.get(url) as response:
            statuses.add(response.status_code)
            if problems := _header_problems(response):
                failures.append(f"{role} GET {url} ({response.status_code}): {problems}")
    assert not failures, "\n".join(failures)
    assert 404 in statuses and 405 in statuses  # error pages were among them


def test_login_is_throttled_end_to_end(app, factory):
    saved = {key: app.config[key] for key in ("LOGIN_LIMIT_ACCOUNT", "LOGIN_LIMIT_IP")}
    app.config.update(LOGIN_LIMIT_ACCOUNT="3 per minute", LOGIN_LIMIT_IP="100 per minute")
    try:
        user = factory.user(Role.AGENT)

        def attempt(password):
            return Browser(app.test_client()).post("/login", {"email": user.email, "password": password})

        assert [attempt("wrong-password").status_code for _ in range(3)] == [401, 401, 401]
        throttled = attempt(TEST_PASSWORD)
        assert throttled.status_code == 429  # even the right password waits
        assert "Too many attempts" in throttled.get_data(as_text=True)
    finally:
        app.config.update(saved)


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "file:///etc/hostname", "/etc/passwd", "../../webapp/config.py",
    "http://127.0.0.1:9/logo.png", "https://example.com/logo.png", "//example.com/x.css",
    "ftp://example.com/x", "data:text/plain,secret", "app-static:/../webapp/config.py",
    "app-static:/../../../etc/passwd",
])
@pytest.mark.parametrize("tag", ['<img src="{}">', '<link rel="stylesheet" href="{}">',
                                 '<style>@import url("{}");</style>'])
def test_the_pdf_fetcher_refuses_files_and_remote_urls(app, url, tag):
    from weasyprint.urls import FatalURLFetchingError

    from webapp.statements.pdf import html_to_pdf

    with pytest.raises(FatalURLFetchingError):
        html_to_pdf(f"<html><head>{tag.format(url)}</head><body><p>x</p></body></html>", fail_on_errors=True)


def test_the_pdf_fetcher_still_serves_the_apps_static_files(app):
    from webapp.statements.pdf import html_to_pdf

    pdf = html_to_pdf('<link rel="stylesheet" href="app-static:/css/statement-print.css"><p>ok</p>',
                      fail_on_errors=True)
    assert pdf.startswith(b"%PDF")


MAILCHIMP_KEY = "md-SeCrEt-mailchimp-key-0123456789"
NEW_PASSWORD = "brand-new-Secret-pw-42"


def test_no_secret_in_logs_or_pages(app, factory, caplog, outbox, mailchimp_stub, monkeypatch):
    from webapp.auth.tokens import create_token
    from webapp.mail.messages import EmailMessage
    from webapp.mail.mailchimp import MailchimpBackend

    caplog.set_level(logging.DEBUG)
    for name in (None, app.logger.name, "webapp", "werkzeug", "flask_limiter", "urllib3", "requests"):
        caplog.set_level(logging.DEBUG, logger=name)
    monkeypatch.setitem(app.config, "MAILCHIMP_API_KEY", MAILCHIMP_KEY)
    user = factory.user(Role.AGENT)
    pages = []

    # A sign-in with a wrong password, then the right one.
    browser = Browser(app.test_client())
    pages.append(browser.post("/login", {"email": user.email, "password": "Wrong-Secret-pw-99"}))
    pages.append(browser.post("/login", {"email": user.email, "password": TEST_PASSWORD}))
    pages.append(browser.get("/dashboard"))

    # A password reset: the token only travels in the email.
    anonymous = Browser(app.test_client())
    pages.append(anonymous.post("/password/forgot", {"email": user.email}))
    for email_id in pending_email_ids():  # reset emails are queued: deliver them as the worker would
        deliver_email(email_id)
    mails = [m for m in outbox.list() if m.to == user.email]
    assert mails, "no reset email"
    match = re.search(r"/password/reset/([A-Za-z0-9._-]+)", mails[0].text)
    assert match, mails[0].text
    reset_token = match.group(1)
    pages.append(anonymous.post(f"/password/reset/{reset_token}",
                                {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}))
    pages.append(anonymous.get(f"/password/reset/{reset_token}"))  # used: refused

    # API calls with a bearer token (valid, then the same token with a typo).
    _, bearer = create_token(user, name="log test", scope="read")
    api = app.test_client()
    pages.append(api.get("/api/v1/me", headers={"Authorization": f"Bearer {bearer}"}))
    pages.append(api.get("/api/v1/me", headers={"Authorization": f"Bearer {bearer}x"}))
    pages.append(api.post("/api/v1/sales", headers={"Authorization": f"Bearer {bearer}"}, json={"x": 1}))

    # Mailchimp: a wrong key (401 from the provider) and a provider error with the right one.
    message = EmailMessage(to="someone@example.com", subject="Hello", text="Hello", html="<p>Hello</p>",
                           attachments=(), metadata={"email_key": "log-test"})
    for key in (MAILCHIMP_KEY, mailchimp_stub.api_key):
        backend = MailchimpBackend(key, "statements@sales.test", "Sales Tracking", host=mailchimp_stub.host,
                                   timeout=1)
        if key == mailchimp_stub.api_key:
            mailchimp_stub.fail_with(500)
        try:
            backend.send(message)
        except Exception as exc:  # noqa: BLE001 (the provider's error must not carry the key either)
            assert MAILCHIMP_KEY not in str(exc) and mailchimp_stub.api_key not in str(exc)

    # An error page.
    pages.append(browser.get("/no-such-page"))

    secrets = {"password": TEST_PASSWORD, "wrong password": "Wrong-Secret-pw-99",
               "new password": NEW_PASSWORD,
               "reset token": reset_token, "bearer token": bearer, "SECRET_KEY": app.config["SECRET_KEY"],
               "Mailchimp key": MAILCHIMP_KEY, "stub Mailchimp key": mailchimp_stub.api_key}
    assert caplog.records, "nothing was logged: the capture is not working"
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    logged += "\n" + caplog.text
    leaks = [name for name, value in secrets.items() if value in logged]
    assert not leaks, f"secrets in the logs: {leaks}"
    for response in pages:
        body = response.get_data(as_text=True)
        leaked = [name for name, value in secrets.items() if value in body]
        assert not leaked, (response.request.path, response.status_code, leaked)
