"""A real worker process runs what the scheduler process queued (against a private Redis)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq.job import Job

from jobs.housekeeping import HEARTBEAT_KEY
from jobs.schedule import DECLARED
from tests.jobs.support import ROOT, python

pytestmark = pytest.mark.worker


def run_jobs_command(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `python -m jobs ARGS` to completion, failing the test with its output if it fails."""
    result = subprocess.run([python(), "-m", "jobs", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    command = " ".join(args)
    assert result.returncode == 0, f"python -m jobs {command} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_worker_process_runs_the_scheduled_heartbeat(private_redis_url, job_env):
    connection = Redis.from_url(private_redis_url)
    connection.flushdb()
    env = {**job_env, "REDIS_URL": private_redis_url}
    heartbeat = next(job for job in DECLARED if job.name == "heartbeat")

    run_jobs_command(["scheduler", "--burst"], env)
    # Every declared job is due at once on a fresh schedule, each enqueued exactly once.
    assert sorted(connection.lrange("rq:queue:periodic", 0, -1)) == sorted(job.id.encode() for job in DECLARED)
    run_jobs_command(["worker", "--burst"], env)

    stamp = connection.get(HEARTBEAT_KEY)
    assert stamp is not None, "the worker did not run the heartbeat job"
    assert abs(datetime.now(UTC) - datetime.fromisoformat(stamp.decode())) < timedelta(seconds=60)
    assert Job.fetch(heartbeat.id, connection=connection).get_status() == "finished"
    # Still on the schedule for its next run.
    assert connection.zscore("rq:scheduler:scheduled_jobs", heartbeat.id) is not None
    connection.flushdb()
    connection.close()


def test_the_worker_loads_weasyprint_and_the_statement_templates_before_forking(job_env):
    # RQ forks a work horse per job: what the worker process loaded first, no job pays for again.
    script = (
        "import sys\n"
        "from jobs import get_app\n"
        "from jobs.__main__ import WARM_TEMPLATES, _preload\n"
        "assert 'weasyprint' not in sys.modules, 'imported too early: the test would prove nothing'\n"
        "_preload()\n"
        "assert 'weasyprint' in sys.modules\n"
        "names = {key[1] for key in get_app().jinja_env.cache.keys()}\n"
        "missing = set(WARM_TEMPLATES) - names\n"
        "assert not missing, missing\n"
        "print('preloaded', len(names))\n"
    )
    result = subprocess.run([python(), "-c", script], cwd=ROOT, env=job_env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "preloaded" in result.stdout


def test_a_failed_preload_only_warns_so_mail_and_reminders_go_on(job_env):
    script = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "import webapp.statements.pdf as pdf\n"
        "def broken(html):\n"
        "    raise OSError('no pango here')\n"
        "pdf.html_to_pdf = broken\n"
        "from jobs.__main__ import _preload\n"
        "_preload()\n"
        "print('worker goes on')\n"
    )
    result = subprocess.run([python(), "-c", script], cwd=ROOT, env=job_env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "worker goes on" in result.stdout
    assert "could not preload the statement renderer" in result.stderr
    assert "no pango here" in result.stderr
