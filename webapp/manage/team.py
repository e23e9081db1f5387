"""The team dashboard and the manager's view of one agent.

Figures come from the ledger, as on statements: a period's commission is the sum of its entries
(sale lines, system adjustments, manual corrections), its volume the amounts of its sale lines.
Each figure is one grouped query over the whole team, never a query per agent (see
commissions/balances.py); tests check the results against ledger.period_summary and
ledger.agent_balance, which answer for one agent.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from webapp import clock
from webapp.auth.access import team_agents
from webapp.auth.models import User
from webapp.catalog.models import Product
from webapp.commissions.held import held_credit_rows
from webapp.commissions.balances import grouped_by_agent, period_sums, unpaid_balances
from webapp.commissions.models import CommissionEntry, Payout, Period, Target
from webapp.commissions.periods import current_period, month_bounds, period_for
from webapp.errors import ServiceError, get_or_404
from webapp.extensions import db
from webapp.formtools import db_id_or_none, parse_iso_date
from webapp.paging import Paged, Window, page_window
from webapp.sales.models import Sale, SaleStatus
from webapp.sales.portal import ChartBar, commission_chart

CHART_PERIODS = 12
PICKER_PERIODS = 24
# A page of the agents' table and the leaderboard's length: an admin over ten thousand agents gets
# a page the size of a manager's, and the team's totals still count every agent.
TEAM_PAGE_SIZE = 50
LEADERBOARD_SIZE = 10


def resolve_period(value: str | None) -> Period:
    """The period a dashboard URL names: a period id, a date inside it, or (empty) the current one."""
    value = (value or "").strip()
    if not value:
        return current_period()
    if value.isdigit():
        return get_or_404(Period, db_id_or_none(value))
    day = parse_iso_date(value)
    if day is None:
        raise ServiceError("Choose a period from the list (or give a date as YYYY-MM-DD).", "period")
    if day > clock.today():
        raise ServiceError("That period has not started yet; choose one up to today.", "period")
    return period_for(day)


def picker_periods(selected: Period) -> list[Period]:
    """Periods to offer in the period picker, newest first (the selected one always included)."""
    periods = list(db.session.scalars(
        select(Period).where(Period.start_date <= clock.today())
        .order_by(Period.start_date.desc()).limit(PICKER_PERIODS)))
    if all(p.start_date != selected.start_date for p in periods):
        periods.append(selected)
        periods.sort(key=lambda p: p.start_date, reverse=True)
    return periods


def neighbour_periods(period: Period) -> tuple[date | None, date | None]:
    """Start dates of the periods before and after `period` (None after the current one)."""
    before = period.start_date - timedelta(days=1)
    after = period.end_date + timedelta(days=1)
    return before, (after if after <= clock.today() else None)


@dataclass(frozen=True)
class AgentFigures:
    """One agent's line on the team dashboard (all money in cents)."""

    agent: User
    volume: int             # credited amounts of the period's sale lines (the holder's share of a split)
    earned: int             # the period's sale lines
    spiffs: int             # the period's SPIFF rewards
    adjustments: int        # the period's system adjustments and manual corrections
    commission: int         # earned + spiffs + adjustments: the period total of the statement
    pending_count: int      # pending sales dated in the period that the agent holds a credit of
    unpaid: int             # unpaid balance now (every entry - every payout)
    month_volume: int       # credits of approved sales dated in the period's month
    target: int | None      # the month's target
    attainment: int | None  # whole percent of the month's target reached


@dataclass(frozen=True)
class TeamTotals:
    """Sums over the team (cents)."""

    volume: int
    earned: int
    spiffs: int
    adjustments: int
    commission: int
    pending_count: int
    unpaid: int
    month_volume: int
    target: int
    attainment: int | None


@dataclass(frozen=True)
class TeamDashboard(Paged):
    """Everything the team dashboard shows for one period."""

    period: Period
    rows: list[AgentFigures]  # this page of the agents, by name
    window: Window  # which page of all the agents shown
    leaderboard: list[AgentFigures]  # the top LEADERBOARD_SIZE of the whole team
    totals: TeamTotals  # every agent shown, on every page
    chart: list[ChartBar]


def _team_figures(agents: list[User], period: Period) -> list[AgentFigures]:
    """Every agent's figures for the period, by name."""
    ids = [a.id for a in agents]
    if not ids:
        return []
    sums = period_sums(ids, period)
    # Pending sales each agent holds a credit of (a co-agent's split sales count for them too),
    # found from the held credits (webapp/commissions/held.py), not every credit the agents ever held.
    held = held_credit_rows(ids, period.start_date, period.end_date).subquery()
    pending = grouped_by_agent(
        select(held.c.agent_id, func.count()).where(held.c.status == SaleStatus.PENDING).group_by(held.c.agent_id))
    month_first, month_last = month_bounds(period.start_date)
    # Each holder's credits of the month's approved sales (a co-agent's share counts for them).
    held = held_credit_rows(ids, month_first, month_last).subquery()
    month_volume = grouped_by_agent(
        select(held.c.agent_id, func.sum(held.c.credit_cents))
        .where(held.c.status == SaleStatus.APPROVED).group_by(held.c.agent_id))
    targets = grouped_by_agent(select(Target.agent_id, Target.amount_cents)
                       .where(Target.agent_id.in_(ids), Target.month == month_first))
    unpaid = unpaid_balances(ids)
    rows = []
    for agent in agents:
        volume, earned, spiffs, adjustments = sums.get(agent.id, (0, 0, 0, 0))
        in_month = int(month_volume.get(agent.id, (0,))[0] or 0)
        target = targets.get(agent.id, (None,))[0]
        rows.append(AgentFigures(
            agent=agent, volume=volume, earned=earned, spiffs=spiffs, adjustments=adjustments,
            commission=earned + spiffs + adjustments,
            pending_count=int(pending.get(agent.id, (0,))[0]), unpaid=unpaid[agent.id], month_volume=in_month,
            target=target, attainment=_percent(in_month, target)))
    return rows


