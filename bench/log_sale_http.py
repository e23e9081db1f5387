"""Benchmark P1: log-a-sale throughput and p50/p95/p99 latency through gunicorn + PostgreSQL.

Run from the repository root: `.venv/bin/python bench/log_sale_http.py [--clients 32] [--seconds 10]
[--rounds 3] [--workers 4] [--threads 8] [--mode htmx|form] [--auto-approve] [--profile]`.
Needs PostgreSQL on BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres, trust
auth) and `redis-server` on the PATH. The default run takes about two minutes.

Requirement: "P1: log-a-sale throughput and p50/p95/p99 latency through gunicorn + PostgreSQL at 32
concurrent clients, next to a bare Flask+SQLAlchemy insert endpoint in the same run."

Setup. Two scratch databases are created on that server: `bench_p1_<pid>` (schema built by the
migrations; a manager, N agents on a flat plan with a category rate, a catalogue and customers made
through the services, as webapp/demo.py does) and `bench_p1_<pid>_bare` (the baseline's one table).
Both are dropped at the end, even on failure; the database named in the URL is never touched. A
private redis-server is started on a free port (never 127.0.0.1:6379) for the app's REDIS_URL and
the rate limiter's storage, and stopped at the end. The login throttle is lifted for the run:
LOGIN_LIMIT_ACCOUNT and LOGIN_LIMIT_IP are set to "100000 per minute" (all clients sign in from
127.0.0.1, and only failed sign-ins count anyway).

Servers. The real app (`wsgi:app`) and the baseline (`bench.bare_insert_app:app`: bare Flask +
Flask-SQLAlchemy, one POST that inserts a sale-shaped row and commits) run side by side under
gunicorn with the SAME settings: `-k gthread -w 4 --threads 8 --keep-alive 30` by default (2 cores:
two processes per core, each with enough threads that 32 keep-alive clients never queue behind one
slow request in a process). Only one of them is loaded at a time.

The measured operation is what an agent's browser does to log a sale. Each client signs in as its
own agent (GET /login, POST /login), fetches the dashboard once for the CSRF token and the form's
signed idempotency key, then posts sales in a loop over one keep-alive connection:
- `--mode htmx` (default, what the dashboard's form does, as it carries hx-post): POST /sales with
  HX-Request, the CSRF header and field, product, quantity, unit price, date, a picked customer and
  a note; success is 201 with the new row, the totals panel and a fresh signed idempotency key (the
  full path: the fresh form), the key the client posts next
  (so every sale has a fresh key, obtained the way the browser obtains it);
- `--mode form` (no JavaScript): the same POST without HX-Request; success is the 302 to the
  dashboard (not followed); the client signs each fresh key itself with the app's SECRET_KEY, as
  the form would have rendered it.
The baseline gets the same headers and a form body of the same size (same fields, a key of the
same length) from the same load generator. Anything but the success status is an error (counted,
with its status). After the run the database must hold exactly as many sales (baseline: rows) as
there were successful submissions, warm-up included.

Load generator: `--clients` keep-alive clients (http.client, one thread each) spread over
`--procs` processes, so the client is cheap on a 2-core machine it shares with the servers.
Latency is client-side, time.perf_counter_ns around send + full response read. A warm-up of
`--warmup` seconds per target, then `--rounds` rounds of `--seconds` per target, alternating which
target goes first, so machine noise hits both alike. Per target: requests/s, p50/p95/p99/max ms,
errors (warm-up errors and exceptions in the servers' logs are reported too, and fail the run); and
app/baseline ratios. `--auto-approve` turns approval off, so each sale also recomputes the
agent-month (the ledger path). Then one extra sale is logged in-process through the Flask test
client to count the SQL statements the path issues (with `--profile`, a cProfile of 50 of them), and
to say whether the reply carries the totals panel or triggers the panel's own request (its
statements counted too).
Writes bench/results/log_sale_http.json.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import http.client
import io
import json
import multiprocessing
import os
import platform
import pstats
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from decimal import Decimal
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "log_sale_http.json"
VENV_BIN = Path(sys.executable).parent
SECRET_KEY = "log-sale-http-bench-" + uuid.uuid4().hex
PASSWORD = "bench-password-1234"
UNLIMITED = "100000 per minute"
USER_AGENT = "log-sale-bench/1"
CSRF_RE = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
KEY_RE = re.compile(rb'name="idempotency_key" type="hidden" value="([^"]+)"')
SUCCESS = {"htmx": 201, "form": 302, "bare": 201}


# ---------------------------------------------------------------- infrastructure

def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    """Block until something accepts connections on `port` (or the process died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited ({proc.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """Terminate a process this script started (by its pid), killing it if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def start_redis(stack: contextlib.ExitStack, scratch: Path) -> str:
    """A private redis-server on a free port, without persistence; returns its URL."""
    port = free_port()
    log = scratch / "redis.log"
    proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(scratch), "--daemonize", "no"],
        stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    stack.callback(stop, proc)
    wait_for_port(port, proc, log)
    return f"redis://127.0.0.1:{port}/0"


def scratch_databases(stack: contextlib.ExitStack, server_url: str) -> tuple[str, str, str, str]:
    """Create bench_p1_<pid> and bench_p1_<pid>_bare; dropped when the stack unwinds."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from webapp.config import normalise_database_url

    base = make_url(normalise_database_url(server_url))
    names = (f"bench_p1_{os.getpid()}", f"bench_p1_{os.getpid()}_bare")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")

    def drop() -> None:
        """Drop both scratch databases (closing any connection left to them)."""
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    stack.callback(drop)
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    urls = [base.set(database=name).render_as_string(hide_password=False) for name in names]
    return urls[0], urls[1], names[0], names[1]


def server_env(app_url: str, bare_url: str, redis_url: str, scratch: Path) -> dict:
    """The environment both gunicorns run with (the app's config is read from it)."""
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": app_url, "BARE_DATABASE_URL": bare_url, "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url, "SECRET_KEY": SECRET_KEY, "APP_ENV": "development",
        "TIMEZONE": "UTC", "LOGIN_LIMIT_ACCOUNT": UNLIMITED, "LOGIN_LIMIT_IP": UNLIMITED,
        "OUTBOX_DIR": str(scratch / "outbox"), "MAIL_BACKEND": "outbox", "PYTHONUNBUFFERED": "1",
    })
    return env


def start_gunicorn(stack: contextlib.ExitStack, target: str, env: dict, args, scratch: Path, label: str) -> int:
    """Serve `target` under gunicorn with the benchmark's settings; returns the port."""
    port = free_port()
    log = scratch / f"gunicorn-{label}.log"
    command = [str(VENV_BIN / "gunicorn"), *gunicorn_settings(args), "--chdir", str(ROOT),
               "-b", f"127.0.0.1:{port}", target]
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    stack.callback(stop, proc)
    wait_for_port(port, proc, log)
    return port


def gunicorn_settings(args) -> list[str]:
    """The gunicorn options both servers share."""
    return ["-k", "gthread", "-w", str(args.workers), "--threads", str(args.threads), "--keep-alive", "30",
            "--backlog", "256", "--log-level", "warning"]


# ---------------------------------------------------------------- data

def build_app_database(app_url: str, redis_url: str, agents: int, auto_approve: bool) -> dict:
    """Schema by the migrations; a manager, agents, catalogue, customers and plan via the services."""
    import redis
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.auth import services as accounts
    from webapp.auth.models import Role
    from webapp.catalog import services as catalog
    from webapp.commissions import assignments, plans
    from webapp.commissions.periods import get_settings
    from webapp.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": app_url, "REDIS_CLIENT": redis.Redis.from_url(redis_url),
                      "RATELIMIT_STORAGE_URI": redis_url, "SECRET_KEY": SECRET_KEY})
    with app.app_context():
        upgrade()
        manager = accounts.create_user(None, email="manager@bench.example", name="Bench Manager",
                                       role=Role.MANAGER, password=PASSWORD)
        people = [accounts.create_user(None, email=f"agent{n:02d}@bench.example", name=f"Bench Agent {n}",
                                       role=Role.AGENT, password=PASSWORD, manager_id=manager.id)
                  for n in range(agents)]
        office = catalog.save_category(None, None, code="office_supplies", name="Office supplies")
        tech = catalog.save_category(None, None, code="technology", name="Technology")
        products = [catalog.save_product(None, None, sku=f"P-{n:03d}", name=f"Product {n}",
                                         category_id=(tech if n % 3 == 0 else office).id,
                                         list_price_cents=5_000_00 + n * 250_00) for n in range(20)]
        customers = [catalog.create_customer(None, name=f"Customer {n:02d}", email=f"buyer{n}@bench.example")
                     for n in range(40)]
        plan = plans.create_plan(None, name="Bench 3%", description=None, effective_from=datetime.date(2000, 1, 1),
                                 rules=plans.PlanRules(base_rate=Decimal("3"),
                                                       category_rates={tech.id: Decimal("4")}))
        for person in people:
            assignments.assign_plan(None, agent_id=person.id, plan_id=plan.id, effective_from=datetime.date(2000, 1, 1))
        if auto_approve:
            get_settings().approval_required = False
        db.session.commit()
        ids = {"agents": [(p.id, p.email) for p in people], "products": [p.id for p in products],
               "customers": [(c.id, c.name) for c in customers], "approval_required": not auto_approve}
        db.session.remove()
        db.engine.dispose()
    return ids


