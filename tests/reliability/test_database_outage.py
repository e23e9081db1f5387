"""The database goes away for a moment: requests fail cleanly, nothing is half-written, the app recovers.

A small TCP proxy in this test stands between the app and the CI PostgreSQL (the shared server on
5432 is never touched). The app runs in its own process (tests/reliability/outage_app.py) with
DATABASE_URL through the proxy. The proxy cuts every connection at the moment a sale request has
sent its INSERT INTO sales but not yet committed, then refuses new connections: that request and
the pages asked for meanwhile answer 503, no row of the sale survives, and once the proxy is back
the same process serves again (pool_pre_ping replaces the dead pooled connections).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from tests.support.processes import stop
from webapp.auth.tokens import create_token
from webapp.audit.models import AuditEvent
from webapp.catalog.models import Customer
from webapp.extensions import db
from webapp.sales.models import Sale

ROOT = Path(__file__).resolve().parents[2]
SOLD_ON = date.today() - timedelta(days=1)  # the app process runs on the real clock
TIMEOUT = 20  # seconds for one HTTP request


class Proxy:
    """A TCP proxy with a switch: cut (close every connection, refuse new ones) and restore.

    `cut_on(marker)` arms it to cut by itself when a client sends bytes containing `marker` (the
    marker is not forwarded). `seen` collects the watched statements that did reach the server.
    """

    WATCH = (b"INSERT INTO customers", b"INSERT INTO sales")

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.marker: bytes | None = None
        self.seen: list[bytes] = []
        self.cuts = 0
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()  # the database is "down": the connection is refused at once
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if from_client:
                    if self.marker is not None and self.marker in data:
                        self.cut()
                        break
                    self.seen.extend(watched for watched in self.WATCH if watched in data)
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._close(source, target)

    def _close(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with self._lock:
                self._sockets.discard(sock)
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def cut_on(self, marker: bytes) -> None:
        """Cut when a client next sends `marker`."""
        self.seen.clear()
        self.marker = marker

    def cut(self) -> None:
        """The outage: refuse new connections and drop every open one."""
        self.up, self.marker = False, None
        self.cuts += 1
        with self._lock:
            sockets = list(self._sockets)
        self._close(*sockets)

    def restore(self) -> None:
        """The database is back."""
        self.up = True

    def close(self) -> None:
        """Stop listening and drop everything."""
        self._closed = True
        self.cut()
        self.listener.close()


@pytest.fixture
def proxy(app):
    """A proxy in front of the test database's PostgreSQL."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL: the outage is a TCP proxy in front of a database server "
                    "(SQLite is a file in the app's own process)")
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    yield proxy
    proxy.close()


