"""The worker process: RQ's SimpleWorker (no fork per job) with one Flask app, a clean session per
job, and a memory bound.

RQ's default Worker forks a work horse per job, and each horse opened its own database connection:
bench P3 measured a 150 ms statement render taking 288 ms inside a worker. Running jobs in the
worker process itself removes the fork and keeps the connection pool warm, at two costs handled
here: what one job leaves behind (a session, a broken connection, memory) must not reach the next.

- Each job runs inside a fresh app context (jobs' own `app_context()` reuses it), and
  `db.session.remove()` runs after every job, succeeded or failed, so no transaction, identity map
  or pending object outlives its job.
- After a failed job the engine's pool is disposed: the failure may have been a dropped or
  half-read connection, and handing it to the next job would fail that job too.
- Memory: a process that never exits keeps whatever a large render made Python's allocator grab.
  After a job, if the resident set exceeds `max_rss_mb`, the worker finishes cleanly (job result
  stored, worker deregistered) and re-executes itself with the same arguments: a fresh
  interpreter under the same pid, so a supervisor (compose, systemd) sees no exit.

SIGKILL keeps its meaning: the job in hand dies with the process, exactly as a killed work horse
did, and the stored statuses plus the dispatcher and sweeps recover it (tests/jobs/test_worker_faults.py).
"""

from __future__ import annotations

import logging
import os
import resource
import sys

from flask import Flask
from rq import SimpleWorker
from rq.job import Job
from rq.queue import Queue
from rq.worker import WorkerStatus

log = logging.getLogger(__name__)

DEFAULT_MAX_RSS_MB = 512
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_bytes() -> int:
    """This process's resident set size now (Linux /proc), else its peak so far (getrusage)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        # macOS and friends: ru_maxrss is the peak (in bytes there), an upper bound of the current.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def over_memory_bound(rss_bytes: int, max_rss_mb: int | None) -> bool:
    """Whether a worker using `rss_bytes` should restart itself (no bound: never)."""
    if not max_rss_mb or max_rss_mb <= 0:
        return False
    return rss_bytes > max_rss_mb * 1024 * 1024


def reexec_argv() -> list[str]:
    """The command line that started this interpreter (`python -m jobs worker ...` stays `-m`)."""
    # sys.argv would turn `-m jobs` into the path of jobs/__main__.py, run as a script, whose
    # directory (not the project root) would then be first on sys.path.
    return [sys.executable, *sys.orig_argv[1:]]


def reexec() -> None:
    """Replace this process with a fresh run of the same command (same pid)."""
    argv = reexec_argv()
    log.info("re-executing the worker: %s", " ".join(argv))
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    logging.shutdown()
    os.execv(argv[0], argv)


class AppWorker(SimpleWorker):
    """A SimpleWorker that runs each job in a fresh app context of one app, cleans the session
    after it, and asks for a restart when the process outgrows `max_rss_mb`."""

    def __init__(self, *args, app: Flask, max_rss_mb: int | None = DEFAULT_MAX_RSS_MB, **kwargs):
        """`app` is created once by the caller; the other arguments are RQ's."""
        super().__init__(*args, **kwargs)
        self.app = app
        self.max_rss_mb = max_rss_mb
        self.reexec_requested = False

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run the job in the worker process inside a fresh app context, then clean up."""
        self.prepare_execution(job)
        succeeded = False
        try:
            with self.app.app_context():
                try:
                    succeeded = self.perform_job(job, queue)
                finally:
                    self._clean_up(succeeded)
        finally:
            self.set_state(WorkerStatus.IDLE)
        self._check_memory()

    def _clean_up(self, succeeded: bool) -> None:
        """End the job's session; after a failure also drop the pooled connections."""
        from webapp.extensions import db

        try:
            db.session.remove()  # rolls back whatever the job left open
        except Exception:  # noqa: BLE001 - a dead connection cannot roll back; dispose below
            log.warning("could not close the job's session", exc_info=True)
            succeeded = False
        if not succeeded:
            # The failure may have been the connection itself (a restarted PostgreSQL, a dropped
            # socket): a fresh pool costs one connect, a poisoned one fails the next job too.
            db.engine.dispose()

    def _check_memory(self) -> None:
        """Stop after this job and ask for a re-exec if the process is over its memory bound."""
        if self._stop_requested:
            return  # a shutdown was asked for (SIGTERM): stop, do not come back
        rss = current_rss_bytes()
        if over_memory_bound(rss, self.max_rss_mb):
            log.info("worker RSS %.0f MB is over --max-rss-mb %s: restarting after this job",
                     rss / 2**20, self.max_rss_mb)
            self.reexec_requested = True
            self._stop_requested = True

    def request_stop(self, signum, frame):
        """A shutdown signal wins over a pending re-exec."""
        self.reexec_requested = False
        return super().request_stop(signum, frame)
