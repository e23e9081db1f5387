"""The Mailchimp backend: the real mailchimp-transactional client against a local stub of the API."""

from __future__ import annotations

import socket
import time
from datetime import datetime, timezone

import pytest
import requests
from rq import Queue

from webapp.extensions import db, redis_client
from webapp.mail.backends import get_backend
from webapp.mail.messages import Attachment, EmailMessage, MailProviderError
from webapp.mail.mailchimp import DEFAULT_TIMEOUT, MailchimpBackend
from webapp.mail.services import _message, deliver_email, pending_email_ids, queue_email
from webapp.tasks import QUEUES

# Starts like a PDF and holds every byte value, so a base64 slip cannot go unnoticed.
PDF_BYTES = b"%PDF-1.7\n" + bytes(range(256)) + b"\n%%EOF\n"


@pytest.fixture(autouse=True)
def _empty_email_queue(app):
    """queue_email enqueues a job after the commit; leave no job behind for other tests."""
    yield
    Queue("emails", connection=redis_client()).empty()


def _statement_message(**overrides) -> EmailMessage:
    """A statement email with its PDF, as the statement run sends it."""
    fields = dict(
        to="alice.agent@example.com", subject="Your statement for November 2026",
        text="Your statement is attached.", html="<p>Your statement is attached.</p>",
        attachments=(Attachment("statement-17.pdf", "application/pdf", PDF_BYTES),),
        metadata={"statement_id": "17", "email_key": "statement:17"},
    )
    fields.update(overrides)
    return EmailMessage(**fields)


def _free_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _queued_email(key="statement:17") -> int:
    """A committed queued email, as queue_email records it; returns its id."""
    email = queue_email(key=key, to="alice.agent@example.com", subject="Your statement",
                        text="Attached.", html="<p>Attached.</p>", meta={"statement_id": "17"})
    db.session.commit()
    return email.id


# --- send ---------------------------------------------------------------------------------------


def test_a_message_with_an_attachment_arrives_once_with_every_field(mailchimp_backend, mailchimp_stub):
    result = mailchimp_backend.send(_statement_message())

    [received] = mailchimp_stub.sent()
    assert result.status == "sent" and result.accepted and result.provider_id == received.id
    assert (received.to, received.from_email, received.from_name) == (
        "alice.agent@example.com", "statements@sales.test", "Sales Tracking")
    assert received.subject == "Your statement for November 2026"
    assert received.text == "Your statement is attached."
    assert received.html == "<p>Your statement is attached.</p>"
    [attachment] = received.attachments
    assert (attachment.name, attachment.type) == ("statement-17.pdf", "application/pdf")
    assert attachment.data == PDF_BYTES and attachment.data.startswith(b"%PDF-")
    assert received.metadata == {"statement_id": "17", "email_key": "statement:17"}
    assert received.raw["message"]["to"] == [{"email": "alice.agent@example.com", "type": "to"}]
    assert received.raw["message"]["preserve_recipients"] is False
    assert len(mailchimp_stub.calls_to("send")) == 1


def test_metadata_values_are_sent_as_strings(mailchimp_backend, mailchimp_stub):
    mailchimp_backend.send(_statement_message(metadata={"statement_id": 17}))
    assert mailchimp_stub.sent()[0].metadata == {"statement_id": "17"}


def test_a_message_without_html_sends_text_only(mailchimp_backend, mailchimp_stub):
    mailchimp_backend.send(_statement_message(html=None, attachments=()))
    [received] = mailchimp_stub.sent()
    assert "html" not in received.raw["message"] and received.text == "Your statement is attached."
    assert received.attachments == []


def test_a_rejected_recipient_is_reported_with_the_reason(mailchimp_backend, mailchimp_stub):
    mailchimp_stub.reject("hard-bounce")
    result = mailchimp_backend.send(_statement_message())
    assert (result.status, result.reject_reason, result.accepted) == ("rejected", "hard-bounce", False)
    assert result.provider_id is not None
    assert mailchimp_stub.sent() == []


# --- the three ways the client fails ------------------------------------------------------------


def test_a_wrong_api_key_is_a_permanent_error_with_mailchimps_message(app, mailchimp_stub):
    backend = MailchimpBackend("not-the-key", "statements@sales.test", "Sales Tracking",
                               host=mailchimp_stub.host)
    with pytest.raises(MailProviderError) as caught:
        backend.send(_statement_message())
    error = caught.value
    assert (error.status_code, error.permanent, error.name) == (401, True, "Invalid_Key")
    assert "Invalid API key" in str(error)  # the client's own exception has an empty str()
    assert mailchimp_stub.messages == []


def test_a_server_error_is_transient(mailchimp_backend, mailchimp_stub):
    mailchimp_stub.fail_with(500, name="GeneralError", message="Something broke")
    with pytest.raises(MailProviderError) as caught:
        mailchimp_backend.send(_statement_message())
    assert (caught.value.status_code, caught.value.permanent) == (500, False)
    assert "GeneralError: Something broke" in str(caught.value)


