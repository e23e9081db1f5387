"""Sales services: record, edit, cancel, approve, reject, void. Each keeps the ledger exact.

Every change takes the agent's lock first and recomputes the agent-month in the same
transaction (webapp.commissions.ledger). Services flush; the route commits once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp import clock
from webapp.audit.models import AuditEvent
from webapp.audit.services import record
from webapp.auth.access import can_manage_agent
from webapp.auth.models import Role, User
from webapp.auth.services import normalise_email
from webapp.catalog import services as catalog
from webapp.catalog.models import Customer
from webapp.commissions.ledger import estimate_new_sale, lock_agent, recompute_agent_month
from webapp.commissions.periods import get_settings, is_date_closed, last_closed_end
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.formtools import check_plain_text
from webapp.money import MAX_CENTS, to_cents
from webapp.sales import notify
from webapp.sales.models import Sale, SaleStatus

MAX_QUANTITY = 1_000_000
OWN_SALE_REFUSED = "You entered this sale; another manager or an admin must decide it."
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


def _resolve_agent(actor: User, agent_id: int | None) -> User:
    """The agent a sale is for: agents record their own; managers for their team; admins any."""
    if actor.role == Role.AGENT:
        if agent_id not in (None, actor.id):
            raise ServiceError("Agents record their own sales.", "agent_id")
        return actor
    agent = db.session.get(User, agent_id) if isinstance(agent_id, int) else None
    if agent is None or agent.role != Role.AGENT or not agent.active or not can_manage_agent(actor, agent):
        raise ServiceError("Choose an active agent of your team.", "agent_id")
    return agent


def _check_sold_on(sold_on, batch: SaleBatch | None = None) -> date:
    """A plain date, not in the future (installation time zone), not in a closed period."""
    if not isinstance(sold_on, date) or hasattr(sold_on, "hour"):
        raise ServiceError("Enter the sale date.", "sold_on")
    if sold_on > (batch.today if batch else clock.today()):
        raise ServiceError("The sale date cannot be in the future.", "sold_on")
    if batch.is_date_closed(sold_on) if batch else is_date_closed(sold_on):
        raise ServiceError("That date is in a closed period; record the sale in an open period.", "sold_on")
    return sold_on


def _checked_figures(agent: User, data: SaleInput, batch: SaleBatch | None = None):
    """Check what makes a sale's figures; returns (product, quantity, unit price cents, amount cents)."""
    product = (batch.sellable_product(agent.id, data.product_id) if batch
               else catalog.sellable_product(agent.id, data.product_id))
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
    _check_sold_on(data.sold_on, batch)
    return product, quantity, unit_price_cents, amount_cents


def _validated(agent: User, data: SaleInput, actor: User, batch: SaleBatch | None = None):
    """Check every field; returns (product, customer-or-None, quantity, unit price cents, amount cents)."""
    product, quantity, unit_price_cents, amount_cents = _checked_figures(agent, data, batch)
    note = check_plain_text((data.note or "").strip(), "note", multiline=True) or None
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
    # Read again under the lock: a concurrent request with this key that held the lock has committed
    # its sale by now, and going on would insert a second new customer before the sale's insert fails.
    existing = find_by_key(actor, key)
    if existing is not None:
        return existing, False
    product, customer, quantity, unit_price_cents, amount_cents, note = _validated(agent, data, actor)
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
            )
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


def estimate_sale(actor: User, data: SaleInput, agent_id: int | None = None) -> tuple[int, Decimal]:
    """(amount cents, commission) a sale would earn if recorded now; writes nothing.

    create_sale's checks of the agent, product, quantity, price and date (no customer needed)."""
    agent = _resolve_agent(actor, agent_id)
    product, _, _, amount_cents = _checked_figures(agent, data)
    return amount_cents, estimate_new_sale(agent.id, product, amount_cents, data.sold_on)


def _as_created(sale: Sale) -> dict:
    """The sale's fields as it was first recorded (its creation audit event; the row if none).

    A pending sale can be edited later; a retried request is compared with what it made."""
    created = db.session.scalar(
        select(AuditEvent.after).where(AuditEvent.object_type == "Sale", AuditEvent.object_id == sale.id,
                                       AuditEvent.action == "sale.create").order_by(AuditEvent.id).limit(1))
    return created or _snapshot(sale)


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


class SaleBatch:
    """What checking many sales at once reads only once: today, the end of the closed periods and
    each agent's sellable products (a CSV import of 5,000 rows would otherwise run 10,000 queries)."""

    def __init__(self):
        self.today = clock.today()
        self.closed_end = last_closed_end()
        self._sellable: dict[int, dict[int, object]] = {}

    def is_date_closed(self, day: date) -> bool:
        """As periods.is_date_closed, without a query."""
        return self.closed_end is not None and day <= self.closed_end

    def sellable_product(self, agent_id: int, product_id):
        """As catalog.sellable_product, from one query per agent."""
        if agent_id not in self._sellable:
            self._sellable[agent_id] = {p.id: p for p in catalog.sellable_products(agent_id)}
        product = None
        if isinstance(product_id, int) and not isinstance(product_id, bool):
            product = self._sellable[agent_id].get(product_id)
        if product is None:
            raise ServiceError("Choose a product you can sell.", "product_id")
        return product


@dataclass(frozen=True)
class BatchItem:
    """One sale of a batch: what was typed, its idempotency key, and the agent it is for."""

    data: SaleInput
    idempotency_key: str
    agent_id: int | None = None


@dataclass(frozen=True)
class BatchResult:
    """What became of one batch item: the sale (new or found by its key), or the error."""

    sale: Sale | None
    created: bool
    error: ServiceError | None = None


