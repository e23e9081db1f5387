"""The statement dispatcher and the reminder are on the declared schedule (reconciled, never
duplicated); render and delivery jobs carry the retry policy and wait in a queue only once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from jobs.queues import DAY, enqueue
from jobs.schedule import DECLARED, ID_PREFIX, make_scheduler, reconcile
from webapp.tasks import JOB_POLICIES, TRANSIENT_BACKOFF, unique_job_id

RENDER = "jobs.statements.render_statement"
DELIVER = "jobs.mail.deliver_email"


def declared(name: str):
    """The declared scheduled job called `name`."""
    return next(job for job in DECLARED if job.name == name)


def test_the_dispatcher_runs_every_five_minutes_under_a_fixed_id():
    job = declared("statement-dispatch")
    assert (job.func, job.interval, job.queue, job.id) == (
        "jobs.statements.dispatch", 300, "periodic", ID_PREFIX + "statement-dispatch")


def test_the_unpaid_balance_reminder_runs_daily():
    job = declared("unpaid-reminders")
    assert (job.func, job.interval, job.queue) == ("jobs.reminders.send_reminders", DAY, "periodic")


def test_the_plan_document_sweep_runs_every_five_minutes_and_its_reminders_daily():
    sweep, reminders = declared("plan-document-sweep"), declared("plan-document-reminders")
    assert (sweep.func, sweep.interval, sweep.queue) == ("jobs.plandocs.sweep", 300, "periodic")
    assert (reminders.func, reminders.interval, reminders.queue) == ("jobs.plandocs.send_reminders", DAY, "periodic")


def test_plan_document_renders_retry_and_wait_in_a_queue_only_once():
    for func in ("jobs.plandocs.render_document", "jobs.plandocs.render_acknowledgement"):
        assert JOB_POLICIES[func].backoff == TRANSIENT_BACKOFF and JOB_POLICIES[func].unique, func


def test_the_declared_functions_exist():
    import importlib

    for job in DECLARED:
        module, name = job.func.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), name)), job.func


def test_reconciling_the_declared_schedule_at_every_start_never_duplicates_it(redis_conn):
    scheduler = make_scheduler(redis_conn)
    ids = sorted(job.id for job in DECLARED)

    first = reconcile(scheduler)
    again = reconcile(make_scheduler(redis_conn))  # the scheduler restarted

    assert sorted(first.added) == ids
    assert again.added == again.updated == again.removed == [] and sorted(again.kept) == ids
    members = sorted(m.decode() for m in redis_conn.zrange(scheduler.scheduled_jobs_key, 0, -1))
    assert members == ids
    dispatcher = Job.fetch(declared("statement-dispatch").id, connection=redis_conn)
    assert dispatcher.func_name == "jobs.statements.dispatch" and dispatcher.meta["interval"] == 300


def test_render_and_delivery_retry_transient_failures_with_backoff(redis_conn):
    assert TRANSIENT_BACKOFF == (30, 120, 600)
    for func in (RENDER, DELIVER):
        assert JOB_POLICIES[func].unique
        job = enqueue("emails" if func == DELIVER else "default", func, 7, connection=redis_conn)
        assert job.id == unique_job_id(func, (7,))
        assert job.retries_left == 3 and job.retry_intervals == [30, 120, 600]


def test_a_job_waiting_in_its_queue_is_not_queued_twice(redis_conn):
    first = enqueue("default", RENDER, 7, connection=redis_conn)
    again = enqueue("default", RENDER, 7, connection=redis_conn)
    other = enqueue("default", RENDER, 8, connection=redis_conn)

    assert again.id == first.id
    assert Queue("default", connection=redis_conn).job_ids == [first.id, other.id]


def test_a_job_waiting_for_its_retry_is_not_queued_again(redis_conn):
    job = enqueue("emails", DELIVER, 5, connection=redis_conn)
    queue = Queue("emails", connection=redis_conn)
    queue.remove(job)
    # As RQ leaves a failed job with retries left: scheduled for its next attempt.
    registry = ScheduledJobRegistry(queue=queue)
    registry.schedule(job, datetime.now(UTC) + timedelta(seconds=30))
    job.set_status(JobStatus.SCHEDULED)

    assert enqueue("emails", DELIVER, 5, connection=redis_conn).id == job.id
    assert queue.job_ids == []


def test_a_finished_failed_or_abandoned_job_is_queued_again(redis_conn):
    queue = Queue("default", connection=redis_conn)
    for status in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STARTED):
        job = enqueue("default", RENDER, 9, connection=redis_conn)
        queue.remove(job)
        # STARTED too: a worker killed with SIGKILL leaves its job "started" for minutes.
        job.set_status(status)
        again = enqueue("default", RENDER, 9, connection=redis_conn)
        assert queue.job_ids == [again.id], status
        assert again.get_status() == JobStatus.QUEUED


@pytest.mark.filterwarnings("ignore:datetime.datetime.utc:DeprecationWarning")  # rq-scheduler 0.14 on 3.12
def test_a_schedule_lost_with_redis_comes_back_on_the_next_poll(redis_conn):
    scheduler = make_scheduler(redis_conn)
    reconcile(scheduler)
    list(scheduler.enqueue_jobs())  # a fresh schedule runs everything once
    redis_conn.flushdb()  # Redis restarted without its data; the scheduler process kept running

    scheduler.enqueue_jobs()

    members = sorted(m.decode() for m in redis_conn.zrange(scheduler.scheduled_jobs_key, 0, -1))
    assert members == sorted(job.id for job in DECLARED)
    queued = sorted(member.decode() for member in redis_conn.lrange("rq:queue:periodic", 0, -1))
    assert queued == sorted(job.id for job in DECLARED), "each due at once, as after a start"


def test_an_intact_schedule_is_left_alone_on_each_poll(redis_conn):
    scheduler = make_scheduler(redis_conn)
    reconcile(scheduler)
    before = {job.id: Job.fetch(job.id, connection=redis_conn).meta["definition"] for job in DECLARED}
    scores = {job.id: redis_conn.zscore(scheduler.scheduled_jobs_key, job.id) for job in DECLARED}
    for job in DECLARED:  # none due yet
        redis_conn.zadd(scheduler.scheduled_jobs_key, {job.id: scores[job.id] + 3600})

    scheduler.enqueue_jobs()
    assert {job.id: Job.fetch(job.id, connection=redis_conn).meta["definition"] for job in DECLARED} == before
    assert redis_conn.llen("rq:queue:periodic") == 0
