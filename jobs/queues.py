"""The queues live in webapp.tasks (the web process enqueues with the same policy); re-exported here."""

from webapp.tasks import DAY, HOUR, QUEUES, WORKER_QUEUES, Queue, QueueSpec, enqueue, get_queue, spec_for  # noqa: F401
