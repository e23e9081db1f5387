"""Periods for managers: the list, what closing one freezes, and the close itself.

Closing is installation-wide (closed periods form a prefix of the calendar for everyone), while
a manager only sees their own team's figures: the preview says so. Managers and admins may both
close, as the issue asks ("a manager/admin closes a period"); the close is audited by
webapp.commissions.periods.close_period with the actor.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, time, timedelta
from functools import cached_property

from sqlalchemy import func, select

from webapp import clock
from webapp.auth import access
from webapp.auth.models import User
from webapp.catalog.models import Product
from webapp.commissions.models import CommissionEntry, EntryKind, Period, PeriodStatus
from webapp.commissions.periods import close_period, get_settings
from webapp.errors import ServiceError, get_or_404
from webapp.extensions import db
from webapp.sales.models import Sale, SaleCredit, SaleStatus

PENDING_SHOWN = 50


@dataclass(frozen=True)
class PeriodRow:
    """A period in the list, with the viewer's team figures and whether it can be closed now."""

    period: Period
    entries: int
    total_cents: int
    closed_by: str | None
    closed_at: datetime | None  # in the installation's time zone
    blocker: str | None
    ended: bool

    @property
    def closable(self) -> bool:
        """True when closing it now would succeed."""
        return self.blocker is None


@dataclass(frozen=True, kw_only=True)
class Freeze:
    """What closing a period freezes (cents): ledger entries and their commission, approved volume,
    and the pending sales that become late approvals."""

    entries: int = 0
    total_cents: int = 0
    volume_cents: int = 0
    pending: int = 0
    pending_cents: int = 0


@dataclass(frozen=True, kw_only=True)
class AgentFreeze(Freeze):
    """One agent's figures in the period being closed."""

    agent_id: int
    name: str


@dataclass(frozen=True)
class PendingSale:
    """A pending sale dated in the period: after the close it becomes a late approval."""

    id: int
    agent_name: str
    sold_on: object
    product_name: str
    amount_cents: int


@dataclass
class ClosePreview:
    """What closing the period freezes, for the viewer's team (admins: everyone)."""

    period: Period
    team_only: bool
    blocker: str | None
    grace_until: datetime | None
    agents: list[AgentFreeze] = field(default_factory=list)
    pending_sales: list[PendingSale] = field(default_factory=list)

    @cached_property
    def totals(self) -> Freeze:
        """The figures of every agent shown, added up."""
        return Freeze(**{figure.name: sum(getattr(agent, figure.name) for agent in self.agents)
                         for figure in fields(Freeze)})


def _scoped(query, agent_column, user: User):
    """Limit a query to the user's team (admins: no limit)."""
    return query.where(access.agent_scope(user, agent_column))


def get_period(period_id: int) -> Period:
    """A period by id, else NotFound."""
    return get_or_404(Period, period_id)


def close_blocker(period: Period, earliest_open: Period | None = None) -> str | None:
    """Why the period cannot be closed now (the same rules as close_period), or None."""
    if not period.is_open:
        return f"{period.label} is already closed."
    if period.end_date >= clock.today():
        return f"{period.label} has not ended yet."
    if earliest_open is None:
        earliest_open = db.session.scalar(
            select(Period).where(Period.status == PeriodStatus.OPEN).order_by(Period.start_date).limit(1))
    if earliest_open is not None and earliest_open.start_date < period.start_date:
        return f"Close {earliest_open.label} first: periods close in order."
    return None


def list_periods(user: User) -> list[PeriodRow]:
    """Every period, newest first, with the user's team's entry count and commission."""
    periods = list(db.session.scalars(select(Period).order_by(Period.start_date.desc())))
    sums = dict((pid, (int(n), int(total))) for pid, n, total in db.session.execute(_scoped(
        select(CommissionEntry.period_id, func.count(CommissionEntry.id),
               func.coalesce(func.sum(CommissionEntry.amount_cents), 0))
        .group_by(CommissionEntry.period_id), CommissionEntry.agent_id, user)).all())
    closers = {uid: name for uid, name in db.session.execute(
        select(User.id, User.name).where(User.id.in_({p.closed_by_id for p in periods if p.closed_by_id})))}
    earliest_open = min((p for p in periods if p.is_open), key=lambda p: p.start_date, default=None)
    zone, today = clock.installation_zone(), clock.today()
    return [PeriodRow(period=p, entries=sums.get(p.id, (0, 0))[0], total_cents=sums.get(p.id, (0, 0))[1],
                      closed_by=closers.get(p.closed_by_id), closed_at=_local(p.closed_at, zone),
                      blocker=close_blocker(p, earliest_open), ended=p.end_date < today)
            for p in periods]


