"""Balances and period figures: of one agent (agent_balance, period_summary; the ledger re-exports
them) and of many agents at once (team pages, paying a period).

Each figure of many agents is one grouped query over the whole team, never a query per agent; they
agree with period_summary and agent_balance, which answer for one agent (tests compare them).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Subquery, func, insert, select, true, union_all

from webapp.commissions.models import AgentPeriodTotal, CommissionEntry, EntryKind, Payout, Period, PeriodStatus
from webapp.extensions import db
from webapp.sales.models import SaleCredit


def keep_period_totals(periods: list[Period]) -> None:
    """Sum each agent's entries of periods being closed into agent_period_totals and mark them
    kept, in the closing transaction (after the close took its row locks: periods.hold_open)."""
    ids = [period.id for period in periods if not period.totals_kept]
    if not ids:
        return
    db.session.execute(insert(AgentPeriodTotal).from_select(
        ["agent_id", "period_id", "amount_cents"],
        select(CommissionEntry.agent_id, CommissionEntry.period_id, func.sum(CommissionEntry.amount_cents))
        .where(CommissionEntry.period_id.in_(ids)).group_by(CommissionEntry.agent_id, CommissionEntry.period_id)))
    for period in periods:
        period.totals_kept = True
    db.session.flush()


def entry_totals(agent_ids: list[int]) -> Subquery:
    """The agents' entries summed per period (agent_id, period_id, amount_cents): the kept total of
    each closed period, and the entries of every period whose total is not kept (the open ones).

    One statement, so one snapshot: a period that closes meanwhile is counted either by its
    entries or by its kept totals, never both (they commit together)."""
    # Kept totals count only while their period says so: a period whose flag was cleared by hand
    # (its totals left behind) is summed from its entries, not twice.
    kept = (select(AgentPeriodTotal.agent_id, AgentPeriodTotal.period_id, AgentPeriodTotal.amount_cents)
            .join(Period, (Period.id == AgentPeriodTotal.period_id) & Period.totals_kept.is_(True))
            .where(AgentPeriodTotal.agent_id.in_(agent_ids)))
    # Period by unkept period, each summed from the (agent, period, amount) index. A plain join
    # let PostgreSQL guess from a tiny table's stale statistics that half the periods were unkept
    # and scan every entry (200 ms at a million); the aggregate inside LATERAL keeps the loop.
    # (SQLite has no LATERAL, and plans the join well.)
    if db.session.get_bind().dialect.name != "postgresql":
        live = (select(CommissionEntry.agent_id, CommissionEntry.period_id, CommissionEntry.amount_cents)
                .join(Period, (Period.id == CommissionEntry.period_id) & Period.totals_kept.is_(False))
                .where(CommissionEntry.agent_id.in_(agent_ids)))
        return union_all(kept, live).subquery("entry_totals")
    unkept = select(Period.id).where(Period.totals_kept.is_(False)).subquery("unkept")
    sums = (select(CommissionEntry.agent_id, CommissionEntry.period_id,
                   func.sum(CommissionEntry.amount_cents).label("amount_cents"))
            .where(CommissionEntry.period_id == unkept.c.id, CommissionEntry.agent_id.in_(agent_ids))
            .group_by(CommissionEntry.agent_id, CommissionEntry.period_id).lateral("live"))
    live = select(sums.c.agent_id, sums.c.period_id, sums.c.amount_cents).select_from(unkept).join(sums, true())
    return union_all(kept, live).subquery("entry_totals")


def payment_balances(agent_ids: list[int], period: Period) -> dict[int, tuple[int, int, int]]:
    """(closing balance of P, paid since P's end, unpaid balance now) for each agent: one pass over
    their period totals (entry_totals) and one over their payouts (what paying P needs; see
    period_payments)."""
    totals = entry_totals(agent_ids)
    through = Period.end_date <= period.end_date
    entries = {row[0]: (int(row[1]), int(row[2])) for row in db.session.execute(
        select(totals.c.agent_id, func.coalesce(func.sum(totals.c.amount_cents).filter(through), 0),
               func.sum(totals.c.amount_cents))
        .join(Period, Period.id == totals.c.period_id).group_by(totals.c.agent_id))}
    payouts = {row[0]: (int(row[1]), int(row[2])) for row in db.session.execute(
        select(Payout.agent_id,
               func.coalesce(func.sum(Payout.amount_cents).filter(Payout.paid_on <= period.end_date), 0),
               func.coalesce(func.sum(Payout.amount_cents).filter(Payout.paid_on > period.end_date), 0))
        .where(Payout.agent_id.in_(agent_ids)).group_by(Payout.agent_id))}
    found = {}
    for agent_id in agent_ids:
        (by_end, earned), (paid_by_end, paid_after) = entries.get(agent_id, (0, 0)), payouts.get(agent_id, (0, 0))
        found[agent_id] = (by_end - paid_by_end, paid_after, earned - paid_by_end - paid_after)
    return found


def grouped_by_agent(query) -> dict[int, tuple]:
    """Rows of a query grouped by agent id (first column) -> the remaining columns."""
    return {row[0]: tuple(row[1:]) for row in db.session.execute(query).all()}


def unpaid_balances(agent_ids: list[int]) -> dict[int, int]:
    """Each agent's unpaid balance now (as ledger.agent_balance(agent).unpaid), in two queries."""
    if not agent_ids:
        return {}
    totals = entry_totals(agent_ids)
    earned = grouped_by_agent(select(totals.c.agent_id, func.sum(totals.c.amount_cents)).group_by(totals.c.agent_id))
    paid = grouped_by_agent(select(Payout.agent_id, func.sum(Payout.amount_cents))
                    .where(Payout.agent_id.in_(agent_ids)).group_by(Payout.agent_id))
    return {a: int(earned.get(a, (0,))[0] or 0) - int(paid.get(a, (0,))[0] or 0) for a in agent_ids}


def period_sums(agent_ids: list[int], period: Period) -> dict[int, tuple[int, int, int, int]]:
    """(volume, earned, SPIFF rewards, adjustments) of each agent's entries in the period, as the
    statement shows them (period_summary counts SPIFF lines with the adjustments).

    Volume is each holder's credited amount of their sale lines (COMMISSION_RULES.md section 8): a
    60/40 split counts 60% for one holder and 40% for the other, so a team's volume still adds up
    to the sale's amount."""
    is_line = CommissionEntry.kind == EntryKind.SALE
    rows = grouped_by_agent(
        select(CommissionEntry.agent_id,
               func.coalesce(func.sum(SaleCredit.credit_cents).filter(is_line), 0),
               func.coalesce(func.sum(CommissionEntry.amount_cents).filter(is_line), 0),
               func.coalesce(func.sum(CommissionEntry.amount_cents).filter(CommissionEntry.kind == EntryKind.SPIFF), 0),
               func.coalesce(func.sum(CommissionEntry.amount_cents).filter(
                   CommissionEntry.kind.in_((EntryKind.ADJUSTMENT, EntryKind.MANUAL))), 0))
        .select_from(CommissionEntry)
        .outerjoin(SaleCredit, (SaleCredit.sale_id == CommissionEntry.sale_id)
                   & (SaleCredit.agent_id == CommissionEntry.agent_id))
        .where(CommissionEntry.agent_id.in_(agent_ids), CommissionEntry.period_id == period.id)
        .group_by(CommissionEntry.agent_id))
    return {a: tuple(int(v) for v in values) for a, values in rows.items()}


@dataclass(frozen=True)
class Balance:
    """An agent's running figures, all in cents."""

    earned: int          # every entry: closed periods plus the open periods' running amount
    stated: int          # entries of closed periods only
    open_running: int    # entries of open periods
    paid: int            # payouts net of reversals
    unpaid: int          # earned - paid
    stated_unpaid: int   # stated - paid


def agent_balance(agent_id: int) -> Balance:
    """Earned to date, paid to date and unpaid balance of an agent."""
    rows = db.session.execute(
        select(Period.status, func.coalesce(func.sum(CommissionEntry.amount_cents), 0))
        .join(Period, CommissionEntry.period_id == Period.id)
        .where(CommissionEntry.agent_id == agent_id).group_by(Period.status)
    ).all()
    by_status = {status: int(total) for status, total in rows}
    paid = int(db.session.scalar(
        select(func.coalesce(func.sum(Payout.amount_cents), 0)).where(Payout.agent_id == agent_id)))
    stated, running = by_status.get(PeriodStatus.CLOSED, 0), by_status.get(PeriodStatus.OPEN, 0)
    return Balance(earned=stated + running, stated=stated, open_running=running, paid=paid,
                   unpaid=stated + running - paid, stated_unpaid=stated - paid)


@dataclass(frozen=True)
class PeriodSummary:
    """An agent's figures for one period, in cents; closing = opening + total - payouts."""

    volume: int          # credited amounts of the period's sale lines (a co-agent's credit, not the sale)
    earned: int
    adjustments: int
    total: int
    opening: int
    payouts: int
    closing: int


def period_summary(agent_id: int, period: Period) -> PeriodSummary:
    """Volume, earned, adjustments, total, opening and closing unpaid balance, payouts."""
    sums = db.session.execute(
        select(
            func.coalesce(func.sum(SaleCredit.credit_cents).filter(CommissionEntry.kind == EntryKind.SALE), 0),
            func.coalesce(func.sum(CommissionEntry.amount_cents).filter(CommissionEntry.kind == EntryKind.SALE), 0),
            func.coalesce(func.sum(CommissionEntry.amount_cents).filter(CommissionEntry.kind != EntryKind.SALE), 0),
        ).select_from(CommissionEntry).outerjoin(SaleCredit, (SaleCredit.sale_id == CommissionEntry.sale_id)
                                                  & (SaleCredit.agent_id == CommissionEntry.agent_id))
        .where(CommissionEntry.agent_id == agent_id, CommissionEntry.period_id == period.id)
    ).one()
    volume, earned, adjustments = (int(v) for v in sums)
    earlier_entries = int(db.session.scalar(
        select(func.coalesce(func.sum(CommissionEntry.amount_cents), 0))
        .join(Period, CommissionEntry.period_id == Period.id)
        .where(CommissionEntry.agent_id == agent_id, Period.end_date < period.start_date)))
    earlier_payouts = int(db.session.scalar(
        select(func.coalesce(func.sum(Payout.amount_cents), 0))
        .where(Payout.agent_id == agent_id, Payout.paid_on < period.start_date)))
    payouts = int(db.session.scalar(
        select(func.coalesce(func.sum(Payout.amount_cents), 0))
        .where(Payout.agent_id == agent_id, Payout.paid_on >= period.start_date,
               Payout.paid_on <= period.end_date)))
    opening = earlier_entries - earlier_payouts
    total = earned + adjustments
    return PeriodSummary(volume=volume, earned=earned, adjustments=adjustments, total=total,
                         opening=opening, payouts=payouts, closing=opening + total - payouts)
