"""The declared schedule, reconciled with rq-scheduler's state when the scheduler starts.

This is the only module that touches rq-scheduler, so RQ's own cron could replace it here alone.
Each declared job has a deterministic id (ID_PREFIX + name) and carries a fingerprint of its
definition in `job.meta`; `reconcile()` cancels our scheduled jobs that are no longer declared
or whose definition changed and adds the missing ones, so restarts never duplicate a job.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import rq_scheduler
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from jobs.queues import DAY, HOUR, Queue, spec_for

log = logging.getLogger(__name__)

# RQ 2 accepts only letters, digits, "_" and "-" in job ids (no "salestracking:schedule:...").
ID_PREFIX = "salestracking-schedule-"

# How often the scheduler looks for due jobs. rq-scheduler's default (60 s) would let a
# 60-second job drift to two minutes; a look every few seconds costs one ZRANGEBYSCORE.
POLL_INTERVAL = 5


@dataclass(frozen=True)
class ScheduledJob:
    """One periodic job: `func` (a dotted name) runs on `queue` every `interval` seconds."""

    name: str
    func: str
    interval: int
    queue: str = "periodic"

    @property
    def id(self) -> str:
        """The deterministic RQ job id, so a restart finds (not duplicates) the job."""
        return ID_PREFIX + self.name

    @property
    def result_ttl(self) -> int:
        """How long the finished job is kept: always longer than the interval (see below)."""
        # rq-scheduler keeps only the job id in its sorted set and re-enqueues the same job
        # hash on every tick. The worker makes that hash expire `result_ttl` seconds after the
        # job finishes; if that came before the next tick, rq-scheduler would find no job and
        # silently drop it from the schedule (Scheduler.get_jobs cancels missing ids).
        return max(spec_for(self.queue).result_ttl, 2 * self.interval)

    def definition(self) -> dict:
        """Everything that, when changed, means the scheduled job must be replaced."""
        spec = spec_for(self.queue)
        return {"func": self.func, "interval": self.interval, "queue": self.queue,
                "timeout": spec.job_timeout, "result_ttl": self.result_ttl,
                "failure_ttl": spec.failure_ttl}

    def fingerprint(self) -> str:
        """A short stable hash of the definition, kept in the job's meta."""
        payload = json.dumps(self.definition(), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]


DECLARED: tuple[ScheduledJob, ...] = (
    ScheduledJob("heartbeat", "jobs.housekeeping.heartbeat", interval=60),
    # Emails are enqueued after each commit; this sweep sends any whose job Redis lost.
    ScheduledJob("email-sweep", "jobs.mail.dispatch_pending", interval=300),
    # A send interrupted by a crash stays `sending`; 45 s later (webapp.mail.services.
    # SENDING_ABANDONED_AFTER) this re-queues it, so it is reconciled within about a minute
    # instead of waiting for the 5-minute sweeps. Only queries and enqueues: cheap every 15 s.
    ScheduledJob("email-reconcile", "jobs.mail.reconcile_abandoned", interval=15),
    # Starts the statement runs of periods past their grace time and queues the renders and
    # deliveries still waiting in the database; a tick missed while the scheduler was down is
    # caught up by the next one.
    ScheduledJob("statement-dispatch", "jobs.statements.dispatch", interval=300),
    # Idempotent per agent and cadence (the email key), so a restart or an extra run sends nothing twice.
    ScheduledJob("unpaid-reminders", "jobs.reminders.send_reminders", interval=DAY),
    # SPIFF recomputes are enqueued after each commit; this sweep re-enqueues any whose job Redis lost.
    ScheduledJob("spiff-recompute-sweep", "jobs.spiffs.sweep", interval=300),
    # Webhook events come from the audit log: this copies the new ones, queues their deliveries
    # and the retries now due. Two indexed queries when nothing happened, so cheap every 10 s,
    # and an integration hears of a change within about 10 s of its commit.
    ScheduledJob("webhook-collect", "jobs.webhooks.collect", interval=10),
    # Background operations enqueue their next step after each commit; this sweep re-enqueues
    # the step of any operation whose job Redis or a killed worker lost.
    ScheduledJob("operations-sweep", "jobs.operations.sweep", interval=300),
    # Issues the plan documents not issued yet (a lost job, a plan change) and queues the PDFs still
    # pending or failed, found from the database.
    ScheduledJob("plan-document-sweep", "jobs.plandocs.sweep", interval=300),
    # Idempotent per document and cadence slot (the email key): a second run the same day sends nothing.
    ScheduledJob("plan-document-reminders", "jobs.plandocs.send_reminders", interval=DAY),
    # Import uploads wait in the database for a day at most; confirmation refuses older ones
    # anyway, so an hour's lag only keeps them a little longer.
    ScheduledJob("import-upload-sweep", "jobs.imports.sweep_uploads", interval=HOUR),
    # API answers kept for Idempotency-Key retries: a day is promised, so an hour's lag only keeps them longer.
    ScheduledJob("idempotency-sweep", "jobs.api.sweep_idempotency", interval=HOUR),
)


