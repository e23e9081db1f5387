"""Queue helpers for tests that check what was enqueued, and a Redis that is down."""

from __future__ import annotations

import socket

import pytest
import redis
from rq import Queue

from webapp.extensions import redis_client

CHECKED_QUEUES = ("periodic", "default", "emails", "operations")


def jobs(queue: str) -> list[tuple[str, tuple]]:
    """The jobs waiting in a queue: (function, arguments), in queue order."""
    return [(job.func_name, job.args) for job in Queue(queue, connection=redis_client()).get_jobs()]


@pytest.fixture
def empty_queues(app):
    """Jobs enqueued by earlier tests do not count, and none are left for later ones.

    Modules that count jobs use it for every test: pytestmark = pytest.mark.usefixtures("empty_queues").
    """
    _empty_all()
    yield
    _empty_all()


def _empty_all() -> None:
    """Every checked queue emptied, its jobs scheduled for a retry or deferred included: the enqueue
    of a unique job finds those "waiting" and would not queue it again (ids repeat across tests)."""
    for name in CHECKED_QUEUES:
        queue = Queue(name, connection=redis_client())
        queue.empty()
        for registry in (queue.scheduled_job_registry, queue.deferred_job_registry):
            for job_id in registry.get_job_ids():
                registry.remove(job_id, delete_job=True)


@pytest.fixture
def redis_down(app):
    """Swap the app's Redis for a client on a closed port; restored afterwards."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    original = app.extensions["redis"]
    app.extensions["redis"] = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    try:
        yield
    finally:
        app.extensions["redis"] = original