def test_a_validation_error_is_permanent_even_when_mailchimp_says_500(mailchimp_backend, mailchimp_stub):
    # Mailchimp reports validation errors with HTTP 500: the error's name decides, not the status.
    mailchimp_stub.fail_with(500, name="ValidationError", message="You must specify a key value")
    with pytest.raises(MailProviderError) as caught:
        mailchimp_backend.send(_statement_message())
    assert caught.value.permanent is True


def test_the_client_hands_back_a_raw_response_for_an_empty_error_body(mailchimp_backend, mailchimp_stub):
    # Why the backend must check: the library does not raise here, it returns requests.Response.
    mailchimp_stub.fail_with_empty_body(502)
    answer = mailchimp_backend.client.messages.send({"message": {}})
    assert isinstance(answer, requests.Response) and answer.status_code == 502


def test_an_empty_error_body_is_an_error_not_a_success(mailchimp_backend, mailchimp_stub):
    mailchimp_stub.fail_with_empty_body(502)
    with pytest.raises(MailProviderError) as caught:
        mailchimp_backend.send(_statement_message())
    assert (caught.value.status_code, caught.value.permanent) == (502, False)
    assert "empty body" in str(caught.value)


def test_an_empty_4xx_body_is_a_permanent_error(mailchimp_backend, mailchimp_stub):
    mailchimp_stub.fail_with_empty_body(403)
    with pytest.raises(MailProviderError) as caught:
        mailchimp_backend.send(_statement_message())
    assert (caught.value.status_code, caught.value.permanent) == (403, True)


def test_a_hanging_provider_times_out_as_a_transient_error(mailchimp_backend, mailchimp_stub):
    mailchimp_stub.hang(seconds=10)
    started = time.monotonic()
    with pytest.raises(MailProviderError) as caught:
        mailchimp_backend.send(_statement_message())
    assert time.monotonic() - started < 5  # the fixture's client timeout is 1 s
    assert (caught.value.status_code, caught.value.permanent) == (None, False)
    assert "Timeout" in str(caught.value)


def test_an_unreachable_provider_is_a_transient_error(app):
    backend = MailchimpBackend("key", "statements@sales.test", "Sales Tracking",
                               host=f"http://127.0.0.1:{_free_port()}", timeout=1)
    with pytest.raises(MailProviderError) as caught:
        backend.send(_statement_message())
    assert (caught.value.status_code, caught.value.permanent) == (None, False)
    assert "ConnectionError" in str(caught.value)


# --- find_sent (crash recovery) -----------------------------------------------------------------


def test_find_sent_finds_a_sent_message_by_its_metadata(mailchimp_backend, mailchimp_stub):
    mailchimp_backend.send(_statement_message(metadata={"email_key": "statement:16"}))
    sent = mailchimp_backend.send(_statement_message())
    since = datetime(2026, 11, 26, 0, 30, tzinfo=timezone.utc)

    assert mailchimp_backend.find_sent("email_key", "statement:17", since=since) == sent.provider_id
    [search] = mailchimp_stub.calls_to("search")
    assert search["query"] == 'u_email_key:"statement:17"'
    assert search["date_from"] == "2026-11-25"  # a day of margin before the sending began


def test_find_sent_returns_none_when_mailchimp_has_no_such_message(mailchimp_backend, mailchimp_stub):
    mailchimp_backend.send(_statement_message(metadata={"email_key": "statement:16"}))
    # No hit at all comes back from the client as a raw response (an empty list is falsy to it).
    assert mailchimp_backend.find_sent("email_key", "statement:17") is None
    assert mailchimp_backend.find_sent("email_key", "statement:1") is None


def test_find_sent_raises_rather_than_guess_when_the_search_fails(mailchimp_backend, mailchimp_stub):
    # "Not found" would mean "send it again": a failed search must never look like that.
    mailchimp_stub.fail_with(500, endpoint="search")
    with pytest.raises(MailProviderError):
        mailchimp_backend.find_sent("email_key", "statement:17")


# --- configuration ------------------------------------------------------------------------------


def test_the_client_timeout_leaves_room_for_search_and_send_within_the_email_job(app):
    assert 2 * DEFAULT_TIMEOUT < QUEUES["emails"].job_timeout


def test_mail_backend_mailchimp_builds_the_real_client_from_the_configuration(app, monkeypatch):
    missing = object()
    previous = app.extensions.pop("mail_backend", missing)
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "mailchimp")
    monkeypatch.setitem(app.config, "MAILCHIMP_API_KEY", "configured-key")
    monkeypatch.setitem(app.config, "MAILCHIMP_API_HOST", "http://127.0.0.1:9/api/1.3/")
    try:
        backend = get_backend()
        assert isinstance(backend, MailchimpBackend)
        assert backend.client.api_key == "configured-key"
        assert backend.client.api_client.host == "http://127.0.0.1:9/api/1.3"
        assert backend.client.api_client.timeout == DEFAULT_TIMEOUT
        assert backend.from_email == app.config["MAIL_FROM"]
        assert backend.from_name == app.config["MAIL_FROM_NAME"]
    finally:
        app.extensions.pop("mail_backend", None)
        if previous is not missing:
            app.extensions["mail_backend"] = previous


