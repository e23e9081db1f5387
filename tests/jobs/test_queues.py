"""Queues per concern, each with its timeout and TTLs set in one place."""

from __future__ import annotations

import pytest
from rq.job import Job

from jobs.queues import QUEUES, WORKER_QUEUES, Queue, enqueue


def test_every_declared_queue_is_worked():
    assert set(WORKER_QUEUES) == set(QUEUES) == {"default", "emails", "operations", "periodic", "webhooks"}


def test_an_operation_step_is_taken_before_the_pdfs_queued_ahead_of_it(redis_conn):
    # A plan change queues its agents' plan documents, then its recompute's next step: the worker
    # must take the step first, or the pay figures wait for every PDF.
    for document_id in (1, 2, 3):
        enqueue("default", "jobs.plandocs.render_document", document_id, connection=redis_conn)
    step = enqueue("operations", "jobs.operations.run_step", 7, 25, connection=redis_conn)

    job, queue = Queue.dequeue_any([Queue(name, connection=redis_conn) for name in WORKER_QUEUES], None,
                                   connection=redis_conn)

    assert (job.id, queue.name) == (step.id, "operations")


def test_enqueue_applies_the_queue_policy(redis_conn):
    job = enqueue("emails", "jobs.housekeeping.heartbeat", 42, connection=redis_conn)

    stored = Job.fetch(job.id, connection=redis_conn)
    spec = QUEUES["emails"]
    assert stored.origin == "emails"
    assert stored.args == (42,)
    assert stored.timeout == spec.job_timeout
    assert stored.failure_ttl == spec.failure_ttl
    assert stored.result_ttl == spec.result_ttl


def test_enqueue_keeps_what_the_caller_sets(redis_conn):
    job = enqueue("default", "jobs.housekeeping.heartbeat", connection=redis_conn,
                  timeout=7, failure_ttl=8, job_id="statement-render-1")

    stored = Job.fetch("statement-render-1", connection=redis_conn)
    assert (job.id, stored.timeout, stored.failure_ttl) == ("statement-render-1", 7, 8)


def test_jobs_enqueued_by_name_through_a_worker_queue_get_the_policy(redis_conn):
    # The worker and rq-scheduler build their queues from a name; they must get the same policy.
    queue = Queue.from_queue_key("rq:queue:periodic", connection=redis_conn)
    job = queue.enqueue("jobs.housekeeping.heartbeat")
    assert job.timeout == QUEUES["periodic"].job_timeout
    assert job.failure_ttl == QUEUES["periodic"].failure_ttl


def test_unknown_queue_is_refused(redis_conn):
    with pytest.raises(ValueError, match="Unknown queue 'reports'"):
        enqueue("reports", "jobs.housekeeping.heartbeat", connection=redis_conn)
