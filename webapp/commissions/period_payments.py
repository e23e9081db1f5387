"""Pay all statements of a closed period: what each agent of the team is owed for it, and paying it.

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

from webapp import clock
from webapp.auth.access import team_agents
from webapp.auth.models import User
from webapp.commissions import payouts as payout_service
from webapp.commissions.balances import closing_balances, unpaid_balances
from webapp.commissions.ledger import lock_agent
from webapp.commissions.models import Payout, Period
from webapp.errors import ServiceError


@dataclass(frozen=True)
class PlannedPayout:
    """What "pay all statements of P" would pay one agent, and why (cents)."""

    agent: User
    closing: int      # closing unpaid balance of P's statement
    paid_since: int   # payouts dated after P's end, net of reversals
    unpaid: int       # unpaid balance now
    amount: int       # what the run pays (0: nothing)


def period_payment_plan(user: User, period: Period) -> list[PlannedPayout]:
    """Every team agent with a positive closing balance for P, and what the run would pay them."""
    if period.is_open:
        raise ServiceError(f"{period.label} is still open; its statements are paid once it is closed.",
                           "period", status=409)
    agents = team_agents(user, include_inactive=True)
    ids = [a.id for a in agents]
    if not ids:
        return []
    balances, unpaid = closing_balances(ids, period), unpaid_balances(ids)
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
