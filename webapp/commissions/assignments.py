"""Who is on which plan: give an agent a plan for a date range, end it; each change recomputes, and
a new assignment issues the agent its plan documents after the commit."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import or_, select

from webapp.audit.services import record
from webapp.commissions.ledger import lock_agent, recompute_agent_range, recompute_agents_ranges
from webapp.commissions.models import CommissionPlan, PlanAssignment
from webapp.commissions.periods import is_date_closed
from webapp.commissions.plans import agent_for_plan, check_effective_date, is_day
from webapp.errors import CLOSED_PERIOD, ServiceError
from webapp.extensions import db
from webapp.operations import services as operations
from webapp.tasks import enqueue_after_commit

_ONE_DAY = timedelta(days=1)
# Issues the plan documents a change calls for (webapp.plandocs.services.issue_missing): a sweep of
# what is missing, like the dispatchers, so it runs on their queue and one waiting run serves many changes.
PLAN_DOCUMENTS_JOB = "jobs.plandocs.issue_missing"


def _overlaps(agent_id: int, start: date, end: date | None, ignore_id: int | None = None) -> PlanAssignment | None:
    """An existing assignment of the agent overlapping [start, end] (end None = open-ended)."""
    query = select(PlanAssignment).where(
        PlanAssignment.agent_id == agent_id,
        or_(PlanAssignment.effective_to.is_(None), PlanAssignment.effective_to >= start),
    )
    if end is not None:
        query = query.where(PlanAssignment.effective_from <= end)
    if ignore_id is not None:
        query = query.where(PlanAssignment.id != ignore_id)
    return db.session.scalar(query.limit(1))


def assign_plan(actor, *, agent_id: int, plan_id: int, effective_from: date,
                effective_to: date | None = None) -> PlanAssignment:
    """Put an agent on a plan for a date range; refuses overlaps and closed periods."""
    agent = agent_for_plan(agent_id)
    lock_agent(agent.id)
    plan = db.session.get(CommissionPlan, plan_id)
    if plan is None:
        raise ServiceError("Choose a plan.", "plan_id")
    check_effective_date(effective_from)
    if effective_to is not None and not is_day(effective_to):
        raise ServiceError("Enter the end date.", "effective_to")
    if effective_to is not None and effective_to < effective_from:
        raise ServiceError("The end date is before the start date.", "effective_to")
    clash = _overlaps(agent.id, effective_from, effective_to)
    if clash is not None:
        until = clash.effective_to.isoformat() if clash.effective_to else "open-ended"
        raise ServiceError(
            f"{agent.name} is already on {clash.plan.name} from {clash.effective_from.isoformat()} "
            f"({until}). End that assignment first.", "effective_from")
    assignment = PlanAssignment(agent_id=agent.id, plan_id=plan.id, effective_from=effective_from,
                                effective_to=effective_to)
    db.session.add(assignment)
    db.session.flush()
    record(actor, "plan.assign", assignment, None, {
        "agent_id": agent.id, "plan_id": plan.id, "effective_from": effective_from.isoformat(),
        "effective_to": effective_to.isoformat() if effective_to else None})
    recompute_agent_range(agent.id, effective_from, effective_to)
    # By name: plan documents build on this package, so it cannot import them back.
    enqueue_after_commit("periodic", PLAN_DOCUMENTS_JOB)
    return assignment


def end_assignment(actor, assignment: PlanAssignment, effective_to: date) -> PlanAssignment:
    """End an assignment on a date (inclusive); the days after it lose this plan."""
    lock_agent(assignment.agent_id)
    if not is_day(effective_to) or effective_to < assignment.effective_from:
        raise ServiceError("The end date must be on or after the start date.", "effective_to")
    old_end = assignment.effective_to
    # The days that change hands lie between the old and the new end, in either direction: a
    # later end gives the plan days it did not cover (which may be closed, or another plan's).
    first_changed = min(effective_to, old_end) + _ONE_DAY if old_end is not None else effective_to + _ONE_DAY
    last_changed = None if old_end is None else max(effective_to, old_end)
    if is_date_closed(first_changed):
        raise ServiceError("Ending it there would change a closed period.", "effective_to", code=CLOSED_PERIOD)
    clash = _overlaps(assignment.agent_id, assignment.effective_from, effective_to, ignore_id=assignment.id)
    if clash is not None:
        raise ServiceError(
            f"That end date overlaps {clash.plan.name} from {clash.effective_from.isoformat()}; "
            "an agent is on one plan at a time.", "effective_to")
    before = {"effective_to": old_end.isoformat() if old_end else None}
    assignment.effective_to = effective_to
    db.session.flush()
    record(actor, "plan.assignment.end", assignment, before, {"effective_to": effective_to.isoformat()})
    recompute_agent_range(assignment.agent_id, first_changed, last_changed)
    return assignment


def recompute_plan_agents(plan_id: int, since: date, actor=None) -> None:
    """Recompute every agent-month the plan's change can touch, from `since` on: here for a few
    agents, else in a background operation (operations.started() names it)."""
    rows = db.session.scalars(
        select(PlanAssignment).where(
            PlanAssignment.plan_id == plan_id,
            or_(PlanAssignment.effective_to.is_(None), PlanAssignment.effective_to >= since),
        ).order_by(PlanAssignment.agent_id)
    ).all()
    items = [[row.agent_id, max(since, row.effective_from).isoformat(),
              row.effective_to.isoformat() if row.effective_to else None] for row in rows]
    if operations.is_large(len(items)):
        operations.start(actor, PLAN_RECOMPUTE, items, plan_id=plan_id, since=since.isoformat())
        return
    _recompute_ranges(items)


def _recompute_ranges(items: list) -> None:
    """Recompute each [agent id, first day, last day or None], every agent locked first in one
    statement (id order), a month at a time for all of them (ledger.recompute_agents_ranges)."""
    recompute_agents_ranges([(agent_id, date.fromisoformat(start), date.fromisoformat(end) if end else None)
                             for agent_id, start, end in items])


def _recompute_step(operation, batch: list) -> list[str]:
    """A batch of the operation's agent ranges (recomputing one again is harmless)."""
    _recompute_ranges(batch)
    return []


PLAN_RECOMPUTE = operations.register(operations.Kind(
    name="plan_recompute", label="Recalculating a plan's agents", step=_recompute_step,
    finish=lambda operation: {"figures": {"Agents recalculated": operation.total}},
    link=lambda operation: ("admin.plan_detail", {"plan_id": operation.params["plan_id"]}, "Back to the plan"))).name
