"""Benchmark P3: a period's statement run through real workers, next to bare WeasyPrint renders.

Run from the repository root:
`.venv/bin/python bench/statement_run.py [--agents 500] [--workers 2] [--sales 20000] [--months 2]
[--repeats 15] [--data auto|demo|bench]`
(needs PostgreSQL on 127.0.0.1:5432 with trust auth for user postgres, and redis-server on PATH;
set BENCH_DATABASE_URL to use another server).

The requirement: "P3: statement PDF job vs. bare WeasyPrint render; 500 statements through 2 workers."

Setup: a scratch PostgreSQL database `bench_p3_<pid>` built with the migrations (dropped at the end,
even on failure; no other database is touched), a private redis-server on a free port (never the
shared 6379), an outbox folder in a temporary directory (MAIL_BACKEND=outbox: nothing leaves the
machine). The organisation comes from `webapp.demo_generate.generate_demo(agents, sales, months)` when it
exists, else from this script's own bulk setup (agents agentNNNN@generated.example, a flat 3% plan,
approved sales inserted in bulk, the ledger computed per agent-month).

Part B (throughput), measured first: `--workers` long-running `python -m jobs worker` processes are
started and left idle; then, as the manager's "Issue statements" page does, the next period to
issue is found and `start_period_run(manager, period)` is called and committed (which enqueues one
render job per statement). The wall time runs from that call until every statement of the run is
rendered and every statement email is recorded as sent (the database is polled). Checked: one
statement per agent, each with a PDF matching its sha256, each agent emailed exactly once (in the
database and in the outbox). Baseline in the same run: the same statements' HTML rendered with bare
`weasyprint.HTML(string=...).write_pdf()` in a multiprocessing Pool of `--workers` processes
(already started, WeasyPrint imported), wall time. Ratio = run wall time / baseline wall time.
Memory: each worker process's resident set (every process of its group, /proc/<pid>/status VmRSS,
and the kernel's own high-water mark VmHWM) is sampled every 0.2 s from the workers being ready to
the last email: RSS when ready, peak, at the end, and the peak of each quarter of the run (flat
means no growth across statements), plus how many times a worker re-executed itself over
--max-rss-mb (jobs/worker.py).

Part A (per statement), on a real row of that run (the statement with the median number of lines):
the render job itself, `jobs.statements.render_statement(id)` called as the worker calls it (no
outer app context: the job opens its own; it locks the row, renders, stores the PDF and its sha256,
commits and enqueues the email delivery to the private Redis), the row reset to pending between
repeats (not timed); next to bare WeasyPrint on the same HTML (stylesheet linked as a file: URL, as
in bench/statement_pdf.py), interleaved. Also counts the SQL statements the job runs.

Prints the figures and writes bench/results/statement_run.json.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import gc
import json
import multiprocessing
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import bare_engine, scratch_database  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "statement_run.json"
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PRODUCTS = [("MED-100", "Patient monitor", 1_250_000), ("FNB-044", "Walk-in cooler", 2_140_000),
            ("CON-512", "Scaffolding system", 1_675_000), ("OFF-075", "Print fleet contract", 1_120_000),
            ("TEC-101", "Server rack, configured", 2_730_000)]
CUSTOMERS = ["Northwind Clinics", "Harbor Foods", "Summit Builders", "Bluebird Offices", "Riverside Hospital"]


# ---- Private services -------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(directory: Path) -> tuple[subprocess.Popen, str]:
    """A private redis-server on a free port, keeping nothing on disk; returns (process, url)."""
    from redis import Redis

    port = free_port()
    assert port != 6379
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory), "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = Redis.from_url(url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise RuntimeError("the private redis-server did not start")
            time.sleep(0.05)
    client.close()
    return process, url


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM the process (its whole group if it leads one), SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        try:
            if os.getpgid(process.pid) == process.pid:  # a worker: its work horse goes with it
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            continue


def start_worker(env: dict, log_path: Path, max_rss_mb: int | None = None) -> subprocess.Popen:
    """One long-running worker, in its own process group (and anything it forks)."""
    bound = [] if max_rss_mb is None else ["--max-rss-mb", str(max_rss_mb)]
    with open(log_path, "w") as log:
        return subprocess.Popen([sys.executable, "-m", "jobs", "worker", *bound], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _status_kb(pid: int, field: str) -> int | None:
    """A `VmRSS`-style field of /proc/<pid>/status in kB (None once the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _group_pids(leader: int) -> list[int]:
    """The processes of a worker's group: the worker, and a work horse if one was forked."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == leader:
                    pids.append(int(entry))
            except (ProcessLookupError, PermissionError):
                continue
    return pids


class RssSampler:
    """Samples the workers' resident memory in a thread (every `interval` s) while the run goes on."""

    def __init__(self, workers: list[subprocess.Popen], interval: float = 0.2):
        """Nothing is sampled until start()."""
        import threading

        self.workers, self.interval = workers, interval
        self.samples: list[tuple[float, list[int]]] = []  # (seconds since start, kB per worker)
        self.hwm_kb = [0] * len(workers)  # the kernel's peak RSS of each worker process seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = 0.0

    def start(self) -> "RssSampler":
        """Begin sampling."""
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def _sample(self) -> None:
        """One sample: each worker group's summed VmRSS, and each process's VmHWM."""
        row = []
        for index, worker in enumerate(self.workers):
            total = 0
            for pid in _group_pids(worker.pid):
                total += _status_kb(pid, "VmRSS") or 0
                self.hwm_kb[index] = max(self.hwm_kb[index], _status_kb(pid, "VmHWM") or 0)
            row.append(total)
        self.samples.append((time.perf_counter() - self._started, row))

    def _run(self) -> None:
        """Sample until stopped."""
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def stop(self) -> dict:
        """Stop and summarise, in MB: per worker ready/peak/end and the peak of each quarter."""
        self._stop.set()
        self._thread.join()
        if not self.samples:
            return {}
        mb = lambda kb: round(kb / 1024, 1)  # noqa: E731
        end_t = self.samples[-1][0] or 1.0
        workers = []
        for index in range(len(self.workers)):
            series = [(t, row[index]) for t, row in self.samples]
            quarters = [max((kb for t, kb in series if q * end_t / 4 <= t <= (q + 1) * end_t / 4), default=0)
                        for q in range(4)]
            workers.append({"ready_mb": mb(series[0][1]), "peak_mb": mb(max(max(kb for _, kb in series),
                                                                          self.hwm_kb[index])),
                            "end_mb": mb(series[-1][1]), "quarter_peaks_mb": [mb(kb) for kb in quarters]})
        return {"interval_s": self.interval, "samples": len(self.samples),
                "peak_mb": max(worker["peak_mb"] for worker in workers), "workers": workers}


def reexec_count(scratch: Path) -> int:
    """How many times the workers re-executed themselves over their memory bound (their logs)."""
    return sum(path.read_text(errors="replace").count("re-executing the worker")
               for path in scratch.glob("worker-*.log"))


# ---- Data -------------------------------------------------------------------------------------


def populate(agents: int, sales: int, months: int, data: str) -> str:
    """The organisation: webapp.demo_generate.generate_demo ("demo"; "auto" when it exists), else our bulk
    setup."""
    from webapp import demo_generate as demo

    if data == "demo" or (data == "auto" and hasattr(demo, "generate_demo")):
        demo.generate_demo(agents=agents, sales=sales, months=months)
        return "webapp.demo_generate.generate_demo"
    bulk_populate(agents, sales, months)
    return "bench bulk setup"


def bulk_populate(agents: int, sales: int, months: int, seed: int = 20261126) -> None:
    """Managers, agents, catalogue, a flat 3% plan, approved sales over the last whole months, ledger."""
    from datetime import date, timedelta
    from decimal import Decimal

    from sqlalchemy import insert, select

    from webapp import clock
    from webapp.auth.models import User
    from webapp.catalog.models import Category, Customer, Product
    from webapp.commissions.ledger import lock_agent, months_between, recompute_agent_month
    from webapp.commissions.assignments import assign_plan
    from webapp.commissions.plans import PlanRules, create_plan
    from webapp.extensions import db
    from webapp.sales.credits import add_missing_primary_credits
    from webapp.sales.models import Sale

    rng = random.Random(seed)
    today = clock.today()
    last = today.replace(day=1) - timedelta(days=1)
    first = last.replace(day=1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    managers = [User(email=f"manager{n:02d}@generated.example", name=f"Manager {n:02d}", role="manager",
                     password_hash="-") for n in range(max(1, agents // 50))]
    db.session.add_all(managers)
    category = Category(code="generated", name="Generated")
    db.session.add(category)
    db.session.flush()
    products = [Product(sku=sku, name=name, category_id=category.id, list_price_cents=price)
                for sku, name, price in PRODUCTS]
    customers = [Customer(name=name) for name in CUSTOMERS]
    db.session.add_all([*products, *customers])
    db.session.flush()
    plan = create_plan(None, name="Flat 3%", description=None, rules=PlanRules(base_rate=Decimal("3")),
                       effective_from=date(2000, 1, 1))
    db.session.execute(insert(User), [
        {"email": f"agent{n:04d}@generated.example", "name": f"Agent {n:04d}", "role": "agent",
         "password_hash": "-", "manager_id": managers[n % len(managers)].id} for n in range(agents)])
    agent_ids = sorted(db.session.scalars(select(User.id).where(User.role == "agent")))
    for agent_id in agent_ids:
        assign_plan(None, agent_id=agent_id, plan_id=plan.id, effective_from=date(2000, 1, 1))
    span = (last - first).days
    rows = []
    for number in range(sales):
        agent_id = agent_ids[number % len(agent_ids)]
        product = rng.choice(products)
        quantity = rng.choice([1, 1, 1, 2, 3])
        rows.append({"agent_id": agent_id, "product_id": product.id, "customer_id": rng.choice(customers).id,
                     "quantity": quantity, "unit_price_cents": product.list_price_cents,
                     "amount_cents": quantity * product.list_price_cents,
                     "sold_on": first + timedelta(days=rng.randint(0, span)), "status": "approved",
                     "entered_by_id": agent_id, "idempotency_key": f"bench-p3-{number:08d}"})
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(Sale), rows[start:start + 5000])
    add_missing_primary_credits()
    db.session.commit()
    for agent_id in agent_ids:
        lock_agent(agent_id)
        for month in months_between(first, last):
            recompute_agent_month(agent_id, month)
        db.session.commit()


# ---- Part B: the run through real workers -------------------------------------------------------


def count_sql(engine) -> dict:
    """Count the SQL statements `engine` executes (a dict whose "n" grows)."""
    from sqlalchemy import event

    counter = {"n": 0}

    def before(*_args) -> None:
        """One more statement."""
        counter["n"] += 1

    event.listen(engine, "before_cursor_execute", before)
    counter["remove"] = lambda: event.remove(engine, "before_cursor_execute", before)
    return counter


def wait_for_workers(redis_url: str, count: int, processes: list[subprocess.Popen],
                     timeout: float = 60) -> float:
    """Wait until `count` RQ workers are registered and idle; returns the seconds it took."""
    from redis import Redis
    from rq import Worker

    connection = Redis.from_url(redis_url)
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while True:
        workers = Worker.all(connection=connection)
        if len(workers) >= count and all(w.get_state() == "idle" for w in workers):
            connection.close()
            return time.perf_counter() - started
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            raise RuntimeError("the workers did not start (see their logs)")
        time.sleep(0.05)


def run_statement_run(app, env: dict, scratch: Path, args) -> dict:
    """Start the workers, issue the period as a manager does, wait for every PDF and email; verify."""
    from sqlalchemy import create_engine, select, text

    from webapp import clock
    from webapp.auth.models import User
    from webapp.extensions import db
    from webapp.statements import queries
    from webapp.statements import services as statements

    workers = [start_worker(env, scratch / f"worker-{n}.log", args.max_rss_mb) for n in range(args.workers)]
    try:
        workers_ready_s = wait_for_workers(env["REDIS_URL"], args.workers, workers)
        sampler = RssSampler(workers).start()
        poller = create_engine(env["DATABASE_URL"])
        with app.app_context():
            manager = db.session.scalar(select(User).where(User.role == "manager").order_by(User.id).limit(1))
            period = queries.next_period_to_issue(clock.today())
            assert period is not None, "no ended period to issue"
            period_label = period.label
            sql = count_sql(db.engine)
            started = time.perf_counter()
            # What the manager's "Issue statements" POST does after its checks.
            # inline=True: this measures the issue as one transaction (above OPERATION_INLINE_LIMIT the
            # page now hands it to a background operation; see docs/background-operations.md).
            run = statements.start_period_run(manager, period, inline=True)
            count = len(run.statements)
            run_id = run.id
            db.session.commit()  # the after-commit hook enqueues one render job per statement
            issued_at = time.perf_counter()
            issue_queries = sql["n"]
            sql["remove"]()
            db.session.remove()
        assert count == args.agents, f"the run issued {count} statements for {args.agents} agents"
        progress = text("SELECT "
                        "(SELECT count(*) FROM statements WHERE run_id = :run AND status = 'rendered'), "
                        "(SELECT count(*) FROM statements WHERE run_id = :run AND status = 'failed'), "
                        "(SELECT count(*) FROM outgoing_emails e JOIN statements s ON s.id = e.statement_id "
                        " WHERE s.run_id = :run AND e.status = 'sent')")
        first_rendered_at = None
        deadline = time.monotonic() + args.timeout
        with poller.connect() as connection:
            while True:
                rendered, failed, sent = connection.execute(progress, {"run": run_id}).one()
                connection.rollback()
                now = time.perf_counter()
                if rendered and first_rendered_at is None:
                    first_rendered_at = now
                if rendered == count and sent == count:
                    break
                if failed or any(w.poll() is not None for w in workers) or time.monotonic() > deadline:
                    raise RuntimeError(f"run stuck: {rendered} rendered, {failed} failed, {sent} sent "
                                       f"of {count}; worker logs in {scratch}")
                time.sleep(0.05)
        finished = time.perf_counter()
        memory = sampler.stop()
        memory["reexecs"] = reexec_count(scratch)
        job_times = rq_job_times(env["REDIS_URL"])
    finally:
        for worker in workers:
            stop(worker)
    verified = verify(poller, run_id, count, Path(env["OUTBOX_DIR"]))
    poller.dispose()
    wall = finished - started
    return {
        "period": period_label, "run_id": run_id, "statements": count,
        "workers_ready_s": round(workers_ready_s, 2),
        "issue_s": round(issued_at - started, 2), "issue_sql_statements": issue_queries,
        "first_pdf_after_commit_s": round(first_rendered_at - issued_at, 2) if first_rendered_at else None,
        "after_commit_s": round(finished - issued_at, 2),
        "wall_s": round(wall, 2), "statements_per_s": round(count / wall, 2),
        "worker_jobs": job_times, "worker_memory": memory, "verified": verified,
    }


def rq_job_times(redis_url: str) -> dict:
    """Per job function: count and median/total seconds between RQ's started_at and ended_at."""
    from redis import Redis
    from rq import Queue
    from rq.job import Job

    connection = Redis.from_url(redis_url)
    durations = collections.defaultdict(list)
    for name in ("default", "emails"):
        ids = Queue(name, connection=connection).finished_job_registry.get_job_ids()
        for job in Job.fetch_many(ids, connection=connection):
            if job is not None and job.started_at and job.ended_at:
                durations[job.func_name].append((job.ended_at - job.started_at).total_seconds())
    connection.close()
    return {name: {"jobs": len(values), "median_ms": round(statistics.median(values) * 1000, 1),
                   "total_s": round(sum(values), 1)} for name, values in sorted(durations.items())}


def verify(engine, run_id: int, count: int, outbox: Path) -> dict:
    """One rendered statement with a matching PDF per agent; each agent emailed exactly once."""
    import hashlib

    from sqlalchemy import text

    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT s.agent_id, s.status, s.pdf, s.pdf_sha256, u.email FROM statements s "
            "JOIN users u ON u.id = s.agent_id WHERE s.run_id = :run"), {"run": run_id}).all()
        emails = connection.execute(text(
            'SELECT e.key, e."to", e.status FROM outgoing_emails e '
            "JOIN statements s ON s.id = e.statement_id WHERE s.run_id = :run"), {"run": run_id}).all()
        agents = connection.execute(text("SELECT count(*) FROM users WHERE role = 'agent'")).scalar_one()
    assert len(rows) == count == agents, (len(rows), count, agents)
    assert len({row.agent_id for row in rows}) == count, "an agent has two statements"
    for row in rows:
        assert row.status == "rendered" and row.pdf and bytes(row.pdf).startswith(b"%PDF"), row.agent_id
        assert hashlib.sha256(bytes(row.pdf)).hexdigest() == row.pdf_sha256, row.agent_id
    per_address = collections.Counter(email.to for email in emails)
    assert set(per_address) == {row.email for row in rows}, "an agent was not emailed (or a stranger was)"
    assert set(per_address.values()) == {1}, "an agent was emailed twice"
    assert all(email.status == "sent" for email in emails)
    outbox_keys = collections.Counter(json.loads(path.read_text())["metadata"]["email_key"]
                                      for path in outbox.glob("*/message.json"))
    assert outbox_keys == collections.Counter({email.key: 1 for email in emails}), "outbox differs"
    pages = sorted(pdf_pages(bytes(row.pdf)) for row in rows[:: max(1, count // 50)])
    return {"statements": len(rows), "each_with_pdf": True, "emails_sent": len(emails),
            "each_agent_emailed_once": True, "outbox_messages": sum(outbox_keys.values()),
            "pages_of_a_sample": {"min": pages[0], "median": statistics.median(pages), "max": pages[-1]}}


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF (counted from its page objects)."""
    import io

    try:
        from pypdf import PdfReader

        return len(PdfReader(io.BytesIO(data)).pages)
    except ImportError:
        return data.count(b"/Type /Page\n") or data.count(b"/Type/Page")


# ---- Baselines ------------------------------------------------------------------------------------


def file_url_html(html: str) -> str:
    """The statement HTML with its stylesheet linked as a file: URL, for WeasyPrint's default fetcher."""
    from webapp.statements.pdf import STATIC_ROOT, STATIC_SCHEME

    return html.replace(STATIC_SCHEME + "/", STATIC_ROOT.as_uri() + "/")


def statement_htmls(app, run_id: int) -> dict[int, str]:
    """Each statement of the run as bare-WeasyPrint HTML, by statement id."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.statements.models import Statement
    from webapp.statements.services import statement_html

    with app.app_context():
        statements = db.session.scalars(select(Statement).where(Statement.run_id == run_id)
                                        .order_by(Statement.id)).all()
        htmls = {s.id: file_url_html(statement_html(s, for_pdf=True)) for s in statements}
        db.session.remove()
    return htmls


def _pool_start() -> None:
    """Pool initializer: import WeasyPrint once per process and lay out a tiny page (warm)."""
    import weasyprint

    weasyprint.HTML(string="<p>warm</p>").write_pdf()


def _bare_pdf_size(html: str) -> int:
    """Bare WeasyPrint render of one statement; returns the PDF's size (checked to be a PDF)."""
    import weasyprint

    data = weasyprint.HTML(string=html).write_pdf()
    assert data.startswith(b"%PDF")
    return len(data)


def pool_baseline(htmls: list[str], processes: int) -> float:
    """Wall seconds to render every HTML with bare WeasyPrint in a warm Pool of `processes`."""
    context = multiprocessing.get_context("fork")
    with context.Pool(processes, initializer=_pool_start) as pool:
        pool.map(_pool_start_done, range(processes * 4), chunksize=1)  # every process up and warm
        started = time.perf_counter()
        sizes = pool.map(_bare_pdf_size, htmls, chunksize=1)
        wall = time.perf_counter() - started
    assert len(sizes) == len(htmls) and all(sizes)
    return wall


def _pool_start_done(_n: int) -> int:
    """A no-op task, so pool.map returns only once the pool's processes have started."""
    time.sleep(0.05)
    return 0


# ---- Part A: one statement, the job vs bare WeasyPrint -------------------------------------------


def timed_ms(func, *args) -> float:
    """Wall time of one call in milliseconds, from a collected heap."""
    gc.collect()
    started = time.perf_counter()
    func(*args)
    return (time.perf_counter() - started) * 1000


def run_page_poll(app, run_id: int, database_url: str, repeats: int) -> dict:
    """What each 2-second poll of the run's page costs once every statement is settled, as an admin
    sees it (every statement): queries.run_progress for the first page plus its fragment, against
    the bare counts the benchmark's own poller reads, interleaved on the same database."""
    from flask import render_template
    from sqlalchemy import text

    from webapp.auth.models import User
    from webapp.extensions import db
    from webapp.statements import queries
    from webapp.statements.models import StatementRun

    bare_sql = text("SELECT count(*) FILTER (WHERE s.status = 'rendered'), count(*) FILTER (WHERE s.status = "
                    "'failed'), count(e.id) FILTER (WHERE e.status = 'sent') FROM statements s "
                    "LEFT JOIN outgoing_emails e ON e.statement_id = s.id WHERE s.run_id = :run")
    bare = bare_engine(database_url)
    admin = User(name="Bench admin", email="bench-admin@generated.example", role="admin")  # never saved
    app_ms, bare_ms, size = [], [], 0
    with app.test_request_context(f"/statements/runs/{run_id}",
                                  headers={"HX-Request": "true", "HX-Target": "run-progress"}):
        sql = count_sql(db.engine)
        for attempt in range(repeats + 2):  # two warm-ups
            started = time.perf_counter()
            run = db.session.get(StatementRun, run_id)
            progress = queries.run_progress(admin, run, page=1)
            html = render_template("statements/partials/_run_progress.html", progress=progress, run=run,
                                   period=None, operation_url=None)
            db.session.rollback()
            took = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            with bare.connect() as connection:
                connection.execute(bare_sql, {"run": run_id}).one()
            bare_took = (time.perf_counter() - started) * 1000
            if attempt >= 2:
                app_ms.append(took)
                bare_ms.append(bare_took)
            size = len(html)
        statements_per_poll = sql["n"] // (repeats + 2)
        sql["remove"]()
        assert progress.finished and progress.total > 0, "the run is not settled"
    bare.dispose()
    app_median, bare_median = statistics.median(app_ms), statistics.median(bare_ms)
    return {"statements": progress.total, "rows_shown": len(progress.rows), "fragment_bytes": size,
            "sql_statements_per_poll": statements_per_poll, "app_median_ms": round(app_median, 2),
            "bare_median_ms": round(bare_median, 2), "ratio_app_to_bare": round(app_median / bare_median, 2)}


def per_statement(run_id: int, html_by_id: dict[int, str], database_url: str, repeats: int) -> dict:
    """The render job (and the email job after it) on the run's median-sized statement vs bare WeasyPrint."""
    import weasyprint
    from redis import Redis
    from rq import Queue
    from sqlalchemy import create_engine, text

    import jobs
    from jobs.mail import deliver_email
    from jobs.statements import render_statement
    from webapp.extensions import db

    reset_engine = create_engine(database_url)
    with reset_engine.connect() as connection:
        sizes = connection.execute(text(
            "SELECT s.id, json_array_length((s.snapshot::json) -> 'lines'), e.id FROM statements s "
            "JOIN outgoing_emails e ON e.statement_id = s.id WHERE s.run_id = :run ORDER BY 2, s.id"),
            {"run": run_id}).all()
    statement_id, lines, email_id = sizes[len(sizes) // 2]
    html = html_by_id[statement_id]
    emails = Queue("emails", connection=Redis.from_url(os.environ["REDIS_URL"]))

    def reset() -> None:
        """Put the statement back to pending without its PDF, and its email to queued (as issued)."""
        emails.empty()
        with reset_engine.begin() as connection:
            connection.execute(text("UPDATE statements SET status = 'pending', pdf = NULL, "
                                    "pdf_sha256 = NULL, rendered_at = NULL WHERE id = :id"),
                               {"id": statement_id})
            connection.execute(text("UPDATE outgoing_emails SET status = 'queued', attempts = 0, "
                                    "sending_since = NULL, sent_at = NULL, provider_id = NULL, "
                                    "last_error = NULL WHERE id = :id"), {"id": email_id})

    def job() -> None:
        """The render job exactly as the worker calls it (it opens its own app context)."""
        assert render_statement(statement_id) == "rendered"

    def email() -> None:
        """The email job the render job enqueues (to the outbox)."""
        assert deliver_email(email_id) == "sent"

    def bare() -> None:
        """Bare WeasyPrint on the same HTML."""
        weasyprint.HTML(string=html).write_pdf()

    app = jobs.get_app()  # the worker's app, from the same environment
    with app.app_context():
        sql = count_sql(db.engine)
    for _ in range(2):  # warm-up (imports, templates, connection pool), then count the SQL
        reset()
        sql["n"] = 0
        job()
        job_sql, sql["n"] = sql["n"], 0
        email()
        email_sql = sql["n"]
        bare()
    sql["remove"]()
    samples = {"job": [], "email": [], "bare": []}
    for repeat in range(repeats):
        reset()
        order = [("job", job), ("email", email), ("bare", bare)]
        for name, func in (order if repeat % 2 == 0 else [order[2], order[0], order[1]]):
            samples[name].append(timed_ms(func))
    with app.app_context():
        db.engine.dispose()
    reset_engine.dispose()
    emails.empty()
    emails.connection.close()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {"statement_id": statement_id, "sale_lines": lines,
            "sql_statements_per_job": job_sql, "sql_statements_per_email_job": email_sql,
            "job_median_ms": round(medians["job"], 1), "job_min_ms": round(min(samples["job"]), 1),
            "email_job_median_ms": round(medians["email"], 1),
            "bare_median_ms": round(medians["bare"], 1), "bare_min_ms": round(min(samples["bare"]), 1),
            "ratio_job_to_bare": round(medians["job"] / medians["bare"], 3),
            "ratio_min_job_to_bare": round(min(samples["job"]) / min(samples["bare"]), 3),
            "ratio_job_and_email_to_bare": round((medians["job"] + medians["email"]) / medians["bare"], 3)}


# ---- Main ---------------------------------------------------------------------------------------


def main() -> int:
    """Set up the private world, run Part B then Part A, tear everything down, print and save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=500, help="agents, so statements in the run (500)")
    parser.add_argument("--workers", type=int, default=2, help="`python -m jobs worker` processes (2)")
    parser.add_argument("--max-rss-mb", type=int, default=None,
                        help="the workers' memory bound (default: the worker's own, jobs/worker.py)")
    parser.add_argument("--sales", type=int, default=20_000, help="approved sales generated (20,000)")
    parser.add_argument("--months", type=int, default=2, help="whole months the sales span (2)")
    parser.add_argument("--data", choices=("auto", "demo", "bench"), default="auto",
                        help="demo: webapp.demo_generate.generate_demo; bench: this script's bulk setup; "
                             "auto: demo if present")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs of each in Part A (15)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the run (1800)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args()

    load_before = round(os.getloadavg()[0], 2)
    scratch = Path(tempfile.mkdtemp(prefix="bench-p3-"))
    redis_process = drop = None
    try:
        redis_process, redis_url = start_redis(scratch)
        database_url, drop = scratch_database(SERVER_URL, f"bench_p3_{os.getpid()}")
        env = {key: value for key, value in os.environ.items()
               if key not in ("FLASK_ENV", "MAILCHIMP_API_KEY", "MAILCHIMP_API_HOST")}
        env.update({"APP_ENV": "development", "SECRET_KEY": "statement-run-bench",
                    "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                    "RATELIMIT_STORAGE_URI": "memory://", "MAIL_BACKEND": "outbox",
                    "OUTBOX_DIR": str(scratch / "outbox"), "TIMEZONE": env.get("TIMEZONE", "UTC"),
                    "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
        os.environ.update(env)  # this process's app (and the job's, in Part A) reads the same settings

        from flask_migrate import upgrade

        import weasyprint
        from webapp import create_app
        from webapp.extensions import db

        app = create_app()
        started = time.perf_counter()
        with app.app_context():
            upgrade()
            source = populate(args.agents, args.sales, args.months, args.data)
            db.session.commit()
            db.session.remove()
        setup_s = time.perf_counter() - started
        print(f"setup ({source}): {setup_s:.1f} s")

        load = {"before_run": round(os.getloadavg()[0], 2)}
        run = run_statement_run(app, env, scratch, args)
        load["after_run"] = round(os.getloadavg()[0], 2)
        print(f"run: {run['statements']} statements in {run['wall_s']:.1f} s (issue {run['issue_s']:.1f} s)")
        htmls = statement_htmls(app, run["run_id"])
        with app.app_context():
            db.engine.dispose()
        baseline_s = pool_baseline(list(htmls.values()), args.workers)
        load["after_baseline"] = round(os.getloadavg()[0], 2)
        print(f"baseline: {len(htmls)} bare renders in Pool({args.workers}): {baseline_s:.1f} s")
        single = per_statement(run["run_id"], htmls, database_url, args.repeats)
        poll = run_page_poll(app, run["run_id"], database_url, max(args.repeats, 10))
    finally:
        if redis_process is not None:
            stop(redis_process)
        if drop is not None:
            drop()
        shutil.rmtree(scratch, ignore_errors=True)

    run["baseline_pool_s"] = round(baseline_s, 2)
    run["baseline_statements_per_s"] = round(len(htmls) / baseline_s, 2)
    run["ratio_wall_to_baseline"] = round(run["wall_s"] / baseline_s, 3)
    run["ratio_after_commit_to_baseline"] = round(run["after_commit_s"] / baseline_s, 3)
    report = {
        "benchmark": "P3: a period's statement run through `python -m jobs worker` processes (issue, "
                     "render, email to the outbox) vs bare WeasyPrint renders of the same HTML in a Pool; "
                     "and the render job for one statement vs bare WeasyPrint",
        "agents": args.agents, "workers": args.workers, "sales": args.sales, "months": args.months,
        "data": source, "setup_s": round(setup_s, 1), "repeats": args.repeats,
        "worker_command": "python -m jobs worker" + (f" --max-rss-mb {args.max_rss_mb}"
                                                     if args.max_rss_mb is not None else ""),
        "per_statement": single,
        "run": run,
        "run_page_poll": poll,
        "weasyprint": weasyprint.__version__,
        "load_average_1m_before": load_before,
        # Part B's run and its baseline are sequential, not interleaved: other work on the machine
        # during one and not the other moves the ratio (1-minute load averages around each).
        "load_average_1m_phases": load,
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}",
        "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    print(f"\nPart A: one statement ({single['sale_lines']} lines), "
          f"median of {args.repeats} interleaved runs")
    print(f"  render job {single['job_median_ms']:.1f} ms "
          f"({single['sql_statements_per_job']} SQL statements), "
          f"bare WeasyPrint {single['bare_median_ms']:.1f} ms: job/bare {single['ratio_job_to_bare']:.3f} "
          f"(min ratio {single['ratio_min_job_to_bare']:.3f})")
    print(f"  then its email job {single['email_job_median_ms']:.1f} ms "
          f"({single['sql_statements_per_email_job']} SQL statements): "
          f"render + email / bare {single['ratio_job_and_email_to_bare']:.3f}")
    print(f"Part B: {run['statements']} statements ({run['period']}) through {args.workers} workers")
    print(f"  issue (start_period_run + commit) {run['issue_s']:.1f} s, "
          f"{run['issue_sql_statements']} SQL statements")
    print(f"  wall {run['wall_s']:.1f} s to every PDF and email "
          f"({run['statements_per_s']:.2f} statements/s); after the commit {run['after_commit_s']:.1f} s")
    print(f"  baseline Pool({args.workers}) bare renders {baseline_s:.1f} s "
          f"({run['baseline_statements_per_s']:.2f}/s): ratio {run['ratio_wall_to_baseline']:.2f} "
          f"(after the commit only: {run['ratio_after_commit_to_baseline']:.2f})")
    for name, figures in run["worker_jobs"].items():
        print(f"  in the workers: {name} x{figures['jobs']}, median {figures['median_ms']:.0f} ms, "
              f"total {figures['total_s']:.0f} s")
    memory = run["worker_memory"]
    print(f"  worker memory: peak {memory['peak_mb']} MB RSS, re-execs {memory['reexecs']}; per worker "
          + "; ".join(f"ready {w['ready_mb']} peak {w['peak_mb']} end {w['end_mb']} MB, quarter peaks "
                      f"{w['quarter_peaks_mb']}" for w in memory["workers"]))
    print(f"  verified: {run['verified']}")
    print(f"  run page poll (admin, {poll['statements']} statements, {poll['rows_shown']} rows shown): "
          f"{poll['app_median_ms']:.1f} ms ({poll['sql_statements_per_poll']} SQL statements, "
          f"{poll['fragment_bytes']:,} bytes) vs bare counts {poll['bare_median_ms']:.2f} ms: "
          f"{poll['ratio_app_to_bare']:.2f}x")
    print(f"load average {load_before} -> {report['load_average_1m_after']} on {os.cpu_count()} CPUs")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
