"""Webhook endpoints, events and deliveries: registering endpoints, collecting events from the
audit log, the delivery log and "send again" (sending itself: webapp/webhooks/sending.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, exists, func, insert, or_, select, text
from sqlalchemy.orm import selectinload
from urllib3.util import parse_url

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
from webapp.webhooks.sending import QUEUE, ResolveTimeout, abandoned, private_address

# Audit events this recent are looked at again by each collection, besides every one after the
# last collected. Events are copied once each (unique source_id); the window only has to outlast
# the longest transaction (a job step: 10 minutes): its audit rows get their ids (and times) as
# it runs, but are seen only once it commits, maybe after rows with higher ids were collected.
COLLECT_WINDOW = timedelta(minutes=15)
COLLECT_BATCH = 2000
RETENTION = timedelta(days=30)  # events (and their deliveries) older than this are deleted
_COLLECT_LOCK = 0x5EB400C  # pg_advisory_xact_lock key: one collection at a time


# ---- Endpoints --------------------------------------------------------------------------------


def _checked_url(url: str | None) -> str:
    """The endpoint URL, refused unless it is an absolute http(s) URL (without spaces) that the
    HTTP client can send to, and (where private targets are not allowed) not inside the network."""
    url = (url or "").strip()
    if not url:
        raise ServiceError("Enter the URL that receives the events.", "url")
    if len(url) > 2000:
        raise ServiceError("Use a URL of at most 2,000 characters.", "url")
    try:
        parts = urlsplit(url)
        # What requests will parse when sending (it refuses hosts urlsplit lets through, e.g. "a..b").
        host = parse_url(url).host
    except ValueError:
        parts = host = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not host
            or ".." in host or any(c.isspace() for c in url)):
        raise ServiceError("Enter a full http:// or https:// URL, such as https://crm.example.com/hooks.", "url")
    if not current_app.config.get("WEBHOOK_PRIVATE_TARGETS"):
        try:
            found = private_address(parts.hostname)
        except ResolveTimeout:
            # The request does not wait on a slow resolver: the check before each send is the one
            # that counts (an address inside the network is never posted to).
            found = None
        if found:
            raise ServiceError(f"This URL leads inside your network ({found}); use the receiver's public address.",
                               "url")
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
             .options(selectinload(WebhookDelivery.event))  # the log shows each one's type: one query
             .order_by(WebhookDelivery.event_id.desc()).limit(limit))
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before_event_id is not None:
        query = query.where(WebhookDelivery.event_id < before_event_id)
    return list(db.session.scalars(query))


def get_delivery(endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery:
    """One delivery of the endpoint (another endpoint's, or none: NotFound)."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound()
    return delivery


def send_again(actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """Queue a delivery to be sent now with a fresh round of retries (one being sent now: 409)."""
    # populate_existing: the row as it is now, not as the caller loaded it (a worker may have claimed it since).
    delivery = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery.id)
                                 .with_for_update().execution_options(populate_existing=True))
    if delivery.status == DeliveryStatus.SENDING and not abandoned(delivery, clock.now_utc()):
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


# ---- Collecting events ------------------------------------------------------------------------


def _data(row, kind: EventType) -> dict:
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
    # Rows and bulk inserts rather than ORM objects: a batch is thousands of events (a bulk approval).
    rows = db.session.execute(
        select(AuditEvent.id, AuditEvent.action, AuditEvent.object_id, AuditEvent.actor_id, AuditEvent.before,
               AuditEvent.after, AuditEvent.at)
        .where(fresh, AuditEvent.action.in_(list(BY_ACTION)), ~exists().where(WebhookEvent.source_id == AuditEvent.id))
        .order_by(AuditEvent.id).limit(COLLECT_BATCH)).all()
    if not rows:
        return 0
    events = db.session.execute(
        insert(WebhookEvent).returning(WebhookEvent.id, WebhookEvent.type, sort_by_parameter_order=True),
        [{"type": BY_ACTION[row.action].name, "data": _data(row, BY_ACTION[row.action]), "source_id": row.id,
          "created_at": row.at} for row in rows]).all()
    now = clock.now_utc()
    endpoints = [(endpoint_id, set(types.split())) for endpoint_id, types in db.session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(WebhookEndpoint.active))]
    deliveries = [{"endpoint_id": endpoint_id, "event_id": event.id, "status": DeliveryStatus.PENDING,
                   "attempts": 0, "failures": 0, "next_attempt_at": now}
                  for event in events for endpoint_id, types in endpoints if event.type in types]
    if deliveries:
        db.session.execute(insert(WebhookDelivery), deliveries)
    for endpoint_id in sorted({delivery["endpoint_id"] for delivery in deliveries}):
        enqueue_after_commit(QUEUE, "jobs.webhooks.deliver_endpoint", endpoint_id)
    return len(events)


def prune() -> int:
    """Delete events (with their deliveries) past RETENTION; returns how many. The caller commits."""
    cutoff = datetime.now(UTC) - RETENTION  # event times are the audit log's: the database's clock
    # The newest event stays, however old: collect() goes on after its source_id.
    newest = db.session.scalar(select(func.max(WebhookEvent.id)))
    old = select(WebhookEvent.id).where(WebhookEvent.created_at < cutoff, WebhookEvent.id != newest)
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(old)))
    return db.session.execute(delete(WebhookEvent).where(WebhookEvent.created_at < cutoff,
                                                         WebhookEvent.id != newest)).rowcount
