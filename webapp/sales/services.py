"""Sales services: record, edit, cancel, approve, reject, void. Each keeps the ledger exact.

Every change locks every holder of the sale (its agent and any co-agents, before and after an
edit) in ascending id order, then recomputes each holder's month in the same transaction
(webapp.commissions.ledger; COMMISSION_RULES.md section 8). Services flush; the route commits
once. Recording one sale and editing it live here; many at once in `batch`, decisions in
`decisions`, the checks they share in `checks`. This module is the sales services' one entry
point, so it re-exports those.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp import clock
from webapp.audit.models import AuditEvent
from webapp.audit.services import record
from webapp.auth import access
from webapp.auth.models import User
from webapp.auth.services import normalise_email
from webapp.catalog import services as catalog
from webapp.catalog.models import Customer
from webapp.commissions.ledger import (estimate_new_sale, estimate_new_sale_result, lock_agents,
                                       recompute_agent_month)
from webapp.commissions.periods import get_settings, is_date_closed
from webapp.errors import CLOSED_PERIOD, ServiceError
from webapp.extensions import db
from webapp.money import rate_to_units, to_cents
from webapp.sales.batch import BatchItem, BatchResult, create_sales
from webapp.sales.checks import (KEY_PATTERN, MAX_QUANTITY, CoAgentInput, SaleBatch, SaleInput, check_key,
                                 checked_figures, checked_holders, snapshot, validated)
from webapp.sales.credits import holder_ids, new_credits, set_credits
from webapp.sales.decisions import approve_sale, check_reason, reject_sale, void_sale
from webapp.sales.models import Sale, SaleStatus

__all__ = [
    "KEY_PATTERN", "MAX_QUANTITY", "BatchItem", "BatchResult", "CoAgentInput", "HolderEstimate",
    "SaleBatch", "SaleInput", "approve_sale", "cancel_sale", "check_editable", "check_reason",
    "checked_holders", "create_sale", "create_sales", "estimate_sale", "find_by_key", "holder_estimates",
    "reject_sale", "same_request", "update_sale", "void_sale",
]


def find_by_key(actor: User, key: str) -> Sale | None:
    """The sale this user already made with this idempotency key."""
    return db.session.scalar(select(Sale).where(Sale.entered_by_id == actor.id, Sale.idempotency_key == key))


def create_sale(actor: User, data: SaleInput, *, idempotency_key: str,
                agent_id: int | None = None) -> tuple[Sale, bool]:
    """Record a sale; the same key again returns the sale already made. Returns (sale, created)."""
    key = check_key(idempotency_key)
    existing = find_by_key(actor, key)
    if existing is not None:
        return existing, False
    agent = access.recording_agent(actor, agent_id)
    holders = checked_holders(agent, data)
    # Every holder's month may change: lock them all, in id order (section 8).
    lock_agents(holder.id for holder, _ in holders)
    # Read again under the lock: a concurrent request with this key that held the lock has committed
    # its sale by now, and going on would insert a second new customer before the sale's insert fails.
    existing = find_by_key(actor, key)
    if existing is not None:
        return existing, False
    product, customer, quantity, unit_price_cents, amount_cents, note = validated(agent, data, actor)
    approve_now = not get_settings().approval_required
    try:
        # A concurrent request with the same key may still win the insert (the key is the actor's,
        # the lock the agent's); then return its sale. The new customer is undone with the sale.
        with db.session.begin_nested():
            if customer is None:
                customer = catalog.create_customer(actor, name=data.new_customer_name,
                                                   email=data.new_customer_email)
            sale = Sale(
                agent_id=agent.id, product_id=product.id, customer_id=customer.id, quantity=quantity,
                unit_price_cents=unit_price_cents, amount_cents=amount_cents, sold_on=data.sold_on,
                status=SaleStatus.APPROVED if approve_now else SaleStatus.PENDING,
                entered_by_id=actor.id, idempotency_key=key, note=note,
                decided_at=clock.now_utc() if approve_now else None,
                credits=new_credits(holders, amount_cents),
            )
            db.session.add(sale)
            db.session.flush()
    except IntegrityError:
        existing = find_by_key(actor, key)
        if existing is None:
            raise
        return existing, False
    record(actor, "sale.create", sale, None, snapshot(sale))
    if approve_now:
        for holder_id in sorted(holder_ids(sale)):
            recompute_agent_month(holder_id, sale.sold_on)
    return sale, True


def estimate_sale(actor: User, data: SaleInput, agent_id: int | None = None) -> tuple[int, Decimal]:
    """(amount cents, commission) a sale would earn if recorded now; writes nothing.

    create_sale's checks of the agent, product, quantity, price and date (no customer needed)."""
    agent = access.recording_agent(actor, agent_id)
    product, _, _, amount_cents = checked_figures(agent, data)
    return amount_cents, estimate_new_sale(agent.id, product, amount_cents, data.sold_on)


@dataclass(frozen=True)
class HolderEstimate:
    """What a sale being typed would credit and earn one of its holders (cents)."""

    agent: User
    share: Decimal
    credit_cents: int
    commission_cents: int
    no_plan: bool
    spiff_cents: int = 0  # SPIFF rewards, shown apart from commission (COMMISSION_RULES.md 10)

    @property
    def share_units(self) -> int:
        """The share in stored units (ten-thousandths of a percent), for the `rate` filter."""
        return rate_to_units(self.share)