# --- deliver_email with the Mailchimp backend ---------------------------------------------------


def test_deliver_email_records_the_message_as_sent_with_mailchimps_id(app, mailchimp_backend, mailchimp_stub):
    from webapp.mail.models import OutgoingEmail

    email_id = _queued_email()
    assert deliver_email(email_id) == "sent"
    assert deliver_email(email_id) == "sent"  # a duplicate job sends nothing

    email = db.session.get(OutgoingEmail, email_id)
    [received] = mailchimp_stub.sent()
    assert (email.status, email.provider_id, email.attempts) == ("sent", received.id, 1)
    assert email.last_error is None
    assert received.metadata == {"statement_id": "17", "email_key": "statement:17"}


def test_deliver_email_records_a_rejection_with_its_reason(app, mailchimp_backend, mailchimp_stub):
    from webapp.mail.models import OutgoingEmail

    mailchimp_stub.reject("unsub")
    email_id = _queued_email()
    assert deliver_email(email_id) == "rejected"
    mailchimp_stub.behave()
    assert deliver_email(email_id) == "rejected"  # a rejection is final: no second try

    email = db.session.get(OutgoingEmail, email_id)
    assert (email.status, email.last_error) == ("rejected", "unsub")
    assert email.provider_id is not None
    assert len(mailchimp_stub.calls_to("send")) == 1


@pytest.mark.parametrize("fault, expected", [
    (lambda stub: stub.fail_with(500), "HTTP 500"),
    (lambda stub: stub.fail_with_empty_body(502), "HTTP 502 with an empty body"),
    (lambda stub: stub.hang(seconds=10), "Timeout"),
], ids=["500", "empty-error-body", "timeout"])
def test_deliver_email_leaves_a_failed_send_queued_with_the_error_and_raises_for_a_retry(
        app, mailchimp_backend, mailchimp_stub, fault, expected):
    from webapp.mail.models import OutgoingEmail

    fault(mailchimp_stub)
    email_id = _queued_email()
    with pytest.raises(MailProviderError) as caught:
        deliver_email(email_id)
    assert caught.value.permanent is False

    email = db.session.get(OutgoingEmail, email_id)
    assert (email.status, email.attempts, email.provider_id) == ("queued", 1, None)
    assert expected in email.last_error
    assert email_id in pending_email_ids()


def test_deliver_email_with_a_wrong_key_records_a_permanent_error(app, mailchimp_stub, mailchimp_backend):
    from webapp.mail.models import OutgoingEmail

    app.extensions["mail_backend"] = MailchimpBackend(
        "revoked-key", "statements@sales.test", "Sales Tracking", host=mailchimp_stub.host, timeout=1)
    email_id = _queued_email()
    # Permanent: no exception for the job to retry (only a new key helps); failed for a person.
    assert deliver_email(email_id) == "failed"
    email = db.session.get(OutgoingEmail, email_id)
    assert email.status == "failed" and email.attempts == 1 and "Invalid_Key" in email.last_error


def test_a_crash_after_mailchimp_took_the_message_is_recovered_without_a_second_send(
        app, mailchimp_backend, mailchimp_stub):
    from webapp.mail.models import OutgoingEmail

    email_id = _queued_email()
    email = db.session.get(OutgoingEmail, email_id)
    # The worker marked the row `sending`, Mailchimp took the message, the worker died.
    email.status, email.attempts = "sending", 1
    db.session.commit()
    taken = mailchimp_backend.send(_message(email))

    assert deliver_email(email_id) == "sent"
    assert (email.status, email.provider_id, email.attempts) == ("sent", taken.provider_id, 1)
    assert len(mailchimp_stub.calls_to("send")) == 1
    assert len(mailchimp_stub.calls_to("search")) == 1


def test_a_crash_before_mailchimp_took_the_message_sends_it_once(app, mailchimp_backend, mailchimp_stub):
    from webapp.mail.models import OutgoingEmail

    email_id = _queued_email()
    email = db.session.get(OutgoingEmail, email_id)
    email.status, email.attempts = "sending", 1
    db.session.commit()

    assert deliver_email(email_id) == "sent"
    [received] = mailchimp_stub.sent()
    assert email.provider_id == received.id and email.attempts == 2
    assert len(mailchimp_stub.calls_to("search")) == 1


def test_a_failed_lookup_after_a_crash_sends_nothing_and_leaves_the_row_for_later(
        app, mailchimp_backend, mailchimp_stub):
    from webapp.mail.models import OutgoingEmail

    email_id = _queued_email()
    email = db.session.get(OutgoingEmail, email_id)
    email.status, email.attempts = "sending", 1
    db.session.commit()
    mailchimp_stub.fail_with(500, endpoint="search")

    with pytest.raises(MailProviderError):
        deliver_email(email_id)
    db.session.rollback()
    assert db.session.get(OutgoingEmail, email_id).status == "sending"
    assert mailchimp_stub.calls_to("send") == []