@dataclass
class Reconciled:
    """What `reconcile()` did, by job id."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


class Scheduler(rq_scheduler.Scheduler):
    """rq-scheduler's Scheduler on our queues, with two fixes for periodic jobs under RQ 2, and a
    schedule that comes back by itself after Redis lost it."""

    queue_class = Queue
    # What the last reconcile() declared; checked on every poll (see enqueue_jobs).
    declared: tuple[ScheduledJob, ...] = ()

    def enqueue_jobs(self):
        """Restore the declared schedule if Redis lost it, then move due jobs to their queues."""
        # A Redis restarted without its data comes back empty while this process keeps polling
        # (redis-py reconnects): without this, the dispatcher and sweeps would never run again
        # until someone restarted the scheduler.
        if self.declared and self._schedule_lost():
            log.warning("the declared schedule is gone from Redis (restarted empty?); reconciling it again")
            reconcile(self, self.declared)
        return super().enqueue_jobs()

    def _schedule_lost(self) -> bool:
        """True if any declared job is missing from rq-scheduler's sorted set."""
        pipeline = self.connection.pipeline()
        for job in self.declared:
            pipeline.zscore(self.scheduled_jobs_key, job.id)
        return any(score is None for score in pipeline.execute())

    def enqueue_job(self, job: Job) -> None:
        """Move a due job to its queue, unless the same job is still queued or running."""
        interval = job.meta.get("interval")
        if interval and self._still_pending(job):
            # rq-scheduler would push the same id again: a stopped worker would come back to
            # one copy per missed tick and run them all. One pending run is enough; the
            # missed ticks are caught up by it.
            log.info("%s is still pending; skipping this tick", job.id)
            next_run = datetime.now(UTC).timestamp() + int(interval)
            self.connection.zadd(self.scheduled_jobs_key, {job.id: int(next_run)})
            return
        super().enqueue_job(job)
        if interval:
            # RQ 2's Queue.enqueue_job() leaves the expiry that the previous run's result_ttl
            # put on the job hash (Job.cleanup(ttl=None) does nothing). With the worker down
            # longer than that, the queued hash would expire, and rq-scheduler would then find
            # no job behind the id and drop it from the schedule for good. A scheduled job
            # lives as long as its schedule does.
            self.connection.persist(job.key)

    def _still_pending(self, job: Job) -> bool:
        """True if the job is waiting in its queue or being run by a worker."""
        status = job.get_status(refresh=True)
        if status == JobStatus.STARTED:
            return True
        if status == JobStatus.QUEUED:
            return self.get_queue_for_job(job).get_job_position(job.id) is not None
        return False


def make_scheduler(connection: Redis, interval: int = POLL_INTERVAL) -> Scheduler:
    """The scheduler, polling every `interval` seconds."""
    return Scheduler(queue_name="periodic", connection=connection, interval=interval)


def _check(declared: Sequence[ScheduledJob]) -> None:
    """Refuse a schedule with duplicate names, unknown queues or non-positive intervals."""
    names = [job.name for job in declared]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"Scheduled job names must be unique: {', '.join(duplicates)}")
    for job in declared:
        spec_for(job.queue)
        if job.interval <= 0:
            raise ValueError(f"Scheduled job {job.name!r} needs a positive interval.")


def _schedule(scheduler: Scheduler, job: ScheduledJob) -> None:
    """Schedule `job` to run now and then every `job.interval` seconds."""
    spec = spec_for(job.queue)
    rq_job = scheduler.schedule(
        scheduled_time=datetime.now(UTC),
        func=job.func,
        interval=job.interval,
        id=job.id,
        queue_name=job.queue,
        timeout=spec.job_timeout,
        result_ttl=job.result_ttl,
        description=f"{job.name} (every {job.interval} s)",
        meta={"definition": job.fingerprint()},
    )
    # Scheduler.schedule() has no failure_ttl parameter; without one, RQ keeps a failed
    # periodic job for a year.
    rq_job.failure_ttl = spec.failure_ttl
    rq_job.save()


def _discard(job: Job) -> None:
    """Delete a job we no longer schedule, unless a worker is running it right now."""
    if job.get_status(refresh=True) == JobStatus.STARTED:
        return  # the worker still writes to it; its result_ttl removes it afterwards
    job.delete()


def reconcile(scheduler: Scheduler, declared: Iterable[ScheduledJob] = DECLARED) -> Reconciled:
    """Make the scheduled jobs with our id prefix match `declared`: remove, replace, add."""
    declared = list(declared)
    _check(declared)
    wanted = {job.id: job for job in declared}
    connection = scheduler.connection
    result = Reconciled()

    # Read the sorted set directly rather than through Scheduler.get_jobs(): that fetches
    # every job of every user of this Redis, and converts times with the deprecated
    # datetime.utcfromtimestamp().
    scheduled = [member.decode() for member in connection.zrange(scheduler.scheduled_jobs_key, 0, -1)]
    for job_id in scheduled:
        if not job_id.startswith(ID_PREFIX):
            continue  # not ours: another application may share this Redis
        definition = wanted.get(job_id)
        try:
            job = scheduler.job_class.fetch(job_id, connection=connection)
        except NoSuchJobError:
            job = None
        if definition is not None and job is not None \
                and job.meta.get("definition") == definition.fingerprint():
            result.kept.append(job_id)
            continue
        scheduler.cancel(job_id)
        if job is not None:
            _discard(job)
        if definition is None:
            log.info("Removed %s from the schedule (no longer declared).", job_id)
            result.removed.append(job_id)
        else:
            log.info("Replacing %s (its definition changed).", job_id)
            _schedule(scheduler, definition)
            result.updated.append(job_id)

    done = set(result.kept) | set(result.updated)
    for definition in declared:
        if definition.id not in done:
            log.info("Scheduling %s: %s every %s s on %s.", definition.id, definition.func,
                     definition.interval, definition.queue)
            _schedule(scheduler, definition)
            result.added.append(definition.id)
    scheduler.declared = tuple(declared)
    return result
