"""POST /webhooks/mailchimp: signed Mailchimp message events update the emails they are about."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from tests.support.rows import reload
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import deliver_email

WEBHOOK_KEY = "whk-test-key"
BASE_URL = "https://sales.example.com"
URL = "/webhooks/mailchimp"


@pytest.fixture(autouse=True)
def _webhook_configured(app, monkeypatch):
    """The installation's public URL and the webhook key Mailchimp gave us."""
    monkeypatch.setitem(app.config, "BASE_URL", BASE_URL)
    monkeypatch.setitem(app.config, "MAILCHIMP_WEBHOOK_KEY", WEBHOOK_KEY)


def _signature(key: str, url: str, params: dict[str, str]) -> str:
    """Mailchimp's documented recipe, written out independently of the app's code."""
    data = url
    for name in sorted(params):
        data += name + params[name]
    return base64.b64encode(hmac.new(key.encode(), data.encode(), hashlib.sha1).digest()).decode()


def _post(client, events, *, key=WEBHOOK_KEY, url=BASE_URL + URL, signature=None, headers=None):
    """POST events the way Mailchimp does: form-encoded `mandrill_events`, signed."""
    params = {"mandrill_events": json.dumps(events)}
    sent_headers = {"X-Mandrill-Signature": signature or _signature(key, url, params)}
    sent_headers.update(headers or {})
    return client.post(URL, data=params, headers=sent_headers)


def _email(status="sent", provider_id="mc-1", key="statement:1", **fields) -> OutgoingEmail:
    """A committed outgoing email."""
    email = OutgoingEmail(key=key, to="alice.agent@example.com", subject="Your statement", text="Attached.",
                          status=status, provider_id=provider_id, attempts=1, **fields)
    db.session.add(email)
    db.session.commit()
    return email


def _event(name, provider_id="mc-1", ts=1_795_000_000, **msg) -> dict:
    """One Mailchimp message event, shaped as the webhook sends it."""
    message = {"_id": provider_id, "ts": ts - 60, "email": "alice.agent@example.com",
               "subject": "Your statement", "state": "sent", "metadata": {}, "tags": [], "smtp_events": []}
    message.update(msg)
    return {"event": name, "_id": provider_id, "ts": ts, "msg": message}


def test_a_signed_hard_bounce_rejects_the_email_with_the_reason(client):
    email = _email()
    response = _post(client, [_event("hard_bounce", state="bounced", bounce_description="bad_mailbox",
                                     diag="smtp;550 5.1.1 The email account does not exist.")])
    assert response.status_code == 200
    assert response.get_json() == {"received": 1, "applied": 1}
    email = reload(email)
    assert email.status == "rejected"
    assert "bad_mailbox" in email.last_error and "550 5.1.1" in email.last_error
    assert email.delivery_event == "hard_bounce"


@pytest.mark.parametrize("event, reason", [("reject", "refused"), ("spam", "spam")])
def test_a_rejection_or_a_spam_complaint_rejects_the_email(client, event, reason):
    email = _email()
    assert _post(client, [_event(event)]).status_code == 200
    email = reload(email)
    assert email.status == "rejected" and reason in email.last_error and email.delivery_event == event


@pytest.mark.parametrize("event", ["soft_bounce", "deferral"])
def test_soft_bounces_and_deferrals_are_recorded_without_changing_the_status(client, event):
    email = _email()
    response = _post(client, [_event(event, state="soft-bounced", bounce_description="mailbox_full",
                                     smtp_events=[{"type": "deferred", "diag": "452 4.2.2 Mailbox full"}])])
    assert response.status_code == 200
    email = reload(email)
    assert (email.status, email.delivery_event, email.last_error) == ("sent", event, None)
    assert "mailbox_full" in email.delivery_detail
    assert email.delivery_event_at is not None


def test_a_send_event_marks_an_email_sent(client):
    email = _email(status="sending")
    _post(client, [_event("send")])
    email = reload(email)
    assert (email.status, email.delivery_event) == ("sent", "send") and email.sent_at is not None


