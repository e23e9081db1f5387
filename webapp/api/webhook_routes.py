"""API v1 webhooks (admins, as on the webhooks page): endpoints, their delivery log and "send
again", and the event list a client catches up with. The rules are the webhooks service's."""

from __future__ import annotations

from webapp.api.framework import PageQuery, decode_cursor, keyset_page, operation
from webapp.api.webhook_schemas import (DeliveryOut, DeliveryPage, DeliveryQuery, EventList, EventOut, EventQuery,
                                        WebhookCreated, WebhookIn, WebhookOut, WebhookPage, WebhookPatch)
from webapp.auth.models import Role
from webapp.extensions import db
from webapp.webhooks import services as webhooks
from webapp.webhooks.sending import payload
from webapp.webhooks.models import WebhookDelivery, WebhookEndpoint

ADMINS = (Role.ADMIN,)


def _fields(endpoint: WebhookEndpoint) -> dict:
    """An endpoint's fields as the API shows them (never its secret)."""
    return {"id": endpoint.id, "url": endpoint.url, "description": endpoint.description,
            "event_types": endpoint.types, "active": endpoint.active, "created_at": endpoint.created_at}


def _out(endpoint: WebhookEndpoint) -> WebhookOut:
    """An endpoint for the API, read after the request's writes."""
    db.session.flush()
    db.session.refresh(endpoint)
    return WebhookOut(**_fields(endpoint))


def _delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    """A delivery for the API."""
    return DeliveryOut(id=delivery.id, event_id=delivery.event_id, event_type=delivery.event.type,
                       status=delivery.status, attempts=delivery.attempts, next_attempt_at=delivery.next_attempt_at,
                       last_attempt_at=delivery.last_attempt_at, last_status=delivery.last_status,
                       last_response=delivery.last_response)


@operation("GET", "/webhooks", summary="Webhook endpoints", tag="Webhooks", area="admin", query=PageQuery,
           responses={200: WebhookPage}, roles=ADMINS)
def list_webhooks(user, query: PageQuery):
    """Every endpoint, newest first, paginated."""
    found = webhooks.endpoints_page(before_id=decode_cursor(query.cursor), limit=query.limit + 1)
    page, after = keyset_page(found, query.limit)
    return WebhookPage(items=[WebhookOut(**_fields(e)) for e in page], next_cursor=after)


@operation("POST", "/webhooks", summary="Register a webhook endpoint", tag="Webhooks", area="admin",
           body=WebhookIn, responses={201: WebhookCreated}, roles=ADMINS, write=True)
def create_webhook(user, body: WebhookIn):
    """Register an endpoint; the answer holds its signing secret, shown again only on the webhooks page."""
    endpoint = webhooks.create_endpoint(user, url=body.url, event_types=list(body.event_types),
                                        description=body.description)
    return WebhookCreated(**_out(endpoint).model_dump(), secret=endpoint.secret), 201


@operation("GET", "/webhooks/{webhook_id}", summary="One webhook endpoint", tag="Webhooks", area="admin",
           responses={200: WebhookOut}, roles=ADMINS)
def get_webhook(user, webhook_id: int):
    """One endpoint (unknown: 404)."""
    return _out(webhooks.get_endpoint(webhook_id))


@operation("PATCH", "/webhooks/{webhook_id}", summary="Change a webhook endpoint's events, description or state",
           tag="Webhooks", area="admin", body=WebhookPatch, responses={200: WebhookOut}, roles=ADMINS, write=True,
           current=lambda user, webhook_id: _out(webhooks.get_endpoint(webhook_id)))
def update_webhook(user, webhook_id: int, body: WebhookPatch):
    """Change the event types, the description ("" removes it) or whether it receives events."""
    endpoint = webhooks.update_endpoint(
        user, webhooks.get_endpoint(webhook_id),
        event_types=list(body.event_types) if body.event_types is not None else None,
        description=body.description, clear_description=body.description == "", active=body.active)
    return _out(endpoint)


@operation("GET", "/webhooks/{webhook_id}/deliveries", summary="A webhook endpoint's delivery log",
           tag="Webhooks", area="admin", query=DeliveryQuery, responses={200: DeliveryPage}, roles=ADMINS)
def list_deliveries(user, webhook_id: int, query: DeliveryQuery):
    """The endpoint's deliveries, newest event first, optionally of one status."""
    found = webhooks.deliveries_page(webhooks.get_endpoint(webhook_id), status=query.status,
                                     before_event_id=decode_cursor(query.cursor), limit=query.limit + 1)
    page, after = keyset_page(found, query.limit, key=lambda delivery: delivery.event_id)
    return DeliveryPage(items=[_delivery_out(d) for d in page], next_cursor=after)


@operation("POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/send-again",
           summary="Send a delivery again now, with a fresh day of retries", tag="Webhooks", area="admin",
           responses={200: DeliveryOut}, roles=ADMINS, write=True, errors=(409,))
def send_delivery_again(user, webhook_id: int, delivery_id: int):
    """Queue the delivery now (one being sent at this moment: 409)."""
    endpoint = webhooks.get_endpoint(webhook_id)
    return _delivery_out(webhooks.send_again(user, webhooks.get_delivery(endpoint, delivery_id)))


@operation("GET", "/events", summary="Events after one you have seen, oldest first", tag="Webhooks", area="admin",
           query=EventQuery, responses={200: EventList}, roles=ADMINS)
def list_events(user, query: EventQuery):
    """The events after `after` (kept 30 days): what a receiver that was down catches up with."""
    found = webhooks.events_after(query.after, [query.type] if query.type else None, limit=query.limit + 1)
    page = found[:query.limit]
    return EventList(items=[EventOut(**payload(event)) for event in page],
                     next_cursor=str(page[-1].id) if len(found) > query.limit else None)