def build_bare_database(bare_url: str) -> None:
    """The baseline's one table."""
    sys.path.insert(0, str(ROOT / "bench"))
    import bare_insert_app

    app = bare_insert_app.create_app(bare_url)
    with app.app_context():
        bare_insert_app.db.create_all()
        bare_insert_app.db.engine.dispose()


# ---------------------------------------------------------------- HTTP client

class Client:
    """One keep-alive connection with its cookies."""

    def __init__(self, port: int):
        """Connect lazily to 127.0.0.1:`port`."""
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """Send one request; returns (status, headers, body), remembering cookies."""
        headers = dict(headers or {})
        headers.setdefault("User-Agent", USER_AGENT)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, response.headers, data


def sign_in(port: int, email: str) -> dict:
    """Sign an agent in and fetch the dashboard once: cookie, CSRF token and first signed key."""
    client = Client(port)
    status, _, page = client.request("GET", "/login")
    assert status == 200, f"GET /login answered {status}"
    csrf = CSRF_RE.search(page).group(1).decode()
    body = urllib.parse.urlencode({"csrf_token": csrf, "email": email, "password": PASSWORD}).encode()
    status, headers, _ = client.request("POST", "/login", body)
    assert status == 302, f"sign-in of {email} answered {status}"
    status, _, page = client.request("GET", "/dashboard")
    assert status == 200, f"GET /dashboard answered {status}"
    form = page[page.index(b'id="sale-form"'):]
    client.conn.close()
    return {"cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items()),
            "csrf": CSRF_RE.search(form).group(1).decode(), "key": KEY_RE.search(form).group(1).decode()}


