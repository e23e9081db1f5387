"""Faults in the middle of a statement run, with real processes: the worker killed with SIGKILL,
and Redis restarted empty. After recovery (the worker restarted, the dispatcher and the email sweep
run once, as the scheduler would run them) every statement is rendered and delivered exactly once.

Each test has its own SQLite database (migrated and seeded by a child process, since the worker
must open a committed database), its own outbox folder and its own redis-server: the shared
services are never touched.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue

from tests.jobs.support import ROOT, free_port, python, stop_process, wait_for_redis

pytestmark = [pytest.mark.fault, pytest.mark.worker]

AGENTS = 6

# Run in a child process: migrate the database, make six agents with a sale each in the last period
# that has ended, and issue that period's statements. The commit enqueues one render job per
# statement. (An older period would leave the dispatcher every later one to issue as well.)
SEED = f"""
from datetime import date, timedelta
from decimal import Decimal

from flask_migrate import upgrade

from webapp import clock, create_app
from webapp.auth.models import User
from webapp.catalog.models import Category, Customer, Product
from webapp.commissions.periods import period_for
from webapp.commissions.assignments import assign_plan
from webapp.commissions.plans import PlanRules, create_plan
from webapp.extensions import db
from webapp.sales.services import SaleInput, approve_sale, create_sale
from webapp.statements.services import start_period_run

app = create_app()
with app.app_context():
    upgrade()
    manager = User(email="manager@faults.test", name="Maria Manager", role="manager", password_hash="-")
    db.session.add(manager)
    db.session.flush()
    category = Category(code="medical", name="Medical")
    db.session.add(category)
    db.session.flush()
    product = Product(sku="MED-100", name="Patient monitor", category_id=category.id, list_price_cents=100000)
    customer = Customer(name="Northwind Clinics")
    db.session.add_all([product, customer])
    plan = create_plan(None, name="Flat 3%", description=None, rules=PlanRules(base_rate=Decimal("3")),
                       effective_from=date(2000, 1, 1))
    last_ended = period_for(period_for(clock.today()).start_date - timedelta(days=1))
    for n in range({AGENTS}):
        agent = User(email=f"agent{{n}}@faults.test", name=f"Agent {{n}}", role="agent", password_hash="-",
                     manager_id=manager.id)
        db.session.add(agent)
        db.session.flush()
        assign_plan(None, agent_id=agent.id, plan_id=plan.id, effective_from=date(2000, 1, 1))
        sale, _ = create_sale(agent, SaleInput(product_id=product.id, quantity=1,
                                               unit_price=Decimal(1000 + n), sold_on=last_ended.start_date,
                                               customer_id=customer.id), idempotency_key=f"{{n:032x}}")
        approve_sale(manager, sale)
    db.session.commit()
    start_period_run(None, last_ended)
    db.session.commit()
"""


# What the passing of SENDING_ABANDONED_AFTER does to the sends a kill interrupted: run in a child
# process against the test's database (the clock of the workers is the real one).
AGE_INTERRUPTED_SENDS = """
from datetime import timedelta

from webapp import create_app
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import SENDING_ABANDONED_AFTER

app = create_app()
with app.app_context():
    for email in db.session.query(OutgoingEmail).filter_by(status="sending"):
        email.sending_since -= SENDING_ABANDONED_AFTER + timedelta(seconds=1)
    db.session.commit()