def _local(instant: datetime | None, zone) -> datetime | None:
    """A stored instant in the installation's time zone."""
    return None if instant is None else instant.astimezone(zone)


def _grace_until(period: Period) -> datetime | None:
    """When the statement run would close the period by itself, if that is still ahead."""
    zone = clock.installation_zone()
    ends = datetime.combine(period.end_date + timedelta(days=1), time(0), tzinfo=zone)
    until = ends + timedelta(hours=get_settings().grace_hours)
    now = clock.now_utc().astimezone(zone)
    if now.date() != clock.today():  # only when "today" was moved (tests, what-if): keep the time of day
        now = datetime.combine(clock.today(), now.timetz())
    return until if now < until else None


def preview(user: User, period: Period) -> ClosePreview:
    """Per agent: entries and commission frozen, volume, pending sales that become late approvals."""
    agents: dict[int, dict] = {}
    names = {}
    # Volume is each holder's credited amount of their sale lines: a split sale counts once in total.
    entry_rows = db.session.execute(_scoped(
        select(CommissionEntry.agent_id, func.count(CommissionEntry.id),
               func.coalesce(func.sum(CommissionEntry.amount_cents), 0),
               func.coalesce(func.sum(SaleCredit.credit_cents).filter(CommissionEntry.kind == EntryKind.SALE), 0))
        .outerjoin(SaleCredit, (SaleCredit.sale_id == CommissionEntry.sale_id)
                   & (SaleCredit.agent_id == CommissionEntry.agent_id))
        .where(CommissionEntry.period_id == period.id).group_by(CommissionEntry.agent_id),
        CommissionEntry.agent_id, user)).all()
    for agent_id, count, total, volume in entry_rows:
        agents.setdefault(agent_id, {}).update(
            entries=int(count), total_cents=int(total), volume_cents=int(volume))
    in_period = (Sale.status == SaleStatus.PENDING, Sale.sold_on >= period.start_date,
                 Sale.sold_on <= period.end_date)
    pending_rows = db.session.execute(_scoped(
        select(Sale.agent_id, func.count(Sale.id), func.coalesce(func.sum(Sale.amount_cents), 0))
        .where(*in_period).group_by(Sale.agent_id), Sale.agent_id, user)).all()
    for agent_id, count, amount in pending_rows:
        agents.setdefault(agent_id, {}).update(pending=int(count), pending_cents=int(amount))
    if agents:
        names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(agents))).all())
    pending_sales = [
        PendingSale(id=row.id, agent_name=row.name, sold_on=row.sold_on, product_name=row.product,
                    amount_cents=row.amount_cents)
        for row in db.session.execute(_scoped(
            select(Sale.id, Sale.sold_on, Sale.amount_cents, User.name, Product.name.label("product"))
            .join(User, Sale.agent_id == User.id).join(Product, Sale.product_id == Product.id)
            .where(*in_period).order_by(Sale.sold_on, Sale.id).limit(PENDING_SHOWN), Sale.agent_id, user))]
    return ClosePreview(
        period=period, team_only=not access.is_admin(user), blocker=close_blocker(period),
        grace_until=_grace_until(period) if period.is_open else None,
        agents=sorted((AgentFreeze(agent_id=aid, name=names.get(aid, "?"), **figures)
                       for aid, figures in agents.items()), key=lambda a: a.name.lower()),
        pending_sales=pending_sales)


def close(actor: User, period_id: int) -> Period:
    """Close a period for everyone (the row is locked so two closes cannot both pass the checks)."""
    if not access.is_manager_side(actor):
        raise ServiceError("Only managers and admins close periods.", status=403)
    period = get_or_404(Period, period_id, with_for_update=True, populate_existing=True)
    return close_period(actor, period)
