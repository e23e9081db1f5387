"""Managers' money actions beyond single payouts: team payout lists and "pay all statements of P".

PAY ALL STATEMENTS OF A CLOSED PERIOD P. For each agent A of the team (deactivated agents too:
they are still owed their money):

    closing(A, P)    = ledger.period_summary(A, P).closing
                     = A's entries in periods ending on or before P's end
                       - A's payouts dated on or before P's end
    paid_since(A, P) = A's payouts dated after P's end, net of reversals
    amount(A)        = min(closing(A, P) - paid_since(A, P), unpaid balance of A now)

A is paid `amount(A)`, dated today, reference "Period <label>", only when closing(A, P) > 0
and amount(A) > 0. Every payout dated after P's end counts toward P's closing balance first: a
later payment settles the oldest money owed. So running it twice pays nothing more (the first
run's payouts are dated after P's end), paying an agent by hand first reduces what the run pays,
paying P after a later period's run pays nothing, and reversing such a payout makes its amount
due again. The cap at the current unpaid balance keeps the run from ever creating an advance
(a clawback since P can have lowered what A is owed).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select

from webapp import clock
from webapp.auth.models import User
from webapp.commissions import payouts as payout_service
from webapp.commissions.ledger import lock_agent
from webapp.commissions.models import CommissionEntry, Payout, Period, PeriodStatus
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.review.access import team_agent_ids, team_agents, visible_agent
from webapp.review.team import unpaid_balances

RECENT_PAYOUTS = 50


def visible_payout(user: User, payout_id: int) -> Payout:
    """A payout of an agent the user manages, else NotFound (another team's payout is 404)."""
    payout = db.session.get(Payout, payout_id)
    if payout is None:
        raise NotFound()
    visible_agent(user, payout.agent_id)
    return payout


def reversed_ids(payout_ids: list[int]) -> set[int]:
    """Which of these payouts have been reversed."""
    if not payout_ids:
        return set()
    return set(db.session.scalars(select(Payout.reverses_id).where(Payout.reverses_id.in_(payout_ids))))


def team_payouts(user: User, limit: int = RECENT_PAYOUTS) -> list[tuple[Payout, User]]:
    """The most recent payouts (and reversals) of the user's team with their agent, newest first."""
    query = select(Payout, User).join(User, Payout.agent_id == User.id)
    ids = team_agent_ids(user)
    if ids is not None:
        query = query.where(Payout.agent_id.in_(ids))
    return [(payout, agent) for payout, agent in
            db.session.execute(query.order_by(Payout.paid_on.desc(), Payout.id.desc()).limit(limit)).all()]


def closed_periods(limit: int = 24) -> list[Period]:
    """Closed periods, newest first (the ones whose statements can be paid)."""
    return list(db.session.scalars(
        select(Period).where(Period.status == PeriodStatus.CLOSED)
        .order_by(Period.start_date.desc()).limit(limit)))


@dataclass(frozen=True)
class PlannedPayout:
    """What "pay all statements of P" would pay one agent, and why (cents)."""

    agent: User
    closing: int      # closing unpaid balance of P's statement
    paid_since: int   # payouts dated after P's end, net of reversals
    unpaid: int       # unpaid balance now
    amount: int       # what the run pays (0: nothing)


def _closing_balances(agent_ids: list[int], period: Period) -> dict[int, tuple[int, int]]:
    """(closing balance of P, paid since P's end) for each agent, in three grouped queries."""
    entries = dict(db.session.execute(
        select(CommissionEntry.agent_id, func.sum(CommissionEntry.amount_cents))
        .join(Period, CommissionEntry.period_id == Period.id)
        .where(CommissionEntry.agent_id.in_(agent_ids), Period.end_date <= period.end_date)
        .group_by(CommissionEntry.agent_id)).all())
    paid_by_end = dict(db.session.execute(
        select(Payout.agent_id, func.sum(Payout.amount_cents))
        .where(Payout.agent_id.in_(agent_ids), Payout.paid_on <= period.end_date).group_by(Payout.agent_id)).all())
    paid_after = dict(db.session.execute(
        select(Payout.agent_id, func.sum(Payout.amount_cents))
        .where(Payout.agent_id.in_(agent_ids), Payout.paid_on > period.end_date).group_by(Payout.agent_id)).all())
    return {a: (int(entries.get(a) or 0) - int(paid_by_end.get(a) or 0), int(paid_after.get(a) or 0))
            for a in agent_ids}


def period_payment_plan(user: User, period: Period) -> list[PlannedPayout]:
    """Every team agent with a positive closing balance for P, and what the run would pay them."""
    if period.is_open:
        raise ServiceError(f"{period.label} is still open; its statements are paid once it is closed.",
                           "period", status=409)
    agents = team_agents(user, include_inactive=True)
    ids = [a.id for a in agents]
    if not ids:
        return []
    balances, unpaid = _closing_balances(ids, period), unpaid_balances(ids)
    plan = []
    for agent in agents:
        closing, paid_since = balances[agent.id]
        if closing <= 0:
            continue
        amount = max(0, min(closing - paid_since, unpaid[agent.id]))
        plan.append(PlannedPayout(agent=agent, closing=closing, paid_since=paid_since, unpaid=unpaid[agent.id],
                                  amount=amount))
    return plan


def plan_digest(period: Period, plan: list[PlannedPayout]) -> str:
    """A fingerprint of who gets what, so a confirmed page pays exactly what it showed."""
    text = f"{period.id}:" + ";".join(f"{p.agent.id}={p.amount}" for p in plan if p.amount > 0)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def pay_period(actor: User, period: Period, digest: str | None) -> list[Payout]:
    """Pay every amount of P's plan (as confirmed), dated today; an empty list if nothing is due."""
    if period.is_open:
        raise ServiceError(f"{period.label} is still open; its statements are paid once it is closed.",
                           "period", status=409)
    # Lock every team agent, in id order (two runs at once then queue rather than deadlock), and
    # only then work out what is due: another run or payout cannot slip in between.
    for agent_id in sorted(a.id for a in team_agents(actor, include_inactive=True)):
        lock_agent(agent_id)
    plan = [p for p in period_payment_plan(actor, period) if p.amount > 0]
    if not plan:
        return []
    if digest != plan_digest(period, plan):
        raise ServiceError("The amounts changed since this page was shown; check them and confirm again.",
                           status=409)
    today = clock.today()
    return [payout_service.record_payout(actor, agent_id=p.agent.id, amount_cents=p.amount, paid_on=today,
                                         reference=f"Period {period.label}", advance=False) for p in plan]
