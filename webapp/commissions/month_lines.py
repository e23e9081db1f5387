"""An agent-month as the engine sees it: the plan in force each day, and the lines a holder has.

A holder's lines are the credits they hold of the month's sales (COMMISSION_RULES.md section 8):
every sale has its primary credit, and a split sale a credit per co-agent. Lines carry the sale's
whole amount, quantity and shares and the holder's index, so the engine allocates the credited
amount itself; the holder's team (their manager when the credit was recorded) is for SPIFFs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from webapp.catalog.models import Category, Product
from webapp.commissions import engine
from webapp.commissions.held import held_credit_rows
from webapp.commissions.models import PlanAssignment, PlanOverride, PlanVersion, Target
from webapp.commissions.periods import month_bounds
from webapp.commissions.plans import assignments_of, engine_plan
from webapp.extensions import db
from webapp.money import from_cents, units_to_rate
from webapp.sales.models import FULL_SHARE, Sale, SaleCredit, SaleStatus
from webapp.commissions.spiff_month import MonthSpiffs, month_spiffs


# Bounded IN lists (SQLite's variable limit).
CHUNK = 500


def chunks(ids: list) -> list[list]:
    """`ids` in slices of at most CHUNK (one statement each)."""
    return [ids[start:start + CHUNK] for start in range(0, len(ids), CHUNK)]


class PlanResolver:
    """Finds the plan version in force for an agent on a date, caching engine plans."""

    def __init__(self, agent_id: int, assignments: list[PlanAssignment] | None = None,
                 versions: dict[int, list[PlanVersion]] | None = None, plans: dict[int, engine.Plan] | None = None):
        """Load the agent's assignments (unless given); versions and engine plans load on first use
        (plan_resolvers gives many agents' at once, sharing the versions and engine plans)."""
        self.assignments = assignments_of(agent_id) if assignments is None else assignments
        self._versions: dict[int, list[PlanVersion]] = {} if versions is None else versions
        self._plans: dict[int, engine.Plan] = {} if plans is None else plans
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


def plan_resolvers(agent_ids: list[int]) -> dict[int, PlanResolver]:
    """A resolver per agent from one query for the agents' assignments and one for their plans'
    versions (with tiers and overrides): the same resolution as PlanResolver(agent_id)."""
    assignments: dict[int, list[PlanAssignment]] = {agent_id: [] for agent_id in agent_ids}
    for ids in chunks(sorted(assignments)):
        for row in db.session.scalars(select(PlanAssignment).where(PlanAssignment.agent_id.in_(ids))
                                      .order_by(PlanAssignment.agent_id, PlanAssignment.effective_from)):
            assignments[row.agent_id].append(row)
    versions: dict[int, list[PlanVersion]] = {plan_id: [] for rows in assignments.values() for plan_id in
                                              {row.plan_id for row in rows}}
    for ids in chunks(sorted(versions)):
        for version in db.session.scalars(
                select(PlanVersion).where(PlanVersion.plan_id.in_(ids))
                .options(selectinload(PlanVersion.tiers),
                         selectinload(PlanVersion.overrides).joinedload(PlanOverride.category),
                         selectinload(PlanVersion.overrides).joinedload(PlanOverride.product))
                .order_by(PlanVersion.plan_id, PlanVersion.effective_from)):
            versions[version.plan_id].append(version)
    plans: dict[int, engine.Plan] = {}
    return {agent_id: PlanResolver(agent_id, rows, versions, plans) for agent_id, rows in assignments.items()}


def target_of(agent_id: int, month_start: date) -> Decimal | None:
    """The agent's target for the month (None: no target set)."""
    cents = db.session.scalar(select(Target.amount_cents).where(Target.agent_id == agent_id,
                                                                Target.month == month_start.replace(day=1)))
    return from_cents(cents) if cents is not None else None


def shares_of(sale_ids: list[int]) -> dict[int, tuple[Decimal, ...]]:
    """Every holder's share (percent, primary first) of each of these split sales."""
    shares: dict[int, list[Decimal]] = defaultdict(list)
    credit_c = SaleCredit.__table__.c
    for start in range(0, len(sale_ids), 500):  # bounded IN lists (SQLite's variable limit)
        for sale_id, units in db.session.execute(
                select(credit_c.sale_id, credit_c.share_units).where(credit_c.sale_id.in_(sale_ids[start:start + 500]))
                .order_by(credit_c.sale_id, credit_c.position)):
            shares[sale_id].append(units_to_rate(units))
    return {sale_id: tuple(values) for sale_id, values in shares.items()}


def targets_of(agent_ids: list[int], month_start: date) -> dict[int, Decimal]:
    """The agents' targets for the month, in one query (an agent without one is left out)."""
    found = {}
    for ids in chunks(sorted(agent_ids)):
        found.update((agent_id, from_cents(cents)) for agent_id, cents in db.session.execute(
            select(Target.agent_id, Target.amount_cents).where(Target.agent_id.in_(ids),
                                                               Target.month == month_start.replace(day=1))))
    return found


@dataclass
class HolderMonth:
    """One holder's lines of one month with what the engine needs besides them."""

    agent_id: int
    first: date
    last: date
    lines: list[engine.SaleLine]
    version_ids: dict[int, int | None]
    target: Decimal | None
    spiffs: MonthSpiffs
    resolver: PlanResolver

    def plan_on(self, day: date) -> engine.Plan | None:
        """The holder's engine plan in force on `day` (None: no plan)."""
        return self.resolver.engine_plan(self.resolver.version_on(day))

    def compute(self) -> dict[int, engine.LineResult]:
        """The engine's figures for the month (commission and SPIFF rewards of every line)."""
        return engine.compute_month(self.lines, target=self.target, spiffs=self.spiffs.spiffs)


def _credited_rows(holders: list[int], first: date, last: date, statuses: tuple[str, ...]) -> list:
    """The credits these holders hold of the month's sales with these statuses, with their sale,
    product and category, in holder then allocation order.

    It starts from the held credits (webapp/commissions/held.py), not from every credit of the holders."""
    product_c, category_c = Product.__table__.c, Category.__table__.c
    held = held_credit_rows(holders, first, last).subquery("held")
    return db.session.execute(
        select(held.c.agent_id, held.c.sale_id.label("id"), held.c.sold_on, held.c.amount_cents, held.c.quantity,
               held.c.position, held.c.share_units, held.c.team_id, product_c.sku, category_c.code.label("category"))
        .select_from(held)
        .join(Product.__table__, held.c.product_id == product_c.id)
        .join(Category.__table__, product_c.category_id == category_c.id)
        .where(held.c.status.in_(statuses))
        .order_by(held.c.agent_id, held.c.sold_on, held.c.sale_id)
    ).all()


def _month_of(agent_id: int, first: date, last: date, rows: list, split: dict, resolver: PlanResolver,
              target: Decimal | None, spiffs: MonthSpiffs) -> HolderMonth:
    """One holder's month from their credited rows (in allocation order) and what the engine needs."""
    plan_by_day = {}
    lines, version_ids = [], {}
    # Unpacked, not read by name: a row's attribute costs about 0.75 us, and a batch recompute
    # reads ten of them on each of tens of thousands of rows.
    for _, sale_id, sold_on, amount_cents, quantity, position, _, team_id, sku, category in rows:
        in_force = plan_by_day.get(sold_on)
        if in_force is None:
            version = resolver.version_on(sold_on)
            in_force = plan_by_day[sold_on] = (version.id if version else None, resolver.engine_plan(version))
        lines.append(engine.SaleLine(
            sale_id, sold_on, from_cents(amount_cents), sku, category, in_force[1], quantity, split.get(sale_id, ()),
            position, str(team_id) if team_id is not None else None))
        version_ids[sale_id] = in_force[0]
    return HolderMonth(agent_id, first, last, lines, version_ids, target, spiffs, resolver)


def holder_month(agent_id: int, month_start: date,
                 statuses: tuple[str, ...] = (SaleStatus.APPROVED,)) -> HolderMonth:
    """The holder's lines of the month's sales with these statuses, in allocation order."""
    first, last = month_bounds(month_start)
    rows = _credited_rows([agent_id], first, last, statuses)
    split = shares_of([row.id for row in rows if row.share_units != FULL_SHARE])
    return _month_of(agent_id, first, last, rows, split, PlanResolver(agent_id), target_of(agent_id, first),
                     month_spiffs(first, last))


def holder_months(agent_ids, month_start: date) -> dict[int, HolderMonth]:
    """Every one of these holders' months of approved lines (an empty one for a holder without any),
    in a fixed number of queries for any number of holders: the lines, the split shares, the
    plans, the targets and the SPIFFs, each once (per CHUNK of ids)."""
    first, last = month_bounds(month_start)
    agents = sorted(set(agent_ids))
    by_agent: dict[int, list] = {agent_id: [] for agent_id in agents}
    split_ids = set()
    for ids in chunks(agents):
        for row in _credited_rows(ids, first, last, (SaleStatus.APPROVED,)):
            holder, sale_id, share_units = row[0], row[1], row[6]  # by position, as _month_of reads them
            by_agent[holder].append(row)
            if share_units != FULL_SHARE:
                split_ids.add(sale_id)
    split = shares_of(sorted(split_ids))
    resolvers, targets, spiffs = plan_resolvers(agents), targets_of(agents, first), month_spiffs(first, last)
    return {agent_id: _month_of(agent_id, first, last, rows, split, resolvers[agent_id], targets.get(agent_id), spiffs)
            for agent_id, rows in by_agent.items()}
