"""Sending webhook deliveries: what is due, claiming one before its POST, signing, recording the
answer and the backoff; and what a delivery looks like (the event's payload)."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
from flask import current_app
from sqlalchemy import and_, exists, or_, select

from webapp import clock
from webapp.extensions import db
from webapp.tasks import enqueue_after_commit
from webapp.webhooks import signing
from webapp.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent

QUEUE = "webhooks"
# Seconds to wait after the 1st, 2nd, ... failure; the failure after the last gives up: about 23
# hours after the first attempt, so a receiver down for most of a day still gets everything.
BACKOFF = (60, 5 * 60, 30 * 60, 2 * 3600, 6 * 3600, 14 * 3600)
SEND_BUDGET = 30  # seconds one job sends for; what is still due then waits for the next tick
# POST timeouts (connect, read: each per socket operation, so a trickling answer can take longer).
# A delivery left `sending` longer than SENDING_ABANDONED_AFTER (its worker died) is sent again:
# longer than the webhooks queue's job timeout (2 minutes, webapp/tasks.py), after which RQ has
# stopped any job still posting it, so one delivery is never being sent by two jobs at once.
TIMEOUT = (3.05, 10)
SENDING_ABANDONED_AFTER = timedelta(minutes=3)
RESPONSE_KEPT = 500  # characters of an answer (or error) kept in the log
USER_AGENT = "SalesTracking-Webhooks/1"
EVENT_ID_HEADER = "Sales-Tracking-Event-Id"
RESOLVE_TIMEOUT = 2.0  # seconds the private-address check waits for DNS
resolve = socket.getaddrinfo  # the resolver the check asks (a test gives it a slow one)


class ResolveTimeout(Exception):
    """The host name did not resolve within RESOLVE_TIMEOUT."""


def private_address(host: str) -> str | None:
    """The first private, loopback, link-local or reserved address `host` resolves to (None: none,
    or it does not resolve: the POST then says so); ResolveTimeout when the resolver takes longer
    than RESOLVE_TIMEOUT."""
    # In a thread of its own, waited for a bounded time: getaddrinfo cannot be interrupted, and a
    # slow resolver (seconds per attempt, several attempts) would hold a request or a send job that
    # long. A daemon thread, not a pool: a pool's threads do not survive a worker's fork.
    answer: list = []

    def lookup() -> None:
        """Resolve the host; the addresses, or the error, go to `answer`."""
        try:
            answer.append(resolve(host, None, proto=socket.IPPROTO_TCP))
        except (OSError, UnicodeError) as exc:
            answer.append(exc)

    thread = threading.Thread(target=lookup, name="webhook-dns", daemon=True)
    thread.start()
    thread.join(RESOLVE_TIMEOUT)
    if not answer:
        raise ResolveTimeout(host)
    if isinstance(answer[0], Exception):
        return None
    for info in answer[0]:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            return str(address)
    return None


def payload(event: WebhookEvent) -> dict:
    """An event as it is delivered and listed."""
    return {"id": event.id, "type": event.type, "created_at": _iso(event.created_at), "data": event.data}


def _iso(moment: datetime) -> str:
    """An aware UTC time as ISO 8601 with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def due(now: datetime):
    """The condition of a delivery to send now: pending and due, or `sending` and abandoned."""
    return or_(and_(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= now),
               and_(WebhookDelivery.status == DeliveryStatus.SENDING,
                    WebhookDelivery.last_attempt_at <= now - SENDING_ABANDONED_AFTER))


def abandoned(delivery: WebhookDelivery, now: datetime) -> bool:
    """True for a `sending` delivery whose worker must have died."""
    return delivery.last_attempt_at is None or delivery.last_attempt_at <= now - SENDING_ABANDONED_AFTER


def queue_due() -> int:
    """Queue a send job for every active endpoint with deliveries due (retries whose time came,
    sends a dead worker left, jobs Redis lost); returns how many endpoints. The caller commits."""
    endpoint_ids = list(db.session.scalars(
        select(WebhookEndpoint.id).where(WebhookEndpoint.active, exists().where(
            WebhookDelivery.endpoint_id == WebhookEndpoint.id, due(clock.now_utc())))))
    for endpoint_id in endpoint_ids:
        enqueue_after_commit(QUEUE, "jobs.webhooks.deliver_endpoint", endpoint_id)
    return len(endpoint_ids)


