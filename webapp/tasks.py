"""Background work: the queues (one per concern, each with its timeout and TTLs: the one place
they are set) and enqueueing by dotted name, only after the database commit succeeds.

The web process never imports `jobs` (nor what jobs need, such as WeasyPrint): it names the job
function as a string, and the worker imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
import rq
from flask import current_app
from redis import Redis
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import event
from sqlalchemy.orm import Session

from webapp.extensions import db, redis_client

# What a page or the API says when a run cannot start because Redis does not answer.
UNAVAILABLE = "The background service is unavailable, nothing was issued; try again in a minute."
HOUR = 60 * 60
DAY = 24 * HOUR


@dataclass(frozen=True)
class QueueSpec:
    """How long a queue's jobs may run and how long RQ keeps what they leave behind."""

    name: str
    job_timeout: int  # seconds before the worker kills the job (it is then failed, and retried if asked)
    failure_ttl: int  # seconds a failed job stays in the failed registry for a person to look at
    result_ttl: int  # seconds a finished job's result is kept


QUEUES: dict[str, QueueSpec] = {
    spec.name: spec
    for spec in (
        # Clock-driven housekeeping and dispatchers: short, and a missed tick is caught up by
        # the next one, so failures only need keeping long enough to be noticed.
        QueueSpec("periodic", job_timeout=5 * 60, failure_ttl=7 * DAY, result_ttl=10 * 60),
        # One provider call per job (two after a crash: a lookup, then the send), each bounded by
        # the client's 15 s timeout (webapp/mail/mailchimp.py), so 40 s covers both. It must stay
        # below webapp.mail.services.SENDING_ABANDONED_AFTER (45 s): a send still allowed to run
        # is never taken for an abandoned one. A failed email is kept a month for a resend.
        QueueSpec("emails", job_timeout=40, failure_ttl=30 * DAY, result_ttl=HOUR),
        # Outgoing webhooks: one endpoint's due deliveries per job, for at most
        # webapp.webhooks.services.SEND_BUDGET (30 s) plus one POST's timeout; a retry waits in
        # the database (next_attempt_at), never in RQ, so a failed job is only a bug to look at.
        QueueSpec("webhooks", job_timeout=2 * 60, failure_ttl=7 * DAY, result_ttl=10 * 60),
        # Background operations' steps (webapp/operations): a plan change or a period issue
        # recomputing thousands of agents in committed batches, each step enqueuing the next.
        QueueSpec("operations", job_timeout=10 * 60, failure_ttl=14 * DAY, result_ttl=HOUR),
        # Everything else, PDF rendering included (WeasyPrint can take a while on a long statement).
        QueueSpec("default", job_timeout=10 * 60, failure_ttl=14 * DAY, result_ttl=HOUR),
    )
}

# A worker takes from the first non-empty queue in this order: periodic jobs are quick and
# time-sensitive (the heartbeat must not wait behind a batch of PDFs), emails are next, then
# webhooks (an integration waits on them; each job is bounded), then the
# operations' steps: on "default" each step went to the back, behind the thousands of plan
# documents the same plan change queues, and the recompute finished only after every PDF.
WORKER_QUEUES: tuple[str, ...] = ("periodic", "emails", "webhooks", "operations", "default")



@dataclass(frozen=True)
class JobPolicy:
    """How one job function is retried, and whether it may wait in a queue only once."""

    # Seconds to wait before each retry of a failed run; RQ retries len(backoff) times.
    backoff: tuple[int, ...] = ()
    # One waiting job per (function, arguments): the job id is derived from them, and enqueueing
    # again while that job waits in a queue (or for its retry) returns the waiting one.
    unique: bool = False

    def retry(self) -> Retry | None:
        """RQ's Retry for this policy (None: no retries)."""
        return Retry(max=len(self.backoff), interval=list(self.backoff)) if self.backoff else None


