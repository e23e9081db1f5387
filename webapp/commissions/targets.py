"""Monthly targets: set, change or remove an agent's target for a calendar month.

Under an attainment plan (a target_percent tier table) the target places the brackets, so a
target change is a ledger change like any other (COMMISSION_RULES.md section 9): the agent is
locked and the agent-month recomputed in the same transaction as the write. Lines of open
periods take the new figures; closed periods stay frozen and the differences become adjustments
in the earliest open period. Under any other plan the recompute finds nothing to change.

Lives above the ledger (as assignments.py does): plans.py is read by the ledger and cannot call it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from webapp.audit.services import record
from webapp.commissions.ledger import lock_agent, recompute_agent_month
from webapp.commissions.models import Target
from webapp.commissions.periods import month_bounds
from webapp.commissions.plans import agent_for_plan
from webapp.errors import ServiceError
from webapp.extensions import db


def _month_first(month: date) -> date:
    """The first day of the month of `month` (a plain date), or a field error."""
    if not isinstance(month, date):
        raise ServiceError("Choose a month.", "month")
    return month_bounds(month)[0]


def _target(agent_id: int, first: date) -> Target | None:
    """The stored target of an agent for the month starting on `first`."""
    return db.session.scalar(select(Target).where(Target.agent_id == agent_id, Target.month == first))


def targets_of_month(agent_ids: list[int], month: date) -> dict[int, Target]:
    """The targets of these agents for the month of `month`, by agent id (one query)."""
    if not agent_ids:
        return {}
    first = _month_first(month)
    return {t.agent_id: t for t in db.session.scalars(
        select(Target).where(Target.agent_id.in_(agent_ids), Target.month == first))}


def targets_page(month: date, *, agent_id: int | None = None, after_agent_id: int | None = None,
                 limit: int = 50) -> list[Target]:
    """The month's targets by agent id, after `after_agent_id` (a keyset page); one agent's if given."""
    query = select(Target).where(Target.month == _month_first(month))
    if agent_id is not None:
        query = query.where(Target.agent_id == agent_id)
    if after_agent_id is not None:
        query = query.where(Target.agent_id > after_agent_id)
    return list(db.session.scalars(query.order_by(Target.agent_id).limit(limit)))


def set_target(actor, *, agent_id: int, month: date, amount_cents: int) -> Target:
    """Set (or replace) an agent's sales target for a month, and recompute that agent-month."""
    agent = agent_for_plan(agent_id)
    first = _month_first(month)
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents < 1:
        raise ServiceError("Enter a target greater than zero.", "amount")
    # Locked before reading the target: two saves of one agent's target recompute one after the other.
    lock_agent(agent.id)
    target = _target(agent.id, first)
    before = {"amount_cents": target.amount_cents} if target else None
    if target is None:
        target = Target(agent_id=agent.id, month=first, amount_cents=amount_cents)
        db.session.add(target)
    else:
        target.amount_cents = amount_cents
    db.session.flush()
    record(actor, "target.set", target, before, {"agent_id": agent.id, "month": first.isoformat(),
                                                 "amount_cents": amount_cents})
    if before is None or before["amount_cents"] != amount_cents:
        recompute_agent_month(agent.id, first)
    return target


def remove_target(actor, *, agent_id: int, month: date) -> bool:
    """Remove an agent's target for a month ("no target"), recomputing that agent-month.

    Returns False when there was none (nothing written)."""
    agent = agent_for_plan(agent_id)
    first = _month_first(month)
    lock_agent(agent.id)
    target = _target(agent.id, first)
    if target is None:
        return False
    record(actor, "target.remove", target, {"agent_id": agent.id, "month": first.isoformat(),
                                            "amount_cents": target.amount_cents}, None)
    db.session.delete(target)
    db.session.flush()
    recompute_agent_month(agent.id, first)
    return True
