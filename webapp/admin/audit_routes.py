"""Audit log page for admins: who changed what, filtered by actor, object, action and date."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from flask import current_app, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import distinct, func, select
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from webapp import clock
from webapp.admin import bp
from webapp.audit.models import AuditEvent
from webapp.auth.decorators import admin_required
from webapp.auth.models import User
from webapp.extensions import db
from webapp.formtools import OptionalDateRange, db_id_or_none, parse_iso_date
from webapp.money import format_money, format_rate

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


# ---- Queries (read-only helpers for the page) ---------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    """What the log is narrowed to; None means any."""

    actor: str | None = None  # a user id as text, or SYSTEM for events without an actor
    object_type: str | None = None
    object_id: int | None = None
    action: str | None = None
    start: date | None = None
    end: date | None = None
    page: int = 1


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
class AuditPage:
    """One page of events, newest first."""

    rows: list[EventRow]
    total: int
    page: int
    pages: int


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


def search(filters: AuditFilters) -> AuditPage:
    """The page of events matching the filters, newest first, with their changes."""
    query = _filtered(filters)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    events = list(db.session.scalars(
        query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    actors = dict(db.session.execute(
        select(User.id, User.name).where(User.id.in_({e.actor_id for e in events if e.actor_id}))).all())
    zone = clock.installation_zone()
    rows = []
    for event in events:
        # SQLite hands back naive timestamps; they are UTC (the server's CURRENT_TIMESTAMP).
        at = event.at if event.at.tzinfo else event.at.replace(tzinfo=timezone.utc)
        rows.append(EventRow(event=event, at=at.astimezone(zone),
                             actor=actors.get(event.actor_id, "System") if event.actor_id else "System",
                             changes=diff(event.before, event.after), object_url=_object_url(event)))
    return AuditPage(rows=rows, total=total, page=page, pages=pages)


# ---- The page -----------------------------------------------------------------------------


class AuditFilterForm(OptionalDateRange, FlaskForm):
    """Actor, object type, object id, action, date range (a GET: no CSRF token)."""

    class Meta:
        csrf = False

    actor = SelectField("Actor", validate_choice=False)
    object_type = SelectField("Object type", validate_choice=False)
    object_id = StringField("Object id", render_kw={"inputmode": "numeric"})
    action = SelectField("Action", validate_choice=False)
    start = StringField("From", render_kw={"type": "date"})
    end = StringField("To", render_kw={"type": "date"})

    def set_choices(self) -> None:
        """Offer the users, and the object types and actions the log holds."""
        users = db.session.execute(select(User.id, User.name, User.role).order_by(User.name)).all()
        self.actor.choices = [SelectChoice("", "Anyone"), SelectChoice(SYSTEM, "System (jobs, commands)")] + [
            SelectChoice(str(uid), f"{name} ({role})") for uid, name, role in users]
        self.object_type.choices = [SelectChoice("", "Any object")] + [
            SelectChoice(t, t) for t in object_types()]
        self.action.choices = [SelectChoice("", "Any action")] + [SelectChoice(a, a) for a in known_actions()]

    def validate_actor(self, field):
        """A listed user or System."""
        if field.data and field.data != SYSTEM and db_id_or_none(field.data) is None:
            raise ValidationError("Choose an actor from the list.")

    def validate_object_id(self, field):
        """A whole number."""
        text = (field.data or "").strip()
        if text and db_id_or_none(text) is None:
            raise ValidationError("Enter the object's id, a whole number.")

    def filters(self, page: int) -> AuditFilters:
        """The valid filters (an invalid form filters nothing it could not read)."""
        object_id = (self.object_id.data or "").strip()
        actor = self.actor.data or None
        return AuditFilters(
            actor=actor if actor and not self.actor.errors else None,
            object_type=self.object_type.data or None,
            object_id=int(object_id) if object_id and not self.object_id.errors else None,
            action=self.action.data or None,
            start=parse_iso_date(self.start.data),
            end=None if self.end.errors else parse_iso_date(self.end.data),
            page=page)


@bp.route("/audit")
@admin_required
def audit():
    """The audit log, newest first, filtered and paginated; htmx gets only the table."""
    form = AuditFilterForm(request.args)
    form.set_choices()
    valid = form.validate()
    page = search(form.filters(request.args.get("page", 1, type=int) or 1))
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    headers = request.headers
    fragment = headers.get("HX-Request") == "true" and headers.get("HX-Target") == "audit-table"
    # A swapped table cannot show errors beside the (unchanged) fields, so it repeats them on top.
    context = {"form": form, "page": page, "args": args, "fragment": fragment}
    status = 200 if valid else 422
    if fragment:
        return render_template("admin/partials/_audit_table.html", **context), status
    return render_template("admin/audit.html", **context), status
