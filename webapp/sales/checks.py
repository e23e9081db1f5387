"""What a sale must be before it is written: the typed fields, their checks and the audited fields.

Shared by recording one sale (services), many (batch) and deciding them (decisions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from webapp import clock
from webapp.auth import access
from webapp.auth.models import User
from webapp.catalog import services as catalog
from webapp.commissions.periods import is_date_closed, last_closed_end
from webapp.errors import CLOSED_PERIOD, NOT_SELLABLE, FieldErrors, ServiceError
from webapp.formtools import check_plain_text
from webapp.money import MAX_CENTS, to_cents, units_to_rate
from webapp.sales.models import MAX_CO_AGENTS, Sale

MAX_QUANTITY = 1_000_000
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_PERCENT = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,12})?$")  # a plain decimal; the decimals are checked after


@dataclass(frozen=True)
class CoAgentInput:
    """One co-agent of a split sale as typed: the agent's id and their share in percent (text or Decimal)."""

    agent_id: object
    share: object


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
    # Split credit (COMMISSION_RULES.md 8): up to four co-agents; `share` is the primary's share
    # (None or blank: 100 minus the co-agents'). No co-agents: the agent holds 100%.
    co_agents: tuple[CoAgentInput, ...] = ()
    share: object = None


def snapshot(sale: Sale) -> dict:
    """The audited fields of a sale."""
    return {
        "agent_id": sale.agent_id, "product_id": sale.product_id, "customer_id": sale.customer_id,
        "quantity": sale.quantity, "unit_price_cents": sale.unit_price_cents,
        "amount_cents": sale.amount_cents, "sold_on": sale.sold_on.isoformat(), "status": sale.status,
        "reason": sale.reason, "note": sale.note,
        "credits": [{"agent_id": c.agent_id, "share": f"{units_to_rate(c.share_units):f}",
                     "credit_cents": c.credit_cents} for c in sale.credits],
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
            raise ServiceError("Choose a product you can sell.", "product_id", code=NOT_SELLABLE)
        return product


def check_sold_on(sold_on, batch: SaleBatch | None = None) -> date:
    """A plain date, not in the future (installation time zone), not in a closed period."""
    if not isinstance(sold_on, date) or hasattr(sold_on, "hour"):
        raise ServiceError("Enter the sale date.", "sold_on")
    if sold_on > (batch.today if batch else clock.today()):
        raise ServiceError("The sale date cannot be in the future.", "sold_on")
    if batch.is_date_closed(sold_on) if batch else is_date_closed(sold_on):
        raise ServiceError("That date is in a closed period; record the sale in an open period.", "sold_on",
                           code=CLOSED_PERIOD)
    return sold_on


class _Refusals:
    """A sale's field refusals, gathered so that a form shows each beside its field at once."""

    def __init__(self):
        """None yet."""
        self.errors: list[ServiceError] = []

    def attempt(self, check, *args):
        """check(*args), or None with its refusal kept."""
        try:
            return check(*args)
        except ServiceError as exc:
            self.errors.append(exc)
            return None

    def raise_any(self) -> None:
        """Raise what was refused: the one refusal, or FieldErrors with every one."""
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise FieldErrors(self.errors)


def _quantity(quantity) -> int:
    """A whole number of units within the limit."""
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        raise ServiceError(f"Enter a whole number from 1 to {MAX_QUANTITY:,}.", "quantity")
    return quantity


def _unit_price_cents(unit_price) -> int:
    """The unit price in whole cents, at least one."""
    try:
        cents = to_cents(unit_price)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ServiceError("Enter a price with at most two decimals.", "unit_price") from exc
    if cents < 1:
        raise ServiceError("Enter a price of at least 0.01.", "unit_price")
    return cents


def _amount_cents(quantity: int, unit_price_cents: int) -> int:
    """The sale's amount, below the largest the ledger holds."""
    amount_cents = quantity * unit_price_cents
    if amount_cents >= MAX_CENTS:
        raise ServiceError("This sale is too large.", "quantity")
    return amount_cents


def checked_figures(agent: User, data: SaleInput, batch: SaleBatch | None = None,
                    refusals: _Refusals | None = None):
    """Check what makes a sale's figures; returns (product, quantity, unit price cents, amount cents).

    Every field is checked and every refusal raised at once (`refusals`: gather them for the caller
    to raise with its own)."""
    own = refusals is None
    refusals = _Refusals() if own else refusals
    product = refusals.attempt(batch.sellable_product if batch else catalog.sellable_product, agent.id, data.product_id)
    quantity = refusals.attempt(_quantity, data.quantity)
    unit_price_cents = None
    # No price given stands for the product's list price (the API): with the product refused there
    # is no price to check, and "enter a price" beside a field the client left out would mislead.
    if data.unit_price is not None or product is not None:
        unit_price_cents = refusals.attempt(_unit_price_cents, data.unit_price)
    amount_cents = None
    if quantity is not None and unit_price_cents is not None:
        amount_cents = refusals.attempt(_amount_cents, quantity, unit_price_cents)
    refusals.attempt(check_sold_on, data.sold_on, batch)
    if own:
        refusals.raise_any()
    return product, quantity, unit_price_cents, amount_cents


def _note(text: str | None) -> str | None:
    """The note as plain text of at most 2,000 characters (None when empty)."""
    note = check_plain_text((text or "").strip(), "note", multiline=True) or None
    if note is not None and len(note) > 2000:
        raise ServiceError("Keep the note under 2000 characters.", "note")
    return note


def _customer(data: SaleInput):
    """The chosen customer, None for a new one by name, else a refusal."""
    if data.customer_id is not None:
        return catalog.get_customer(data.customer_id)
    if not (data.new_customer_name or "").strip():
        raise ServiceError("Choose an existing customer or add a new one.", "customer_id")
    return None


def validated(agent: User, data: SaleInput, actor: User, batch: SaleBatch | None = None):
    """Check every field, refusing all that are wrong at once; returns (product, customer-or-None,
    quantity, unit price cents, amount cents, note)."""
    refusals = _Refusals()
    product, quantity, unit_price_cents, amount_cents = checked_figures(agent, data, batch, refusals)
    note = refusals.attempt(_note, data.note)
    customer = refusals.attempt(_customer, data)
    refusals.raise_any()
    return product, customer, quantity, unit_price_cents, amount_cents, note


def check_key(key: str | None) -> str:
    """Idempotency keys are opaque tokens the form or client generated."""
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise ServiceError("This form has expired; reload the page and enter the sale again.",
                           "idempotency_key", status=400)
    return key


def _share(value, field: str, who: str) -> Decimal:
    """A share typed as a percent ("40", "33.3333", "40%"): above 0, at most 100, at most four
    decimals, never a float (it could not be exact)."""
    if isinstance(value, float):
        raise ServiceError(f"Give {who} share as an exact decimal string.", field)
    text = "" if value is None else str(value).strip().removesuffix("%").strip()
    if not text:
        raise ServiceError(f"Enter {who} share.", field)
    if not _PERCENT.match(text):
        raise ServiceError(f"Enter {who} share as a percent, like 40 or 33.3333.", field)
    share = Decimal(text)
    if share.as_tuple().exponent < -4:
        raise ServiceError("Use at most four decimals.", field)
    if not 0 < share <= 100:
        raise ServiceError(f"Give {who} share above 0% and at most 100%.", field)
    return share


def _co_agent(agent: User, number: int, agent_id, seen: dict, lookup) -> User:
    """Co-agent `number` (1-4): an active agent, not the sale's agent, not named twice."""
    field = f"co_agent_{number}"
    holder = lookup(agent_id)
    if holder is None:
        raise ServiceError(f"Co-agent {number}: choose an active agent.", field)
    if holder.id == agent.id:
        raise ServiceError(f"Co-agent {number} is the sale's own agent; choose someone else.", field)
    if holder.id in seen:
        raise ServiceError(f"Co-agent {number} is already co-agent {seen[holder.id]}.", field)
    seen[holder.id] = number
    return holder


def checked_holders(agent: User, data: SaleInput, lookup=access.co_agent) -> list[tuple[User, Decimal]]:
    """The sale's holders with their shares, primary first: the agent, then each co-agent.

    Checks every co-agent (see _co_agent) and share (see _share), and that the shares sum to exactly
    100 (a blank primary share is the rest). `lookup` finds an active agent by id (batches pass
    a cached one)."""
    co_agents = tuple(data.co_agents or ())
    if len(co_agents) > MAX_CO_AGENTS:
        raise ServiceError(f"Split a sale with at most {MAX_CO_AGENTS} co-agents.", "co_agents")
    seen: dict[int, int] = {}
    holders = [(_co_agent(agent, number, co.agent_id, seen, lookup), _share(co.share, f"co_share_{number}",
                                                                          f"co-agent {number}'s"))
               for number, co in enumerate(co_agents, start=1)]
    others = sum((share for _, share in holders), Decimal(0))
    if data.share is None or not str(data.share).strip():
        if others >= 100:
            raise ServiceError(f"The co-agents' shares add up to {others.normalize():f}%; leave the agent "
                               "a share above 0 so all shares make exactly 100%.", "share")
        primary = 100 - others
    else:
        primary = _share(data.share, "share", "the agent's")
        if primary + others != 100:
            total = (primary + others).normalize()
            raise ServiceError(f"The shares add up to {total:f}%; they must make exactly 100%.", "share")
    return [(agent, primary), *holders]
