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

Paying is set-based: the team's locks in one statement (per chunk of ids), the plan from one
grouped query over the team's entries and one over its payouts, the payouts and their audit events
in bulk. A team larger than an operation's inline limit is paid by a background operation, a batch
of agents a step; each step locks its agents and works out what is due again, so a retried step,
or a payout made by hand meanwhile, never pays twice, and pays no agent more than the confirmed
page showed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from webapp import clock
from webapp.auth.access import agent_scope, team_agents
from webapp.auth.models import Role, User
from webapp.commissions import payouts as payout_service
from webapp.commissions.balances import payment_balances
from webapp.commissions.ledger import lock_agents
from webapp.commissions.models import Payout, Period
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.money import format_money
from webapp.operations import services as operations


@dataclass(frozen=True)
class PlannedPayout:
    """What "pay all statements of P" would pay one agent, and why (cents)."""

    agent: User
    closing: int      # closing unpaid balance of P's statement
    paid_since: int   # payouts dated after P's end, net of reversals
    unpaid: int       # unpaid balance now
    amount: int       # what the run pays (0: nothing)


def _must_be_closed(period: Period) -> None:
    """Refuse an open period: its statements are paid once it is closed."""
    if period.is_open:
        raise ServiceError(f"{period.label} is still open; its statements are paid once it is closed.",
                           "period", status=409)


def _plan(agents: list[User], period: Period) -> list[PlannedPayout]:
    """What the run would pay each of these agents with a positive closing balance for P."""
    ids = [a.id for a in agents]
    if not ids:
        return []
    balances = payment_balances(ids, period)
    plan = []
    for agent in agents:
        closing, paid_since, unpaid = balances[agent.id]
        if closing <= 0:
            continue
        amount = max(0, min(closing - paid_since, unpaid))
        plan.append(PlannedPayout(agent=agent, closing=closing, paid_since=paid_since, unpaid=unpaid, amount=amount))
    return plan


def period_payment_plan(user: User, period: Period) -> list[PlannedPayout]:
    """Every team agent with a positive closing balance for P, and what the run would pay them."""
    _must_be_closed(period)
    return _plan(team_agents(user, include_inactive=True), period)


def plan_digest(period: Period, plan: list[PlannedPayout]) -> str:
    """A fingerprint of who gets what, so a confirmed page pays exactly what it showed."""
    # By agent id: two agents of one name may list in either order.
    paid = sorted((p.agent.id, p.amount) for p in plan if p.amount > 0)
    text = f"{period.id}:" + ";".join(f"{agent_id}={amount}" for agent_id, amount in paid)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _pay(actor: User | None, period: Period, due: dict[int, int]) -> list[Payout]:
    """Record these payouts (agent id -> cents above zero), dated today, with the period as reference."""
    if not due:
        return []
    return payout_service.record_payouts(actor, due, paid_on=clock.today(), reference=f"Period {period.label}")


def pay_period(actor: User, period: Period, digest: str | None) -> list[Payout]:
    """Pay every amount of P's plan (as confirmed), dated today: the payouts made (empty if nothing
    is due), or, for more agents than a request pays, none yet and a background operation paying
    them (operations.started() names it)."""
    _must_be_closed(period)
    # Lock every team agent (id order: two runs at once then queue rather than deadlock), and only
    # then read the team and work out what is due: another run, payout or move to another team
    # cannot slip in between. One who joined meanwhile was not on the page: the digest differs.
    lock_agents(a.id for a in team_agents(actor, include_inactive=True))
    plan = [p for p in _plan(team_agents(actor, include_inactive=True), period) if p.amount > 0]
    if not plan:
        return []
    if digest != plan_digest(period, plan):
        raise ServiceError("The amounts changed since this page was shown; check them and confirm again.",
                           status=409)
    confirmed = {p.agent.id: p.amount for p in plan}
    if operations.is_large(len(plan)):
        # What the page showed travels with the operation: a step never pays an agent more.
        operations.start(actor, PERIOD_PAYMENT, sorted(confirmed), period_id=period.id,
                         confirmed={str(agent_id): cents for agent_id, cents in confirmed.items()})
        return []
    return _pay(actor, period, confirmed)


def _pay_step(operation, batch: list) -> list[str]:
    """Pay a batch of the operation's agents what is due now, never more than the page showed
    (nothing to one paid meanwhile); an agent no longer on the team is left, and said so."""
    period = db.session.get(Period, operation.params["period_id"])
    actor = db.session.get(User, operation.created_by_id) if operation.created_by_id else None
    lock_agents(batch)  # first: the team and what is due are read under the locks
    query = select(User).where(User.id.in_(batch), User.role == Role.AGENT).order_by(User.id)
    if actor is not None:  # still the actor's agents: one moved to another team is theirs to pay
        query = query.where(agent_scope(actor, User.id))
    agents = list(db.session.scalars(query))
    confirmed = operation.params["confirmed"]
    made = _pay(actor, period, {p.agent.id: min(p.amount, confirmed[str(p.agent.id)])
                                for p in _plan(agents, period) if p.amount > 0})
    # Running totals for the result (a new dict, so the JSON column sees the change), committed
    # with the step's progress.
    totals = operation.result or {}
    operation.result = {"paid": totals.get("paid", 0) + len(made),
                        "paid_cents": totals.get("paid_cents", 0) + sum(p.amount_cents for p in made)}
    kept = {agent.id for agent in agents}
    return [f"Agent #{agent_id} is no longer on your team; not paid." for agent_id in batch if agent_id not in kept]


def _paid(operation) -> dict:
    """The operation's result: how many statements it paid, and how much."""
    totals = operation.result or {}
    return {"figures": {"Statements paid": totals.get("paid", 0),
                        "Total paid": format_money(totals.get("paid_cents", 0), current_app.config["CURRENCY"])}}


PERIOD_PAYMENT = operations.register(operations.Kind(
    name="period_payment", label="Paying a period's statements", step=_pay_step, finish=_paid,
    link=lambda operation: ("review.payouts", {}, "Back to payouts"), area="payouts")).name