def sale_body(spec: dict, key: str, n: int) -> bytes:
    """The log-a-sale form as the browser encodes it (fields in the form's order)."""
    product = spec["products"][n % len(spec["products"])]
    customer_id, customer_name = spec["customers"][n % len(spec["customers"])]
    return urllib.parse.urlencode({
        "csrf_token": spec["csrf"], "idempotency_key": key, "product_id": product, "quantity": str(1 + n % 3),
        "unit_price": f"{5000 + n % 7 * 25}.00", "sold_on": spec["today"], "customer": customer_name,
        "customer_id": customer_id, "note": "Logged by the P1 benchmark",
    }).encode()


def bare_key(length: int) -> str:
    """A unique key of the given length, shaped like a signed form key."""
    head = uuid.uuid4().hex
    return (head + "." + "k" * length)[:length]


def client_loop(spec: dict, target: dict, start: float, end: float, out: dict) -> None:
    """One client: post sales from `start` until `end` (perf_counter seconds) over one connection."""
    from itsdangerous import Signer

    mode = target["mode"]
    signer = Signer(SECRET_KEY, salt="sale-form-key") if mode == "form" else None
    expected = SUCCESS[mode]
    conn = http.client.HTTPConnection("127.0.0.1", target["port"], timeout=60)
    headers = {"User-Agent": USER_AGENT, "Content-Type": "application/x-www-form-urlencoded",
               "Cookie": spec["cookie"], "X-CSRFToken": spec["csrf"]}
    if mode in ("htmx", "bare"):
        headers.update({"HX-Request": "true", "HX-Target": "sale-form", "HX-Current-URL": "http://127.0.0.1/dashboard"})
    path = f"/sales?agent_id={spec['agent_id']}" if mode == "bare" else "/sales"
    key = spec["key"]
    latencies, errors, ok, sent, received = [], {}, 0, 0, 0
    last_done = start
    while time.perf_counter() < start:
        time.sleep(0.0005)
    n = spec["offset"]
    while time.perf_counter() < end:
        if mode == "form":
            key = signer.sign(uuid.uuid4().hex).decode()
        elif mode == "bare":
            key = bare_key(len(spec["key"]))
        body = sale_body(spec, key, n)
        n += 1
        began = time.perf_counter_ns()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            status, data = type(exc).__name__, b""
            conn.close()
        elapsed = time.perf_counter_ns() - began
        last_done = time.perf_counter()
        sent += 1
        if status == expected:
            ok += 1
            received += len(data)
            latencies.append(elapsed)
            if mode == "htmx":
                match = KEY_RE.search(data)
                if match:
                    key = match.group(1).decode()
                else:
                    errors["no fresh key"] = errors.get("no fresh key", 0) + 1
        else:
            errors[str(status)] = errors.get(str(status), 0) + 1
    conn.close()
    out.update({"latencies": latencies, "errors": errors, "ok": ok, "sent": sent, "last_done": last_done,
                "body_bytes": len(body) if sent else 0, "received": received,
                "key": key, "offset": n})