def _percent(part: int, whole: int | None) -> int | None:
    """Whole percent of `whole` that `part` reaches (rounded down, as on the agent's panel)."""
    if not whole:
        return None
    return int(Decimal(part * 100) / Decimal(whole))


def _shown(figures: AgentFigures) -> bool:
    """Active agents always; a deactivated one only while it has figures or money owed."""
    return figures.agent.active or any((figures.volume, figures.commission, figures.pending_count, figures.unpaid))


def leaderboard(rows: list[AgentFigures], size: int) -> list[AgentFigures]:
    """The first `size` ranked by commission, ties by volume, then by name."""
    return heapq.nsmallest(size, rows, key=lambda r: (-r.commission, -r.volume, r.agent.name.lower(), r.agent.id))


def _totals(rows: list[AgentFigures]) -> TeamTotals:
    """The team's sums; attainment counts only agents who have a target."""
    with_target = [r for r in rows if r.target]
    target = sum(r.target for r in with_target)
    return TeamTotals(
        volume=sum(r.volume for r in rows), earned=sum(r.earned for r in rows), spiffs=sum(r.spiffs for r in rows),
        adjustments=sum(r.adjustments for r in rows), commission=sum(r.commission for r in rows),
        pending_count=sum(r.pending_count for r in rows), unpaid=sum(r.unpaid for r in rows),
        month_volume=sum(r.month_volume for r in rows), target=target,
        attainment=_percent(sum(r.month_volume for r in with_target), target))


def team_chart(agent_ids: list[int], last: Period, count: int = CHART_PERIODS) -> list[ChartBar]:
    """Team commission (every entry) per period for `count` periods ending with `last`, oldest first."""
    return commission_chart(agent_ids, last.end_date, count)


def team_dashboard(user: User, period: Period, page: int = 1) -> TeamDashboard:
    """Page `page` of the per-agent figures, with the leaderboard, totals and chart of the user's
    whole team for a period."""
    agents = team_agents(user, include_inactive=True)
    rows = [r for r in _team_figures(agents, period) if _shown(r)]
    window = page_window(len(rows), page, TEAM_PAGE_SIZE)
    return TeamDashboard(period=period, rows=rows[window.offset:window.offset + window.size], window=window,
                         leaderboard=leaderboard(rows, LEADERBOARD_SIZE), totals=_totals(rows),
                         chart=team_chart([a.id for a in agents], period))


# ---- One agent ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerPeriod:
    """One period of an agent's ledger: its entries and how it reconciles (cents)."""

    period: Period
    entries: list[CommissionEntry]
    opening: int
    total: int
    payouts: int
    closing: int  # opening + total - payouts, as on the statement


def agent_ledger(agent_id: int, limit: int | None = 12) -> tuple[list[LedgerPeriod], int]:
    """The agent's ledger by period, newest first (the last `limit` periods with activity).

    Returns the periods shown and how many periods have activity in all. Opening and closing
    balances are running sums over every period, so they agree with ledger.period_summary.
    """
    by_period = dict(db.session.execute(
        select(CommissionEntry.period_id, func.sum(CommissionEntry.amount_cents))
        .where(CommissionEntry.agent_id == agent_id).group_by(CommissionEntry.period_id)).all())
    payouts = db.session.execute(select(Payout.paid_on, Payout.amount_cents).where(Payout.agent_id == agent_id)).all()
    if not by_period and not payouts:
        return [], 0
    first_day = min([p.paid_on for p in payouts] + [date.max])
    periods = list(db.session.scalars(
        select(Period).where((Period.id.in_(list(by_period))) | (Period.end_date >= first_day))
        .order_by(Period.start_date)))
    paid_in: dict[int, int] = defaultdict(int)
    for paid_on, amount in payouts:
        home = next((p for p in periods if p.start_date <= paid_on <= p.end_date), None)
        if home is not None:  # record_payout always creates the payout's period
            paid_in[home.id] += amount
    running, active = 0, []
    for period in periods:
        total, paid = int(by_period.get(period.id) or 0), paid_in.get(period.id, 0)
        opening, running = running, running + total - paid
        if period.id in by_period or period.id in paid_in:
            active.append((period, opening, total, paid, running))
    active.reverse()
    shown = active if limit is None else active[:limit]
    entries: dict[int, list[CommissionEntry]] = defaultdict(list)
    if shown:
        for entry in db.session.scalars(
                select(CommissionEntry).where(CommissionEntry.agent_id == agent_id,
                                              CommissionEntry.period_id.in_([p.id for p, *_ in shown]))
                .options(joinedload(CommissionEntry.sale).joinedload(Sale.product).joinedload(Product.category))
                .order_by(CommissionEntry.id)):
            entries[entry.period_id].append(entry)
    return [LedgerPeriod(period=p, entries=entries[p.id], opening=o, total=t, payouts=pd, closing=c)
            for p, o, t, pd, c in shown], len(active)
