"""Services behind the agent portal: the sales list, a sale's figures, the commission chart (the live
totals are in webapp/sales/totals.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, literal, or_, select, tuple_
from sqlalchemy.orm import joinedload, selectinload

from webapp import clock
from webapp.audit.models import AuditEvent
from webapp.auth import access
from webapp.catalog.models import Customer, Product
from webapp.commissions import ledger
from webapp.commissions.balances import entry_totals
from webapp.commissions.models import CommissionEntry, EntryKind, Period
from webapp.commissions.periods import month_cadence, period_bounds
from webapp.extensions import db
from webapp.money import to_cents
from webapp.paging import Paged, Window, page_window, paginate
from webapp.sales.models import FULL_SHARE, Sale, SaleCredit, SaleStatus
# The totals panel lives in its own module; its names stay reachable here for the views.
from webapp.sales.totals import Figures, Totals, agent_totals, pending_estimate, totals_and_month  # noqa: F401

PAGE_SIZE = 20
RECENT_SIZE = 10  # rows of the dashboard's recent-sales list
SORTS = {
    "date": (Sale.sold_on, Sale.id), "amount": (Sale.amount_cents, Sale.id), "status": (Sale.status, Sale.id),
}


def _held(agent_id: int):
    """The join of Sale to the agent's own credit of it: the sales the agent holds (section 8)."""
    return SaleCredit, (SaleCredit.sale_id == Sale.id) & (SaleCredit.agent_id == agent_id)


@dataclass(frozen=True)
class ChartBar:
    """One period of the commission chart."""

    start: date
    end: date
    label: str
    cents: int


def commission_chart(agent_ids: int | list[int], last_day: date | None = None, count: int = 12) -> list[ChartBar]:
    """Commission (all entries) of one agent or a team per period, for the `count` periods
    ending with the one containing `last_day` (default today), oldest first."""
    ids = [agent_ids] if isinstance(agent_ids, int) else list(agent_ids)
    spans = []
    day = last_day or clock.today()
    for _ in range(count):
        # Walk back through real period rows where they exist, else the cadence's bounds.
        existing = db.session.scalar(select(Period).where(Period.start_date <= day, Period.end_date >= day))
        start, end = (existing.start_date, existing.end_date) if existing else period_bounds(day, month_cadence(day))
        spans.append((start, end))
        day = start - timedelta(days=1)
    spans.reverse()
    sums: dict[date, int] = {}
    if ids:
        totals = entry_totals(ids)  # closed periods' kept totals, open periods' entries
        sums = dict(db.session.execute(
            select(Period.start_date, func.sum(totals.c.amount_cents))
            .join(Period, totals.c.period_id == Period.id)
            .where(Period.start_date >= spans[0][0], Period.start_date <= spans[-1][0])
            .group_by(Period.start_date)).all())
    return [ChartBar(start, end, f"{start:%b} {start.day}–{end.day}", int(sums.get(start, 0) or 0))
            for start, end in spans]


@dataclass(frozen=True)
class SaleFilters:
    """Filters of the "My sales" list, as given in the URL."""

    start: date | None = None
    end: date | None = None
    status: str | None = None
    product_id: int | None = None
    customer: str | None = None
    sort: str = "date"
    direction: str = "desc"
    # The API's too: one customer, and changed at or after an instant (incremental sync).
    customer_id: int | None = None
    updated_since: datetime | None = None


def _filtered(query, filters: SaleFilters):
    """A query over Sale narrowed by the filters (dates, status, product, customer name or email)."""
    if filters.start:
        query = query.where(Sale.sold_on >= filters.start)
    if filters.end:
        query = query.where(Sale.sold_on <= filters.end)
    if filters.status:
        query = query.where(Sale.status == filters.status)
    if filters.product_id:
        query = query.where(Sale.product_id == filters.product_id)
    if filters.customer:
        pattern = f"%{filters.customer.lower()}%"
        query = query.join(Customer, Sale.customer_id == Customer.id).where(
            or_(func.lower(Customer.name).like(pattern), func.lower(Customer.email).like(pattern)))
    if filters.customer_id:
        query = query.where(Sale.customer_id == filters.customer_id)
    if filters.updated_since:
        query = query.where(Sale.updated_at >= _instant(filters.updated_since))
    return query