def worker_main(pipe) -> None:
    """A load-generator process: runs its clients' threads for each round the parent asks for."""
    while True:
        message = pipe.recv()
        if message is None:
            break
        specs, target, start, end = message
        cpu = time.process_time()
        outs = [{} for _ in specs]
        threads = [threading.Thread(target=client_loop, args=(spec, target, start, end, out), daemon=True)
                   for spec, out in zip(specs, outs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        outs[0]["cpu_s"] = time.process_time() - cpu  # the whole process's CPU for the round
        pipe.send(outs)


class LoadGenerator:
    """`procs` processes, each holding its share of the clients' state across rounds."""

    def __init__(self, specs: list[dict], procs: int):
        """Start the processes; specs is one dict per client."""
        context = multiprocessing.get_context("fork")
        self.shares = [specs[i::procs] for i in range(procs)]
        self.pipes, self.procs = [], []
        for _ in range(procs):
            parent, child = context.Pipe()
            proc = context.Process(target=worker_main, args=(child,), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    def run(self, target: dict, seconds: float) -> dict:
        """All clients post for `seconds` against `target`; returns the round's figures."""
        start = time.perf_counter() + 0.5
        end = start + seconds
        for pipe, share in zip(self.pipes, self.shares):
            pipe.send((share, target, start, end))
        outs = []
        for pipe, share in zip(self.pipes, self.shares):
            results = pipe.recv()
            for spec, out in zip(share, results):
                if target["mode"] == "htmx":
                    spec["key"] = out["key"]  # the next round posts the last fresh key
                spec["offset"] = out["offset"]
            outs.extend(results)
        window = max(out["last_done"] for out in outs) - start
        latencies = [lat for out in outs for lat in out["latencies"]]
        errors: dict[str, int] = {}
        for out in outs:
            for status, count in out["errors"].items():
                errors[status] = errors.get(status, 0) + count
        ok = sum(out["ok"] for out in outs)
        return {"ok": ok, "sent": sum(out["sent"] for out in outs), "window_s": window, "latencies_ns": latencies,
                "errors": errors, "client_cpu_s": sum(out.get("cpu_s", 0.0) for out in outs),
                "body_bytes": max(out["body_bytes"] for out in outs),
                "response_bytes": sum(out["received"] for out in outs) / ok if ok else 0}

    def close(self) -> None:
        """Stop the processes."""
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()


# ---------------------------------------------------------------- figures

def percentile(sorted_values: list[int], fraction: float) -> float:
    """Nearest-rank percentile of sorted nanoseconds, in milliseconds."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values) + 0.4999))
    return sorted_values[min(rank, len(sorted_values)) - 1] / 1e6


def summarise(rounds: list[dict]) -> dict:
    """Throughput per round and latency percentiles over every measured request of a target."""
    latencies = sorted(lat for r in rounds for lat in r["latencies_ns"])
    errors: dict[str, int] = {}
    for r in rounds:
        for status, count in r["errors"].items():
            errors[status] = errors.get(status, 0) + count
    per_round = [r["ok"] / r["window_s"] for r in rounds]
    return {
        "requests_per_s": round(statistics.median(per_round), 1),
        "requests_per_s_rounds": [round(x, 1) for x in per_round],
        "p50_ms": round(percentile(latencies, 0.50), 2), "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2), "max_ms": round(latencies[-1] / 1e6, 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) / 1e6, 2) if latencies else None,
        "successes": sum(r["ok"] for r in rounds), "errors": sum(errors.values()), "errors_by_status": errors,
        "request_body_bytes": max(r["body_bytes"] for r in rounds),
        "response_body_bytes_mean": round(statistics.fmean(r["response_bytes"] for r in rounds)),
        "load_generator_cpu_ms_per_request": round(
            1000 * sum(r["client_cpu_s"] for r in rounds) / max(1, sum(r["sent"] for r in rounds)), 3),
    }


# ---------------------------------------------------------------- checks and census

def count_rows(url: str, sql: str, params: dict | None = None) -> int:
    """One scalar from a scratch database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql), params or {}).scalar())
    finally:
        engine.dispose()


