"""The review queue: a team's pending sales, their warning flags, counters, and bulk decisions.

Flags are computed with a fixed number of set-based queries whatever the size of the team
(no query per sale or per agent), so the team-wide "flagged" counter costs the same as a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, false, func, select
from sqlalchemy.orm import joinedload

from webapp.auth import access
from webapp.auth.models import User
from webapp.catalog.models import Product
from webapp.commissions import ledger
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.formtools import db_id_or_none
from webapp.money import to_cents
from webapp.operations import services as operations
from webapp.paging import Paged, Window, paginate
from webapp.sales import services as sales
from webapp.sales.models import Sale, SaleStatus
from webapp.manage.queue_flags import Flag, Holder, compute_flags, holders_of

PAGE_SIZE = 25
MAX_BULK = 200
ACTIONS = ("approve", "reject")


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
    reason = _check_decision(action, reason)
    return _decide_rows(user, _sale_ids(raw_ids), action, reason)


def _decide_rows(user: User, ids: list[int], action: str, reason: str | None) -> BulkResult:
    """Decide each sale in its own SAVEPOINT (see bulk_decide); a refusal is that row's outcome."""
    result = BulkResult(action=action)
    for sale_id in ids:
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


# ---- Deciding every matching sale (more than a page) ------------------------------------------


def matching_ids(user: User, filters: QueueFilters) -> list[int]:
    """Every pending sale of the team matching the filters, in queue order (all pages)."""
    return list(db.session.scalars(select(Sale.id).where(*_queue_conditions(user, filters))
                                   .order_by(Sale.sold_on, Sale.id)))


def _check_decision(action: str, reason: str | None) -> str | None:
    """The request's own checks, before any row: the action, and a reason for a rejection."""
    if action not in ACTIONS:
        raise ServiceError("Choose approve or reject.", "action")
    # The sales service's own rule, checked once up front: a missing reason is the request's
    # fault (422, nothing written), not twenty identical row failures.
    return sales.check_reason(reason) if action == "reject" else reason


def decide_all_matching(user: User, filters: QueueFilters, action: str, reason: str | None = None):
    """Approve or reject every matching sale: here for a few (a BulkResult), else as a background
    operation (returned; its page shows each refused sale)."""
    reason = _check_decision(action, reason)
    ids = matching_ids(user, filters)
    if not ids:
        raise ServiceError("No sale matches the filters.", "sale_ids")
    if operations.is_large(len(ids)):
        return operations.start(user, BULK_DECISION, ids, action=action, reason=reason)
    return _decide_rows(user, ids, action, reason)


def _bulk_step(operation, batch: list) -> list[str]:
    """Decide a batch of the operation's sales; each refused one is reported, the rest go through."""
    result = _decide_rows(operation.created_by, batch, operation.params["action"], operation.params.get("reason"))
    return [f"Sale #{row.sale_id}: {row.message}" for row in result.failed]


def _bulk_finish(operation) -> dict:
    """How many were decided and refused."""
    verb = "Approved" if operation.params["action"] == "approve" else "Rejected"
    return {"figures": {verb: operation.total - len(operation.errors), "Refused": len(operation.errors)}}


BULK_DECISION = operations.register(operations.Kind(
    name="bulk_decision", label="Deciding the matching sales", step=_bulk_step, finish=_bulk_finish,
    link=lambda operation: ("review.queue", {}, "Back to the review queue"), area="sales")).name
