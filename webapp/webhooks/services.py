"""Webhook endpoints, events and deliveries: registering endpoints, collecting events from the
audit log, sending them signed with retries, the delivery log and "send again"."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
from sqlalchemy import and_, delete, exists, func, insert, or_, select, text

from webapp import clock
from webapp.audit.models import AuditEvent
from webapp.audit.services import record
from webapp.errors import FieldErrors, NotFound, ServiceError, get_or_404
from webapp.extensions import db
from webapp.formtools import check_plain_text
from webapp.money import from_cents
from webapp.tasks import enqueue_after_commit
from webapp.webhooks import signing
from webapp.webhooks.catalog import BY_ACTION, BY_NAME, EventType
from webapp.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent

QUEUE = "webhooks"
# Audit events this recent are looked at again by each collection, besides every one after the
# last collected. Events are copied once each (unique source_id); the window only has to outlast
# the longest transaction (a job step: 10 minutes): its audit rows get their ids (and times) as
# it runs, but are seen only once it commits, maybe after rows with higher ids were collected.
COLLECT_WINDOW = timedelta(minutes=15)
COLLECT_BATCH = 2000
RETENTION = timedelta(days=30)  # events (and their deliveries) older than this are deleted
# Seconds to wait after the 1st, 2nd, ... failure; the failure after the last gives up: about 23
# hours after the first attempt, so a receiver down for most of a day still gets everything.
BACKOFF = (60, 5 * 60, 30 * 60, 2 * 3600, 6 * 3600, 14 * 3600)
SEND_BUDGET = 30  # seconds one job sends for; what is still due then waits for the next tick
# POST timeouts (connect, read). A delivery left `sending` longer than SENDING_ABANDONED_AFTER
# (its worker died) is sent again: well above the timeouts, so a slow POST is never sent twice.
TIMEOUT = (3.05, 10)
SENDING_ABANDONED_AFTER = timedelta(seconds=60)
RESPONSE_KEPT = 500  # characters of an answer (or error) kept in the log
USER_AGENT = "SalesTracking-Webhooks/1"
_COLLECT_LOCK = 0x5EB400C  # pg_advisory_xact_lock key: one collection at a time


# ---- Endpoints --------------------------------------------------------------------------------


def _checked_url(url: str | None) -> str:
    """The endpoint URL, refused unless it is an absolute http(s) URL without spaces."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if not url:
        raise ServiceError("Enter the URL that receives the events.", "url")
    if len(url) > 2000:
        raise ServiceError("Use a URL of at most 2,000 characters.", "url")
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise ServiceError("Enter a full http:// or https:// URL, such as https://crm.example.com/hooks.", "url")
    return url


def _checked_types(types: list[str] | None) -> str:
    """The event types as stored, refused when empty or naming an unknown type."""
    chosen = list(dict.fromkeys(types or []))
    unknown = [name for name in chosen if name not in BY_NAME]
    if unknown:
        raise ServiceError(f"Unknown event type: {', '.join(unknown)}.", "event_types")
    if not chosen:
        raise ServiceError("Choose at least one event type.", "event_types")
    return " ".join(name for name in BY_NAME if name in chosen)  # in the catalogue's order


def _checked_description(description: str | None) -> str | None:
    """The description, stripped (None when blank), at most 200 plain characters."""
    description = (description or "").strip() or None
    if description is not None:
        check_plain_text(description, "description")
        if len(description) > 200:
            raise ServiceError("Use at most 200 characters.", "description")
    return description


def _snapshot(endpoint: WebhookEndpoint) -> dict:
    """The audited fields of an endpoint (never its secret)."""
    return {"url": endpoint.url, "description": endpoint.description, "event_types": endpoint.event_types,
            "active": endpoint.active}


def create_endpoint(actor, *, url: str | None, event_types: list[str] | None,
                    description: str | None = None) -> WebhookEndpoint:
    """Register an endpoint with a new signing secret; it receives events from now on."""
    errors = []
    checked = {}
    for name, check, value in (("url", _checked_url, url), ("event_types", _checked_types, event_types),
                               ("description", _checked_description, description)):
        try:
            checked[name] = check(value)
        except ServiceError as exc:
            errors.append(exc)
    if errors:
        raise FieldErrors(errors)
    endpoint = WebhookEndpoint(url=checked["url"], event_types=checked["event_types"],
                               description=checked["description"], secret=signing.new_secret(), active=True,
                               created_by_id=actor.id)
    db.session.add(endpoint)
    db.session.flush()
    record(actor, "webhook.create", endpoint, None, _snapshot(endpoint))
    return endpoint


