"""Queued email: written with the change, enqueued after the commit, delivered exactly once."""

import pytest
from rq import Queue
from sqlalchemy import func, select

from webapp.extensions import db, redis_client
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import deliver_email, pending_email_ids, queue_email


def _emails_queue():
    return Queue("emails", connection=redis_client())


@pytest.fixture(autouse=True)
def _empty_queue(app):
    _emails_queue().empty()
    yield
    _emails_queue().empty()


def _queue(key="sale-rejected:1"):
    return queue_email(key=key, to="agent@example.com", subject="Your sale was rejected",
                       text="Reason: missing signature.", html="<p>Reason: missing signature.</p>")


def test_the_job_is_enqueued_only_after_the_commit(app):
    email = _queue()
    assert _emails_queue().count == 0, "enqueued before the commit"
    db.session.commit()
    [job] = _emails_queue().get_jobs()
    assert (job.func_name, job.args) == ("jobs.mail.deliver_email", (email.id,))


def test_a_rolled_back_change_sends_nothing(app):
    _queue()
    db.session.rollback()
    assert _emails_queue().count == 0
    assert db.session.scalar(select(func.count()).select_from(OutgoingEmail)) == 0


def test_the_same_key_makes_one_email(app):
    first, second = _queue(), _queue()
    assert first.id == second.id
    assert db.session.scalar(select(func.count()).select_from(OutgoingEmail)) == 1


def test_delivery_sends_once_even_when_the_job_runs_twice(app, outbox):
    email = _queue()
    db.session.commit()
    assert deliver_email(email.id) == "sent"
    assert deliver_email(email.id) == "sent"
    [message] = outbox.list()
    assert message.to == "agent@example.com" and message.metadata["email_key"] == email.key
    assert email.status == "sent" and email.attempts == 1 and email.provider_id == message.id


def test_a_crash_after_sending_is_recognised_and_not_resent(app, outbox):
    email = _queue()
    db.session.commit()
    # The worker died after the provider took the message but before it recorded that.
    from webapp.mail.backends import get_backend
    from webapp.mail.services import _message

    email.status, email.attempts = "sending", 1
    db.session.commit()
    get_backend().send(_message(email))
    assert email.id in pending_email_ids()
    assert deliver_email(email.id) == "sent"
    assert len(outbox.list()) == 1


def test_a_provider_failure_is_recorded_and_left_for_a_retry(app, outbox, monkeypatch):
    from webapp.mail.backends import get_backend

    email = _queue()
    db.session.commit()

    def broken(message):
        raise ConnectionError("provider unreachable")

    monkeypatch.setattr(get_backend(), "send", broken)
    with pytest.raises(ConnectionError):
        deliver_email(email.id)
    assert (email.status, email.attempts) == ("queued", 1)
    assert "provider unreachable" in email.last_error
    assert email.id in pending_email_ids()


def test_rejecting_and_voiding_email_the_agent_with_the_reason(app, factory, outbox, today):
    from datetime import date

    from webapp.mail.services import pending_email_ids
    from webapp.sales.services import reject_sale, void_sale

    today(date(2026, 11, 20))
    agent = factory.user("agent")
    factory.assign(agent, factory.plan(base_rate="3"))
    rejected = factory.sale(agent, "100.00", date(2026, 11, 18), approve=False)
    voided = factory.sale(agent, "200.00", date(2026, 11, 19))
    reject_sale(agent.manager, rejected, "No signed order form.")
    void_sale(agent.manager, voided, "Customer returned the goods.")
    db.session.commit()
    for email_id in pending_email_ids():
        deliver_email(email_id)
    messages = {m.subject.split(":")[0]: m for m in outbox.list()}
    assert set(messages) == {"Your sale was rejected", "Your sale was voided"}
    assert "No signed order form." in messages["Your sale was rejected"].text
    assert "Customer returned the goods." in messages["Your sale was voided"].text
    assert all(m.to == agent.email for m in messages.values())


def test_a_retry_after_an_ambiguous_failure_looks_before_resending(app, outbox, monkeypatch):
    from webapp.mail.backends import get_backend

    email = _queue()
    db.session.commit()
    backend = get_backend()
    real_send = backend.send

    def took_it_then_timed_out(message):
        real_send(message)  # the provider kept the message...
        raise TimeoutError("read timed out")  # ...but we never heard back

    monkeypatch.setattr(backend, "send", took_it_then_timed_out)
    with pytest.raises(TimeoutError):
        deliver_email(email.id)
    assert email.status == "queued"
    monkeypatch.setattr(backend, "send", real_send)
    assert deliver_email(email.id) == "sent"
    assert len(outbox.list()) == 1, "the retry sent the email a second time"


def test_a_send_in_progress_elsewhere_is_left_alone(app, outbox):
    from webapp import clock

    email = _queue()
    db.session.commit()
    email.status, email.attempts, email.sending_since = "sending", 1, clock.now_utc()
    db.session.commit()
    assert deliver_email(email.id) == "sending"
    assert outbox.list() == [] and email.attempts == 1
