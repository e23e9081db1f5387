"""Reconciling interrupted sends: a `sending` email older than SENDING_ABANDONED_AFTER is queued
again (every 15 s by the scheduler), a younger one is left to the job that may still be sending it,
and the delivery protocol makes sure nothing goes out twice (the real Mailchimp client, a local stub)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jobs.mail import dispatch_pending, reconcile_abandoned
from jobs.schedule import DECLARED
from tests.support.queues import jobs
from webapp.extensions import db
from webapp.mail.mailchimp import DEFAULT_TIMEOUT
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import SENDING_ABANDONED_AFTER, _message, deliver_email, queue_email, requeue_abandoned
from webapp.statements.dispatch import SENDING_STALE_AFTER
from webapp.tasks import QUEUES

pytestmark = pytest.mark.usefixtures("empty_queues")

# Close to the real time: the stub stamps what it takes with the real clock, and lookups search from
# the `sending` time on.
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _interrupted(key: str, since: datetime) -> OutgoingEmail:
    """An email a worker marked `sending` at `since` and then died on (committed, no job queued)."""
    email = queue_email(key=key, to="alice.agent@example.com", subject="Your statement", text="Attached.",
                        enqueue=False)
    email.status, email.attempts, email.sending_since = "sending", 1, since
    db.session.commit()
    return email


def _run_emails_queue() -> None:
    """Run every queued delivery job as a worker would (in this test's app context)."""
    for func, args in jobs("emails"):
        assert func == "jobs.mail.deliver_email"
        deliver_email(*args)


def test_the_delays_are_nested_so_a_slow_send_is_never_taken_for_a_lost_one():
    job_timeout = QUEUES["emails"].job_timeout
    # A job may make two provider calls (a lookup after a crash, then the send).
    assert 2 * DEFAULT_TIMEOUT < job_timeout < SENDING_ABANDONED_AFTER.total_seconds()
    assert (DEFAULT_TIMEOUT, job_timeout, SENDING_ABANDONED_AFTER) == (15, 40, timedelta(seconds=45))
    assert SENDING_STALE_AFTER == SENDING_ABANDONED_AFTER  # the dispatcher uses the same threshold


def test_email_reconcile_is_scheduled_every_15_seconds_and_the_sweep_stays():
    by_name = {job.name: job for job in DECLARED}
    assert by_name["email-reconcile"].func == "jobs.mail.reconcile_abandoned"
    assert by_name["email-reconcile"].interval == 15
    # The sweep also sends queued emails whose job Redis lost: it still runs.
    assert by_name["email-sweep"].func == "jobs.mail.dispatch_pending"
    # Worst case from a crash to a queued retry: threshold + one interval, about a minute.
    assert SENDING_ABANDONED_AFTER.total_seconds() + by_name["email-reconcile"].interval <= 60


def test_only_a_send_older_than_45_seconds_is_queued_again(app, at):
    at(NOW)
    old = _interrupted("reconcile:old", NOW - SENDING_ABANDONED_AFTER - timedelta(seconds=1))
    young = _interrupted("reconcile:young", NOW - SENDING_ABANDONED_AFTER + timedelta(seconds=1))

    assert reconcile_abandoned() == 1
    assert jobs("emails") == [("jobs.mail.deliver_email", (old.id,))]
    # Twice before a worker runs: still one job (the delivery job is unique per email).
    assert requeue_abandoned() == 1
    assert jobs("emails") == [("jobs.mail.deliver_email", (old.id,))]
    db.session.refresh(young)
    assert young.status == "sending"


def test_a_reconciled_send_the_provider_never_got_goes_out_once(app, at, mailchimp_backend, mailchimp_stub):
    at(NOW)
    email = _interrupted("reconcile:lost", NOW - timedelta(seconds=46))

    assert requeue_abandoned() == 1
    _run_emails_queue()
    _run_emails_queue()  # a duplicate job (or the 5-minute sweep) finds it sent

    db.session.refresh(email)
    [received] = mailchimp_stub.sent()
    assert (email.status, email.provider_id, email.attempts) == ("sent", received.id, 2)
    assert len(mailchimp_stub.calls_to("search")) == 1  # looked up before the resend
    assert requeue_abandoned() == 0


def test_a_reconciled_send_the_provider_already_took_is_not_sent_again(app, at, mailchimp_backend, mailchimp_stub):
    at(NOW)
    email = _interrupted("reconcile:taken", NOW - timedelta(seconds=50))
    taken = mailchimp_backend.send(_message(email))  # Mailchimp took it, then the worker died

    assert requeue_abandoned() == 1
    _run_emails_queue()

    db.session.refresh(email)
    assert (email.status, email.provider_id, email.attempts) == ("sent", taken.provider_id, 1)
    assert len(mailchimp_stub.calls_to("send")) == 1
    assert requeue_abandoned() == 0


def test_a_delivery_job_reaching_a_young_send_leaves_it_alone(app, at, mailchimp_backend, mailchimp_stub):
    at(NOW)
    email = _interrupted("reconcile:in-flight", NOW - timedelta(seconds=44))

    assert deliver_email(email.id) == "sending"  # another worker may be in the middle of it
    assert mailchimp_stub.calls_to("send") == [] and mailchimp_stub.calls_to("search") == []
    at(NOW + timedelta(seconds=2))
    assert deliver_email(email.id) == "sent"
    assert len(mailchimp_stub.sent()) == 1


def test_the_sweep_queues_delivery_jobs_and_sends_nothing_itself(app, at):
    at(NOW)
    # A queued email whose job Redis lost: the sweep hands it to the emails queue, whose 40 s job
    # timeout keeps the send below the abandoned threshold (the periodic queue's would not).
    lost = queue_email(key="sweep:lost", to="alice.agent@example.com", subject="Your statement", text="Attached.",
                       enqueue=False)
    db.session.commit()
    assert dispatch_pending() == 1
    assert jobs("emails") == [("jobs.mail.deliver_email", (lost.id,))]
    db.session.refresh(lost)
    assert lost.status == "queued" and lost.attempts == 0
    assert dispatch_pending() == 1  # again before a worker runs: still one job
    assert jobs("emails") == [("jobs.mail.deliver_email", (lost.id,))]
