"""Reset emails go through the email queue (issue 12): recorded with the request's commit and
delivered by the `jobs.mail.deliver_email` job, never sent inside the request. With the provider
unreachable, asking for a link was a 500 for a known address and a 302 for an unknown one (a crash,
and a way to tell which accounts exist); now both get the same answer."""

from __future__ import annotations

import re
import socket

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_from
from tests.support.queues import jobs
from webapp.auth.models import Role
from webapp.extensions import db
from webapp.mail.messages import MailProviderError
from webapp.mail.mailchimp import MailchimpBackend
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import deliver_email

pytestmark = pytest.mark.usefixtures("empty_queues")

SAME_ANSWER = "If an active account uses that email, a reset link is on its way."
RESET_LINK = re.compile(r"https?://[^\s\"<]+/password/reset/[^\s\"<]+")


def _free_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def provider_unreachable(app, monkeypatch):
    """MAIL_BACKEND=mailchimp with MAILCHIMP_API_HOST on a closed local port; the backend is built
    from that configuration, and the app's own is put back after."""
    missing = object()
    previous = app.extensions.pop("mail_backend", missing)
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "mailchimp")
    monkeypatch.setitem(app.config, "MAILCHIMP_API_KEY", "unreachable-key")
    monkeypatch.setitem(app.config, "MAILCHIMP_API_HOST", f"http://127.0.0.1:{_free_port()}/api/1.3")
    try:
        yield
    finally:
        app.extensions.pop("mail_backend", None)
        if previous is not missing:
            app.extensions["mail_backend"] = previous


def _ask(app, email: str):
    """A fresh browser asks for a reset link; returns (its client, the answer)."""
    client = app.test_client()
    token = csrf_token_from(client.get("/password/forgot").get_data(as_text=True))
    return client, client.post("/password/forgot", data={"email": email, "csrf_token": token})


def _session(app, response) -> dict:
    """The session the answer's cookie carries (its CSRF token aside: each browser has its own)."""
    [cookie] = response.headers.getlist("Set-Cookie")
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    data = app.session_interface.get_signing_serializer(app).loads(value)
    return {key: value for key, value in data.items() if key != "csrf_token"}


def _shape(app, client, response) -> tuple:
    """Everything an asker can compare: status, headers (a random request id blanked), the cookie's
    attributes and session, the body, and the page the redirect leads to (its CSRF token blanked)."""
    # A request id is random per answer, so only its presence is compared.
    headers = sorted((k, "…" if k == "X-Request-Id" else v)
                     for k, v in response.headers.items() if k != "Set-Cookie")
    cookie = [re.sub(r"^([^=]+)=[^;]*", r"\1=…", c) for c in response.headers.getlist("Set-Cookie")]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    page = re.sub(r'(name="csrf_token" type="hidden" value="|"X-CSRFToken": ")[^"]+', r"\1…", page)
    return response.status_code, headers, cookie, _session(app, response), response.get_data(), page


def _reset_emails() -> list[OutgoingEmail]:
    """The reset emails recorded so far."""
    db.session.expire_all()
    return [e for e in db.session.scalars(select(OutgoingEmail).order_by(OutgoingEmail.id))
            if (e.meta or {}).get("kind") == "password_reset"]


def test_provider_unreachable_known_and_unknown_addresses_get_the_same_answer(app, factory,
                                                                               provider_unreachable):
    user = factory.user(Role.AGENT)
    before = db.session.scalar(select(func.count()).select_from(OutgoingEmail))
    known_client, known = _ask(app, user.email)
    unknown_client, unknown = _ask(app, "nobody@example.com")

    assert known.status_code == 302
    shape = _shape(app, known_client, known)
    assert SAME_ANSWER in shape[-1]  # the page the redirect leads to
    assert shape == _shape(app, unknown_client, unknown)
    # The known address has one email waiting, committed, its delivery job enqueued; the other none.
    [email] = _reset_emails()
    assert email.to == user.email and email.status == "queued"
    assert db.session.scalar(select(func.count()).select_from(OutgoingEmail)) == before + 1
    assert jobs("emails") == [("jobs.mail.deliver_email", (email.id,))]

    # The job meets the same unreachable provider: it fails, and the email waits for a retry.
    with pytest.raises(MailProviderError):
        deliver_email(email.id)
    db.session.expire_all()
    assert (email.status, email.attempts) == ("queued", 1)


def test_the_request_never_calls_the_provider_and_the_job_sends_the_link_once(app, factory, mailchimp_backend,
                                                                              mailchimp_stub):
    user = factory.user(Role.MANAGER)
    _ask(app, user.email)
    assert mailchimp_stub.calls == []  # nothing slow or failing happens only on the known branch

    [email] = _reset_emails()
    assert deliver_email(email.id) == "sent"
    assert deliver_email(email.id) == "sent"  # a retried job finds it sent
    [message] = mailchimp_stub.sent()
    assert message.to == user.email
    assert RESET_LINK.search(message.text)


def test_delivering_the_queued_email_sends_a_link_that_works(app, factory, outbox):
    user = factory.user(Role.AGENT)
    client, _ = _ask(app, user.email)
    assert outbox.list() == []  # not sent inside the request

    [email] = _reset_emails()
    assert deliver_email(email.id) == "sent"
    [message] = outbox.list()
    assert message.to == user.email
    link = RESET_LINK.search(message.text).group(0)
    assert client.get(link.split("sales.test", 1)[1]).status_code == 200


def test_each_request_is_a_separate_email(app, factory, outbox):
    user = factory.user(Role.AGENT)
    _ask(app, user.email)
    _ask(app, user.email)
    emails = _reset_emails()
    assert len(emails) == 2 and emails[0].key != emails[1].key
    for email in emails + emails:  # every job run twice: each email still goes out once
        assert deliver_email(email.id) == "sent"
    messages = outbox.list()
    assert len(messages) == 2 and all(RESET_LINK.search(m.text) for m in messages)


def test_an_inactive_account_gets_nothing_and_the_same_answer(app, factory, outbox, provider_unreachable):
    user = factory.user(Role.AGENT, active=False)
    inactive_client, inactive = _ask(app, user.email)
    unknown_client, unknown = _ask(app, "nobody@example.com")
    assert _shape(app, inactive_client, inactive) == _shape(app, unknown_client, unknown)
    assert _reset_emails() == []
    assert jobs("emails") == []