def test_a_send_event_teaches_a_timed_out_email_its_id_so_the_retry_sends_nothing(client, app, outbox):
    # The send call timed out after Mailchimp had taken the message: the row is queued, without an id.
    email = _email(status="queued", provider_id=None, key="statement:2", last_error="ReadTimeout: ...")
    event = _event("send", provider_id="mc-late", metadata={"email_key": "statement:2", "statement_id": "2"})
    assert _post(client, [event]).get_json()["applied"] == 1
    email = reload(email)
    assert (email.status, email.provider_id, email.last_error) == ("sent", "mc-late", None)
    assert deliver_email(email.id) == "sent"
    assert outbox.list() == []  # the retry found it sent and called no backend


def test_an_older_event_arriving_late_does_not_undo_a_newer_one(client):
    email = _email()
    _post(client, [_event("hard_bounce", ts=1_795_000_200, bounce_description="bad_mailbox")])
    _post(client, [_event("send", ts=1_795_000_100)])
    email = reload(email)
    assert (email.status, email.delivery_event) == ("rejected", "hard_bounce")


def test_the_same_batch_delivered_twice_changes_nothing_more(client):
    email = _email()
    batch = [_event("send", ts=1_795_000_000),
             _event("hard_bounce", ts=1_795_000_100, bounce_description="x")]
    _post(client, batch)
    first = reload(email)
    state = (first.status, first.last_error, first.delivery_event, first.delivery_event_at)
    _post(client, batch)
    again = reload(email)
    assert (again.status, again.last_error, again.delivery_event, again.delivery_event_at) == state


def test_events_about_unknown_messages_are_acknowledged_and_ignored(client):
    email = _email()
    response = _post(client, [_event("hard_bounce", provider_id="someone-elses-message"),
                              {"type": "blacklist", "action": "add", "reject": {"email": "x@example.com"}}])
    assert response.status_code == 200  # anything else makes Mailchimp retry the batch
    assert response.get_json() == {"received": 2, "applied": 0}
    assert reload(email).status == "sent"


@pytest.mark.parametrize("tamper", [
    {"key": "not-the-key"},
    {"url": "http://sales.test/webhooks/mailchimp"},  # the request's own Host, not the registered URL
    {"url": BASE_URL + URL + "/"},
    {"signature": "bm90IGEgc2lnbmF0dXJl"},
], ids=["wrong-key", "host-header-url", "trailing-slash", "garbage"])
def test_a_bad_signature_is_refused_and_changes_nothing(client, tamper):
    email = _email()
    response = _post(client, [_event("hard_bounce")], **tamper)
    assert response.status_code == 403
    assert reload(email).status == "sent"


def test_a_signature_for_other_events_is_refused(client):
    email = _email()
    honest = _signature(WEBHOOK_KEY, BASE_URL + URL, {"mandrill_events": json.dumps([_event("send")])})
    response = _post(client, [_event("hard_bounce")], signature=honest)
    assert response.status_code == 403
    assert reload(email).status == "sent"


def test_a_call_without_a_signature_is_refused(client):
    email = _email()
    response = client.post(URL, data={"mandrill_events": json.dumps([_event("hard_bounce")])})
    assert response.status_code == 403
    assert reload(email).status == "sent"


def test_without_a_configured_webhook_key_every_call_is_refused(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAILCHIMP_WEBHOOK_KEY", "")
    email = _email()
    assert _post(client, [_event("hard_bounce")], key="").status_code == 403
    assert reload(email).status == "sent"


def test_a_signed_call_with_a_broken_payload_is_a_bad_request(client):
    params = {"mandrill_events": "{not json"}
    response = client.post(URL, data=params,
                           headers={"X-Mandrill-Signature": _signature(WEBHOOK_KEY, BASE_URL + URL, params)})
    assert response.status_code == 400


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_mailchimps_url_check_is_answered(client, method):
    assert client.open(URL, method=method).status_code == 200
