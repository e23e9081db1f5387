"""Reading the audit log: filters, pages of events, and each event's changes in words."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from flask import current_app, url_for
from sqlalchemy import distinct, select

from webapp import clock
from webapp.audit.models import AuditEvent
from webapp.auth.models import User
from webapp.extensions import db
from webapp.money import format_money, format_rate
from webapp.paging import Paged, Window, paginate

PAGE_SIZE = 50
SYSTEM = "system"
EMPTY = "—"
# Objects with a page of their own: the log links to them.
_OBJECT_PAGES = {
    "Sale": ("sales.detail", "sale_id"),
    "User": ("admin.user_edit", "user_id"),
    "Product": ("admin.product_edit", "product_id"),
    "CommissionPlan": ("admin.plan_detail", "plan_id"),
    "Period": ("review.period_close", "period_id"),
}


@dataclass(frozen=True)
class AuditFilters:
    """What the log is narrowed to; None means any."""

    actor: str | None = None  # a user id as text, or SYSTEM for events without an actor
    object_type: str | None = None
    object_id: int | None = None
    action: str | None = None
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class Change:
    """One field that differs between before and after (an empty side shows as "—")."""

    key: str
    before: str
    after: str
    kind: str  # "added", "removed" or "changed"

    @property
    def before_empty(self) -> bool:
        """Nothing was there before (shown muted, not struck out)."""
        return self.before == EMPTY

    @property
    def after_empty(self) -> bool:
        """Nothing is there after."""
        return self.after == EMPTY


@dataclass(frozen=True)
class EventRow:
    """An audit event ready to show."""

    event: AuditEvent
    at: datetime
    actor: str
    changes: list[Change]
    object_url: str | None

    @property
    def created(self) -> bool:
        """The event made the object (no "before"): its fields read as one list, not as changes."""
        return self.event.before is None and bool(self.changes)


@dataclass(frozen=True)
class AuditPage(Paged):
    """One page of events, newest first."""

    rows: list[EventRow]
    window: Window


def known_actions() -> list[str]:
    """Every action the log holds, alphabetically."""
    return list(db.session.scalars(select(distinct(AuditEvent.action)).order_by(AuditEvent.action)))


def object_types() -> list[str]:
    """Every object type the log holds, alphabetically."""
    return list(db.session.scalars(select(distinct(AuditEvent.object_type)).order_by(AuditEvent.object_type)))


def _utc_start(day: date) -> datetime:
    """Midnight at the start of `day` in the installation's time zone, as UTC."""
    return datetime.combine(day, time(0), tzinfo=clock.installation_zone()).astimezone(timezone.utc)


def _filtered(filters: AuditFilters):
    """The events query narrowed by the filters."""
    query = select(AuditEvent)
    if filters.actor == SYSTEM:
        query = query.where(AuditEvent.actor_id.is_(None))
    elif filters.actor:
        query = query.where(AuditEvent.actor_id == int(filters.actor))
    if filters.object_type:
        query = query.where(AuditEvent.object_type == filters.object_type)
    if filters.object_id is not None:
        query = query.where(AuditEvent.object_id == filters.object_id)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.start:
        query = query.where(AuditEvent.at >= _utc_start(filters.start))
    if filters.end:
        query = query.where(AuditEvent.at < _utc_start(filters.end + timedelta(days=1)))
    return query


def _display(key: str, value) -> str:
    """A stored value as a person reads it (cents as money, rate units as a percentage)."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and key.endswith("_cents"):
        return format_money(value, current_app.config["CURRENCY"])
    if isinstance(value, int) and key.endswith("rate_units"):
        return format_rate(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def diff(before, after) -> list[Change]:
    """The keys whose value differs between `before` and `after` (added, removed or changed).

    A key that appears or disappears with no value (None, "") is no change, so a creation lists
    only the fields it actually set.
    """
    before = before if isinstance(before, dict) else ({} if before is None else {"value": before})
    after = after if isinstance(after, dict) else ({} if after is None else {"value": after})
    changes = []
    for key in list(after) + [k for k in before if k not in after]:
        if key not in before:
            if after[key] not in (None, ""):
                changes.append(Change(key, EMPTY, _display(key, after[key]), "added"))
        elif key not in after:
            if before[key] not in (None, ""):
                changes.append(Change(key, _display(key, before[key]), EMPTY, "removed"))
        elif before[key] != after[key]:
            changes.append(Change(key, _display(key, before[key]), _display(key, after[key]), "changed"))
    return changes


def _object_url(event: AuditEvent) -> str | None:
    """A link to the object's own page, when it has one."""
    page = _OBJECT_PAGES.get(event.object_type)
    if page is None or event.object_id is None or page[0] not in current_app.view_functions:
        return None
    return url_for(page[0], **{page[1]: event.object_id})


def events_before(filters: AuditFilters, *, before_id: int | None, limit: int) -> list[AuditEvent]:
    """Up to `limit` events matching the filters, newest first (by id), older than `before_id`."""
    query = _filtered(filters)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(db.session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))


def search(filters: AuditFilters, page: int = 1) -> AuditPage:
    """Page `page` of the events matching the filters, newest first, with their changes."""
    window, query = paginate(_filtered(filters), page, PAGE_SIZE)
    events = list(db.session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())))
    actors = dict(db.session.execute(
        select(User.id, User.name).where(User.id.in_({e.actor_id for e in events if e.actor_id}))).all())
    zone = clock.installation_zone()
    rows = []
    for event in events:
        rows.append(EventRow(event=event, at=event.at.astimezone(zone),
                             actor=actors.get(event.actor_id, "System") if event.actor_id else "System",
                             changes=diff(event.before, event.after), object_url=_object_url(event)))
    return AuditPage(rows=rows, window=window)