def _instant(moment: datetime):
    """`moment` to compare with a stored timestamp. SQLite keeps CURRENT_TIMESTAMP as text to the
    second ("2026-12-07 12:00:00"), which sorts before the same second bound with microseconds, so
    there the bound is that text, floored to the second (at worst a few rows of that second more)."""
    if db.session.get_bind().dialect.name != "sqlite":
        return moment
    return literal(moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"))


@dataclass(frozen=True)
class SalePage(Paged):
    """One page of sales with their commission (approved), estimate (pending) or clawback (voided)."""

    sales: list[Sale]
    commission: dict[int, int]
    estimates: dict[int, int]
    window: Window
    clawbacks: dict[int, int] = field(default_factory=dict)  # voided sale id -> its clawback entry id
    shares: dict[int, int] = field(default_factory=dict)  # split sale id -> the holder's share units


def list_sales(agent_id: int, filters: SaleFilters, page: int = 1) -> SalePage:
    """The sales the agent holds (their own and those they are a co-agent of) matching the filters,
    sorted, page `page` of them."""
    window, query = paginate(_filtered(select(Sale).join(*_held(agent_id)), filters), page, PAGE_SIZE)
    columns = SORTS.get(filters.sort, SORTS["date"])
    order = [c.asc() if filters.direction == "asc" else c.desc() for c in columns]
    sales = list(db.session.scalars(
        query.options(joinedload(Sale.product).joinedload(Product.category), joinedload(Sale.customer))
        .order_by(*order)))
    return _sale_page(agent_id, sales, window)


def recent_sales(agent_id: int, limit: int = RECENT_SIZE) -> SalePage:
    """The dashboard's newest sales (the list's default order), without counting the agent's history."""
    # Logging a sale re-sends this list: list_sales' count(*) over every sale the agent ever made
    # (it grows with the history) and its 20-row page were paid on each sale to show ten rows.
    sales = list(db.session.scalars(
        select(Sale).join(*_held(agent_id))
        .options(joinedload(Sale.product).joinedload(Product.category), joinedload(Sale.customer))
        .order_by(Sale.sold_on.desc(), Sale.id.desc()).limit(limit)))
    return _sale_page(agent_id, sales, page_window(len(sales), 1, limit))


def _sale_page(agent_id: int, sales: list[Sale], window: Window) -> SalePage:
    """A page of the holder's sales with the holder's commission (approved) or estimate (pending)."""
    ids = [s.id for s in sales]
    return SalePage(sales=sales, commission=sale_commissions(ids, agent_id),
                    estimates={k: to_cents(v) for k, v in ledger.pending_estimates(
                        agent_id, [s for s in sales if s.status == SaleStatus.PENDING]).items()},
                    window=window,
                    clawbacks=clawback_entries([s.id for s in sales if s.status == SaleStatus.VOIDED],
                                               agent_id),
                    shares=split_shares(ids, agent_id))


def split_shares(sale_ids: list[int], agent_id: int) -> dict[int, int]:
    """The agent's share (units) of each of these sales that is split (below 100%)."""
    if not sale_ids:
        return {}
    return dict(db.session.execute(select(SaleCredit.sale_id, SaleCredit.share_units).where(
        SaleCredit.sale_id.in_(sale_ids), SaleCredit.agent_id == agent_id,
        SaleCredit.share_units < FULL_SHARE)).all())


def sale_commissions(sale_ids: list[int], holder_id: int | None = None) -> dict[int, int]:
    """Commission standing for each sale: its lines plus its system adjustments (cents); given
    `holder_id`, that holder's only (an agent sees their own part of a split sale)."""
    if not sale_ids:
        return {}
    query = select(CommissionEntry.sale_id, func.sum(CommissionEntry.amount_cents)).where(
        CommissionEntry.sale_id.in_(sale_ids), CommissionEntry.kind != EntryKind.MANUAL)
    if holder_id is not None:
        query = query.where(CommissionEntry.agent_id == holder_id)
    return {sale_id: int(total) for sale_id, total in db.session.execute(
        query.group_by(CommissionEntry.sale_id)).all()}


def clawback_entries(sale_ids: list[int], holder_id: int | None = None) -> dict[int, int]:
    """For voided sales, the adjustment line that took back commission frozen in a closed period.

    A sale voided while its period was open simply loses its line, so it has none. The latest
    adjustment is the one a later void keeps up to date in the open period."""
    if not sale_ids:
        return {}
    query = select(CommissionEntry.sale_id, func.max(CommissionEntry.id)).where(
        CommissionEntry.sale_id.in_(sale_ids), CommissionEntry.kind == EntryKind.ADJUSTMENT)
    if holder_id is not None:
        query = query.where(CommissionEntry.agent_id == holder_id)
    return {sale_id: entry_id for sale_id, entry_id in db.session.execute(
        query.group_by(CommissionEntry.sale_id)).all()}


def sale_entries(user, sale_id: int) -> list[CommissionEntry]:
    """The sale's ledger entries the user may see (an agent: their own credit's; a manager: their
    team's holders), holder by holder, oldest first."""
    return list(db.session.scalars(
        select(CommissionEntry).where(CommissionEntry.sale_id == sale_id,
                                      access.agent_scope(user, CommissionEntry.agent_id))
        .options(joinedload(CommissionEntry.period), joinedload(CommissionEntry.agent),
                 joinedload(CommissionEntry.spiff))
        .order_by(CommissionEntry.agent_id, CommissionEntry.id)))


def sale_holders(sale: Sale) -> list[SaleCredit]:
    """The sale's credits (primary first) with their agents, for its page."""
    return list(db.session.scalars(select(SaleCredit).where(SaleCredit.sale_id == sale.id)
                                   .options(joinedload(SaleCredit.agent)).order_by(SaleCredit.position)))


def sale_history(sale_id: int) -> list[AuditEvent]:
    """The audit trail of a sale, oldest first."""
    return list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "Sale", AuditEvent.object_id == sale_id)
        .order_by(AuditEvent.at, AuditEvent.id)))


