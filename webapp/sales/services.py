"""Sales services: record, edit, cancel, approve, reject, void. Each keeps the ledger exact.

Every change takes the agent's lock first and recomputes the agent-month in the same
transaction (webapp.commissions.ledger). Services flush; the route commits once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp import clock
from webapp.audit.services import record
from webapp.auth.models import Role, User
from webapp.catalog import services as catalog
from webapp.commissions.ledger import lock_agent, recompute_agent_month
from webapp.commissions.periods import get_settings, is_date_closed
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.money import MAX_CENTS, to_cents
from webapp.sales import notify
from webapp.sales.models import Sale, SaleStatus

MAX_QUANTITY = 1_000_000
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass(frozen=True)
class SaleInput:
    """What a person typed for a sale, already parsed into types (not yet validated)."""

    product_id: int | None
    quantity: int | None
    unit_price: object  # Decimal from webapp.money.parse_money
    sold_on: date | None
    customer_id: int | None = None
    new_customer_name: str | None = None
    new_customer_email: str | None = None
    note: str | None = None


def _snapshot(sale: Sale) -> dict:
    """The audited fields of a sale."""
    return {
        "agent_id": sale.agent_id, "product_id": sale.product_id, "customer_id": sale.customer_id,
        "quantity": sale.quantity, "unit_price_cents": sale.unit_price_cents,
        "amount_cents": sale.amount_cents, "sold_on": sale.sold_on.isoformat(), "status": sale.status,
        "reason": sale.reason, "note": sale.note,
    }


def can_manage_agent(actor: User, agent: User) -> bool:
    """Admins manage every agent; managers their own team."""
    if actor.role == Role.ADMIN.value:
        return True
    return actor.role == Role.MANAGER.value and agent.manager_id == actor.id


def visible_sale(user: User, sale_id: int) -> Sale:
    """A sale the user may see, else NotFound (another agent's sale is 404, not 403)."""
    sale = db.session.get(Sale, sale_id)
    if sale is None:
        raise NotFound()
    if user.role == Role.AGENT.value and sale.agent_id != user.id:
        raise NotFound()
    if user.role == Role.MANAGER.value and sale.agent.manager_id != user.id:
        raise NotFound()
    return sale


def _resolve_agent(actor: User, agent_id: int | None) -> User:
    """The agent a sale is for: agents record their own; managers for their team; admins any."""
    if actor.role == Role.AGENT.value:
        if agent_id not in (None, actor.id):
            raise ServiceError("Agents record their own sales.", "agent_id")
        return actor
    agent = db.session.get(User, agent_id) if isinstance(agent_id, int) else None
    if agent is None or agent.role != Role.AGENT.value or not agent.active or not can_manage_agent(actor, agent):
        raise ServiceError("Choose an active agent of your team.", "agent_id")
    return agent


def _check_sold_on(sold_on) -> date:
    """A plain date, not in the future (installation time zone), not in a closed period."""
    if not isinstance(sold_on, date) or hasattr(sold_on, "hour"):
        raise ServiceError("Enter the sale date.", "sold_on")
    if sold_on > clock.today():
        raise ServiceError("The sale date cannot be in the future.", "sold_on")
    if is_date_closed(sold_on):
        raise ServiceError("That date is in a closed period; record the sale in an open period.", "sold_on")
    return sold_on


def _validated(agent: User, data: SaleInput, actor: User):
    """Check every field; returns (product, customer-or-None, quantity, unit price cents, amount cents)."""
    product = catalog.sellable_product(agent.id, data.product_id)
    quantity = data.quantity
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        raise ServiceError(f"Enter a whole number from 1 to {MAX_QUANTITY:,}.", "quantity")
    unit_price = data.unit_price
    try:
        unit_price_cents = to_cents(unit_price)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ServiceError("Enter a price with at most two decimals.", "unit_price") from exc
    if unit_price_cents < 1:
        raise ServiceError("Enter a price of at least 0.01.", "unit_price")
    amount_cents = quantity * unit_price_cents
    if amount_cents >= MAX_CENTS:
        raise ServiceError("This sale is too large.", "quantity")
    _check_sold_on(data.sold_on)
    note = (data.note or "").strip() or None
    if note is not None and len(note) > 2000:
        raise ServiceError("Keep the note under 2000 characters.", "note")
    customer = None
    if data.customer_id is not None:
        customer = catalog.get_customer(data.customer_id)
    elif not (data.new_customer_name or "").strip():
        raise ServiceError("Choose an existing customer or add a new one.", "customer_id")
    return product, customer, quantity, unit_price_cents, amount_cents, note


def _check_key(key: str | None) -> str:
    """Idempotency keys are opaque tokens the form or client generated."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise ServiceError("This form has expired; reload the page and enter the sale again.",
                           "idempotency_key", status=400)
    return key


def find_by_key(actor: User, key: str) -> Sale | None:
    """The sale this user already made with this idempotency key."""
    return db.session.scalar(select(Sale).where(Sale.entered_by_id == actor.id, Sale.idempotency_key == key))


def create_sale(actor: User, data: SaleInput, *, idempotency_key: str,
                agent_id: int | None = None) -> tuple[Sale, bool]:
    """Record a sale; the same key again returns the sale already made. Returns (sale, created)."""
    key = _check_key(idempotency_key)
    existing = find_by_key(actor, key)
    if existing is not None:
        return existing, False
    agent = _resolve_agent(actor, agent_id)
    lock_agent(agent.id)
    product, customer, quantity, unit_price_cents, amount_cents, note = _validated(agent, data, actor)
    if customer is None:
        customer = catalog.create_customer(actor, name=data.new_customer_name, email=data.new_customer_email)
    approve_now = not get_settings().approval_required
    sale = Sale(
        agent_id=agent.id, product_id=product.id, customer_id=customer.id, quantity=quantity,
        unit_price_cents=unit_price_cents, amount_cents=amount_cents, sold_on=data.sold_on,
        status=SaleStatus.APPROVED.value if approve_now else SaleStatus.PENDING.value,
        entered_by_id=actor.id, idempotency_key=key, note=note,
        decided_at=clock.now_utc() if approve_now else None,
    )
    try:
        # A concurrent request with the same key may win the insert; then return its sale.
        with db.session.begin_nested():
            db.session.add(sale)
            db.session.flush()
    except IntegrityError:
        existing = find_by_key(actor, key)
        if existing is None:
            raise
        return existing, False
    record(actor, "sale.create", sale, None, _snapshot(sale))
    if approve_now:
        recompute_agent_month(agent.id, sale.sold_on)
    return sale, True


def _check_editable(actor: User, sale: Sale) -> None:
    """Only a pending sale, by its agent or whoever entered it, outside closed periods."""
    if actor.id not in (sale.agent_id, sale.entered_by_id):
        raise NotFound()
    if sale.status != SaleStatus.PENDING.value:
        raise ServiceError(f"This sale is {sale.status}; only pending sales can be changed.", status=409)
    if is_date_closed(sale.sold_on):
        raise ServiceError("This sale's period is closed; ask a manager to decide it.", status=409)


def update_sale(actor: User, sale: Sale, data: SaleInput) -> Sale:
    """Edit a pending sale (product, customer, quantity, price, date, note)."""
    lock_agent(sale.agent_id)
    _check_editable(actor, sale)
    before = _snapshot(sale)
    product, customer, quantity, unit_price_cents, amount_cents, note = _validated(sale.agent, data, actor)
    if customer is None:
        customer = catalog.create_customer(actor, name=data.new_customer_name, email=data.new_customer_email)
    sale.product_id, sale.customer_id, sale.quantity = product.id, customer.id, quantity
    sale.unit_price_cents, sale.amount_cents, sale.sold_on, sale.note = (
        unit_price_cents, amount_cents, data.sold_on, note)
    db.session.flush()
    record(actor, "sale.update", sale, before, _snapshot(sale))
    return sale


def cancel_sale(actor: User, sale: Sale) -> Sale:
    """The agent withdraws a pending sale."""
    lock_agent(sale.agent_id)
    _check_editable(actor, sale)
    before = _snapshot(sale)
    sale.status = SaleStatus.CANCELLED.value
    sale.decided_by_id, sale.decided_at = actor.id, clock.now_utc()
    db.session.flush()
    record(actor, "sale.cancel", sale, before, _snapshot(sale))
    return sale


def _decide(actor: User, sale: Sale, *, expect: str, to: str, action: str, reason: str | None = None) -> Sale:
    """Move a sale between statuses under the agent lock, then recompute its month."""
    if not can_manage_agent(actor, sale.agent):
        raise NotFound()
    lock_agent(sale.agent_id)
    # Re-read after taking the lock: another manager may have decided it a moment ago.
    db.session.refresh(sale)
    if sale.status != expect:
        who = f" by {sale.decided_by.name}" if sale.decided_by else ""
        raise ServiceError(f"This sale was already {sale.status}{who}.", status=409)
    if action == "sale.approve" and sale.entered_by_id == actor.id:
        raise ServiceError("You entered this sale; another manager or an admin must decide it.", status=403)
    before = _snapshot(sale)
    sale.status = to
    sale.decided_by_id, sale.decided_at = actor.id, clock.now_utc()
    if reason is not None:
        sale.reason = reason
    db.session.flush()
    record(actor, action, sale, before, _snapshot(sale))
    recompute_agent_month(sale.agent_id, sale.sold_on)
    notify.sale_decided(sale)
    return sale


def _reason(reason: str | None) -> str:
    """A reason is required for rejections and voids."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Give a reason.", "reason")
    if len(reason) > 2000:
        raise ServiceError("Keep the reason under 2000 characters.", "reason")
    return reason


def approve_sale(actor: User, sale: Sale) -> Sale:
    """Approve a pending sale (never one you entered); a late one posts in the open period."""
    return _decide(actor, sale, expect=SaleStatus.PENDING.value, to=SaleStatus.APPROVED.value, action="sale.approve")


def reject_sale(actor: User, sale: Sale, reason: str) -> Sale:
    """Reject a pending sale with a reason."""
    return _decide(actor, sale, expect=SaleStatus.PENDING.value, to=SaleStatus.REJECTED.value,
                   action="sale.reject", reason=_reason(reason))


def void_sale(actor: User, sale: Sale, reason: str) -> Sale:
    """Void an approved sale (refund, cancellation); a stated one gets a clawback."""
    return _decide(actor, sale, expect=SaleStatus.APPROVED.value, to=SaleStatus.VOIDED.value,
                   action="sale.void", reason=_reason(reason))
