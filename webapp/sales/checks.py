"""What a sale must be before it is written: the typed fields, their checks and the audited fields.

Shared by recording one sale (services), many (batch) and deciding them (decisions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from webapp import clock
from webapp.auth.models import User
from webapp.catalog import services as catalog
from webapp.commissions.periods import is_date_closed, last_closed_end
from webapp.errors import ServiceError
from webapp.formtools import check_plain_text
from webapp.money import MAX_CENTS, to_cents
from webapp.sales.models import Sale

MAX_QUANTITY = 1_000_000
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


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


def snapshot(sale: Sale) -> dict:
    """The audited fields of a sale."""
    return {
        "agent_id": sale.agent_id, "product_id": sale.product_id, "customer_id": sale.customer_id,
        "quantity": sale.quantity, "unit_price_cents": sale.unit_price_cents,
        "amount_cents": sale.amount_cents, "sold_on": sale.sold_on.isoformat(), "status": sale.status,
        "reason": sale.reason, "note": sale.note,
    }


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


def check_sold_on(sold_on, batch: SaleBatch | None = None) -> date:
    """A plain date, not in the future (installation time zone), not in a closed period."""
    if not isinstance(sold_on, date) or hasattr(sold_on, "hour"):
        raise ServiceError("Enter the sale date.", "sold_on")
    if sold_on > (batch.today if batch else clock.today()):
        raise ServiceError("The sale date cannot be in the future.", "sold_on")
    if batch.is_date_closed(sold_on) if batch else is_date_closed(sold_on):
        raise ServiceError("That date is in a closed period; record the sale in an open period.", "sold_on")
    return sold_on


def checked_figures(agent: User, data: SaleInput, batch: SaleBatch | None = None):
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
    check_sold_on(data.sold_on, batch)
    return product, quantity, unit_price_cents, amount_cents


def validated(agent: User, data: SaleInput, actor: User, batch: SaleBatch | None = None):
    """Check every field; returns (product, customer-or-None, quantity, unit price cents, amount cents)."""
    product, quantity, unit_price_cents, amount_cents = checked_figures(agent, data, batch)
    note = check_plain_text((data.note or "").strip(), "note", multiline=True) or None
    if note is not None and len(note) > 2000:
        raise ServiceError("Keep the note under 2000 characters.", "note")
    customer = None
    if data.customer_id is not None:
        customer = catalog.get_customer(data.customer_id)
    elif not (data.new_customer_name or "").strip():
        raise ServiceError("Choose an existing customer or add a new one.", "customer_id")
    return product, customer, quantity, unit_price_cents, amount_cents, note


def check_key(key: str | None) -> str:
    """Idempotency keys are opaque tokens the form or client generated."""
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise ServiceError("This form has expired; reload the page and enter the sale again.",
                           "idempotency_key", status=400)
    return key