def deliver_endpoint(endpoint_id: int, *, budget: float = SEND_BUDGET) -> int:
    """Send an endpoint's due deliveries, oldest event first, for about `budget` seconds and until
    one fails; returns how many were attempted. Each is claimed (`sending`, committed) before its
    POST, so a duplicate job skips it; what is still due afterwards is queued by the next tick."""
    started, attempted = time.monotonic(), 0
    while time.monotonic() - started < budget:
        claimed = _claim(endpoint_id)
        if claimed is None:
            break
        delivery_id, url, secret, event_id, body = claimed
        status, answer = _post(url, secret, event_id, body)
        attempted += 1
        if not _record(delivery_id, status, answer):
            # The receiver is down or refusing: the rest wait for the next tick (10 s) rather
            # than all failing at once, each into its own backoff.
            break
    return attempted


def _claim(endpoint_id: int) -> tuple[int, str, str, int, bytes] | None:
    """Mark the endpoint's next due delivery `sending` and commit; its id, the URL, secret, event
    id and body to POST (None: nothing is due, or the endpoint was disabled)."""
    now = clock.now_utc()
    delivery = db.session.scalar(
        select(WebhookDelivery).join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookEndpoint.active, due(now))
        .order_by(WebhookDelivery.event_id).limit(1).with_for_update(skip_locked=True, of=WebhookDelivery))
    if delivery is None:
        db.session.commit()  # ends the (read-only) transaction, as each claim does
        return None
    delivery.status, delivery.attempts, delivery.last_attempt_at = (
        DeliveryStatus.SENDING, delivery.attempts + 1, now)
    claimed = (delivery.id, delivery.endpoint.url, delivery.endpoint.secret, delivery.event_id,
               json.dumps(payload(delivery.event), separators=(",", ":")).encode())
    db.session.commit()
    return claimed


def _post(url: str, secret: str, event_id: int, body: bytes) -> tuple[int | None, str]:
    """POST one signed event; the answer's status (None: no answer) and the start of its body or the error."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               EVENT_ID_HEADER: str(event_id), signing.SIGNATURE_HEADER: signing.header(secret, body)}
    host = urlsplit(url).hostname or ""
    if not current_app.config.get("WEBHOOK_PRIVATE_TARGETS"):
        # Checked again at each send: the name may resolve elsewhere than when it was registered.
        try:
            found = private_address(host)
        except ResolveTimeout:
            # Unchecked is not sent: retried after the backoff, as any attempt without an answer.
            return None, f"Not sent: {host} did not resolve within {RESOLVE_TIMEOUT:g} s."
        if found:
            return None, f"Not sent: {host} resolves to {found}, inside the network (WEBHOOK_PRIVATE_TARGETS)."
    try:
        # A redirect is not followed: the body would be re-sent somewhere nobody registered.
        with requests.post(url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False,
                           stream=True) as response:
            start = response.raw.read(RESPONSE_KEPT, decode_content=True) or b""
            return response.status_code, start.decode("utf-8", "replace")[:RESPONSE_KEPT]
    except Exception as exc:  # noqa: BLE001  (any failure to send is an answer-less attempt, retried)
        return None, f"{type(exc).__name__}: {exc}"[:RESPONSE_KEPT]


def _record(delivery_id: int, status: int | None, answer: str) -> bool:
    """Store an attempt's answer: delivered on a 2xx, else a retry after the backoff, or failed
    after the last one; commits, and returns True when it was delivered."""
    delivery = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update())
    delivery.last_status, delivery.last_response = status, answer
    if status is not None and 200 <= status < 300:
        delivery.status, delivery.failures, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, 0, None
    else:
        delivery.failures += 1
        if delivery.failures > len(BACKOFF):
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            delivery.status = DeliveryStatus.PENDING
            delivery.next_attempt_at = clock.now_utc() + timedelta(seconds=BACKOFF[delivery.failures - 1])
    db.session.commit()
    return delivery.status == DeliveryStatus.SUCCEEDED
