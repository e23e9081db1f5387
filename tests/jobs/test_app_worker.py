"""jobs.worker.AppWorker: several jobs in one process (no fork), each in a fresh app context with
its session cleaned up after it, a database failure not reaching the next job, and the memory
bound restarting the worker in place."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid

import pytest
from rq import Queue
from rq.exceptions import StopRequested
from rq.job import Job
from sqlalchemy import text

from jobs import worker as worker_module
from jobs.worker import AppWorker, current_rss_bytes, over_memory_bound, reexec_argv
from tests.jobs.support import ROOT, python

pytestmark = pytest.mark.worker

MB = 1024 * 1024


@pytest.fixture(params=["sqlite", "postgresql"])
def probe_app(request, tmp_path):
    """An app on a database with a probe table: a SQLite file, and PostgreSQL when TEST_DATABASE_URL is set."""
    from webapp import create_app
    from webapp.config import normalise_database_url
    from webapp.extensions import db

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'worker.db'}"
    elif os.environ.get("TEST_DATABASE_URL"):
        url = normalise_database_url(os.environ["TEST_DATABASE_URL"])
    else:
        pytest.skip("TEST_DATABASE_URL is not set (PostgreSQL aborts a transaction on error)")
    app = create_app({"TESTING": True, "SECRET_KEY": "worker-tests", "SQLALCHEMY_DATABASE_URI": url})
    table = f"worker_probe_{uuid.uuid4().hex[:8]}"  # its own table: the database may be shared
    with app.app_context():
        db.session.execute(text(f"CREATE TABLE {table} (value integer)"))
        db.session.commit()
    app.probe_table = table
    yield app
    with app.app_context():
        db.session.execute(text(f"DROP TABLE {table}"))
        db.session.commit()
        db.engine.dispose()


def run_burst(app, connection, calls: list[tuple[str, tuple]], **options) -> tuple[AppWorker, list[Job]]:
    """Queue `calls` on one queue and let an in-process AppWorker work until it is empty."""
    queue = Queue("default", connection=connection)
    jobs = [queue.enqueue(func, *args) for func, args in calls]
    worker = AppWorker([queue], connection=connection, app=app, **{"max_rss_mb": 0, **options})
    worker.work(burst=True)
    for job in jobs:
        job.refresh()
    return worker, jobs


def test_jobs_run_in_the_worker_process_each_with_a_clean_session(probe_app, redis_conn):
    table = probe_app.probe_table
    _, (left, seen, again) = run_burst(probe_app, redis_conn, [
        ("tests.jobs.probes.leave_open", (table, 7)),
        ("tests.jobs.probes.inspect_session", (table,)),
        ("tests.jobs.probes.inspect_session", (table,)),
    ])
    assert left.get_status() == "finished", left.exc_info
    assert seen.get_status() == "finished", seen.exc_info
    result = seen.return_value()
    assert result["pid"] == os.getpid(), "no fork: the job ran in the worker process"
    assert result["app_context"] is True
    # Nothing of the previous job's session: no open transaction, no info, its insert rolled back.
    assert (result["in_transaction"], result["left"], result["rows"]) == (False, False, 0)
    assert again.return_value()["pool"] == result["pool"], "a successful job keeps the warm pool"


def test_a_job_failing_with_a_database_error_does_not_break_the_next(probe_app, redis_conn):
    table = probe_app.probe_table
    _, (before, broken, after) = run_burst(probe_app, redis_conn, [
        ("tests.jobs.probes.inspect_session", (table,)),
        ("tests.jobs.probes.break_transaction", (table,)),
        ("tests.jobs.probes.inspect_session", (table,)),
    ])
    assert broken.get_status() == "failed"
    assert "no_such_table_here" in broken.latest_result().exc_string
    assert after.get_status() == "finished", after.exc_info
    result = after.return_value()
    assert (result["in_transaction"], result["rows"]) == (False, 0)
    # The pool was replaced after the failure: a broken connection is never handed on.
    assert result["pool"] != before.return_value()["pool"]


def test_the_memory_bound_decision():
    assert over_memory_bound(513 * MB, 512)
    assert not over_memory_bound(512 * MB, 512)
    assert not over_memory_bound(100 * MB, 512)
    assert not over_memory_bound(10_000 * MB, 0)  # 0: no bound
    assert not over_memory_bound(10_000 * MB, None)
    assert 5 * MB < current_rss_bytes() < 64 * 1024 * MB


def test_a_worker_over_its_bound_stops_after_the_job_and_asks_for_a_reexec(probe_app, redis_conn, monkeypatch):
    table = probe_app.probe_table
    monkeypatch.setattr(worker_module, "current_rss_bytes", lambda: 600 * MB)
    worker, jobs = run_burst(probe_app, redis_conn, [("tests.jobs.probes.inspect_session", (table,))] * 2,
                             max_rss_mb=512)
    # The first job finished and was recorded; the second waits for the re-executed worker.
    assert [job.get_status() for job in jobs] == ["finished", "queued"]
    assert worker.reexec_requested

    monkeypatch.setattr(worker_module, "current_rss_bytes", lambda: 100 * MB)
    worker, jobs = run_burst(probe_app, redis_conn, [("tests.jobs.probes.inspect_session", (table,))] * 2,
                             max_rss_mb=512)
    assert not worker.reexec_requested


def test_a_shutdown_signal_cancels_a_pending_reexec(probe_app, redis_conn):
    worker = AppWorker([Queue("default", connection=redis_conn)], connection=redis_conn, app=probe_app)
    worker.reexec_requested = True
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(StopRequested):  # idle: RQ stops at once
            worker.request_stop(signal.SIGTERM, None)
    finally:  # RQ re-arms SIGINT and SIGTERM for a cold shutdown: not in the test process
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert not worker.reexec_requested


def test_the_reexec_command_keeps_python_dash_m():
    argv = reexec_argv()
    assert argv[0] == os.sys.executable
    assert argv[1:] == os.sys.orig_argv[1:]


def test_a_real_worker_over_its_bound_reexecutes_itself_with_the_same_pid(private_redis_url, job_env):
    from redis import Redis

    connection = Redis.from_url(private_redis_url)
    connection.flushdb()
    queue = Queue("emails", connection=connection)  # not `default`: no WeasyPrint preload to wait for
    jobs = [queue.enqueue("tests.jobs.probes.record_pid") for _ in range(2)]
    env = {**job_env, "REDIS_URL": private_redis_url}
    process = subprocess.Popen([python(), "-m", "jobs", "worker", "--burst", "--max-rss-mb", "1", "emails"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    pids = [int(pid) for pid in connection.lrange("tests:worker:pids", 0, -1)]
    # One job per life (every job leaves it over 1 MB), each life the same process.
    assert pids == [process.pid, process.pid], output
    assert output.count("re-executing the worker") == 2, output
    assert all(job.get_status(refresh=True) == "finished" for job in jobs)
    connection.flushdb()
    connection.close()
