"""Heavy operations: run inline when small, else as a job working through committed batches.

A domain registers its kind once (`register(Kind(...))`): `step(operation, batch)` does the work
for a batch of item ids inside the job's transaction and returns per-item error messages;
`finish(operation)` returns the result summary, in the transaction of the last batch. The caller
decides with `is_large(count)`: small operations keep running inside the request as before, so
small teams see the result at once; large ones `start()` an operation (the row is committed with
the request, the first step enqueued after that commit) and the request redirects to its page.

Each step (jobs/operations.py) locks the row, works on items[done:done + STEP], and commits the
work together with the new `done`; a crash rolls both back, so a retried or duplicated step never
does an item twice (and the per-agent recomputes it calls are idempotent anyway). A step that
raises marks the operation failed with the error; the page offers a retry, which resumes at `done`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from webapp import clock
from webapp.auth import access
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db, redis_client
from webapp.operations.models import BackgroundOperation, OperationStatus
from webapp.tasks import enqueue, enqueue_after_commit

# Items (agents or sales) per step: each step holds its agents' locks only until it commits.
STEP = 25
JOB = "jobs.operations.run_step"
QUEUE = "operations"  # worked before "default" (webapp/tasks.py WORKER_QUEUES)
# A queued or running operation unchanged this long lost its job (Redis down at the commit, a
# worker killed mid-step; a step takes seconds): the sweep enqueues its next step again.
STALLED_AFTER = timedelta(minutes=5)
_STARTED_KEY = "operation_started"


@dataclass(frozen=True)
class Kind:
    """What an operation of one kind does with a batch of its items, and how it sums up."""

    name: str
    label: str
    step: Callable[[BackgroundOperation, list], list[str]]
    finish: Callable[[BackgroundOperation], dict] | None = None
    # Where the result is seen once done: (endpoint, its values, link text).
    link: Callable[[BackgroundOperation], tuple[str, dict, str]] | None = None
    # The API token area of the change it makes (webapp.auth.tokens.AREAS): a retry needs write access.
    area: str = "admin"


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Declare a kind of operation (each domain registers its own, so this package imports none)."""
    KINDS[kind.name] = kind
    return kind


def inline_limit() -> int:
    """How many items an operation may have and still run inside the request (configuration)."""
    return int(current_app.config.get("OPERATION_INLINE_LIMIT", 25))


def is_large(count: int) -> bool:
    """True when `count` items are too many for a request: start an operation instead."""
    return count > inline_limit()


def start(actor, kind: str, items: list, **params) -> BackgroundOperation:
    """Create a queued operation over `items` (ids); its first step is enqueued after the commit."""
    if kind not in KINDS:
        raise ValueError(f"Unknown operation kind {kind!r}")
    operation = BackgroundOperation(kind=kind, status=OperationStatus.QUEUED, params={**params, "items": list(items)},
                                    total=len(items), done=0, errors=[], created_by_id=getattr(actor, "id", None),
                                    created_at=clock.now_utc(), updated_at=clock.now_utc())
    db.session.add(operation)
    db.session.flush()
    enqueue_after_commit(QUEUE, JOB, operation.id, 0)
    db.session.info[_STARTED_KEY] = operation.id
    return operation


def started():
    """The operation the current request started, if any (its page is where the request goes next).

    Kept on the session, so the domain services keep their return values (a version, a run) and
    only the routes that may start an operation ask; forgotten at the start of every request."""
    operation_id = db.session.info.get(_STARTED_KEY)
    return db.session.get(BackgroundOperation, operation_id) if operation_id else None


def forget_started() -> None:
    """Forget the operation an earlier request started (called before each request)."""
    db.session.info.pop(_STARTED_KEY, None)


def _fail(operation_id: int, exc: Exception) -> BackgroundOperation:
    """After a step raised: roll its work back and record why the operation stopped."""
    db.session.rollback()
    operation = db.session.get(BackgroundOperation, operation_id)
    operation.status, operation.error = OperationStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
    operation.updated_at = operation.finished_at = clock.now_utc()
    db.session.commit()
    current_app.logger.warning("operation %s failed at %s: %s", operation_id, operation.done, operation.error)
    return operation