def query_census(app_url: str, redis_url: str, ids: dict, mode: str, profile: bool) -> dict:
    """Log a sale in-process through the test client as the first agent (after the run, with its sales
    in place); count the SQL statements (and with `profile`, cProfile 50 more)."""
    import redis
    from sqlalchemy import event

    from webapp import create_app
    from webapp.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": app_url, "REDIS_CLIENT": redis.Redis.from_url(redis_url),
                      "RATELIMIT_STORAGE_URI": redis_url, "SECRET_KEY": SECRET_KEY,
                      "LOGIN_LIMIT_ACCOUNT": UNLIMITED, "LOGIN_LIMIT_IP": UNLIMITED})
    _, email = ids["agents"][0]
    client = app.test_client()
    page = client.get("/login").data
    client.post("/login", data={"csrf_token": CSRF_RE.search(page).group(1).decode(), "email": email,
                                "password": PASSWORD})
    page = client.get("/dashboard").data
    form = page[page.index(b'id="sale-form"'):]
    spec = {"csrf": CSRF_RE.search(form).group(1).decode(), "products": ids["products"],
            "customers": ids["customers"], "today": ids["today"]}
    key = KEY_RE.search(form).group(1).decode()
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def on_execute(_conn, _cursor, statement, _parameters, _context, _many):
        """Record each statement sent to the database."""
        statements.append(" ".join(statement.split())[:160])

    headers = {"HX-Request": "true"} if mode == "htmx" else {}
    n = 0

    last: dict = {}

    def post() -> tuple[int, str]:
        """Post one sale with the current key; returns (status, next key)."""
        nonlocal n
        body = sale_body(spec, key, n)
        n += 1
        response = client.post("/sales", data=body, headers=headers, content_type="application/x-www-form-urlencoded")
        last.update(headers=dict(response.headers), data=response.data)
        match = KEY_RE.search(response.data)
        return response.status_code, match.group(1).decode() if match and mode == "htmx" else new_key()

    def new_key() -> str:
        """A fresh signed key, as the form would render it."""
        from itsdangerous import Signer

        return Signer(SECRET_KEY, salt="sale-form-key").sign(uuid.uuid4().hex).decode()

    status, key = post()  # warm: first-use imports and caches stay out of the count
    event.listen(engine, "before_cursor_execute", on_execute)
    status, key = post()
    event.remove(engine, "before_cursor_execute", on_execute)
    census = {"status": status, "statements": len(statements), "sql": statements}
    # The dashboard's totals panel refetches itself on "sales-changed" (HX-Trigger): that second
    # request is part of logging a sale unless the reply carries the panel itself (out of band).
    triggers = " ".join(last["headers"].get(name, "") for name in
                        ("HX-Trigger", "HX-Trigger-After-Swap", "HX-Trigger-After-Settle"))
    census["reply_bytes"] = len(last["data"])
    census["totals_in_reply"] = b'id="totals"' in last["data"] and b'hx-swap-oob="true"' in last["data"]
    census["totals_request_triggered"] = mode == "htmx" and "sales-changed" in triggers
    census["totals_request_statements"] = 0
    if census["totals_request_triggered"]:
        statements.clear()
        event.listen(engine, "before_cursor_execute", on_execute)
        client.get("/dashboard/totals", headers={"HX-Request": "true"})
        event.remove(engine, "before_cursor_execute", on_execute)
        census["totals_request_statements"] = len(statements)
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(50):
            status, key = post()
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        census["profile_top"] = out.getvalue()
    with app.app_context():
        db.engine.dispose()
    return census


