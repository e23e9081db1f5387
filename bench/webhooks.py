"""Benchmark: outgoing webhooks on PostgreSQL, collecting and sending, each beside a bare baseline.

Run from the repository root: `.venv/bin/python bench/webhooks.py [--events 2000] [--endpoints 3] [--repeats 5]`
(PostgreSQL: BENCH_DATABASE_URL, default the local server, where `bench_webhooks_<pid>` is created
and dropped).

- collect: `services.collect()` turning `--events` new audit events (one batch, as a bulk approval
  of that many sales leaves them) into events and a delivery per endpoint, with the collector's
  lock, its window and cursor queries and the payloads built in Python. Baseline: one bare
  `INSERT ... SELECT` copying the same audit rows into webhook_events (what the database must do).
- collect_idle: the same call when nothing is new (what the 10-second tick costs all day long).
  Baseline: `SELECT 1`.
- send: `sending.deliver_endpoint` posting 200 deliveries to a receiver on loopback (claim and
  commit, sign, POST, record and commit, each). Baseline: 200 bare `requests.post` of a body of
  the same size to the same receiver, a connection each as the sender makes them.

Every repetition starts from the same rows (events and deliveries deleted between measurements),
baselines interleaved. Prints milliseconds and ratios; writes bench/results/webhooks.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "webhooks-bench")

from bench.common import machine, print_rows, scratch_database, summarise, timed_ms, write_results  # noqa: E402
from bench.dataset import _flask, server_url  # noqa: E402

SENDS = 200


class _Ok(BaseHTTPRequestHandler):
    """A receiver that reads the body and answers 200."""

    def do_POST(self):  # noqa: N802  (http.server's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def _world(app, events: int, endpoints: int) -> str:
    """An admin, `endpoints` endpoints subscribed to sale.approved, and `events` sale.approve audit
    rows; returns the loopback receiver's URL (the endpoints' URL)."""
    from webapp.audit.models import AuditEvent
    from webapp.auth.models import Role, User
    from webapp.extensions import db
    from webapp.webhooks.services import create_endpoint

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    admin = User(email="admin@bench.example", name="Admin", role=Role.ADMIN, password_hash="-")
    db.session.add(admin)
    db.session.flush()
    for _ in range(endpoints):
        create_endpoint(admin, url=url, event_types=["sale.approved"])
    db.session.add_all(AuditEvent(actor_id=admin.id, action="sale.approve", object_type="Sale", object_id=n + 1,
                                  after={"agent_id": 1, "status": "approved", "amount_cents": 125_000})
                       for n in range(events))
    db.session.commit()
    return url


def _reset() -> None:
    """Delete every event and delivery, committed: the next repetition starts from the same rows."""
    from sqlalchemy import text

    from webapp.extensions import db

    db.session.execute(text("DELETE FROM webhook_deliveries"))
    db.session.execute(text("DELETE FROM webhook_events"))
    db.session.commit()


def main() -> None:
    """Measure, print and write the results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--endpoints", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    url, drop = scratch_database(server_url(), f"bench_webhooks_{os.getpid()}")
    try:
        _flask(url, "db", "upgrade")
        report = _measure(url, args)
    finally:
        drop()
    print_rows(report["results"])
    write_results("webhooks", report)


def _measure(url: str, args) -> dict:
    """Every measurement, baselines interleaved."""
    import fakeredis
    import requests
    from sqlalchemy import func, select, text, update

    from webapp import create_app
    from webapp.extensions import db
    from webapp.webhooks import sending, services
    from webapp.webhooks.models import WebhookDelivery, WebhookEndpoint

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_CLIENT": fakeredis.FakeRedis(),
                      "RATELIMIT_STORAGE_URI": "memory://", "WEBHOOK_PRIVATE_TARGETS": True})
    with app.app_context():
        receiver = _world(app, args.events, args.endpoints)
    copy = text("INSERT INTO webhook_events (type, data, source_id, created_at) "
                "SELECT 'sale.approved', after, id, at FROM audit_events WHERE action = 'sale.approve'")
    samples: dict[str, list[float]] = {name: [] for name in (
        "collect", "collect_baseline", "collect_idle", "collect_idle_baseline", "send", "send_baseline")}
    checked = {}
    with app.app_context():
        for _ in range(args.repeats):
            elapsed, checked["events"] = timed_ms(services.collect)
            db.session.commit()
            samples["collect"].append(elapsed)
            checked["deliveries"] = db.session.scalar(select(func.count()).select_from(WebhookDelivery))
            samples["collect_idle"].append(timed_ms(services.collect)[0])
            db.session.commit()
            samples["collect_idle_baseline"].append(timed_ms(lambda: db.session.execute(text("SELECT 1")))[0])
            db.session.commit()
            _reset()
            samples["collect_baseline"].append(timed_ms(lambda: db.session.execute(copy))[0])
            db.session.commit()
            _reset()

            services.collect()
            endpoint_id = db.session.scalar(select(WebhookEndpoint.id).order_by(WebhookEndpoint.id))
            # Only the first SENDS of this endpoint's deliveries are due; the rest wait an hour.
            first = select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint_id) \
                .order_by(WebhookDelivery.event_id).limit(SENDS)
            db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id.not_in(first)).values(
                next_attempt_at=func.now() + text("interval '1 hour'")))
            db.session.commit()
            elapsed, checked["sent"] = timed_ms(lambda: sending.deliver_endpoint(endpoint_id, budget=600))
            samples["send"].append(elapsed)
            _reset()
            body = (b'{"id":1,"type":"sale.approved","created_at":"2026-12-07T12:00:00Z",'
                    b'"data":{"object":"sale","id":1}}')
            # As the sender posts: a connection per POST (deliveries go to many hosts, none kept open).
            samples["send_baseline"].append(timed_ms(lambda: [requests.post(receiver, data=body, timeout=10)
                                                              for _ in range(SENDS)])[0])
    assert checked["events"] == args.events and checked["deliveries"] == args.events * args.endpoints, checked
    assert checked["sent"] == SENDS, checked
    results = {name: summarise(samples[name], samples[f"{name}_baseline"])
               for name in ("collect", "collect_idle", "send")}
    results["send"]["per_delivery_ms"] = round(results["send"]["median_ms"] / SENDS, 2)
    return {"machine": machine(), "events": args.events, "endpoints": args.endpoints, "sends": SENDS,
            "repeats": args.repeats, "results": results,
            "baselines": {name: summarise(samples[f"{name}_baseline"], None)
                          for name in ("collect", "collect_idle", "send")}}


if __name__ == "__main__":
    main()