def run_step(operation_id: int, expected_done: int) -> BackgroundOperation | None:
    """The job's work: do the next batch and commit it with the progress, then enqueue the next step.

    A step whose `expected_done` no longer matches (a duplicate job, a sweep's extra enqueue) does
    nothing, so one chain of steps runs per operation."""
    operation = db.session.get(BackgroundOperation, operation_id, with_for_update=True)
    if operation is None or operation.finished or operation.done != expected_done:
        db.session.rollback()
        return operation
    kind = KINDS[operation.kind]
    now = clock.now_utc()
    operation.status, operation.error, operation.updated_at = OperationStatus.RUNNING, None, now
    operation.started_at = operation.started_at or now
    batch = operation.items[operation.done:operation.done + STEP]
    try:
        errors = kind.step(operation, batch)
        operation.done += len(batch)
        if errors:
            operation.errors = [*operation.errors, *errors]
        if operation.done >= operation.total:
            operation.result = kind.finish(operation) if kind.finish else {}
            operation.status, operation.finished_at = OperationStatus.DONE, clock.now_utc()
        else:
            enqueue_after_commit(QUEUE, JOB, operation.id, operation.done)
        db.session.commit()
    except Exception as exc:  # any failure stops the operation where it is, shown with a retry
        return _fail(operation_id, exc)
    return operation


def run_to_end(operation_id: int) -> BackgroundOperation:
    """Run every remaining step here, one after another (the CLI and tests; the worker chains jobs)."""
    operation = db.session.get(BackgroundOperation, operation_id)
    while operation is not None and not operation.finished:
        operation = run_step(operation_id, operation.done)
    return operation


def retry(operation: BackgroundOperation) -> BackgroundOperation:
    """Queue a failed operation again; it resumes at the stored count of items done."""
    if operation.status != OperationStatus.FAILED:
        raise ServiceError("Only a failed operation can be retried.", status=409)
    operation.status, operation.error, operation.finished_at = OperationStatus.QUEUED, None, None
    operation.updated_at = clock.now_utc()
    db.session.flush()
    enqueue_after_commit(QUEUE, JOB, operation.id, operation.done)
    return operation


def requeue_stalled() -> list[int]:
    """The sweep's work: enqueue again the next step of every operation queued, or running without
    progress, for longer than STALLED_AFTER; their ids."""
    stalled = db.session.execute(select(BackgroundOperation.id, BackgroundOperation.done).where(
        BackgroundOperation.status.in_([OperationStatus.QUEUED, OperationStatus.RUNNING]),
        BackgroundOperation.updated_at < clock.now_utc() - STALLED_AFTER).order_by(BackgroundOperation.id)).all()
    for operation_id, done in stalled:
        enqueue(QUEUE, JOB, operation_id, done, connection=redis_client())
    return [operation_id for operation_id, _ in stalled]


def area_of(operation: BackgroundOperation) -> str:
    """The token area of the change the operation makes."""
    kind = KINDS.get(operation.kind)
    return kind.area if kind is not None else "admin"


def visible_operation(user, operation_id: int) -> BackgroundOperation:
    """An operation the user may follow: admins any, managers the ones they started; else NotFound."""
    operation = db.session.get(BackgroundOperation, operation_id)
    if operation is None or not (access.is_admin(user) or (
            access.is_manager(user) and operation.created_by_id == user.id)):
        raise NotFound()
    return operation


def label(operation: BackgroundOperation) -> str:
    """The operation's kind in words."""
    kind = KINDS.get(operation.kind)
    return kind.label if kind else operation.kind


def result_link(operation: BackgroundOperation) -> tuple[str, dict, str] | None:
    """Where the finished operation's result is seen, if its kind says."""
    kind = KINDS.get(operation.kind)
    return kind.link(operation) if kind and kind.link and operation.status == OperationStatus.DONE else None