# ---------------------------------------------------------------- main

def print_table(figures: dict) -> None:
    """Per-target figures and the app/baseline ratios."""
    print(f"\n{'target':<10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'ok':>8}{'errors':>8}")
    for name in ("app", "baseline"):
        f = figures[name]
        print(f"{name:<10}{f['requests_per_s']:>9.1f}{f['p50_ms']:>9.2f}{f['p95_ms']:>9.2f}{f['p99_ms']:>9.2f}"
              f"{f['max_ms']:>9.2f}{f['successes']:>8}{f['errors']:>8}")
    r = figures["ratios_app_over_baseline"]
    print(f"{'app/base':<10}{r['requests_per_s']:>9.2f}{r['p50_ms']:>9.2f}{r['p95_ms']:>9.2f}{r['p99_ms']:>9.2f}")
    print(f"request body bytes: app {figures['app']['request_body_bytes']}, baseline "
          f"{figures['baseline']['request_body_bytes']}; response bytes: app {figures['app']['response_body_bytes_mean']}, "
          f"baseline {figures['baseline']['response_body_bytes_mean']}; load-generator CPU ms/request: app "
          f"{figures['app']['load_generator_cpu_ms_per_request']}, baseline "
          f"{figures['baseline']['load_generator_cpu_ms_per_request']}")
    print(f"rounds req/s: app {figures['app']['requests_per_s_rounds']}, "
          f"baseline {figures['baseline']['requests_per_s_rounds']}")


