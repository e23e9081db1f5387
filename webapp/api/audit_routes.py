"""API v1 audit log (admins, as the audit page): every state change with who made it and the
object's fields before and after, newest first, filtered as the page filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from webapp.api.framework import Page, PageQuery, decode_cursor, encode_cursor, operation
from webapp.api.schemas import Id, QueryDate
from webapp.audit.queries import SYSTEM, AuditFilters, events_before
from webapp.auth.models import Role


class AuditEventOut(BaseModel):
    """One state change."""

    id: int
    at: datetime
    actor_id: int | None = Field(description="Who made it (null: the system, a scheduled job)")
    action: str = Field(description="What was done, e.g. sale.approve, plan.version.create, payout.record")
    object_type: str
    object_id: int | None
    before: dict[str, Any] | None = Field(description="The object's audited fields before (null: it was made)")
    after: dict[str, Any] | None


class AuditEventPage(Page[AuditEventOut]):
    """A page of audit events, newest first."""


class AuditQuery(PageQuery):
    """Filters of the audit log (as the audit page's)."""

    actor_id: Id | None = None
    system: Literal["true"] | None = Field(None, description="true: only what the system did (no actor)")
    action: str | None = Field(None, max_length=64, pattern=r"^[a-z_.]+$", examples=["sale.approve"])
    object_type: str | None = Field(None, max_length=32, pattern=r"^[A-Za-z]+$", examples=["Sale"])
    object_id: Id | None = None
    start: QueryDate | None = Field(None, description="On or after this day (the installation's time zone)")
    end: QueryDate | None = Field(None, description="On or before this day")


@operation("GET", "/audit-events", summary="The audit log, newest first", tag="Administration", area="admin",
           query=AuditQuery, responses={200: AuditEventPage}, roles=(Role.ADMIN,))
def list_audit_events(user, query: AuditQuery):
    """Events matching the filters (an actor or the system, an action, an object, days), paginated."""
    actor = SYSTEM if query.system else (str(query.actor_id) if query.actor_id is not None else None)
    rows = events_before(AuditFilters(actor=actor, object_type=query.object_type, object_id=query.object_id,
                                      action=query.action, start=query.start, end=query.end),
                         before_id=decode_cursor(query.cursor), limit=query.limit + 1)
    page = rows[: query.limit]
    return AuditEventPage(items=[AuditEventOut(id=e.id, at=e.at, actor_id=e.actor_id, action=e.action,
                                               object_type=e.object_type, object_id=e.object_id, before=e.before,
                                               after=e.after) for e in page],
                          next_cursor=encode_cursor(page[-1].id) if len(rows) > query.limit else None)
