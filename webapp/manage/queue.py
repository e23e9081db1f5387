"""The review queue: a team's pending sales, their warning flags, counters, and bulk decisions.

Flags are computed with a fixed number of set-based queries whatever the size of the team
(no query per sale or per agent), so the team-wide "flagged" counter costs the same as a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import and_, exists, false, func, or_, select
from sqlalchemy.orm import aliased, joinedload

from webapp.auth import access
from webapp.auth.models import User
from webapp.catalog.models import Product
from webapp.commissions import engine, ledger
from webapp.commissions.models import PlanAssignment, PlanOverride, PlanVersion, Target
from webapp.commissions.periods import last_closed_end
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.formtools import db_id_or_none
from webapp.money import format_money, to_cents, units_to_rate
from webapp.paging import Paged, Window, paginate
from webapp.sales import services as sales
from webapp.sales.models import Sale, SaleCredit, SaleStatus

PAGE_SIZE = 25
# "Unusual" means more than this many times the agent's median approved sale...
UNUSUAL_FACTOR = 3
# ...once the agent has at least this many approved sales (a median of one or two sales is noise).
MEDIAN_MIN_SALES = 3
MAX_BULK = 200
ACTIONS = ("approve", "reject")
# Sales a duplicate can be of: a rejected or cancelled sale was never counted, so re-entering it is fine.
_DUPLICATE_OF = (SaleStatus.PENDING, SaleStatus.APPROVED, SaleStatus.VOIDED)


@dataclass(frozen=True)
class QueueFilters:
    """What the manager narrowed the queue to (amounts in cents; None means no limit)."""

    agent_id: int | None = None
    product_id: int | None = None
    start: date | None = None
    end: date | None = None
    min_cents: int | None = None
    max_cents: int | None = None
    flagged_only: bool = False


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


@dataclass(frozen=True)
class QueuePage(Paged):
    """One page of the queue with each sale's flags and commission estimate (cents), and the
    holders of its split sales."""

    sales: list[Sale]
    flags: dict[int, list[Flag]]
    estimates: dict[int, int]
    window: Window
    holders: dict[int, list[Holder]] = field(default_factory=dict)


@dataclass(frozen=True)
class Counters:
    """The team's queue at a glance (amount in cents)."""

    pending_count: int
    pending_cents: int
    flagged_count: int
    oldest: date | None


@dataclass
class RowResult:
    """What happened to one sale of a bulk decision."""

    sale_id: int
    sale: Sale | None
    ok: bool
    message: str
    status: int = 200


@dataclass
class BulkResult:
    """Every row's outcome, in the order the sales were given."""

    action: str
    rows: list[RowResult] = field(default_factory=list)

    @property
    def decided(self) -> list[RowResult]:
        """The rows that were approved or rejected."""
        return [r for r in self.rows if r.ok]

    @property
    def failed(self) -> list[RowResult]:
        """The rows that were refused, with their message."""
        return [r for r in self.rows if not r.ok]


def _team_condition(user: User):
    """SQL condition: the sale belongs to an agent the user reviews (admins: every agent)."""
    return access.agent_scope(user, Sale.agent_id)


def _pending_condition(user: User):
    """SQL condition: a pending sale of the user's team."""
    return and_(Sale.status == SaleStatus.PENDING, _team_condition(user))


def _filter_conditions(filters: QueueFilters) -> list:
    """SQL conditions for the filters the manager set."""
    conditions = []
    if filters.agent_id:
        conditions.append(Sale.agent_id == filters.agent_id)
    if filters.product_id:
        conditions.append(Sale.product_id == filters.product_id)
    if filters.start:
        conditions.append(Sale.sold_on >= filters.start)
    if filters.end:
        conditions.append(Sale.sold_on <= filters.end)
    if filters.min_cents is not None:
        conditions.append(Sale.amount_cents >= filters.min_cents)
    if filters.max_cents is not None:
        conditions.append(Sale.amount_cents <= filters.max_cents)
    return conditions


# ---- Flags ----------------------------------------------------------------------------------


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


