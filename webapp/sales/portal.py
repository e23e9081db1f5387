"""Services behind the agent portal: live totals, the sales list, the commission chart."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import joinedload, selectinload

from webapp import clock, hot_cache
from webapp.audit.models import AuditEvent
from webapp.auth import access
from webapp.catalog.models import Category, Customer, Product
from webapp.commissions import engine, ledger
from webapp.commissions.models import CommissionEntry, EntryKind, Payout, Period, PeriodStatus
from webapp.commissions.periods import month_bounds, month_cadence, period_bounds
from webapp.extensions import db
from webapp.money import from_cents, to_cents, units_to_rate
from webapp.paging import Paged, Window, page_window, paginate
from webapp.sales.held import held_sale_ids
from webapp.sales.models import FULL_SHARE, Sale, SaleCredit, SaleStatus

PAGE_SIZE = 20
RECENT_SIZE = 10  # rows of the dashboard's recent-sales list
SORTS = {
    "date": (Sale.sold_on, Sale.id), "amount": (Sale.amount_cents, Sale.id), "status": (Sale.status, Sale.id),
}


@dataclass(frozen=True)
class Figures:
    """Volume, approved commission and pending total of one span (cents)."""

    volume: int
    commission: int
    pending: int
    pending_count: int


@dataclass(frozen=True)
class Totals:
    """Everything on the agent's totals panel (cents)."""

    period: Period | hot_cache.PeriodView
    period_figures: Figures
    month_start: date
    month_figures: Figures
    unpaid: int
    paid: int
    open_running: int
    target: int | None
    target_percent: int | None


def _held(agent_id: int):
    """The join of Sale to the agent's own credit of it: the sales the agent holds (section 8)."""
    return SaleCredit, (SaleCredit.sale_id == Sale.id) & (SaleCredit.agent_id == agent_id)


@dataclass(frozen=True)
class _MonthLines:
    """A holder's month: approved lines and pending lines (with its target), loaded once."""

    approved: list[engine.SaleLine]
    pending: list[engine.SaleLine]
    target: Decimal | None
    spiffs: tuple = ()  # the month's engine SPIFFs


def _month_statement(agent_id: int, month_start: date, month_end: date, period):
    """One statement for the whole panel: a first part with every sum (approved volume and standing
    commission of the month and of the period, the balance by period status, the payouts; cents),
    left-joined to the holder's approved and pending lines of the month, one row per line and holder
    share (the sums repeat on each; one row of sums with empty line columns when there is no line)."""
    in_period = (Sale.sold_on >= period.start_date) & (Sale.sold_on <= period.end_date)

    def total(column, *conditions):
        column = func.sum(column).filter(*conditions) if conditions else func.sum(column)
        return func.coalesce(column, 0)

    # Everything starts from the month's held sales (webapp/sales/held.py), not every credit or
    # entry the agent ever had.
    held = held_sale_ids(agent_id, month_start, month_end).cte("held")
    volume = (select(total(SaleCredit.credit_cents).label("volume_month"),
                     total(SaleCredit.credit_cents, in_period).label("volume_period"))
              .select_from(held).join(Sale, Sale.id == held.c.sale_id).join(*_held(agent_id))
              .where(Sale.status == SaleStatus.APPROVED).subquery())
    commission = (select(total(CommissionEntry.amount_cents).label("commission_month"),
                         total(CommissionEntry.amount_cents, in_period).label("commission_period"))
                  .select_from(held).join(Sale, Sale.id == held.c.sale_id)
                  .join(CommissionEntry, (CommissionEntry.sale_id == Sale.id) & (CommissionEntry.agent_id == agent_id))
                  .where(CommissionEntry.kind != EntryKind.MANUAL).subquery())
    balance = (select(total(CommissionEntry.amount_cents, Period.status == PeriodStatus.CLOSED).label("stated"),
                      total(CommissionEntry.amount_cents, Period.status == PeriodStatus.OPEN).label("running"))
               .select_from(CommissionEntry).join(Period, CommissionEntry.period_id == Period.id)
               .where(CommissionEntry.agent_id == agent_id).subquery())
    paid = (select(total(Payout.amount_cents).label("paid"))
            .where(Payout.agent_id == agent_id).subquery())
    sale_c, mine, every = Sale.__table__.c, SaleCredit.__table__.alias("mine"), SaleCredit.__table__.alias("every")
    product_c, category_c = Product.__table__.c, Category.__table__.c
    lines = (
        select(sale_c.id, sale_c.sold_on, sale_c.amount_cents, sale_c.quantity, sale_c.status,
               mine.c.position, mine.c.share_units, mine.c.team_id, product_c.sku,
               category_c.code.label("category"), every.c.share_units.label("every_units"),
               every.c.position.label("every_position"))
        .select_from(held).join(Sale.__table__, sale_c.id == held.c.sale_id)
        .join(mine, (mine.c.sale_id == sale_c.id) & (mine.c.agent_id == agent_id))
        .join(Product.__table__, sale_c.product_id == product_c.id)
        .join(Category.__table__, product_c.category_id == category_c.id)
        # Every holder's share, only for the sales this holder holds in part (a split sale).
        .outerjoin(every, (every.c.sale_id == sale_c.id) & (mine.c.share_units != FULL_SHARE))
        .where(sale_c.status.in_((SaleStatus.APPROVED, SaleStatus.PENDING))).subquery())
    return (select(volume, commission, balance, paid, lines).select_from(volume)
            .join(commission, true()).join(balance, true()).join(paid, true()).outerjoin(lines, true())
            .order_by(lines.c.sold_on, lines.c.id, lines.c.every_position))