def main() -> int:
    """Set up, run the interleaved rounds, check the rows, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of one measured round per target")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per target, interleaved")
    parser.add_argument("--warmup", type=float, default=4.0, help="warm-up seconds per target")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (both servers)")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn gthread threads per worker (both)")
    parser.add_argument("--procs", type=int, default=4, help="load-generator processes")
    parser.add_argument("--mode", choices=("htmx", "form"), default="htmx")
    parser.add_argument("--auto-approve", action="store_true",
                        help="installation without approval: every sale recomputes the agent-month")
    parser.add_argument("--profile", action="store_true", help="cProfile 50 in-process sales after the run")
    args = parser.parse_args()
    server = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    os.environ["SECRET_KEY"] = SECRET_KEY  # never generate instance/secret_key for a bench

    load_before = round(os.getloadavg()[0], 2)
    began = time.monotonic()
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="log-sale-bench-")))
        app_url, bare_url, app_db, bare_db = scratch_databases(stack, server)
        redis_url = start_redis(stack, scratch)
        ids = build_app_database(app_url, redis_url, args.clients, args.auto_approve)
        ids["today"] = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
        build_bare_database(bare_url)
        env = server_env(app_url, bare_url, redis_url, scratch)
        app_port = start_gunicorn(stack, "wsgi:app", env, args, scratch, "app")
        bare_port = start_gunicorn(stack, "bench.bare_insert_app:app", env, args, scratch, "bare")
        setup_s = time.monotonic() - began
        print(f"setup {setup_s:.1f} s: databases {app_db}, {bare_db}; redis {redis_url}; "
              f"gunicorn {' '.join(gunicorn_settings(args))} on ports {app_port} (app), {bare_port} (baseline)")

        specs = []
        for n, (agent_id, email) in enumerate(ids["agents"][:args.clients]):
            spec = sign_in(app_port, email)
            spec.update({"agent_id": agent_id, "products": ids["products"], "customers": ids["customers"],
                         "today": ids["today"], "offset": n * 7})
            specs.append(spec)
        load = LoadGenerator(specs, min(args.procs, args.clients))
        stack.callback(load.close)
        targets = {"app": {"mode": args.mode, "port": app_port}, "baseline": {"mode": "bare", "port": bare_port}}
        successes = {"app": 0, "baseline": 0}
        warmup_errors: dict[str, dict] = {}
        for name in ("app", "baseline"):
            warm = load.run(targets[name], args.warmup)
            successes[name] += warm["ok"]
            warmup_errors[name] = warm["errors"]
            print(f"warm-up {name}: {warm['ok'] / warm['window_s']:.1f} req/s, errors {warm['errors'] or 0}")
        rounds: dict[str, list[dict]] = {"app": [], "baseline": []}
        for number in range(args.rounds):
            order = ("app", "baseline") if number % 2 == 0 else ("baseline", "app")
            for name in order:
                result = load.run(targets[name], args.seconds)
                successes[name] += result["ok"]
                rounds[name].append(result)
                print(f"round {number + 1} {name}: {result['ok'] / result['window_s']:.1f} req/s, "
                      f"p50 {percentile(sorted(result['latencies_ns']), 0.5):.1f} ms, errors {result['errors'] or 0}")

        server_errors = {name: (scratch / f"gunicorn-{label}.log").read_text(errors="replace")
                         for name, label in (("app", "app"), ("baseline", "bare"))}
        agent_ids = [a for a, _ in ids["agents"][:args.clients]]
        stored = {
            "app": count_rows(app_url, "SELECT count(*) FROM sales WHERE entered_by_id = ANY(:ids)", {"ids": agent_ids}),
            "baseline": count_rows(bare_url, "SELECT count(*) FROM bare_sales"),
        }
        check = {name: {"successful_submissions": successes[name], "rows_stored": stored[name],
                        "exact": successes[name] == stored[name]} for name in successes}
        pg_version = count_rows(app_url, "SHOW server_version_num")
        census = query_census(app_url, redis_url, ids, args.mode, args.profile)

    figures = {"app": summarise(rounds["app"]), "baseline": summarise(rounds["baseline"])}
    figures["ratios_app_over_baseline"] = {
        "requests_per_s": round(figures["app"]["requests_per_s"] / figures["baseline"]["requests_per_s"], 3),
        **{k: round(figures["app"][k] / figures["baseline"][k], 2) for k in ("p50_ms", "p95_ms", "p99_ms")},
        # Each round's app figure over the baseline round run next to it (same machine weather).
        "requests_per_s_per_round": [round(a / b, 3) for a, b in zip(figures["app"]["requests_per_s_rounds"],
                                                                      figures["baseline"]["requests_per_s_rounds"])],
    }
    print_table(figures)
    for name, c in check.items():
        print(f"rows check {name}: {c['successful_submissions']} successful submissions, {c['rows_stored']} rows: "
              f"{'exact' if c['exact'] else 'MISMATCH'}")
    for name, log in server_errors.items():
        if "Traceback" in log:
            print(f"--- {name} server log (tail): exceptions were logged ---\n{log[-4000:]}")
    print(f"SQL statements for one logged sale ({args.mode}, in-process, status {census['status']}): "
          f"{census['statements']}")
    for line in census["sql"]:
        print(f"  {line}")
    print(f"reply {census['reply_bytes']} bytes; totals panel in the reply: {census['totals_in_reply']}; "
          f"a totals request triggered: {census['totals_request_triggered']}"
          + (f" ({census['totals_request_statements']} more statements)" if census["totals_request_triggered"] else ""))
    if "profile_top" in census:
        print(census["profile_top"])

    from importlib.metadata import version

    report = {
        "benchmark": "P1: log a sale through gunicorn + PostgreSQL, N keep-alive clients, vs a bare insert endpoint",
        "requirement": "log-a-sale throughput and p50/p95/p99 latency through gunicorn + PostgreSQL at 32 concurrent "
                       "clients, next to a bare Flask+SQLAlchemy insert endpoint in the same run",
        "operation": {"htmx": "POST /sales as the dashboard's htmx form (201 + fresh form; its new key posted next)",
                      "form": "POST /sales as a plain form (302 to the dashboard, not followed)"}[args.mode],
        "baseline": "bench/bare_insert_app.py: Flask + Flask-SQLAlchemy POST /sales inserting one sale-shaped row, "
                    "same headers and body size",
        "mode": args.mode,
        "approval_required": ids["approval_required"],
        "clients": args.clients, "load_generator_processes": min(args.procs, args.clients),
        "seconds_per_round": args.seconds, "rounds_per_target": args.rounds, "warmup_seconds": args.warmup,
        "gunicorn": {"version": version("gunicorn"), "options": " ".join(gunicorn_settings(args)),
                     "worker_class": "gthread", "workers": args.workers, "threads": args.threads},
        "figures": figures,
        "warmup_errors_by_status": warmup_errors,
        "server_exceptions_logged": {name: log.count("Traceback") for name, log in server_errors.items()},
        "rows_check": check,
        "all_rows_exact": all(c["exact"] for c in check.values()),
        "sql_statements_per_sale": census["statements"],
        "reply_bytes": census["reply_bytes"],
        "totals_in_reply": census["totals_in_reply"],
        "totals_request_triggered": census["totals_request_triggered"],
        "totals_request_statements": census["totals_request_statements"],
        "sql_per_sale": census["sql"],
        "setup_seconds": round(setup_s, 1),
        "total_seconds": round(time.monotonic() - began, 1),
        "load_average_1m_before": load_before,
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "versions": {**{name: version(name) for name in ("flask", "flask-sqlalchemy", "sqlalchemy", "psycopg",
                                                          "werkzeug", "gunicorn")},
                     "postgresql": pg_version},
        "machine": f"{platform.system()} {platform.machine()}",
        "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\nload average {load_before} -> {report['load_average_1m_after']} on {os.cpu_count()} CPUs; "
          f"total {report['total_seconds']} s")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    errors = figures["app"]["errors"] + figures["baseline"]["errors"] + sum(
        sum(e.values()) for e in warmup_errors.values())
    return 0 if report["all_rows_exact"] and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