def _no_plan_ids(scope) -> set[int]:
    """Sales in `scope` whose agent had no plan version in force on the sale date.

    The same rule as ledger.PlanResolver (an assignment covering the day, then the plan's latest
    version dated on or before it), written as one NOT EXISTS so a whole team is checked in one
    query instead of one resolver per agent.
    """
    in_force = (
        select(PlanAssignment.id)
        .join(PlanVersion, PlanVersion.plan_id == PlanAssignment.plan_id)
        .where(PlanAssignment.agent_id == Sale.agent_id, PlanAssignment.effective_from <= Sale.sold_on,
               or_(PlanAssignment.effective_to.is_(None), PlanAssignment.effective_to >= Sale.sold_on),
               PlanVersion.effective_from <= Sale.sold_on)
    )
    return set(db.session.scalars(select(Sale.id).where(scope, ~exists(in_force))))


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

    for sale_id in sorted(_no_plan_ids(scope)):
        add(sale_id, Flag("no_plan", "No plan",
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


def team_flags(user: User) -> dict[int, list[Flag]]:
    """The flags of every pending sale of the user's team."""
    return compute_flags(_team_condition(user))


# ---- Reading the queue ------------------------------------------------------------------------


def _queue_conditions(user: User, filters: QueueFilters) -> list:
    """SQL conditions of the queue: the team's pending sales, narrowed by the filters."""
    conditions = [_pending_condition(user), *_filter_conditions(filters)]
    if filters.flagged_only:
        flagged = sorted(team_flags(user))
        conditions.append(Sale.id.in_(flagged) if flagged else false())
    return conditions


def count_matching(user: User, filters: QueueFilters) -> int:
    """How many pending sales of the team match the filters (all pages)."""
    return db.session.scalar(select(func.count(Sale.id)).where(*_queue_conditions(user, filters)))


def queue_page(user: User, filters: QueueFilters, page: int = 1) -> QueuePage:
    """The team's pending sales matching the filters, oldest first (sold_on, id), page `page` of them."""
    window, query = paginate(select(Sale).where(*_queue_conditions(user, filters)), page, PAGE_SIZE)
    found = list(db.session.scalars(
        query.options(joinedload(Sale.agent), joinedload(Sale.entered_by), joinedload(Sale.customer),
                      joinedload(Sale.product).joinedload(Product.category))
        .order_by(Sale.sold_on, Sale.id)))
    ids = [s.id for s in found]
    flags = compute_flags(Sale.id.in_(ids)) if ids else {}
    return QueuePage(sales=found, flags=flags, estimates=estimates_for(found), window=window,
                     holders=holders_of(ids))


def estimates_for(pending: list[Sale]) -> dict[int, int]:
    """Each pending sale's own commission estimate (cents), one ledger pass per agent."""
    by_agent: dict[int, list[Sale]] = {}
    for sale in pending:
        if sale.status == SaleStatus.PENDING:
            by_agent.setdefault(sale.agent_id, []).append(sale)
    estimates: dict[int, int] = {}
    for agent_id, agent_sales in by_agent.items():
        estimates.update({k: to_cents(v) for k, v in ledger.pending_estimates(agent_id, agent_sales).items()})
    return estimates


def counters(user: User) -> Counters:
    """Pending count and amount, flagged count and the oldest sale date of the user's team."""
    count, amount, oldest = db.session.execute(
        select(func.count(Sale.id), func.coalesce(func.sum(Sale.amount_cents), 0), func.min(Sale.sold_on))
        .where(_pending_condition(user))
    ).one()
    return Counters(pending_count=int(count), pending_cents=int(amount), flagged_count=len(team_flags(user)),
                    oldest=oldest)


def reviewable_sale(user: User, sale_id: int) -> Sale:
    """A sale of the user's team (any status; the decision services check it), else NotFound."""
    return access.visible_sale(user, sale_id)


# ---- Deciding ---------------------------------------------------------------------------------


def decide(user: User, sale: Sale, action: str, reason: str | None = None) -> Sale:
    """Approve or reject one sale through the sales services (lock, recompute, audit, email)."""
    if action == "approve":
        return sales.approve_sale(user, sale)
    if action == "reject":
        return sales.reject_sale(user, sale, reason)
    raise ServiceError("Choose approve or reject.", "action")


def _sale_ids(raw: list) -> list[int]:
    """Posted sale ids as ints, duplicates dropped, order kept; ServiceError when none or junk."""
    ids: list[int] = []
    for value in raw:
        text = str(value).strip()
        if db_id_or_none(text) is None:
            raise ServiceError("Select sales from the list.", "sale_ids")
        if int(text) not in ids:
            ids.append(int(text))
    if not ids:
        raise ServiceError("Select at least one sale.", "sale_ids")
    if len(ids) > MAX_BULK:
        raise ServiceError(f"Select at most {MAX_BULK} sales at a time.", "sale_ids")
    return ids


def bulk_decide(user: User, raw_ids: list, action: str, reason: str | None = None) -> BulkResult:
    """Approve or reject many sales; each row succeeds or fails on its own (the caller commits once).

    A refused row (already decided by someone else, entered by this manager, not of this team)
    must not undo the rows that went through: a manager who ticked twenty sales and finds one
    approved a minute ago by a colleague wants the other nineteen decided. So each row runs in a
    SAVEPOINT: a refusal rolls back only that row's writes, and the route's single commit makes
    the rest permanent together. The request as a whole is checked first (action, reason,
    selection), so a bad request writes nothing at all.
    """
    if action not in ACTIONS:
        raise ServiceError("Choose approve or reject.", "action")
    if action == "reject":
        # The sales service's own rule, checked once up front: a missing reason is the request's
        # fault (422, nothing written), not twenty identical row failures.
        reason = sales.check_reason(reason)
    result = BulkResult(action=action)
    for sale_id in _sale_ids(raw_ids):
        sale = None
        try:
            with db.session.begin_nested():
                sale = reviewable_sale(user, sale_id)
                decide(user, sale, action, reason)
        except ServiceError as exc:
            message = "Sale not found." if exc.status == 404 else exc.message
            known = None if exc.status == 404 else sale
            result.rows.append(RowResult(sale_id, known, False, message, exc.status))
        else:
            done = "Approved" if action == "approve" else "Rejected"
            result.rows.append(RowResult(sale_id, sale, True, done))
    return result