"""


class Setup:
    """One test's private world: database file, outbox folder, redis-server, environment."""

    def __init__(self, tmp_path: Path):
        """Name everything under `tmp_path` and pick a free port; nothing is started yet."""
        self.tmp_path = tmp_path
        self.database = tmp_path / "faults.db"
        self.outbox = tmp_path / "outbox"
        self.port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.port}/0"
        self.redis_process: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.env = {key: value for key, value in os.environ.items()
                    if key not in ("REDIS_URL", "DATABASE_URL", "OUTBOX_DIR", "TIMEZONE", "FLASK_ENV")}
        self.env.update({
            "APP_ENV": "development", "SECRET_KEY": "fault-tests", "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1", "DATABASE_URL": f"sqlite:///{self.database}",
            "REDIS_URL": self.redis_url, "RATELIMIT_STORAGE_URI": "memory://", "TIMEZONE": "UTC",
            "MAIL_BACKEND": "outbox", "OUTBOX_DIR": str(self.outbox),
        })

    def start_redis(self) -> None:
        """Start (or restart, empty) this test's redis-server on its fixed port."""
        self.redis_process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp_path), "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_redis(self.redis_url, self.redis_process)

    def kill_redis(self) -> None:
        """SIGKILL the redis-server: everything in it is gone (no persistence)."""
        self.redis_process.kill()
        self.redis_process.wait()

    def seed(self) -> None:
        """Migrate and seed the database in a child process (its commit enqueues the renders)."""
        result = subprocess.run([python(), "-c", SEED], cwd=ROOT, env=self.env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, f"seed failed:\n{result.stdout}\n{result.stderr}"

    def start_worker(self) -> subprocess.Popen:
        """A long-running worker in its own process group (so its work horse can be killed with it)."""
        # The child keeps its own copy of the log file's descriptor.
        with open(self.tmp_path / f"worker-{len(self.workers)}.log", "w") as log:
            worker = subprocess.Popen([python(), "-m", "jobs", "worker"], cwd=ROOT, env=self.env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        self.workers.append(worker)
        return worker

    def let_interrupted_sends_age(self) -> None:
        """Time passes: a send the kill interrupted is now older than the abandoned threshold, as
        `email-reconcile` finds it about a minute later (without this the test would wait 45 s)."""
        result = subprocess.run([python(), "-c", AGE_INTERRUPTED_SENDS], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"ageing failed:\n{result.stdout}\n{result.stderr}"

    def run_burst_worker(self) -> None:
        """A worker that works until every queue is empty, then exits."""
        result = subprocess.run([python(), "-m", "jobs", "worker", "--burst"], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"worker failed:\n{result.stdout}\n{result.stderr}"

    def tick(self) -> None:
        """What the scheduler does: queue the dispatcher, the email sweep and the email reconcile."""
        connection = Redis.from_url(self.redis_url)
        periodic = Queue("periodic", connection=connection)
        periodic.enqueue("jobs.statements.dispatch")
        periodic.enqueue("jobs.mail.dispatch_pending")
        periodic.enqueue("jobs.mail.reconcile_abandoned")
        connection.close()

    def query(self, sql: str) -> list[tuple]:
        """Read the test's database (a short-lived connection; the worker may be writing)."""
        connection = sqlite3.connect(self.database, timeout=10)
        try:
            return connection.execute(sql).fetchall()
        finally:
            connection.close()

    def rendered(self) -> int:
        """How many statements have their PDF."""
        return self.query("SELECT count(*) FROM statements WHERE status = 'rendered'")[0][0]

    def sent(self) -> int:
        """How many statement emails are recorded as sent."""
        return self.query("SELECT count(*) FROM outgoing_emails WHERE status = 'sent'"
                          " AND statement_id IS NOT NULL")[0][0]

    def wait_for(self, condition, timeout: float, what: str) -> None:
        """Poll until `condition()` holds, failing with `what` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; worker log:\n{self.worker_logs()}")
            time.sleep(0.02)

    def worker_logs(self) -> str:
        """The worker processes' output, for failure messages."""
        return "\n".join(path.read_text() for path in sorted(self.tmp_path.glob("worker-*.log")))

    def outbox_keys(self) -> Counter:
        """How many complete statement messages the outbox holds per email key (the agents' plan
        documents, issued by their assignments, are emailed too; they are not what is counted here)."""
        keys = Counter()
        for meta in self.outbox.glob("*/message.json"):
            key = json.loads(meta.read_text())["metadata"]["email_key"]
            if key.startswith("statement:"):
                keys[key] += 1
        return keys

    def stop(self) -> None:
        """Kill whatever this test started that is still running."""
        for worker in self.workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        if self.redis_process is not None:
            stop_process(self.redis_process)


@pytest.fixture
def world(tmp_path):
    """A private database, outbox and redis-server, seeded with one issued period run."""
    setup = Setup(tmp_path)
    setup.start_redis()
    try:
        setup.seed()
        assert setup.rendered() == 0
        assert Queue("default", connection=Redis.from_url(setup.redis_url)).count == AGENTS
        yield setup
    finally:
        setup.stop()


def assert_each_statement_delivered_once(world: Setup) -> None:
    """Every statement rendered with its PDF, every email sent, one outbox message per email."""
    statements = world.query("SELECT id, status, pdf_sha256 FROM statements ORDER BY id")
    assert len(statements) == AGENTS
    assert all(status == "rendered" and sha for _, status, sha in statements), statements
    emails = world.query("SELECT key, status, statement_id FROM outgoing_emails WHERE statement_id IS NOT NULL"
                         " ORDER BY id")
    assert sorted(statement_id for _, _, statement_id in emails) == [s[0] for s in statements]
    assert [status for _, status, _ in emails] == ["sent"] * AGENTS, emails
    assert world.outbox_keys() == Counter({key: 1 for key, _, _ in emails}), "each emailed exactly once"


def test_a_worker_killed_mid_run_leaves_every_statement_delivered_once_after_restart(world):
    worker = world.start_worker()
    world.wait_for(lambda: world.rendered() >= 2, timeout=60, what="two statements to be rendered")
    # The whole process group: the worker and the work horse it forked for the current job, as
    # when the machine or the container dies.
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    done_at_kill = world.rendered()
    assert done_at_kill < AGENTS, "the worker finished before the kill: nothing was interrupted"
    assert len(world.outbox_keys()) < AGENTS

    # A send the kill caught between its `sending` commit and its `sent` commit waits for the
    # abandoned threshold, then is looked up in the outbox before any resend.
    world.let_interrupted_sends_age()
    world.tick()
    world.run_burst_worker()

    assert_each_statement_delivered_once(world)


def test_redis_restarted_empty_mid_run_loses_nothing(world):
    worker = world.start_worker()
    world.wait_for(lambda: world.rendered() >= 2, timeout=60, what="two statements to be rendered")
    world.kill_redis()  # queued renders and deliveries are gone with it
    world.start_redis()
    assert Queue("default", connection=Redis.from_url(world.redis_url)).count == 0
    assert world.rendered() < AGENTS, "the run finished before Redis went away: nothing was lost"

    world.tick()  # the scheduler's next tick finds the lost work in the database
    deadline = time.monotonic() + 60
    while world.sent() < AGENTS:
        # RQ's worker reconnects when Redis goes away while it waits for work, but exits when it
        # was busy with a job; the supervisor (compose's `restart: unless-stopped`) starts it again.
        if worker.poll() is not None:
            worker = world.start_worker()
        if time.monotonic() > deadline:
            pytest.fail(f"not every statement email was sent; worker logs:\n{world.worker_logs()}")
        time.sleep(0.05)

    assert_each_statement_delivered_once(world)
