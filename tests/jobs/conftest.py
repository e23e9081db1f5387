"""Fixtures for the job tests: a real Redis (never fakeredis across processes) and no database."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis import Redis

from tests.jobs.support import ROOT, start_private_redis, stop_process

# TEST_REDIS_URL's own database is flushed by the suite's app fixture; the job tests flush the
# database they use too, so they take a different one on the same server.
JOBS_DB = 15


@pytest.fixture(autouse=True)
def _rollback():
    """Job tests touch no database: this replaces the suite's per-test rollback (and its app)."""
    yield


@pytest.fixture(scope="session")
def private_redis_url(tmp_path_factory) -> str:
    """The URL of a redis-server started for this test run (stopped at the end)."""
    process, url = start_private_redis(tmp_path_factory.mktemp("redis"))
    yield url
    stop_process(process)


def _dedicated_db_url(url: str) -> str:
    """TEST_REDIS_URL with the job tests' own database number."""
    parts = urlsplit(url)
    current = parts.path.lstrip("/") or "0"
    db = JOBS_DB if current != str(JOBS_DB) else JOBS_DB - 1
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(scope="session")
def redis_url(request) -> str:
    """A real Redis for in-process job tests: a dedicated db of TEST_REDIS_URL, else a private server."""
    shared = os.environ.get("TEST_REDIS_URL")
    if shared:
        return _dedicated_db_url(shared)
    return request.getfixturevalue("private_redis_url")


@pytest.fixture
def redis_conn(redis_url):
    """A connection to an empty Redis database, emptied again after the test."""
    connection = Redis.from_url(redis_url)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@pytest.fixture
def job_env(tmp_path) -> dict[str, str]:
    """Environment for a job process: no database of the developer's, a fixed secret key."""
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL")}
    env.update({
        "DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        "SECRET_KEY": "job-tests",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    })
    return env
