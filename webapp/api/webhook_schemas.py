"""Webhook bodies of the API: endpoints, their delivery log, and the event list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from webapp.api.framework import Page, PageQuery, Strict
from webapp.api.schemas import Id
from webapp.api.text import text
from webapp.webhooks.catalog import NAMES

EventName = Literal[NAMES]  # type: ignore[valid-type]  (the catalogue's names, as an enum)
EventTypes = Annotated[list[EventName], Field(min_length=1, max_length=len(NAMES),
                                              description="The event types it receives (at least one)")]
Description = text(200, required=False)
DeliveryState = Literal["pending", "sending", "succeeded", "failed"]


class WebhookOut(BaseModel):
    """An endpoint that receives the events it subscribes to, each a signed POST."""

    id: int
    url: str
    description: str | None
    event_types: list[EventName]
    active: bool = Field(description="False: it receives nothing until turned on again")
    created_at: datetime


class WebhookCreated(WebhookOut):
    """A new endpoint, with the secret its deliveries are signed with (answered only here)."""

    secret: str = Field(description="Checks the Sales-Tracking-Signature header of each delivery")


class WebhookPage(Page[WebhookOut]):
    """A page of endpoints, newest first."""


class WebhookIn(Strict):
    """An endpoint to register."""

    url: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="An absolute http:// or https:// URL (https is strongly advised)")
    event_types: EventTypes
    description: Description | None = None


class WebhookPatch(Strict):
    """An endpoint's new event types, description or state (fields left out stay as they are)."""

    event_types: EventTypes | None = None
    description: Description | None = Field(None, description="An empty string removes it")
    active: bool | None = None


class DeliveryOut(BaseModel):
    """One event's delivery to the endpoint: its attempts and the last answer."""

    id: int
    event_id: int
    event_type: EventName
    status: DeliveryState = Field(description="failed: no 2xx after about a day of retries")
    attempts: int = Field(description="POSTs made so far")
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status: int | None = Field(description="The last answer's HTTP status; null: none came (see last_response)")
    last_response: str | None = Field(description="The start of the last answer's body, or why none came")


class DeliveryPage(Page[DeliveryOut]):
    """A page of an endpoint's deliveries, newest event first."""


class DeliveryQuery(PageQuery):
    """Filters of an endpoint's delivery log."""

    status: DeliveryState | None = None


class EventOut(BaseModel):
    """Something that happened; the same object is the body of each delivery."""

    id: int = Field(description="Unique and growing: deduplicate deliveries on it, catch up after it")
    type: EventName
    created_at: datetime
    data: dict[str, Any] = Field(description="The object (`object`, `id`), who acted (`actor_id`, null: the "
                                             "system) and the few fields receivers route on; `url` reads the "
                                             "object as it is now")


class EventQuery(BaseModel):
    """The events after one a client has seen, oldest first."""

    model_config = ConfigDict(extra="forbid")
    after: Id | None = Field(None, description="The last event id seen (left out: from the oldest kept, 30 days)")
    type: EventName | None = None
    limit: int = Field(100, ge=1, le=500)


class EventList(Page[EventOut]):
    """Events after `after`, oldest first. `next_cursor` is the last item's id while more events
    wait (pass it as `after`); on the last page it is null: poll later after the last item's id."""
