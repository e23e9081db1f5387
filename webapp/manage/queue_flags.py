"""The review queue's warning flags and a split sale's holders, computed with a fixed number of
set-based queries whatever the size of the team (no query per sale or per agent)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from webapp.auth.models import User
from webapp.catalog.models import Product
from webapp.commissions import engine
from webapp.commissions.models import PlanAssignment, PlanOverride, PlanVersion, Target
from webapp.commissions.periods import last_closed_end
from webapp.extensions import db
from webapp.money import format_money, units_to_rate
from webapp.sales.models import FULL_SHARE, Sale, SaleCredit, SaleStatus

# "Unusual" means more than this many times the agent's median approved sale...
UNUSUAL_FACTOR = 3
# ...once the agent has at least this many approved sales (a median of one or two sales is noise).
MEDIAN_MIN_SALES = 3
# Sales a duplicate can be of: a rejected or cancelled sale was never counted, so re-entering it is fine.
_DUPLICATE_OF = (SaleStatus.PENDING, SaleStatus.APPROVED, SaleStatus.VOIDED)


@dataclass(frozen=True)
class Flag:
    """Something a reviewer should look at twice before deciding a sale."""

    kind: str    # no_plan | no_target | unusual | duplicate | late
    label: str   # the badge
    detail: str  # one line saying why


@dataclass(frozen=True)
class Holder:
    """One holder of a split sale as the queue shows it: who, which share, what credit (cents)."""

    name: str
    share: Decimal
    credit_cents: int
    primary: bool


def agent_medians(agent_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Twice the median approved sale amount (cents) and the sale count, per agent, in one query.

    Twice the median keeps even counts exact in integers (the median of 1 and 2 cents is 1.5).
    Window functions rank each agent's approved amounts in the database, so only the one or two
    middle rows per agent come back, however many sales an agent has.
    """
    if not agent_ids:
        return {}
    ranked = (
        select(Sale.agent_id, Sale.amount_cents,
               func.row_number().over(partition_by=Sale.agent_id,
                                      order_by=(Sale.amount_cents, Sale.id)).label("rn"),
               func.count().over(partition_by=Sale.agent_id).label("n"))
        .where(Sale.agent_id.in_(agent_ids), Sale.status == SaleStatus.APPROVED)
        .subquery()
    )
    # Integer division: the middle row of an odd count twice, the two middle rows of an even one.
    lower, upper = (ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2
    rows = db.session.execute(
        select(ranked.c.agent_id, ranked.c.amount_cents, ranked.c.rn, ranked.c.n)
        .where(or_(ranked.c.rn == lower, ranked.c.rn == upper))
    ).all()
    medians: dict[int, tuple[int, int]] = {}
    for agent_id, amount, rn, n in rows:
        twice, _ = medians.get(agent_id, (0, n))
        middle_rows = 1 if n % 2 else 2
        medians[agent_id] = (twice + amount * (2 // middle_rows), int(n))
    return medians


def _median_text(twice_median: int) -> str:
    """A median in the installation's currency for display (half a cent rounds up)."""
    amount = (Decimal(twice_median) / 200).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return format_money(amount, current_app.config["CURRENCY"], cents=False)


def _no_plan_holders(scope) -> dict[int, list[tuple[str, bool]]]:
    """For each sale in `scope`, its holders (name, whether the sale is split; primary first) who had
    no plan version in force on the sale date: their credit would earn nothing.

    The same rule as ledger.PlanResolver (an assignment covering the day, then the plan's latest
    version dated on or before it), written as one NOT EXISTS so a whole team is checked in one
    query instead of one resolver per agent.
    """
    in_force = (
        select(PlanAssignment.id)
        .join(PlanVersion, PlanVersion.plan_id == PlanAssignment.plan_id)
        .where(PlanAssignment.agent_id == SaleCredit.agent_id, PlanAssignment.effective_from <= Sale.sold_on,
               or_(PlanAssignment.effective_to.is_(None), PlanAssignment.effective_to >= Sale.sold_on),
               PlanVersion.effective_from <= Sale.sold_on)
    )
    found: dict[int, list[tuple[str, bool]]] = {}
    for sale_id, name, share_units in db.session.execute(
            select(Sale.id, User.name, SaleCredit.share_units)
            .join(SaleCredit, SaleCredit.sale_id == Sale.id).join(User, User.id == SaleCredit.agent_id)
            .where(scope, ~exists(in_force)).order_by(Sale.id, SaleCredit.position)):
        found.setdefault(sale_id, []).append((name, share_units != FULL_SHARE))
    return found


def _no_target_holders(scope) -> dict[int, list[str]]:
    """For each sale in `scope`, the holders (names, primary first) whose commission would be "no target".

    That is a holder whose plan version in force on the sale date has a target_percent table, whose
    version has no product or category rate for the sale (an override line keeps its own rate and
    is not flagged, COMMISSION_RULES.md section 9), and who has no target for the sale's month. Two
    queries whatever the number of sales: the holders on attainment plans (the version in force is
    the same rule as ledger.PlanResolver, as a correlated subquery), then their targets.
    """
    in_force = (
        select(PlanVersion.id)
        .join(PlanAssignment, PlanAssignment.plan_id == PlanVersion.plan_id)
        .where(PlanAssignment.agent_id == SaleCredit.agent_id, PlanAssignment.effective_from <= Sale.sold_on,
               or_(PlanAssignment.effective_to.is_(None), PlanAssignment.effective_to >= Sale.sold_on),
               PlanVersion.effective_from <= Sale.sold_on)
        .order_by(PlanVersion.effective_from.desc()).limit(1)
        .correlate(Sale, SaleCredit).scalar_subquery()
    )
    override = select(PlanOverride.id).where(
        PlanOverride.version_id == PlanVersion.id,
        or_(PlanOverride.product_id == Sale.product_id, PlanOverride.category_id == Product.category_id))
    rows = db.session.execute(
        select(Sale.id, Sale.sold_on, SaleCredit.agent_id, User.name)
        .join(SaleCredit, SaleCredit.sale_id == Sale.id)
        .join(User, User.id == SaleCredit.agent_id)
        .join(Product, Product.id == Sale.product_id)
        .join(PlanVersion, PlanVersion.id == in_force)
        .where(scope, PlanVersion.basis == engine.TierBasis.TARGET_PERCENT, ~exists(override))
        .order_by(Sale.id, SaleCredit.position)
    ).all()
    if not rows:
        return {}
    months = {row.sold_on.replace(day=1) for row in rows}
    with_target = set(db.session.execute(
        select(Target.agent_id, Target.month).where(Target.agent_id.in_({row.agent_id for row in rows}),
                                                    Target.month.in_(months))).all())
    found: dict[int, list[str]] = {}
    for row in rows:
        if (row.agent_id, row.sold_on.replace(day=1)) not in with_target:
            found.setdefault(row.id, []).append(row.name)
    return found


def holders_of(sale_ids: list[int]) -> dict[int, list[Holder]]:
    """The holders of the split sales among `sale_ids` (primary first), in one query; unsplit sales
    (one holder with 100%) are left out."""
    if not sale_ids:
        return {}
    found: dict[int, list[Holder]] = {}
    for sale_id, position, units, credit, name in db.session.execute(
            select(SaleCredit.sale_id, SaleCredit.position, SaleCredit.share_units, SaleCredit.credit_cents, User.name)
            .join(User, User.id == SaleCredit.agent_id)
            .where(SaleCredit.sale_id.in_(sale_ids)).order_by(SaleCredit.sale_id, SaleCredit.position)):
        found.setdefault(sale_id, []).append(Holder(name, units_to_rate(units), int(credit), position == 0))
    return {sale_id: holders for sale_id, holders in found.items() if len(holders) > 1}


def _duplicates(scope) -> dict[int, list[tuple[int, str]]]:
    """For each sale in `scope`, the other live sales with the same agent, customer, product, amount, date."""
    other = aliased(Sale)
    rows = db.session.execute(
        select(Sale.id, other.id, other.status)
        .join(other, and_(other.agent_id == Sale.agent_id, other.customer_id == Sale.customer_id,
                          other.product_id == Sale.product_id, other.amount_cents == Sale.amount_cents,
                          other.sold_on == Sale.sold_on, other.id != Sale.id))
        .where(scope, other.status.in_(_DUPLICATE_OF))
        .order_by(Sale.id, other.id)
    ).all()
    found: dict[int, list[tuple[int, str]]] = {}
    for sale_id, other_id, status in rows:
        found.setdefault(sale_id, []).append((other_id, status))
    return found


def compute_flags(scope) -> dict[int, list[Flag]]:
    """The flags of every pending sale matching the SQL condition `scope` (unflagged sales left out)."""
    scope = and_(Sale.status == SaleStatus.PENDING, scope)
    rows = db.session.execute(
        select(Sale.id, Sale.agent_id, Sale.amount_cents, Sale.sold_on).where(scope)).all()
    if not rows:
        return {}
    flags: dict[int, list[Flag]] = {}

    def add(sale_id: int, flag: Flag) -> None:
        """Attach a flag to a sale."""
        flags.setdefault(sale_id, []).append(flag)

    for sale_id, holders in sorted(_no_plan_holders(scope).items()):
        split = any(is_split for _, is_split in holders)
        add(sale_id, Flag("no_plan", "No plan",
                          f"No commission plan in force on its date for {_names([n for n, _ in holders])}: their "
                          "credit would earn nothing." if split else
                          "No commission plan in force on its date: it would earn nothing."))
    for sale_id, names in sorted(_no_target_holders(scope).items()):
        add(sale_id, Flag("no_target", "No target",
                          f"No target for the month for {_names(names)}: an attainment plan pays its first "
                          "bracket's rate until one is set."))
    medians = agent_medians(sorted({row.agent_id for row in rows}))
    for row in rows:
        twice, count = medians.get(row.agent_id, (0, 0))
        # amount > 3 x median  <=>  2 x amount > 3 x (2 x median), all in integers.
        if count >= MEDIAN_MIN_SALES and 2 * row.amount_cents > UNUSUAL_FACTOR * twice:
            ratio = (Decimal(2 * row.amount_cents) / Decimal(twice)).quantize(
                Decimal("0.1"), rounding=ROUND_HALF_UP)
            add(row.id, Flag("unusual", "Unusual amount",
                             f"{ratio}× the agent's median approved sale ({_median_text(twice)})."))
    for sale_id, others in sorted(_duplicates(scope).items()):
        listed = ", ".join(f"#{other_id} ({status})" for other_id, status in others)
        add(sale_id, Flag("duplicate", "Possible duplicate",
                          f"Same agent, customer, product, amount and date as sale {listed}."))
    closed_until = last_closed_end()
    if closed_until is not None:
        for row in rows:
            if row.sold_on <= closed_until:
                add(row.id, Flag(
                    "late", "Late approval",
                    "Dated in a closed period: what it earns posts in the earliest open period."))
    return flags


def _names(names: list[str]) -> str:
    """Names as a phrase: "Ann", "Ann and Ben", "Ann, Ben and Cy"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