SUM_COLUMNS = ("volume_month", "volume_period", "commission_month", "commission_period", "stated", "running",
               "paid")


def _load_month(agent_id: int, month_start: date, month_end: date, period) -> tuple[dict[str, int], _MonthLines]:
    """The panel's sums (cents) and the holder's month of lines (as month_lines.holder_month builds
    them) from one statement; plans, target and SPIFFs from the hot cache."""
    rows = db.session.execute(_month_statement(agent_id, month_start, month_end, period)).all()
    sums = {name: int(getattr(rows[0], name)) for name in SUM_COLUMNS}
    plans = hot_cache.agent_plans(agent_id)
    shares: dict[int, list[Decimal]] = {}
    firsts = []
    for row in rows:
        if row.id is None:  # the month has no line: just the sums
            continue
        if row.every_units is not None:
            shares.setdefault(row.id, []).append(units_to_rate(row.every_units))
        if not firsts or firsts[-1].id != row.id:
            firsts.append(row)
    approved, pending = [], []
    for row in firsts:
        line = engine.SaleLine(
            id=row.id, date=row.sold_on, amount=from_cents(row.amount_cents), sku=row.sku,
            category=row.category, plan=plans.in_force(row.sold_on)[1], quantity=row.quantity,
            shares=tuple(shares.get(row.id, ())), holder=row.position,
            team=str(row.team_id) if row.team_id is not None else None)
        (approved if row.status == SaleStatus.APPROVED else pending).append(line)
    return sums, _MonthLines(approved=approved, pending=pending,
                             target=hot_cache.target_decimal(agent_id, month_start),
                             spiffs=hot_cache.month_spiffs(month_start, month_end).spiffs)


def _pending(month: _MonthLines, start: date, end: date) -> tuple[int, int]:
    """(pending total, count) for pending sales sold in [start, end]: what approving them adds, SPIFF
    rewards included (the commission beside it counts the SPIFF lines too)."""
    lines = [line for line in month.pending if start <= line.date <= end]
    added = engine.pending_total(month.approved, lines, target=month.target)
    if month.spiffs and lines:
        added += engine.pending_spiff_total(month.approved, lines, spiffs=month.spiffs)
    return to_cents(added), len(lines)


def agent_totals(agent_id: int) -> Totals:
    """The totals panel: this period, this month, unpaid balance, paid to date, target progress."""
    return totals_and_month(agent_id)[0]


def pending_estimate(month: _MonthLines, sale_id: int) -> int | None:
    """A pending sale of the month's estimate (cents; as ledger.pending_estimates gives it), from the
    lines the totals were computed with (None: not a pending line of that month)."""
    line = next((line for line in month.pending if line.id == sale_id), None)
    if line is None:
        return None
    return to_cents(engine.estimate_line(month.approved, line, target=month.target, spiffs=month.spiffs).commission)


def totals_and_month(agent_id: int) -> tuple[Totals, _MonthLines]:
    """The totals panel and the month's lines it was computed from (one statement when the hot
    cache is warm)."""
    today = clock.today()
    period = hot_cache.current_period()
    month_start, month_end = month_bounds(today)
    # A period never crosses a month boundary, so one load of the month serves both spans.
    sums, lines = _load_month(agent_id, month_start, month_end, period)
    figures = {}
    for span, (start, end) in (("month", (month_start, month_end)), ("period", (period.start_date, period.end_date))):
        pending, count = _pending(lines, start, end)
        figures[span] = Figures(volume=sums[f"volume_{span}"], commission=sums[f"commission_{span}"],
                                pending=pending, pending_count=count)
    target = hot_cache.target_cents(agent_id, month_start)
    percent = None
    if target is not None:
        percent = int(Decimal(figures["month"].volume * 100) / Decimal(target))
    stated, running = sums["stated"], sums["running"]
    return Totals(
        period=period, period_figures=figures["period"], month_start=month_start, month_figures=figures["month"],
        unpaid=stated + running - sums["paid"], paid=sums["paid"], open_running=running, target=target,
        target_percent=percent,
    ), lines


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
        sums = dict(db.session.execute(
            select(Period.start_date, func.sum(CommissionEntry.amount_cents))
            .join(Period, CommissionEntry.period_id == Period.id)
            .where(CommissionEntry.agent_id.in_(ids), Period.start_date >= spans[0][0],
                   Period.start_date <= spans[-1][0])
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
    return query


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


def visible_sales(user, filters: SaleFilters, *, agent_id: int | None = None, before_id: int | None = None,
                  limit: int = 50) -> list[Sale]:
    """Sales the user may see (agents those they hold, managers their team's and those their team
    holds a credit of, admins all), newest first.

    Only ids below `before_id`: a keyset page, stable while sales are added."""
    query = select(Sale).where(access.sale_scope(user))
    if agent_id is not None:
        query = query.where(Sale.agent_id == agent_id)
    query = _filtered(query, filters)
    if before_id is not None:
        query = query.where(Sale.id < before_id)
    return list(db.session.scalars(
        query.options(joinedload(Sale.product), joinedload(Sale.customer), selectinload(Sale.credits))
        .order_by(Sale.id.desc()).limit(limit)))


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


