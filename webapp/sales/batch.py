"""Recording many sales at once (the CSV import): create_sale's checks and writes, batched."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from webapp import clock
from webapp.audit.services import record
from webapp.auth import access
from webapp.auth.models import User
from webapp.catalog import services as catalog
from webapp.commissions.ledger import lock_agents, recompute_agents_month
from webapp.commissions.periods import get_settings
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.sales.checks import SaleBatch, SaleInput, check_key, checked_holders, snapshot, validated
from webapp.sales.credits import holder_ids, new_credits
from webapp.sales.models import Sale, SaleStatus

# SQLite allows a limited number of parameters in one statement.
_CHUNK = 500


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
    agents = _agents(actor, items, results)
    co_agents = _co_agents(items, agents)
    # Every holder of the batch (agents and co-agents), once each, in id order.
    lock_agents({agent.id for agent in agents.values()} | {agent.id for agent in co_agents.values()})
    # Read after the locks: a concurrent batch of this actor has committed its sales by now.
    existing = _sales_by_key(actor, sorted({items[i].idempotency_key for i in agents}))
    approve_now = not get_settings().approval_required
    valid = _checked(actor, items, agents, existing, results, co_agents)
    new_customers = _new_customers(actor, items, valid, results)
    created = _insert(actor, items, valid, new_customers, results, approve_now)
    for index, sale in created:
        record(actor, "sale.create", sale, None, snapshot(sale))
        results[index] = BatchResult(sale, True)
    if approve_now:
        by_month: dict[date, set[int]] = defaultdict(set)
        for _, sale in created:
            by_month[sale.sold_on.replace(day=1)] |= holder_ids(sale)
        for month in sorted(by_month):
            recompute_agents_month(by_month[month], month)
    db.session.flush()
    return results


def _agents(actor: User, items: list[BatchItem], results: list) -> dict[int, User]:
    """Each item's agent by item index (the access policy decides); an item that fails gets its error."""
    agents: dict[int, User] = {}
    for index, item in enumerate(items):
        try:
            check_key(item.idempotency_key)
            agents[index] = access.recording_agent(actor, item.agent_id)
        except ServiceError as exc:
            results[index] = BatchResult(None, False, exc)
    return agents


def _co_agents(items: list[BatchItem], agents: dict[int, User]) -> dict[int, User]:
    """The active agents named as co-agents by the batch's items, by id, read in one query."""
    ids = {co.agent_id for index in agents for co in items[index].data.co_agents
           if isinstance(co.agent_id, int) and not isinstance(co.agent_id, bool)}
    return {agent.id: agent for agent in access.co_agents(sorted(ids))}


def _sales_by_key(actor: User, keys: list[str]) -> dict[str, Sale | None]:
    """The sales this actor already made under any of these idempotency keys."""
    existing: dict[str, Sale | None] = {}
    for start in range(0, len(keys), _CHUNK):
        existing.update((s.idempotency_key, s) for s in db.session.scalars(select(Sale).where(
            Sale.entered_by_id == actor.id, Sale.idempotency_key.in_(keys[start:start + _CHUNK]))))
    return existing


def _checked(actor: User, items: list[BatchItem], agents: dict[int, User], existing: dict,
             results: list, co_agents: dict[int, User]) -> list[tuple[int, User, tuple]]:
    """The items to insert with their checked fields and holders (last); a known key returns its
    sale, an error is kept."""
    batch = SaleBatch()
    valid: list[tuple[int, User, tuple]] = []
    lookup = co_agents.get
    for index, agent in agents.items():
        key = items[index].idempotency_key
        if key in existing:
            results[index] = BatchResult(existing[key], False)
            continue
        try:
            holders = checked_holders(agent, items[index].data, lookup)
            valid.append((index, agent, (*validated(agent, items[index].data, actor, batch), holders)))
        except ServiceError as exc:
            results[index] = BatchResult(None, False, exc)
            continue
        existing[key] = None  # a repeated key in the batch is checked once, then refers to this sale
    return valid


def _new_customers(actor: User, items: list[BatchItem], valid: list, results: list) -> dict[str, object]:
    """The batch's new customers by lower-cased name, inserted together before the sales."""
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
    return new_customers


def _insert(actor: User, items: list[BatchItem], valid: list, new_customers: dict, results: list,
            approve_now: bool) -> list[tuple[int, Sale]]:
    """Insert the checked sales in one flush; returns (item index, sale) pairs."""
    created: list[tuple[int, Sale]] = []
    for index, agent, (product, customer, quantity, unit_price_cents, amount_cents, note, holders) in valid:
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
            credits=new_credits(holders, amount_cents),
        )
        db.session.add(sale)
        created.append((index, sale))
    db.session.flush()
    return created