def _start_app(database_url: str, tmp_path: Path) -> tuple[subprocess.Popen, str]:
    """Run outage_app.py with DATABASE_URL through the proxy; returns the process and its base URL."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("APP_ENV", "FLASK_ENV", "BASE_URL", "TRUST_PROXY_HOPS")}
    env.update({
        "APP_ENV": "development", "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key",
        "TIMEZONE": "UTC", "CURRENCY": "USD", "MAIL_BACKEND": "outbox", "OUTBOX_DIR": str(tmp_path / "outbox"),
        "RATELIMIT_STORAGE_URI": "memory://",
        "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1"),
        "PYTHONUNBUFFERED": "1",
    })
    with (tmp_path / "outage_app.log").open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "tests.reliability.outage_app"], cwd=ROOT, env=env,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("LISTENING "):
            return process, line.split()[1]
        if not line and process.poll() is not None:
            break
    process.kill()
    pytest.fail(f"the outage app did not start:\n{(tmp_path / 'outage_app.log').read_text()}")


def _counts(engine, customer_name: str) -> dict[str, int]:
    """Committed rows that a sale request writes, read directly (not through the proxy)."""
    with engine.connect() as connection:
        return {
            "sales": connection.scalar(select(func.count()).select_from(Sale)),
            "customers": connection.scalar(select(func.count()).select_from(Customer)
                                           .where(Customer.name == customer_name)),
            "audit": connection.scalar(select(func.count()).select_from(AuditEvent)),
        }


@pytest.mark.fault
def test_requests_fail_cleanly_and_the_app_recovers(app, proxy, factory, committed, tmp_path):
    """Working -> outage mid-POST (503, nothing written) -> pages 503 -> proxy back -> working, same process."""
    agent = factory.user("agent")
    factory.assign(agent, factory.plan(base_rate="5", name=f"Outage {uuid.uuid4().hex[:8]}"))
    product = factory.product()
    _, token = create_token(agent, name="outage", scope="write")
    cookie = app.session_interface.get_signing_serializer(app).dumps({"_user_id": agent.get_id(), "_fresh": True})
    db.session.commit()

    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(host="127.0.0.1", port=proxy.port)
    process, base = _start_app(url.render_as_string(hide_password=False), tmp_path)
    try:
        web = requests.Session()
        web.cookies.set(app.config["SESSION_COOKIE_NAME"], cookie)
        api = {"Authorization": f"Bearer {token}"}
        customer = f"Outage Buyer {uuid.uuid4().hex[:8]}"
        body = {"product_id": product.id, "quantity": 1, "unit_price": "40.00", "sold_on": SOLD_ON.isoformat(),
                "customer_name": customer}
        key = {"Idempotency-Key": uuid.uuid4().hex}

        # Before: pages and the API work through the proxy.
        assert web.get(f"{base}/dashboard", timeout=TIMEOUT, allow_redirects=False).status_code == 200
        assert requests.get(f"{base}/api/v1/sales", headers=api, timeout=TIMEOUT).status_code == 200
        assert requests.get(f"{base}/healthz", timeout=TIMEOUT).status_code == 200
        before = _counts(committed, customer)

        # The outage starts in the middle of a sale: after its INSERT INTO sales reached the server,
        # at its next statement (the audit event), before any COMMIT.
        proxy.cut_on(b"INSERT INTO audit_events")
        response = requests.post(f"{base}/api/v1/sales", json=body, headers={**api, **key}, timeout=TIMEOUT)
        assert proxy.cuts == 1, f"the sale request never reached the audit insert: {response.status_code} {response.text}"
        assert b"INSERT INTO sales" in proxy.seen and b"INSERT INTO customers" in proxy.seen
        assert response.status_code == 503, response.text
        assert _counts(committed, customer) == before, "the interrupted sale left rows behind"

        # While the database is away: a clean 503 page, not a 500 or a hang.
        page = web.get(f"{base}/dashboard", timeout=TIMEOUT, allow_redirects=False)
        assert page.status_code == 503
        assert "text/html" in page.headers["Content-Type"]
        assert "cannot reach its database" in page.text
        assert "Traceback" not in page.text and "OperationalError" not in page.text
        listing = requests.get(f"{base}/api/v1/sales", headers=api, timeout=TIMEOUT)
        assert listing.status_code == 503 and listing.headers["Content-Type"].startswith("application/")
        assert requests.get(f"{base}/healthz", timeout=TIMEOUT).status_code == 503
        assert requests.post(f"{base}/api/v1/sales", json=body, headers={**api, **key},
                             timeout=TIMEOUT).status_code == 503
        assert _counts(committed, customer) == before

        # The database is back: the same process serves again, no restart.
        proxy.restore()
        assert web.get(f"{base}/dashboard", timeout=TIMEOUT, allow_redirects=False).status_code == 200
        assert requests.get(f"{base}/healthz", timeout=TIMEOUT).status_code == 200
        retried = requests.post(f"{base}/api/v1/sales", json=body, headers={**api, **key}, timeout=TIMEOUT)
        assert retried.status_code == 201, retried.text  # nothing was stored under the key before
        again = requests.post(f"{base}/api/v1/sales", json=body, headers={**api, **key}, timeout=TIMEOUT)
        assert again.status_code == 200 and again.json()["id"] == retried.json()["id"]
        after = _counts(committed, customer)
        assert (after["sales"], after["customers"]) == (before["sales"] + 1, 1)
        assert process.poll() is None, "the app process restarted or died"
    finally:
        stop(process)
