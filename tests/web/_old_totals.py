"""The agent totals panel as it was computed before the lean path (issue 16): the oracle the
byte-identity test renders beside today's code. Kept verbatim apart from its imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from webapp import clock
from webapp.commissions import engine, ledger
from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.commissions.periods import current_period, month_bounds
from webapp.commissions.plans import target_for
from webapp.extensions import db
from webapp.money import to_cents
from webapp.sales.models import Sale, SaleCredit, SaleStatus
from webapp.sales.portal import Figures, Totals


def _held(agent_id: int):
    """The join of Sale to the agent's own credit of it: the sales the agent holds (section 8)."""
    return SaleCredit, (SaleCredit.sale_id == Sale.id) & (SaleCredit.agent_id == agent_id)


def _approved_volume(agent_id: int, start: date, end: date) -> int:
    """The agent's credited amounts of approved sales with sold_on in [start, end] (a split sale
    counts for its credit)."""
    return int(db.session.scalar(
        select(func.coalesce(func.sum(SaleCredit.credit_cents), 0)).select_from(Sale).join(*_held(agent_id))
        .where(Sale.status == SaleStatus.APPROVED, Sale.sold_on >= start, Sale.sold_on <= end)))


def _commission_of_sales(agent_id: int, start: date, end: date) -> int:
    """Commission now standing for the approved sales sold in [start, end] (lines + adjustments)."""
    return int(db.session.scalar(
        select(func.coalesce(func.sum(CommissionEntry.amount_cents), 0))
        .join(Sale, CommissionEntry.sale_id == Sale.id)
        # The join to the agent's credits is redundant (an entry's agent holds its sale) but lets
        # PostgreSQL start from the agent's sales of the span instead of every entry the agent ever
        # earned: 31 ms -> 1 ms at 2,000 sales per agent (bench/dashboards.py, with Sale.agent_id,
        # which would leave out the sales the agent holds as a co-agent).
        .join(*_held(agent_id))
        .where(CommissionEntry.agent_id == agent_id, Sale.sold_on >= start,
               Sale.sold_on <= end, CommissionEntry.kind != EntryKind.MANUAL)))


@dataclass(frozen=True)
class _MonthLines:
    """A holder's month: approved lines and pending lines (with its target), loaded once."""

    approved: list[engine.SaleLine]
    pending: list[engine.SaleLine]
    target: Decimal | None
    spiffs: tuple = ()  # the month's engine SPIFFs


def _month_lines(agent_id: int, month_start: date) -> _MonthLines:
    """Load the month's approved and pending lines once for both spans of the panel."""
    approved = ledger.holder_month(agent_id, month_start)
    pending = ledger.holder_month(agent_id, month_start, (SaleStatus.PENDING,))
    return _MonthLines(approved=approved.lines, pending=pending.lines, target=approved.target,
                       spiffs=approved.spiffs.spiffs)


def _pending(month: _MonthLines, start: date, end: date) -> tuple[int, int]:
    """(pending total, count) for pending sales sold in [start, end]: what approving them adds, SPIFF
    rewards included (the commission beside it counts the SPIFF lines too)."""
    lines = [line for line in month.pending if start <= line.date <= end]
    added = engine.pending_total(month.approved, lines, target=month.target)
    if month.spiffs and lines:
        added += engine.pending_spiff_total(month.approved, lines, spiffs=month.spiffs)
    return to_cents(added), len(lines)


def _figures(agent_id: int, month: _MonthLines, start: date, end: date) -> Figures:
    """Figures of one span inside the month whose lines are given."""
    pending, count = _pending(month, start, end)
    return Figures(volume=_approved_volume(agent_id, start, end),
                   commission=_commission_of_sales(agent_id, start, end), pending=pending, pending_count=count)


def agent_totals(agent_id: int) -> Totals:
    """The totals panel: this period, this month, unpaid balance, paid to date, target progress."""
    today = clock.today()
    period = current_period()
    month_start, month_end = month_bounds(today)
    balance = ledger.agent_balance(agent_id)
    # A period never crosses a month boundary, so one load of the month serves both spans.
    lines = _month_lines(agent_id, month_start)
    month = _figures(agent_id, lines, month_start, month_end)
    target = target_for(agent_id, today)
    percent = None
    if target is not None:
        percent = int(Decimal(month.volume * 100) / Decimal(target.amount_cents))
    return Totals(
        period=period, period_figures=_figures(agent_id, lines, period.start_date, period.end_date),
        month_start=month_start, month_figures=month, unpaid=balance.unpaid, paid=balance.paid,
        open_running=balance.open_running, target=target.amount_cents if target else None,
        target_percent=percent,
    )