def update_endpoint(actor, endpoint: WebhookEndpoint, *, event_types: list[str] | None = None,
                    description: str | None = None, active: bool | None = None,
                    clear_description: bool = False) -> WebhookEndpoint:
    """Change an endpoint's event types, description or whether it receives events (None: unchanged)."""
    before = _snapshot(endpoint)
    if event_types is not None:
        endpoint.event_types = _checked_types(event_types)
    if description is not None or clear_description:
        endpoint.description = _checked_description(description)
    if active is not None:
        endpoint.active = active
    db.session.flush()
    if _snapshot(endpoint) != before:
        record(actor, "webhook.update", endpoint, before, _snapshot(endpoint))
    return endpoint


def get_endpoint(endpoint_id: int) -> WebhookEndpoint:
    """One endpoint (unknown: NotFound)."""
    return get_or_404(WebhookEndpoint, endpoint_id)


def endpoints_page(before_id: int | None = None, limit: int | None = None) -> list[WebhookEndpoint]:
    """Endpoints, newest first (before `before_id`, at most `limit`)."""
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.id.desc())
    if before_id is not None:
        query = query.where(WebhookEndpoint.id < before_id)
    return list(db.session.scalars(query.limit(limit)))


def delivery_counts(endpoint_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per endpoint, how many of its deliveries are in each status (one GROUP BY)."""
    counts: dict[int, dict[str, int]] = {endpoint_id: {} for endpoint_id in endpoint_ids}
    rows = db.session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
        .where(WebhookDelivery.endpoint_id.in_(endpoint_ids))
        .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status))
    for endpoint_id, status, count in rows:
        counts[endpoint_id][status] = count
    return counts


# ---- Deliveries and the event list ---------------------------------------------------------------


def deliveries_page(endpoint: WebhookEndpoint, *, status: str | None = None, before_event_id: int | None = None,
                    limit: int = 50) -> list[WebhookDelivery]:
    """An endpoint's deliveries, newest event first, with their events."""
    query = (select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
             .order_by(WebhookDelivery.event_id.desc()).limit(limit))
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before_event_id is not None:
        query = query.where(WebhookDelivery.event_id < before_event_id)
    found = list(db.session.scalars(query))
    _load_events(found)
    return found


def _load_events(deliveries: list[WebhookDelivery]) -> None:
    """Load the deliveries' events in one query (the log shows each one's type)."""
    ids = {delivery.event_id for delivery in deliveries}
    if ids:
        list(db.session.scalars(select(WebhookEvent).where(WebhookEvent.id.in_(ids))))


def get_delivery(endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery:
    """One delivery of the endpoint (another endpoint's, or none: NotFound)."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound()
    return delivery


def send_again(actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """Queue a delivery to be sent now with a fresh round of retries (one being sent now: 409)."""
    delivery = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery.id)
                                 .with_for_update())
    if delivery.status == DeliveryStatus.SENDING and not _abandoned(delivery, clock.now_utc()):
        raise ServiceError("This delivery is being sent right now; look again in a minute.", status=409)
    before = {"status": delivery.status}
    delivery.status, delivery.failures, delivery.next_attempt_at = DeliveryStatus.PENDING, 0, clock.now_utc()
    record(actor, "webhook.send_again", delivery, before, {"status": delivery.status, "event_id": delivery.event_id})
    db.session.flush()
    enqueue_after_commit(QUEUE, "jobs.webhooks.deliver_endpoint", delivery.endpoint_id)
    return delivery


def events_after(after_id: int | None, types: list[str] | None = None, limit: int = 100) -> list[WebhookEvent]:
    """Events after `after_id` (None: the oldest kept), oldest first: ids grow in commit order."""
    query = select(WebhookEvent).order_by(WebhookEvent.id).limit(limit)
    if after_id is not None:
        query = query.where(WebhookEvent.id > after_id)
    if types:
        query = query.where(WebhookEvent.type.in_(types))
    return list(db.session.scalars(query))


def payload(event: WebhookEvent) -> dict:
    """An event as it is delivered and listed."""
    return {"id": event.id, "type": event.type, "created_at": _iso(event.created_at), "data": event.data}


def _iso(moment: datetime) -> str:
    """An aware UTC time as ISO 8601 with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ---- Collecting events ------------------------------------------------------------------------


def _data(row: AuditEvent, kind: EventType) -> dict:
    """An event's payload from its audit event: the object, who did it, and the few fields a
    receiver routes on; the rest is read from the object's API path."""
    snapshot = row.after or row.before or {}
    data: dict = {"object": kind.name.split(".")[0], "id": row.object_id, "actor_id": row.actor_id}
    for key in ("agent_id", "status", "number", "period_id"):
        if key in snapshot:
            data[key] = snapshot[key]
    if "amount_cents" in snapshot:
        data["amount"] = str(from_cents(snapshot["amount_cents"]))
    if kind.name == "dispute.resolved":
        data["outcome"] = "accepted" if row.action == "dispute.accept" else "rejected"
    if kind.path is not None:
        data["url"] = kind.path.format(id=row.object_id)
    return data


def collect() -> int:
    """Copy new audit events that are webhook events into the event list and queue a delivery to
    every active endpoint subscribed to each; returns how many events. The caller commits."""
    if db.session.get_bind().dialect.name == "postgresql":
        # One collection at a time, until its commit: later ids then commit later, so a client
        # reading "after id N" can never miss an event that appears below N afterwards.
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _COLLECT_LOCK})
    # Everything after the last audit event collected (however long the clock was stopped), and
    # the recent window again for a transaction that committed after later ones.
    since = datetime.now(UTC) - COLLECT_WINDOW  # audit times are the database's, not the app clock's
    last = db.session.scalar(select(func.max(WebhookEvent.source_id)))
    fresh = AuditEvent.at >= since if last is None else or_(AuditEvent.id > last, AuditEvent.at >= since)
    rows = list(db.session.scalars(
        select(AuditEvent).where(fresh, AuditEvent.action.in_(list(BY_ACTION)),
                                 ~exists().where(WebhookEvent.source_id == AuditEvent.id))
        .order_by(AuditEvent.id).limit(COLLECT_BATCH)))
    if not rows:
        return 0
    events = [WebhookEvent(type=BY_ACTION[row.action].name, data=_data(row, BY_ACTION[row.action]),
                           source_id=row.id, created_at=row.at) for row in rows]
    db.session.add_all(events)
    db.session.flush()
    now = clock.now_utc()
    endpoints = list(db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active)))
    deliveries = [{"endpoint_id": endpoint.id, "event_id": event.id, "status": DeliveryStatus.PENDING,
                   "attempts": 0, "failures": 0, "next_attempt_at": now}
                  for event in events for endpoint in endpoints if event.type in endpoint.types]
    if deliveries:
        db.session.execute(insert(WebhookDelivery), deliveries)
    for endpoint_id in sorted({delivery["endpoint_id"] for delivery in deliveries}):
        enqueue_after_commit(QUEUE, "jobs.webhooks.deliver_endpoint", endpoint_id)
    return len(events)


