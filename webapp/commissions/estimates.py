"""Estimates (COMMISSION_RULES.md section 4), per holder: what a pending or typed sale would earn.

Each holder's estimate is their credit line placed in their own month as if approved now, with the
month's target and SPIFFs, from the same lines the ledger computes with (month_lines).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from webapp.catalog.models import Product
from webapp.commissions import engine
from webapp.commissions.month_lines import HolderMonth, holder_month
from webapp.money import from_cents
from webapp.sales.models import Sale, SaleStatus


def _estimate(month: HolderMonth, candidate: engine.SaleLine) -> engine.LineResult:
    """The candidate's result among the month's approved lines."""
    return engine.estimate_line(month.lines, candidate, target=month.target, spiffs=month.spiffs.spiffs)


def _pending_line(sale: Sale, holder_id: int) -> engine.SaleLine | None:
    """The holder's line of a pending sale (None when they hold no credit of it)."""
    pending = holder_month(holder_id, sale.sold_on, (SaleStatus.PENDING,))
    return next((line for line in pending.lines if line.id == sale.id), None)


def sale_estimate(sale: Sale, holder_id: int | None = None) -> Decimal:
    """A pending sale's estimate for one holder (default: the primary), at its (date, id)."""
    holder_id = sale.agent_id if holder_id is None else holder_id
    line = _pending_line(sale, holder_id)
    if line is None:
        return Decimal("0.00")
    return _estimate(holder_month(holder_id, sale.sold_on), line).commission


def pending_estimates(agent_id: int, sales: list[Sale]) -> dict[int, Decimal]:
    """Estimates of many pending sales held by one agent, loading each month once."""
    approved: dict[date, HolderMonth] = {}
    pending: dict[date, dict[int, engine.SaleLine]] = {}
    estimates = {}
    for sale in sales:
        month = sale.sold_on.replace(day=1)
        if month not in approved:
            approved[month] = holder_month(agent_id, month)
            pending[month] = {line.id: line for line in holder_month(agent_id, month, (SaleStatus.PENDING,)).lines}
        line = pending[month].get(sale.id)
        if line is not None:
            estimates[sale.id] = _estimate(approved[month], line).commission
    return estimates


def pending_total(agent_id: int, month_start: date) -> Decimal:
    """What approving every pending sale the agent holds in the month would add to commission."""
    approved = holder_month(agent_id, month_start)
    pending = holder_month(agent_id, month_start, (SaleStatus.PENDING,))
    return engine.pending_total(approved.lines, pending.lines, target=approved.target)


def new_sale_line(agent_id: int, product: Product, amount_cents: int, sold_on: date, *, quantity: int = 1,
                  shares: tuple[Decimal, ...] = (), holder: int = 0, team: str | None = None,
                  month: HolderMonth | None = None) -> engine.SaleLine:
    """The line a sale being typed would give this holder (id None: placed as if entered now)."""
    plan = (month or holder_month(agent_id, sold_on)).plan_on(sold_on)
    return engine.SaleLine(id=None, date=sold_on, amount=from_cents(amount_cents), sku=product.sku,
                           category=product.category.code, plan=plan, quantity=quantity, shares=shares,
                           holder=holder, team=team)


def estimate_new_sale(agent_id: int, product: Product, amount_cents: int, sold_on: date, *, quantity: int = 1,
                      shares: tuple[Decimal, ...] = (), holder: int = 0,
                      team: str | None = None) -> Decimal:
    """What a sale being typed would earn this holder in commission, placed as if entered now."""
    return estimate_new_sale_result(agent_id, product, amount_cents, sold_on, quantity=quantity, shares=shares,
                                    holder=holder, team=team).commission


def estimate_new_sale_result(agent_id: int, product: Product, amount_cents: int, sold_on: date, *,
                             quantity: int = 1, shares: tuple[Decimal, ...] = (), holder: int = 0,
                             team: str | None = None) -> engine.LineResult:
    """The engine's whole result for a sale being typed (commission, SPIFF rewards, derivation)."""
    month = holder_month(agent_id, sold_on)
    line = new_sale_line(agent_id, product, amount_cents, sold_on, quantity=quantity, shares=shares,
                         holder=holder, team=team, month=month)
    return _estimate(month, line)