# Transient failures (the provider answering 5xx or timing out, a database restart) are retried
# with growing pauses: 30 s, 2 min, 10 min. A permanent mail error never reaches RQ: deliver_email
# marks the email failed and returns. A failed render is stored on the statement (failed, with
# its error, shown in the UI) and retried all the same, since nothing tells a passing cause apart.
TRANSIENT_BACKOFF = (30, 120, 600)

JOB_POLICIES: dict[str, JobPolicy] = {
    # Each step checks its stored status first, so a retry or a duplicate never renders or sends
    # twice; `unique` only saves the dispatcher's sweep from queueing work that already waits.
    "jobs.statements.render_statement": JobPolicy(backoff=TRANSIENT_BACKOFF, unique=True),
    "jobs.mail.deliver_email": JobPolicy(backoff=TRANSIENT_BACKOFF, unique=True),
    # Resumes at the stored count of holder-months done; recomputing one again is harmless.
    "jobs.spiffs.recompute_spiff_change": JobPolicy(backoff=TRANSIENT_BACKOFF, unique=True),
    # One step of a background operation, by (operation, items done): a step that no longer
    # matches the stored count does nothing, and its work commits with the count.
    "jobs.operations.run_step": JobPolicy(backoff=TRANSIENT_BACKOFF, unique=True),
    # Plan documents: issuing finds what is missing (a unique key refuses a second issue), and
    # each render checks its stored status first.
    "jobs.plandocs.issue_missing": JobPolicy(backoff=TRANSIENT_BACKOFF, unique=True),
    "jobs.plandocs.render_document": JobPolicy(backoff=TRANSIENT_BACKOFF, unique=True),
    "jobs.plandocs.render_acknowledgement": JobPolicy(backoff=TRANSIENT_BACKOFF, unique=True),
    # One endpoint's due deliveries: each is claimed in the database first, so a duplicate job
    # finds nothing to send; the schedule of retries is the deliveries' own (next_attempt_at).
    "jobs.webhooks.deliver_endpoint": JobPolicy(unique=True),
    "jobs.webhooks.collect": JobPolicy(unique=True),
}


def policy_for(func: str | Callable[..., Any]) -> JobPolicy:
    """The policy of a job function (by dotted name); functions without one get none."""
    return JOB_POLICIES.get(func, JobPolicy()) if isinstance(func, str) else JobPolicy()


def unique_job_id(func: str, args: tuple) -> str:
    """The job id of `func(*args)` for a unique job (RQ ids allow letters, digits, _ and -)."""
    return "-".join(["salestracking", func.rsplit(".", 1)[-1], *(str(arg) for arg in args)])


def waiting_job(job_id: str, connection: Redis) -> Job | None:
    """The job `job_id` if it waits to run: in its queue, or scheduled for a retry."""
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return None
    # Each status is checked against where RQ keeps such jobs: a hash can outlive its place
    # (Redis restored from an old snapshot, a registry cleaned by hand).
    status = job.get_status(refresh=False)
    queue = rq.Queue(job.origin, connection=connection)
    if status == JobStatus.SCHEDULED and job_id in queue.scheduled_job_registry:
        return job
    if status == JobStatus.DEFERRED and job_id in queue.deferred_job_registry:
        return job
    if status == JobStatus.QUEUED and queue.get_job_position(job_id) is not None:
        return job
    # A started job is not "waiting": its worker may have died (SIGKILL, a lost machine) and RQ
    # notices that only minutes later. The work itself is guarded by the stored status.
    return None


def spec_for(name: str) -> QueueSpec:
    """The spec of a declared queue; an unknown name is a programming error."""
    try:
        return QUEUES[name]
    except KeyError:
        raise ValueError(f"Unknown queue {name!r}; declared: {', '.join(QUEUES)}") from None