# The orders the API lists sales in: a column, then the id, both one way (a keyset: stable pages).
SALE_SORTS = {"id": Sale.id, "sold_on": Sale.sold_on, "amount": Sale.amount_cents}


def _visible(user, filters: SaleFilters, agent_id: int | None):
    """The query of the sales the user may see, narrowed by the filters (and to one agent)."""
    query = select(Sale).where(access.sale_scope(user))
    if agent_id is not None:
        query = query.where(Sale.agent_id == agent_id)
    return _filtered(query, filters)


def visible_sales(user, filters: SaleFilters, *, agent_id: int | None = None, sort: str = "-id",
                  after: tuple | None = None, limit: int = 50) -> list[Sale]:
    """Sales the user may see (agents those they hold, managers their team's and those their team
    holds a credit of, admins all) in `sort` order ("-id", newest first, or a SALE_SORTS key, "-"
    for descending), ties broken by id the same way.

    Only sales past `after`, the (value, id) of the previous page's last sale: a keyset page,
    stable while sales are added."""
    column, descending = SALE_SORTS[sort.lstrip("-")], sort.startswith("-")
    query = _visible(user, filters, agent_id)
    if after is not None:
        # A row-value comparison, which PostgreSQL answers from the (column, id) index; the
        # same condition spelt with OR scans the index from its start (0.7 ms against 600 ms
        # half-way through a million sales).
        key, last = ((Sale.id,), (after[1],)) if column is Sale.id else ((column, Sale.id), after)
        query = query.where(tuple_(*key) < tuple_(*last) if descending else tuple_(*key) > tuple_(*last))
    order = (column.desc(), Sale.id.desc()) if descending else (column.asc(), Sale.id.asc())
    return list(db.session.scalars(
        query.options(joinedload(Sale.product), joinedload(Sale.customer), selectinload(Sale.credits))
        .order_by(*order).limit(limit)))


def count_visible_sales(user, filters: SaleFilters, *, agent_id: int | None = None) -> int:
    """How many sales visible_sales would list over every page."""
    return db.session.scalar(select(func.count()).select_from(_visible(user, filters, agent_id).subquery()))


def sale_estimates(sales: list[Sale], holder_id: int | None = None) -> dict[int, int]:
    """Estimates (cents) of the pending sales among `sales`: every holder's together, like
    sale_commissions, or given `holder_id`, that holder's own (an agent's part of a split sale).
    Each holder's estimate is rounded on its own, as their ledger line would be."""
    by_holder: dict[int, list[Sale]] = {}
    for sale in sales:
        if sale.status == SaleStatus.PENDING:
            for agent_id in ([holder_id] if holder_id is not None else [c.agent_id for c in sale.credits]):
                by_holder.setdefault(agent_id, []).append(sale)
    totals: dict[int, int] = {}
    for agent_id, pending in by_holder.items():
        for sale_id, value in ledger.pending_estimates(agent_id, pending).items():
            totals[sale_id] = totals.get(sale_id, 0) + to_cents(value)
    return totals


