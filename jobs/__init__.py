"""Background jobs: RQ job functions, the queues they run on, and the declared schedule.

Jobs are thin: they take ids, open an app context with `app_context()`, and call webapp
services. `webapp` never imports this package (it enqueues jobs by dotted name), so the web
process never loads what the jobs need (WeasyPrint and friends).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, has_app_context

_app: Flask | None = None
_app_pid: int | None = None


def get_app() -> Flask:
    """The Flask app of this process, created once from the environment."""
    global _app, _app_pid
    if _app is None:
        from webapp import create_app

        _app = create_app()
        _app_pid = os.getpid()
    elif _app_pid != os.getpid():
        # A forked process (RQ's scheduler beside a worker, or RQ's forking Worker if someone runs
        # it): connections pooled before the fork belong to the parent, and sharing a socket
        # between two processes corrupts both conversations. jobs.worker.AppWorker does not fork.
        from webapp.extensions import db

        with _app.app_context():
            db.engine.dispose(close=False)
        _app_pid = os.getpid()
    return _app


@contextmanager
def app_context() -> Iterator[Flask]:
    """Run the block inside an app context: the caller's if it has one (tests), else the cached app."""
    if has_app_context():
        yield current_app._get_current_object()
        return
    app = get_app()
    with app.app_context():
        yield app
