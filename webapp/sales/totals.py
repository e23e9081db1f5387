"""The agent's totals panel: this period and this month, the balance, paid to date and the target,
with the pending estimates, from one statement (plans, targets, SPIFFs, the period and the stated
balance cached)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache

from sqlalchemy import Date, Integer, bindparam, func, literal_column, select, true

from webapp import clock, hot_cache, panel_cache
from webapp.catalog.models import Category, Product
from webapp.commissions import engine
from webapp.commissions.held import held_sale_ids
from webapp.commissions.ledger import agent_balance
from webapp.commissions.models import CommissionEntry, EntryKind, Payout, Period, PeriodStatus
from webapp.commissions.periods import month_bounds
from webapp.extensions import db
from webapp.hot_cache import NOTHING_STATED
from webapp.money import from_cents, to_cents, units_to_rate
from webapp.sales.models import FULL_SHARE, Sale, SaleCredit, SaleStatus


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


@dataclass(frozen=True)
class _MonthLines:
    """A holder's month: approved lines and pending lines (with its target), loaded once."""

    approved: list[engine.SaleLine]
    pending: list[engine.SaleLine]
    target: Decimal | None
    spiffs: tuple = ()  # the month's engine SPIFFs


@cache
def _month_statement():
    """One statement for the whole panel: a first part with every sum (approved volume and standing
    commission of the month and of the period, the open periods' balance and the latest closed
    period's end, the payouts; cents),
    left-joined to the holder's approved and pending lines of the month, one row per line and holder
    share (the sums repeat on each; one row of sums with empty line columns when there is no line).

    Built once, with bound parameters (agent_id, month_start, month_end, period_start, period_end):
    building it took about a third of the panel's time."""
    agent_id = bindparam("agent_id", type_=Integer)
    month_start, month_end = bindparam("month_start", type_=Date), bindparam("month_end", type_=Date)
    in_period = (Sale.sold_on >= bindparam("period_start", type_=Date)) & (Sale.sold_on <= bindparam("period_end", type_=Date))

    def total(column, *conditions):
        column = func.sum(column).filter(*conditions) if conditions else func.sum(column)
        return func.coalesce(column, 0)

    # Everything starts from the month's held sales (webapp/commissions/held.py), not every credit or
    # entry the agent ever had.
    held = held_sale_ids(agent_id, month_start, month_end).cte("held")
    volume = (select(total(SaleCredit.credit_cents).label("volume_month"),
                     total(SaleCredit.credit_cents, in_period).label("volume_period"))
              .select_from(held).join(Sale, Sale.id == held.c.sale_id).join(SaleCredit, (SaleCredit.sale_id == Sale.id) & (SaleCredit.agent_id == agent_id))
              .where(Sale.status == SaleStatus.APPROVED).subquery())
    commission = (select(total(CommissionEntry.amount_cents).label("commission_month"),
                         total(CommissionEntry.amount_cents, in_period).label("commission_period"))
                  .select_from(held).join(Sale, Sale.id == held.c.sale_id)
                  .join(CommissionEntry, (CommissionEntry.sale_id == Sale.id) & (CommissionEntry.agent_id == agent_id))
                  .where(CommissionEntry.kind != EntryKind.MANUAL).subquery())
    # The open periods' entries only (running); the closed ones' (stated) come from the hot cache,
    # checked against the latest closed period's end read here (see _load_month). Literals, not
    # parameters: a prepared statement's generic plan then knows that few periods are open, and
    # PostgreSQL keeps that plan instead of planning the statement again on every refresh.
    balance = (select(total(CommissionEntry.amount_cents).label("running"),
                      select(func.max(Period.end_date))
                      .where(Period.status == literal_column(f"'{PeriodStatus.CLOSED.value}'"))
                      .scalar_subquery().label("closed_through"))
               .select_from(Period)
               .join(CommissionEntry, (CommissionEntry.period_id == Period.id) & (CommissionEntry.agent_id == agent_id))
               .where(Period.status == literal_column(f"'{PeriodStatus.OPEN.value}'")).subquery())
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


SUM_COLUMNS = ("volume_month", "volume_period", "commission_month", "commission_period", "running", "paid")


def _load_month(agent_id: int, month_start: date, month_end: date, period) -> tuple[dict[str, int], _MonthLines]:
    """The panel's sums (cents) and the holder's month of lines (as month_lines.holder_month builds
    them) from one statement; plans, target, SPIFFs and the stated balance from the hot cache."""
    through, stated = hot_cache.stated_balance(agent_id)
    rows = db.session.execute(_month_statement(), {
        "agent_id": agent_id, "month_start": month_start, "month_end": month_end,
        "period_start": period.start_date, "period_end": period.end_date}).all()
    sums = {name: int(getattr(rows[0], name)) for name in SUM_COLUMNS}
    if (rows[0].closed_through or NOTHING_STATED[0]) == through:
        sums["stated"] = stated
    else:
        # A period closed after the cached figure was read (or nothing is cached): both halves
        # again, from one snapshot, so no entry is counted twice or not at all.
        balance = agent_balance(agent_id)
        sums["stated"], sums["running"] = balance.stated, balance.open_running
    plans = hot_cache.agent_plans(agent_id)
    shares: dict[int, list[Decimal]] = {}
    firsts = []
    # The line columns (id, sold_on, amount_cents, quantity, status, position, share_units, team_id,
    # sku, category, every_units, every_position) follow the sums. Unpacked, not read by name: a
    # row's named column costs about 0.75 us, and a month has a few hundred rows of a dozen columns.
    start = rows[0]._fields.index("id")
    for row in rows:
        line = row[start:]
        sale_id, every_units = line[0], line[10]
        if sale_id is None:  # the month has no line: just the sums
            continue
        if every_units is not None:
            shares.setdefault(sale_id, []).append(units_to_rate(every_units))
        if not firsts or firsts[-1][0] != sale_id:
            firsts.append(line)
    approved, pending = [], []
    for sale_id, sold_on, amount_cents, quantity, status, position, _, team_id, sku, category, _, _ in firsts:
        line = engine.SaleLine(
            sale_id, sold_on, from_cents(amount_cents), sku, category, plans.in_force(sold_on)[1], quantity,
            tuple(shares.get(sale_id, ())), position, str(team_id) if team_id is not None else None)
        (approved if status == SaleStatus.APPROVED else pending).append(line)
    return sums, _MonthLines(approved=approved, pending=pending,
                             target=hot_cache.target_decimal(agent_id, month_start),
                             spiffs=hot_cache.month_spiffs(month_start, month_end).spiffs)


def _pending(month: _MonthLines, spans: list[tuple[date, date]]) -> list[tuple[int, int]]:
    """(pending total, count) of the pending sales sold in each span [start, end]: what approving
    them adds, SPIFF rewards included (the commission beside it counts the SPIFF lines too)."""
    sets = [[line for line in month.pending if start <= line.date <= end] for start, end in spans]
    added = engine.pending_totals(month.approved, sets, target=month.target, spiffs=month.spiffs)
    return [(to_cents(commission + spiff), len(lines)) for (commission, spiff), lines in zip(added, sets)]


def agent_totals(agent_id: int) -> Totals:
    """The totals panel: this period, this month, unpaid balance, paid to date, target progress
    (kept between the writes that change it: webapp/panel_cache.py)."""
    return panel_cache.totals(agent_id, lambda: totals_and_month(agent_id)[0])


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
    spans = {"month": (month_start, month_end), "period": (period.start_date, period.end_date)}
    figures = {}
    for span, (pending, count) in zip(spans, _pending(lines, list(spans.values()))):
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
