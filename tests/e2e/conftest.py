"""Browser tests: a live server in its own process, on its own database, seeded with the demo.

These tests drive Debian's Chromium through Playwright. They are skipped (with the reason) when
/usr/bin/chromium or the playwright package is missing; a browser is never downloaded.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.processes import stop

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
START_TIMEOUT = 60.0
TOTALS_REFRESH_SECONDS = 2  # the live app's agent totals panel polls this often (30 s by default)


@pytest.fixture(autouse=True)
def _rollback():
    """Replaces the per-test rollback of tests/conftest.py: the live server has its own database."""
    yield


def _environment(database_url: str, redis_url: str, outbox_dir: Path) -> dict[str, str]:
    """The live app's environment: its own database, Redis and outbox, a fixed secret, no shared
    rate-limit state; the agent's totals panel polls every 2 s instead of 30 s."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("APP_ENV", "FLASK_ENV", "DATABASE_URL", "BASE_URL", "TRUST_PROXY_HOPS")}
    env.update({
        "APP_ENV": "development",
        "FLASK_APP": "wsgi",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "e2e-secret-key",
        "TIMEZONE": "UTC",
        "CURRENCY": "USD",
        "MAIL_BACKEND": "outbox",
        "OUTBOX_DIR": str(outbox_dir),
        "RATELIMIT_STORAGE_URI": "memory://",
        # A private redis-server: the live app's jobs (statements, emails) go to its own worker.
        "REDIS_URL": redis_url,
        "E2E_TOTALS_REFRESH_SECONDS": str(TOTALS_REFRESH_SECONDS),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _flask(env: dict[str, str], *args: str) -> None:
    """Run a `flask` CLI command for the live app; fail the fixture with its output."""
    result = subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    if result.returncode != 0:
        pytest.fail(f"flask {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def _wait_for_url(process: subprocess.Popen, log: Path) -> str:
    """The URL the live app printed once it listens."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the live app exited with {process.returncode}:\n{log.read_text()}")
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            line = process.stdout.readline()
            if line.startswith("LISTENING "):
                return line.split(" ", 1)[1].strip()
    pytest.fail(f"the live app did not start within {START_TIMEOUT:.0f} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def live_directory(tmp_path_factory) -> Path:
    """The live app's temp directory: its database, logs and outbox (OUTBOX_DIR)."""
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def live_redis(live_directory):
    """A private redis-server for the live app and its worker (never the shared 6379)."""
    from tests.jobs.support import start_private_redis, stop_process

    process, url = start_private_redis(live_directory)
    yield url
    stop_process(process)


@pytest.fixture(scope="session")
def live_env(live_directory, live_redis) -> dict[str, str]:
    """The environment of the live app and its worker, the database migrated and seeded."""
    env = _environment(f"sqlite:///{live_directory / 'e2e.db'}", live_redis, live_directory / "outbox")
    _flask(env, "db", "upgrade")
    _flask(env, "demo", "seed")
    return env


@pytest.fixture(scope="session")
def live_worker(live_directory, live_env):
    """`python -m jobs worker` on the live app's database and Redis: renders PDFs, sends mail."""
    from tests.jobs.support import stop_process

    log = live_directory / "worker.log"
    with open(log, "w") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "jobs", "worker"], cwd=ROOT, env=live_env,
                                   stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    if process.poll() is not None:
        pytest.fail(f"the worker exited with {process.returncode}:\n{log.read_text()}")
    try:
        yield log
    finally:
        stop_process(process)


@pytest.fixture(scope="session")
def live_server(live_directory, live_env):
    """Base URL of the app served from a subprocess, on a migrated SQLite file with the demo seeded."""
    env = live_env
    log = live_directory / "live_app.log"
    with open(log, "w") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "tests.e2e.live_app"], cwd=ROOT,
                                   env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
                                   text=True)
    try:
        yield _wait_for_url(process, log)
    finally:
        stop(process)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium launched by Playwright (skipped when either is missing).

    Named `browser` like Playwright's own fixture; it replaces the test-client `browser` of
    tests/conftest.py for the tests of this folder.
    """
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium (make browser); the browser tests never download one"
        if os.environ.get("CI"):
            # .ci/run installs it first (make browser): in CI a missing browser is a failure, not a skip.
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright Python package is missing (pip install -r requirements-dev.txt)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context and page (no cookies shared between tests)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/ at the repository root (git-ignored): screenshots for a human to look at."""
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path