def _due(now: datetime):
    """The condition of a delivery to send now: pending and due, or `sending` and abandoned."""
    return or_(and_(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= now),
               and_(WebhookDelivery.status == DeliveryStatus.SENDING,
                    WebhookDelivery.last_attempt_at <= now - SENDING_ABANDONED_AFTER))


def _abandoned(delivery: WebhookDelivery, now: datetime) -> bool:
    """True for a `sending` delivery whose worker must have died."""
    return delivery.last_attempt_at is None or delivery.last_attempt_at <= now - SENDING_ABANDONED_AFTER


def queue_due() -> int:
    """Queue a send job for every active endpoint with deliveries due (retries whose time came,
    sends a dead worker left, jobs Redis lost); returns how many endpoints. The caller commits."""
    endpoint_ids = list(db.session.scalars(
        select(WebhookEndpoint.id).where(WebhookEndpoint.active, exists().where(
            WebhookDelivery.endpoint_id == WebhookEndpoint.id, _due(clock.now_utc())))))
    for endpoint_id in endpoint_ids:
        enqueue_after_commit(QUEUE, "jobs.webhooks.deliver_endpoint", endpoint_id)
    return len(endpoint_ids)


def prune() -> int:
    """Delete events (with their deliveries) past RETENTION; returns how many. The caller commits."""
    cutoff = datetime.now(UTC) - RETENTION  # event times are the audit log's: the database's clock
    old = select(WebhookEvent.id).where(WebhookEvent.created_at < cutoff)
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(old)))
    return db.session.execute(delete(WebhookEvent).where(WebhookEvent.created_at < cutoff)).rowcount


# ---- Sending ----------------------------------------------------------------------------------


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
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookEndpoint.active, _due(now))
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
               "Sales-Tracking-Event-Id": str(event_id), signing.SIGNATURE_HEADER: signing.header(secret, body)}
    try:
        # A redirect is not followed: the body would be re-sent somewhere nobody registered.
        with requests.post(url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False,
                           stream=True) as response:
            start = response.raw.read(RESPONSE_KEPT, decode_content=True) or b""
            return response.status_code, start.decode("utf-8", "replace")[:RESPONSE_KEPT]
    except (requests.RequestException, OSError) as exc:
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