class Queue(rq.Queue):
    """An RQ queue that fills in its spec's timeout and TTLs for jobs that do not set their own."""

    def __init__(self, name: str = "default", connection: Redis | None = None,
                 default_timeout: int | None = None, **kwargs: Any) -> None:
        """Take the default timeout from the queue's spec (undeclared names keep RQ's default)."""
        if default_timeout is None and name in QUEUES:
            default_timeout = QUEUES[name].job_timeout
        super().__init__(name, connection=connection, default_timeout=default_timeout, **kwargs)

    def create_job(self, func: Any, args: Any = None, kwargs: Any = None, timeout: int | None = None,
                   result_ttl: int | None = None, ttl: int | None = None,
                   failure_ttl: int | None = None, **options: Any) -> Job:
        """Create the job with the spec's TTLs where the caller gave none."""
        spec = QUEUES.get(self.name)
        if spec is not None:
            result_ttl = spec.result_ttl if result_ttl is None else result_ttl
            failure_ttl = spec.failure_ttl if failure_ttl is None else failure_ttl
        return super().create_job(func, args=args, kwargs=kwargs, timeout=timeout, result_ttl=result_ttl,
                                  ttl=ttl, failure_ttl=failure_ttl, **options)


def get_queue(name: str, connection: Redis) -> Queue:
    """The declared queue `name` on this connection."""
    spec_for(name)
    return Queue(name, connection=connection)


def enqueue(queue_name: str, func: str | Callable[..., Any], *args: Any, connection: Redis,
            **options: Any) -> Job:
    """Enqueue `func(*args)` (a dotted name, so callers need not import it) with the queue's policy.

    `options` are RQ's `enqueue_call` options (job_id, retry, depends_on, ...); the job's own
    arguments are ids, never ORM objects. The function's JobPolicy supplies the retry and, for a
    unique job, the id; a unique job already waiting is returned instead of queued twice.
    """
    policy = policy_for(func)
    if "retry" not in options and policy.retry() is not None:
        options["retry"] = policy.retry()
    if policy.unique and "job_id" not in options:
        options["job_id"] = unique_job_id(func, args)
        waiting = waiting_job(options["job_id"], connection)
        if waiting is not None:
            return waiting
    return get_queue(queue_name, connection).enqueue_call(func, args=args, **options)


# ---- Enqueueing from the web process --------------------------------------------------------

_PENDING_KEY = "tasks_after_commit"


def enqueue_after_commit(queue_name: str, func: str, *args: Any, **options: Any) -> None:
    """Enqueue `func(*args)` once the current transaction commits; dropped if it rolls back.

    A job enqueued before the commit could run before its rows exist (or for rows a rollback
    removed). If Redis is unreachable the job is only logged: every job that matters is also
    found from the database by a periodic dispatcher, so nothing is lost.
    """
    db.session.info.setdefault(_PENDING_KEY, []).append((queue_name, func, args, options))


def _run_pending(session) -> None:
    """After a commit: enqueue what the transaction asked for."""
    pending = session.info.pop(_PENDING_KEY, [])
    if not pending:
        return
    for queue_name, func, args, options in pending:
        try:
            enqueue(queue_name, func, *args, connection=redis_client(), **options)
        except Exception as exc:  # Redis down: the dispatcher will find the work in the database
            current_app.logger.warning("could not enqueue %s%r: %s", func, args, type(exc).__name__)


def _drop_pending(session, previous_transaction) -> None:
    """After a rollback of the outermost transaction: forget what it asked for.

    A savepoint rolling back (e.g. a duplicate-key insert that is retried) keeps them.
    """
    if previous_transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)


def init_app(app) -> None:
    """Hook enqueue-after-commit into every SQLAlchemy session of the app."""
    if not getattr(init_app, "_registered", False):
        event.listen(Session, "after_commit", _run_pending)
        event.listen(Session, "after_soft_rollback", _drop_pending)
        init_app._registered = True


def background_service_available(timeout: float = 1.0) -> bool:
    """True when Redis answers a PING within `timeout` seconds (a fresh connection, not the pool's)."""
    connection = redis_client().connection_pool.make_connection()
    connection.socket_connect_timeout = connection.socket_timeout = timeout
    try:
        connection.connect()
        connection.send_command("PING")
        return connection.read_response() in (b"PONG", "PONG", True)
    except (redis.RedisError, OSError):
        return False
    finally:
        connection.disconnect()