def create_sales(actor: User, items: list[BatchItem]) -> list[BatchResult]:
    """Record many sales with create_sale's checks and writes, batched (the CSV import).

    Agents are locked once each (in id order, so two batches cannot deadlock), lookups are read
    once, the sales are inserted in one flush and each month is recomputed once. An item whose key
    this actor used before (or earlier in the batch) returns that sale; an item with an error writes
    nothing, and the caller decides whether the others are committed. Items naming the same new
    customer share one new customer record.
    """
    results: list[BatchResult | None] = [None] * len(items)
    agents: dict[int, User] = {}
    for index, item in enumerate(items):
        try:
            _check_key(item.idempotency_key)
            agents[index] = _resolve_agent(actor, item.agent_id)
        except ServiceError as exc:
            results[index] = BatchResult(None, False, exc)
    for agent_id in sorted({agent.id for agent in agents.values()}):
        lock_agent(agent_id)
    # Read after the locks: a concurrent batch of this actor has committed its sales by now.
    wanted = sorted({items[i].idempotency_key for i in agents})
    existing: dict[str, Sale] = {}
    for start in range(0, len(wanted), 500):  # SQLite allows a limited number of parameters
        existing.update((s.idempotency_key, s) for s in db.session.scalars(select(Sale).where(
            Sale.entered_by_id == actor.id, Sale.idempotency_key.in_(wanted[start:start + 500]))))
    batch, approve_now = SaleBatch(), not get_settings().approval_required
    valid: list[tuple[int, User, tuple]] = []
    for index, agent in agents.items():
        key = items[index].idempotency_key
        if key in existing:
            results[index] = BatchResult(existing[key], False)
            continue
        try:
            valid.append((index, agent, _validated(agent, items[index].data, actor, batch)))
        except ServiceError as exc:
            results[index] = BatchResult(None, False, exc)
            continue
        existing[key] = None  # a repeated key in the batch is checked once, then refers to this sale
    # New customers are inserted together (one flush), before the sales that refer to them.
    new_customers: dict[str, object] = {}
    for index, _, fields in valid:
        if fields[1] is None:
            name = (items[index].data.new_customer_name or "").strip()
            if name.lower() not in new_customers:
                try:
                    new_customers[name.lower()] = catalog.create_customer(
                        actor, name=name, email=items[index].data.new_customer_email, flush=False)
                except ServiceError as exc:
                    results[index] = BatchResult(None, False, exc)
    db.session.flush()
    created: list[tuple[int, Sale]] = []
    for index, agent, (product, customer, quantity, unit_price_cents, amount_cents, note) in valid:
        if results[index] is not None:
            continue
        item = items[index]
        if customer is None:
            customer = new_customers.get((item.data.new_customer_name or "").strip().lower())
            if customer is None:  # its customer could not be created (the first row carries the error)
                results[index] = BatchResult(None, False, ServiceError(
                    "Enter the customer's name (at most 120 characters).", "customer_name"))
                continue
        sale = Sale(
            agent_id=agent.id, product_id=product.id, customer_id=customer.id, quantity=quantity,
            unit_price_cents=unit_price_cents, amount_cents=amount_cents, sold_on=item.data.sold_on,
            status=SaleStatus.APPROVED if approve_now else SaleStatus.PENDING,
            entered_by_id=actor.id, idempotency_key=item.idempotency_key, note=note,
            decided_at=clock.now_utc() if approve_now else None,
        )
        db.session.add(sale)
        created.append((index, sale))
    db.session.flush()
    for index, sale in created:
        record(actor, "sale.create", sale, None, _snapshot(sale))
        results[index] = BatchResult(sale, True)
    if approve_now:
        for agent_id, month in sorted({(s.agent_id, s.sold_on.replace(day=1)) for _, s in created}):
            recompute_agent_month(agent_id, month)
    db.session.flush()
    return results


def _check_editable(actor: User, sale: Sale) -> None:
    """Only a pending sale, by its agent or whoever entered it, outside closed periods."""
    if actor.id not in (sale.agent_id, sale.entered_by_id):
        raise NotFound()
    if sale.status != SaleStatus.PENDING:
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
    sale.status = SaleStatus.CANCELLED
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
        if sale.status == SaleStatus.PENDING:
            raise ServiceError("This sale is still pending: approve or reject it instead.", status=409)
        who = f" by {sale.decided_by.name}" if sale.decided_by else ""
        raise ServiceError(f"This sale was already {sale.status}{who}.", status=409)
    if sale.entered_by_id == actor.id:
        # Four eyes on every decision: approving, rejecting or voiding a sale you entered yourself
        # would let one person both record and settle what the agent is paid.
        raise ServiceError(OWN_SALE_REFUSED, status=403)
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
    reason = check_plain_text((reason or "").strip(), "reason", multiline=True)
    if not reason:
        raise ServiceError("Give a reason.", "reason")
    if len(reason) > 2000:
        raise ServiceError("Keep the reason under 2000 characters.", "reason")
    return reason


def approve_sale(actor: User, sale: Sale) -> Sale:
    """Approve a pending sale (never one you entered); a late one posts in the open period."""
    return _decide(actor, sale, expect=SaleStatus.PENDING, to=SaleStatus.APPROVED, action="sale.approve")


def reject_sale(actor: User, sale: Sale, reason: str) -> Sale:
    """Reject a pending sale with a reason (never one you entered)."""
    return _decide(actor, sale, expect=SaleStatus.PENDING, to=SaleStatus.REJECTED,
                   action="sale.reject", reason=_reason(reason))


def void_sale(actor: User, sale: Sale, reason: str) -> Sale:
    """Void an approved sale (never one you entered); a stated one gets a clawback."""
    return _decide(actor, sale, expect=SaleStatus.APPROVED, to=SaleStatus.VOIDED,
                   action="sale.void", reason=_reason(reason))