def holder_estimates(holders: list[tuple[User, Decimal]], product, amount_cents: int, quantity: int,
                     sold_on: date) -> list[HolderEstimate]:
    """Each holder's estimate of a sale being typed (section 4 per holder: the holder's credit in
    the holder's own month, under the holder's own plan); holders as checked_holders returns them."""
    shares = tuple(share for _, share in holders) if len(holders) > 1 else ()
    out = []
    for index, (holder, share) in enumerate(holders):
        result = estimate_new_sale_result(holder.id, product, amount_cents, sold_on, quantity=quantity,
                                          shares=shares, holder=index,
                                          team=str(holder.manager_id) if holder.manager_id else None)
        out.append(HolderEstimate(holder, share, to_cents(result.line.credited), to_cents(result.commission),
                                  result.no_plan, to_cents(sum((r.reward for r in result.spiffs), Decimal(0)))))
    return out


def _as_created(sale: Sale) -> dict:
    """The sale's fields as it was first recorded (its creation audit event; the row if none).

    A pending sale can be edited later; a retried request is compared with what it made."""
    created = db.session.scalar(
        select(AuditEvent.after).where(AuditEvent.object_type == "Sale", AuditEvent.object_id == sale.id,
                                       AuditEvent.action == "sale.create").order_by(AuditEvent.id).limit(1))
    return created or snapshot(sale)


def same_request(sale: Sale, agent_id: int | None, data: SaleInput) -> bool:
    """True when `data` (for `agent_id`) describes the sale already made under its idempotency key.

    Compared field by field with the sale as it was created, so no fingerprint needs storing: the
    product, quantity, unit price, date, note and agent, and the customer (the same id, or a new
    customer of the same name and email)."""
    original = _as_created(sale)
    try:
        unit_price_cents = to_cents(data.unit_price)
    except (TypeError, ValueError, ArithmeticError):
        return False
    if (original["agent_id"], original["product_id"], original["quantity"], original["unit_price_cents"],
            original["sold_on"], original["note"]) != (
            agent_id, data.product_id, data.quantity, unit_price_cents,
            data.sold_on.isoformat() if isinstance(data.sold_on, date) else None,
            (data.note or "").strip() or None):
        return False
    if not _same_holders(sale, original, data):
        return False
    if data.customer_id is not None:
        return original["customer_id"] == data.customer_id
    email = (data.new_customer_email or "").strip() or None
    if email is not None:
        try:
            email = normalise_email(email, field="customer_email")
        except ServiceError:
            return False
    customer = db.session.get(Customer, original["customer_id"])
    return (customer is not None and customer.name == (data.new_customer_name or "").strip()
            and customer.email == email)


def _same_holders(sale: Sale, original: dict, data: SaleInput) -> bool:
    """True when `data` names the holders and shares the sale was created with (unsplit before credits)."""
    try:
        requested = [(holder.id, share) for holder, share in checked_holders(sale.agent, data)]
    except ServiceError:
        return False
    made = [(c["agent_id"], Decimal(c["share"])) for c in original.get("credits") or
            [{"agent_id": original["agent_id"], "share": "100"}]]
    return requested == made


def check_editable(actor: User, sale: Sale) -> None:
    """Only a pending sale, by its agent or whoever entered it, outside closed periods."""
    access.check_may_edit_sale(actor, sale)
    if sale.status != SaleStatus.PENDING:
        raise ServiceError(f"This sale is {sale.status}; only pending sales can be changed.", status=409)
    if is_date_closed(sale.sold_on):
        raise ServiceError("This sale's period is closed; ask a manager to decide it.", status=409, code=CLOSED_PERIOD)


def lock_for_change(actor: User, sale: Sale) -> Sale:
    """Take the locks an edit or a cancellation takes first (every holder, in id order) and re-read
    the sale, as it stays until the transaction ends (an API If-Match compares it). Whoever may not
    change it is refused before anything is locked."""
    access.check_may_edit_sale(actor, sale)
    lock_agents(holder_ids(sale))
    db.session.refresh(sale)
    db.session.refresh(sale, ["credits"])
    return sale


def update_sale(actor: User, sale: Sale, data: SaleInput) -> Sale:
    """Edit a pending sale (product, customer, quantity, price, date, note, co-agents and shares)."""
    access.check_may_edit_sale(actor, sale)  # before reading the co-agents: a co-agent is told why
    holders = checked_holders(sale.agent, data)
    # The holders before and after the edit, in id order: the same lock order as every change.
    lock_agents(holder_ids(sale) | {holder.id for holder, _ in holders})
    check_editable(actor, sale)
    before = snapshot(sale)
    product, customer, quantity, unit_price_cents, amount_cents, note = validated(sale.agent, data, actor)
    if customer is None:
        customer = catalog.create_customer(actor, name=data.new_customer_name, email=data.new_customer_email)
    sale.product_id, sale.customer_id, sale.quantity = product.id, customer.id, quantity
    sale.unit_price_cents, sale.amount_cents, sale.sold_on, sale.note = (
        unit_price_cents, amount_cents, data.sold_on, note)
    set_credits(sale, holders)
    db.session.flush()
    record(actor, "sale.update", sale, before, snapshot(sale))
    return sale


def cancel_sale(actor: User, sale: Sale) -> Sale:
    """The agent withdraws a pending sale."""
    lock_agents(holder_ids(sale))
    check_editable(actor, sale)
    before = snapshot(sale)
    sale.status = SaleStatus.CANCELLED
    sale.decided_by_id, sale.decided_at = actor.id, clock.now_utc()
    db.session.flush()
    record(actor, "sale.cancel", sale, before, snapshot(sale))
    return sale
