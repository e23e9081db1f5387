"""The declared schedule is reconciled with rq-scheduler's state: restarts never duplicate a job."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from rq.job import Job

from jobs.queues import QUEUES
from jobs.schedule import DECLARED, ID_PREFIX, ScheduledJob, make_scheduler, reconcile

# rq-scheduler 0.14 calls datetime.utcnow(), which Python 3.12 deprecates; harmless on 3.11.
tolerate_utcnow = pytest.mark.filterwarnings("ignore:datetime.datetime.utc:DeprecationWarning")

PING = ScheduledJob("ping", "jobs.housekeeping.heartbeat", interval=60)
PONG = ScheduledJob("pong", "jobs.housekeeping.heartbeat", interval=300, queue="default")


def scheduled_ids(scheduler) -> list[str]:
    """The ids in rq-scheduler's sorted set, in order."""
    return [member.decode() for member in scheduler.connection.zrange(scheduler.scheduled_jobs_key, 0, -1)]


def make_due(scheduler, job_id: str) -> None:
    """Move a scheduled job's next run into the past."""
    scheduler.connection.zadd(scheduler.scheduled_jobs_key, {job_id: int(time.time()) - 1})


def in_a_minute() -> datetime:
    """A scheduled time one minute ahead."""
    return datetime.now(UTC) + timedelta(minutes=1)


def test_declared_schedule_beats_every_minute_on_the_periodic_queue():
    heartbeat = next(job for job in DECLARED if job.name == "heartbeat")
    assert heartbeat.func == "jobs.housekeeping.heartbeat"
    assert heartbeat.interval == 60
    assert heartbeat.queue == "periodic"
    assert heartbeat.id == ID_PREFIX + "heartbeat"


def test_reconcile_twice_leaves_one_job_per_declared_id(redis_conn):
    scheduler = make_scheduler(redis_conn)

    first = reconcile(scheduler, [PING, PONG])
    second = reconcile(scheduler, [PING, PONG])

    assert sorted(first.added) == sorted([PING.id, PONG.id])
    assert second.added == [] and second.updated == [] and second.removed == []
    assert sorted(second.kept) == sorted([PING.id, PONG.id])
    assert sorted(scheduled_ids(scheduler)) == sorted([PING.id, PONG.id])


def test_scheduled_job_carries_its_queue_policy(redis_conn):
    scheduler = make_scheduler(redis_conn)
    reconcile(scheduler, [PONG])

    job = Job.fetch(PONG.id, connection=redis_conn)
    spec = QUEUES["default"]
    assert job.func_name == "jobs.housekeeping.heartbeat"
    assert job.origin == "default"
    assert job.meta["interval"] == 300
    assert job.timeout == spec.job_timeout
    assert job.failure_ttl == spec.failure_ttl
    # Kept past the next tick, or rq-scheduler would find no job behind the id.
    assert job.result_ttl >= 2 * PONG.interval


def test_reconcile_removes_jobs_no_longer_declared_and_leaves_others_alone(redis_conn):
    scheduler = make_scheduler(redis_conn)
    reconcile(scheduler, [PING, PONG])
    foreign = scheduler.schedule(scheduled_time=in_a_minute(), func="jobs.housekeeping.heartbeat",
                                 interval=60, id="another-app-job")

    result = reconcile(scheduler, [PING])

    assert result.removed == [PONG.id]
    assert sorted(scheduled_ids(scheduler)) == sorted([PING.id, foreign.id])
    assert not redis_conn.exists(f"rq:job:{PONG.id}")


def test_reconcile_replaces_a_job_whose_definition_changed(redis_conn):
    scheduler = make_scheduler(redis_conn)
    reconcile(scheduler, [PING])
    slower = ScheduledJob("ping", "jobs.housekeeping.heartbeat", interval=120)

    result = reconcile(scheduler, [slower])

    assert result.updated == [PING.id]
    assert scheduled_ids(scheduler) == [PING.id]
    job = Job.fetch(PING.id, connection=redis_conn)
    assert job.meta["interval"] == 120
    assert job.meta["definition"] == slower.fingerprint()
    assert reconcile(scheduler, [slower]).kept == [PING.id]


def test_reconcile_schedules_again_a_job_whose_hash_is_gone(redis_conn):
    scheduler = make_scheduler(redis_conn)
    reconcile(scheduler, [PING])
    redis_conn.delete(f"rq:job:{PING.id}")

    result = reconcile(scheduler, [PING])

    assert result.updated == [PING.id]
    assert scheduled_ids(scheduler) == [PING.id]
    assert Job.fetch(PING.id, connection=redis_conn).meta["definition"] == PING.fingerprint()


def test_reconcile_refuses_duplicate_names_and_unknown_queues(redis_conn):
    scheduler = make_scheduler(redis_conn)
    with pytest.raises(ValueError, match="unique"):
        reconcile(scheduler, [PING, PING])
    with pytest.raises(ValueError, match="Unknown queue"):
        reconcile(scheduler, [ScheduledJob("x", "jobs.housekeeping.heartbeat", 60, queue="nope")])
    assert scheduled_ids(scheduler) == []


@tolerate_utcnow
def test_due_job_is_queued_once_while_the_previous_run_is_still_waiting(redis_conn):
    scheduler = make_scheduler(redis_conn)
    reconcile(scheduler, [PING])

    list(scheduler.enqueue_jobs())
    make_due(scheduler, PING.id)
    list(scheduler.enqueue_jobs())

    assert redis_conn.lrange("rq:queue:periodic", 0, -1) == [PING.id.encode()]
    next_run = redis_conn.zscore(scheduler.scheduled_jobs_key, PING.id)
    assert next_run > time.time() + PING.interval - 5


@tolerate_utcnow
def test_requeued_periodic_job_loses_the_expiry_of_its_last_run(redis_conn):
    scheduler = make_scheduler(redis_conn)
    reconcile(scheduler, [PING])
    # As the worker leaves it after a run: finished, expiring result_ttl seconds later.
    redis_conn.hset(f"rq:job:{PING.id}", "status", "finished")
    redis_conn.expire(f"rq:job:{PING.id}", 30)

    list(scheduler.enqueue_jobs())

    assert redis_conn.ttl(f"rq:job:{PING.id}") == -1
