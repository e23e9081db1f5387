"""The ledger: loads an agent-month, runs the engine, keeps the month invariant; balances.

MONTH INVARIANT (COMMISSION_RULES.md section 5): after any change, for every sale of the
agent-month, its system entries (its line plus adjustments for it) add up to the engine's figure
for it now (0 when it is no longer approved). Open-period entries are updated in place (stable
ids); closed-period entries never change, so the difference goes to one system adjustment for
that sale in the earliest open period. Manual entries are never touched.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import joinedload, selectinload

from webapp.auth.models import User
from webapp.catalog.models import Category, Product
from webapp.commissions import engine
from webapp.commissions.entry_writes import EntryWrites, MonthPeriods
from webapp.commissions.models import CommissionEntry, EntryKind, Payout, Period, PeriodStatus, PlanVersion
from webapp.commissions.periods import month_bounds
from webapp.commissions.plans import assignments_of, engine_plan
from webapp.extensions import db
from webapp.money import from_cents, rate_to_units, to_cents
from webapp.sales.models import Sale, SaleStatus


def lock_agent(agent_id: int) -> None:
    """Serialise ledger changes per agent (SELECT ... FOR UPDATE on the agent's row).

    Two concurrent changes for one agent would each recompute the month without the other's
    sale. SQLite has no row locks; there BEGIN IMMEDIATE already serialises writers.
    """
    db.session.execute(select(User.id).where(User.id == agent_id).with_for_update())


class PlanResolver:
    """Finds the plan version in force for an agent on a date, caching engine plans."""

    def __init__(self, agent_id: int):
        """Load the agent's assignments; versions and engine plans load on first use."""
        self.assignments = assignments_of(agent_id)
        self._versions: dict[int, list[PlanVersion]] = {}
        self._plans: dict[int, engine.Plan] = {}
        self._by_day: dict[date, PlanVersion | None] = {}

    def version_on(self, day: date) -> PlanVersion | None:
        """The version in force on `day`, or None when the agent has no plan that day."""
        # A month has at most 31 days and thousands of sales: resolve each day once.
        if day not in self._by_day:
            self._by_day[day] = self._resolve(day)
        return self._by_day[day]

    def _resolve(self, day: date) -> PlanVersion | None:
        """Find the version in force on `day` (uncached)."""
        for assignment in self.assignments:
            if assignment.effective_from <= day and (assignment.effective_to is None or day <= assignment.effective_to):
                versions = self._versions.get(assignment.plan_id)
                if versions is None:
                    versions = self._versions[assignment.plan_id] = list(db.session.scalars(
                        select(PlanVersion).where(PlanVersion.plan_id == assignment.plan_id)
                        .options(selectinload(PlanVersion.tiers), selectinload(PlanVersion.overrides))
                        .order_by(PlanVersion.effective_from)
                    ))
                in_force = [v for v in versions if v.effective_from <= day]
                return in_force[-1] if in_force else None
        return None

    def engine_plan(self, version: PlanVersion | None) -> engine.Plan | None:
        """The engine plan for a version (built once)."""
        if version is None:
            return None
        plan = self._plans.get(version.id)
        if plan is None:
            plan = self._plans[version.id] = engine_plan(version)
        return plan


def sale_line(sale: Sale, resolver: PlanResolver, *, amount_cents: int | None = None,
              with_id: bool = True) -> tuple[engine.SaleLine, PlanVersion | None]:
    """The engine's view of a sale (its plan version resolved on its date)."""
    version = resolver.version_on(sale.sold_on)
    line = engine.SaleLine(
        id=sale.id if with_id else None,
        date=sale.sold_on,
        amount=from_cents(sale.amount_cents if amount_cents is None else amount_cents),
        sku=sale.product.sku,
        category=sale.product.category.code,
        plan=resolver.engine_plan(version),
    )
    return line, version


def month_sales(agent_id: int, month_start: date, statuses: tuple[str, ...]) -> list[Sale]:
    """The agent's sales of a calendar month with the given statuses, in allocation order."""
    first, last = month_bounds(month_start)
    return list(db.session.scalars(
        select(Sale).where(Sale.agent_id == agent_id, Sale.sold_on >= first, Sale.sold_on <= last,
                           Sale.status.in_(statuses))
        .options(joinedload(Sale.product).joinedload(Product.category))
        .order_by(Sale.sold_on, Sale.id)
    ))


def _is_late_approval(sale: Sale, has_frozen_line: bool) -> bool:
    """An approved sale without a line in a closed period: approved after its period closed."""
    return sale.status == SaleStatus.APPROVED and not has_frozen_line


def _reason(sale: Sale, target: int, has_frozen_line: bool) -> str:
    """Why a system adjustment exists, in words for the statement."""
    if sale.status != SaleStatus.APPROVED:
        return f"Clawback: sale of {sale.sold_on.isoformat()} {sale.status} after its period closed"
    if _is_late_approval(sale, has_frozen_line):
        return f"Late approval of a sale dated {sale.sold_on.isoformat()}"
    return f"Recalculated: {sale.sold_on:%B %Y} tier volume changed"


def recompute_agent_month(agent_id: int, month_start: date) -> dict[int, engine.LineResult]:
    """Bring the agent-month's system entries in line with the engine (caller holds the lock).

    Works on plain rows and writes in bulk (one executemany each for inserts, updates and
    deletes): a month of 10,000 sales must recompute well under a second, and loading and flushing
    that many ORM objects took seconds. Entries are still updated in place (ids stay stable).
    """
    # Core columns (table.c), not ORM attributes: rows come back without the ORM's per-row loading.
    db.session.flush()
    sale_c, entry_c = Sale.__table__.c, CommissionEntry.__table__.c
    resolver = PlanResolver(agent_id)
    first, last = month_bounds(month_start)
    in_month = (sale_c.agent_id == agent_id, sale_c.sold_on >= first, sale_c.sold_on <= last)
    approved = db.session.execute(
        select(sale_c.id, sale_c.agent_id, sale_c.sold_on, sale_c.status, sale_c.amount_cents,
               Product.__table__.c.sku, Category.__table__.c.code.label("category"))
        .join(Product.__table__, sale_c.product_id == Product.__table__.c.id)
        .join(Category.__table__, Product.__table__.c.category_id == Category.__table__.c.id)
        .where(*in_month, sale_c.status == SaleStatus.APPROVED)
        .order_by(sale_c.sold_on, sale_c.id)
    ).all()
    lines, version_ids, plan_by_day = [], {}, {}
    for sale in approved:
        day = sale.sold_on
        in_force = plan_by_day.get(day)
        if in_force is None:
            version = resolver.version_on(day)
            in_force = plan_by_day[day] = (version.id if version else None, resolver.engine_plan(version))
        lines.append(engine.SaleLine(id=sale.id, date=day, amount=from_cents(sale.amount_cents), sku=sale.sku,
                                     category=sale.category, plan=in_force[1]))
        version_ids[sale.id] = in_force[0]
    results = engine.compute_month(lines)

    system = entry_c.kind.in_((EntryKind.SALE, EntryKind.ADJUSTMENT))
    entries = db.session.execute(
        select(entry_c.id, entry_c.sale_id, entry_c.period_id, entry_c.kind, entry_c.amount_cents,
               entry_c.rate_units, entry_c.plan_version_id, entry_c.reason, entry_c.late_approval)
        .join(Sale.__table__, entry_c.sale_id == sale_c.id).where(*in_month, system)
        .order_by(entry_c.id)
    ).all()
    by_sale: dict[int, list] = defaultdict(list)
    for entry in entries:
        by_sale[entry.sale_id].append(entry)
    sales_by_id = {sale.id: sale for sale in approved}
    # Sales no longer approved whose entries must go to 0 (few: voids, and the like).
    sales_by_id.update((sale.id, sale) for sale in db.session.execute(
        select(sale_c.id, sale_c.agent_id, sale_c.sold_on, sale_c.status)
        .where(*in_month, sale_c.status != SaleStatus.APPROVED,
               exists().where(entry_c.sale_id == sale_c.id, system))))

    periods = MonthPeriods(first, last)
    writes = EntryWrites()
    for sale_id in sorted(sales_by_id):
        result = results.get(sale_id)
        target = to_cents(result.commission) if result else 0
        rate_units = rate_to_units(result.rate) if result else None
        _settle_sale(sale_id, sales_by_id[sale_id], by_sale.get(sale_id, []), target, rate_units,
                     version_ids.get(sale_id), periods, writes)
    writes.execute()
    return results


def _settle_sale(sale_id: int, sale, entries: list, target: int, rate_units: int | None,
                 version_id: int | None, periods: MonthPeriods, writes: EntryWrites) -> None:
    """Make one sale's system entries sum to `target` without touching closed periods.

    `sale` and `entries` are rows (agent_id, sold_on and status of the sale; the entry columns).
    """
    approved = sale.status == SaleStatus.APPROVED
    home = periods.home(sale.sold_on)
    if home.id in periods.open_ids:
        # Nothing of this sale is frozen: its line simply takes the new figure (or goes).
        line = None
        for entry in entries:
            if line is None and entry.kind == EntryKind.SALE:
                line = entry
            else:
                writes.delete(entry)
        if not approved:
            if line is not None:
                writes.delete(line)
            return
        if line is None:
            writes.insert(agent_id=sale.agent_id, period_id=home.id, kind=EntryKind.SALE, sale_id=sale_id,
                          amount_cents=target, rate_units=rate_units, plan_version_id=version_id, reason=None,
                          late_approval=False)
        else:
            writes.update(line, target, rate_units, version_id, line.reason, line.late_approval)
        return

    frozen = [e for e in entries if e.period_id not in periods.open_ids]
    open_adjustments = [e for e in entries if e.period_id in periods.open_ids]
    difference = target - sum(e.amount_cents for e in frozen)
    if difference == 0:
        for entry in open_adjustments:
            writes.delete(entry)
        return
    has_frozen_line = any(e.kind == EntryKind.SALE for e in frozen)
    reason, late = _reason(sale, target, has_frozen_line), _is_late_approval(sale, has_frozen_line)
    if open_adjustments:
        keep, *extras = open_adjustments
        for entry in extras:
            writes.delete(entry)
        writes.update(keep, difference, rate_units, version_id, reason, late)
    else:
        writes.insert(agent_id=sale.agent_id, period_id=periods.earliest_open().id, kind=EntryKind.ADJUSTMENT,
                      sale_id=sale_id, amount_cents=difference, rate_units=rate_units,
                      plan_version_id=version_id, reason=reason, late_approval=late)


def months_between(start: date, end: date) -> list[date]:
    """First days of every month from `start`'s month to `end`'s month."""
    months, cursor = [], start.replace(day=1)
    while cursor <= end:
        months.append(cursor)
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return months


def recompute_agent_range(agent_id: int, start: date, end: date | None) -> None:
    """Recompute every month with sales or entries of the agent between start and end (None: on)."""
    conditions = [Sale.agent_id == agent_id, Sale.sold_on >= start]
    if end is not None:
        conditions.append(Sale.sold_on <= end)
    bounds = db.session.execute(select(func.min(Sale.sold_on), func.max(Sale.sold_on)).where(and_(*conditions))).one()
    if bounds[0] is None:
        return
    for month in months_between(bounds[0], bounds[1]):
        recompute_agent_month(agent_id, month)


# ---- Figures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    """An agent's running figures, all in cents."""

    earned: int          # every entry: closed periods plus the open periods' running amount
    stated: int          # entries of closed periods only
    open_running: int    # entries of open periods
    paid: int            # payouts net of reversals
    unpaid: int          # earned - paid
    stated_unpaid: int   # stated - paid


def agent_balance(agent_id: int) -> Balance:
    """Earned to date, paid to date and unpaid balance of an agent."""
    rows = db.session.execute(
        select(Period.status, func.coalesce(func.sum(CommissionEntry.amount_cents), 0))
        .join(Period, CommissionEntry.period_id == Period.id)
        .where(CommissionEntry.agent_id == agent_id).group_by(Period.status)
    ).all()
    by_status = {status: int(total) for status, total in rows}
    paid = int(db.session.scalar(
        select(func.coalesce(func.sum(Payout.amount_cents), 0)).where(Payout.agent_id == agent_id)))
    stated, running = by_status.get(PeriodStatus.CLOSED, 0), by_status.get(PeriodStatus.OPEN, 0)
    return Balance(earned=stated + running, stated=stated, open_running=running, paid=paid,
                   unpaid=stated + running - paid, stated_unpaid=stated - paid)


@dataclass(frozen=True)
class PeriodSummary:
    """An agent's figures for one period, in cents; closing = opening + total - payouts."""

    volume: int
    earned: int
    adjustments: int
    total: int
    opening: int
    payouts: int
    closing: int


def period_summary(agent_id: int, period: Period) -> PeriodSummary:
    """Volume, earned, adjustments, total, opening and closing unpaid balance, payouts."""
    sums = db.session.execute(
        select(
            func.coalesce(func.sum(Sale.amount_cents).filter(CommissionEntry.kind == EntryKind.SALE), 0),
            func.coalesce(func.sum(CommissionEntry.amount_cents).filter(CommissionEntry.kind == EntryKind.SALE), 0),
            func.coalesce(func.sum(CommissionEntry.amount_cents).filter(CommissionEntry.kind != EntryKind.SALE), 0),
        ).select_from(CommissionEntry).outerjoin(Sale, CommissionEntry.sale_id == Sale.id)
        .where(CommissionEntry.agent_id == agent_id, CommissionEntry.period_id == period.id)
    ).one()
    volume, earned, adjustments = (int(v) for v in sums)
    earlier_entries = int(db.session.scalar(
        select(func.coalesce(func.sum(CommissionEntry.amount_cents), 0))
        .join(Period, CommissionEntry.period_id == Period.id)
        .where(CommissionEntry.agent_id == agent_id, Period.end_date < period.start_date)))
    earlier_payouts = int(db.session.scalar(
        select(func.coalesce(func.sum(Payout.amount_cents), 0))
        .where(Payout.agent_id == agent_id, Payout.paid_on < period.start_date)))
    payouts = int(db.session.scalar(
        select(func.coalesce(func.sum(Payout.amount_cents), 0))
        .where(Payout.agent_id == agent_id, Payout.paid_on >= period.start_date,
               Payout.paid_on <= period.end_date)))
    opening = earlier_entries - earlier_payouts
    total = earned + adjustments
    return PeriodSummary(volume=volume, earned=earned, adjustments=adjustments, total=total,
                         opening=opening, payouts=payouts, closing=opening + total - payouts)


# ---- Estimates (COMMISSION_RULES.md section 4) ---------------------------------------------


def _approved_lines(agent_id: int, month_start: date, resolver: PlanResolver) -> list[engine.SaleLine]:
    """The month's approved sales as engine lines."""
    return [sale_line(s, resolver)[0] for s in month_sales(agent_id, month_start, (SaleStatus.APPROVED,))]


def sale_estimate(sale: Sale) -> Decimal:
    """A pending sale's own estimate: its line as if approved now, at its (date, id)."""
    resolver = PlanResolver(sale.agent_id)
    approved = _approved_lines(sale.agent_id, sale.sold_on, resolver)
    return engine.estimate_line(approved, sale_line(sale, resolver)[0]).commission


def pending_estimates(agent_id: int, sales: list[Sale]) -> dict[int, Decimal]:
    """Estimates of many pending sales of one agent, loading each month once."""
    resolver = PlanResolver(agent_id)
    approved_by_month: dict[date, list[engine.SaleLine]] = {}
    estimates = {}
    for sale in sales:
        month = sale.sold_on.replace(day=1)
        if month not in approved_by_month:
            approved_by_month[month] = _approved_lines(agent_id, month, resolver)
        estimates[sale.id] = engine.estimate_line(approved_by_month[month], sale_line(sale, resolver)[0]).commission
    return estimates


def pending_total(agent_id: int, month_start: date) -> Decimal:
    """What approving every pending sale of the month would add: engine(all) - engine(approved)."""
    resolver = PlanResolver(agent_id)
    approved = _approved_lines(agent_id, month_start, resolver)
    pending = [sale_line(s, resolver)[0] for s in month_sales(agent_id, month_start, (SaleStatus.PENDING,))]
    return engine.pending_total(approved, pending)


def estimate_new_sale(agent_id: int, product: Product, amount_cents: int, sold_on: date) -> Decimal:
    """What a sale being typed would earn, placed as if entered now with that date."""
    resolver = PlanResolver(agent_id)
    approved = _approved_lines(agent_id, sold_on, resolver)
    version = resolver.version_on(sold_on)
    candidate = engine.SaleLine(id=None, date=sold_on, amount=from_cents(amount_cents), sku=product.sku,
                                category=product.category.code, plan=resolver.engine_plan(version))
    return engine.estimate_line(approved, candidate).commission
