"""The access policy: every "may this user see or act on this" question, answered in one place.

Three roles: an agent sees only their own records; a manager sees the agents whose manager they
are (their team); an admin sees every agent. Every list is restricted with `agent_scope` (a SQL
condition, so a team of ten thousand agents is one subquery, never a Python list), and every
single object is loaded through a `visible_*` function. Another team's or agent's object is
NotFound (404), never 403, so its existence is not revealed. Decisions on a sale also need four
eyes: nobody decides a sale they entered themselves.

Routes, services, the API and templates (through the Jinja globals set in `init_app`) ask here;
nothing else compares roles.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import ColumnElement, case, false, func, or_, select, true
from sqlalchemy.orm import joinedload

from webapp.auth.models import Role, User
from webapp.commissions.models import CommissionEntry, Payout
from webapp.disputes.models import Dispute
from webapp.errors import FOUR_EYES, NotFound, ServiceError
from webapp.extensions import db
from webapp.sales.models import Sale, SaleCredit
from webapp.statements.models import Statement, StatementRun

OWN_SALE_REFUSED = "You entered this sale; another manager or an admin must decide it."

# ---- Roles ------------------------------------------------------------------------------------


def has_role(user: User, *roles: str) -> bool:
    """True when the user holds one of `roles` (the route guards and the API ask this)."""
    return user.role in roles


def has_any_role(user: User) -> bool:
    """True for every signed-in person with one of the three roles."""
    return user.role in (Role.AGENT, Role.MANAGER, Role.ADMIN)


def is_agent(user: User) -> bool:
    """Agents record sales and see only their own records."""
    return user.role == Role.AGENT


def is_admin(user: User) -> bool:
    """Admins see and manage every agent."""
    return user.role == Role.ADMIN


def is_manager(user: User) -> bool:
    """Managers see and manage their own team."""
    return user.role == Role.MANAGER


def is_manager_side(user: User) -> bool:
    """Managers and admins: they approve, adjust, pay, close periods and answer disputes."""
    return user.role in (Role.MANAGER, Role.ADMIN)


# ---- Agents -----------------------------------------------------------------------------------


def agent_scope(user: User, agent_id: ColumnElement) -> ColumnElement[bool]:
    """SQL condition: the agent id `agent_id` (a column of any query) is one the user may see."""
    if user.role == Role.ADMIN:
        return true()
    if user.role == Role.MANAGER:
        return agent_id.in_(select(User.id).where(User.manager_id == user.id, User.role == Role.AGENT))
    if user.role == Role.AGENT:
        return agent_id == user.id
    return false()


def may_see_agent(user: User, agent: User) -> bool:
    """The Python twin of agent_scope, for one agent already loaded."""
    if user.role == Role.AGENT:
        return agent.id == user.id
    return can_manage_agent(user, agent)


def team_agents(user: User, include_inactive: bool = False) -> list[User]:
    """The agents the user manages (admins: all agents), by name."""
    query = select(User).where(User.role == Role.AGENT, agent_scope(user, User.id)).order_by(User.name, User.id)
    if not include_inactive:
        query = query.where(User.active.is_(True))
    return list(db.session.scalars(query))


def agents_page(user: User, *, active: bool | None = None, after_id: int | None = None,
                limit: int = 50) -> list[User]:
    """The agents the user manages (admins: all agents) by id, after `after_id`: a keyset page."""
    query = select(User).where(User.role == Role.AGENT, agent_scope(user, User.id))
    if active is not None:
        query = query.where(User.active.is_(active))
    if after_id is not None:
        query = query.where(User.id > after_id)
    return list(db.session.scalars(query.order_by(User.id).limit(limit)))


def can_manage_agent(actor: User, agent: User) -> bool:
    """Admins manage every agent; managers their own team; agents nobody."""
    if actor.role == Role.ADMIN:
        return True
    return actor.role == Role.MANAGER and agent.manager_id == actor.id


def may_adjust(actor: User | None, agent: User) -> bool:
    """Who may post a manual adjustment: a manager of the agent, or the system itself (no actor)."""
    return actor is None or can_manage_agent(actor, agent)


def visible_agent(user: User, agent_id: int) -> User:
    """An agent the user manages, else NotFound (another team's agent is 404, not 403)."""
    agent = db.session.get(User, agent_id)
    if agent is None or agent.role != Role.AGENT or not can_manage_agent(user, agent):
        raise NotFound()
    return agent


def own_or_managed_agent(user: User, agent_id: int) -> User:
    """The agent `agent_id` if the user may see them (agents only themselves), else NotFound."""
    if user.role == Role.AGENT:
        if agent_id != user.id:
            raise NotFound()
        return user
    return visible_agent(user, agent_id)


def recording_agent(actor: User, agent_id: int | None) -> User:
    """The agent a sale is recorded for: agents record their own; managers for an active agent of
    their team; admins for any active agent."""
    if actor.role == Role.AGENT:
        if agent_id not in (None, actor.id):
            raise ServiceError("Agents record their own sales.", "agent_id")
        return actor
    agent = db.session.get(User, agent_id) if isinstance(agent_id, int) else None
    if agent is None or agent.role != Role.AGENT or not agent.active or not can_manage_agent(actor, agent):
        raise ServiceError("Choose an active agent of your team.", "agent_id")
    return agent


# ---- Sales ------------------------------------------------------------------------------------


def _of_visible_agent(user: User, model, object_id: int):
    """The `model` row (with an `.agent`) if the user may see its agent, else NotFound."""
    row = db.session.get(model, object_id)
    if row is None or not may_see_agent(user, row.agent):
        raise NotFound()
    return row


def sale_scope(user: User) -> ColumnElement[bool]:
    """SQL condition on Sale: sales the user may see. Those of an agent they may see, and those
    such an agent holds a credit of (a co-agent, or a co-agent's manager, sees a split sale)."""
    if user.role == Role.ADMIN:
        return true()
    credit = SaleCredit.__table__.c
    held = select(credit.sale_id).where(agent_scope(user, credit.agent_id))
    return agent_scope(user, Sale.agent_id) | Sale.id.in_(held)


def may_see_sale(user: User, sale: Sale) -> bool:
    """The Python twin of sale_scope, for one sale already loaded."""
    return may_see_agent(user, sale.agent) or any(may_see_agent(user, credit.agent)
                                                  for credit in sale.credits)


def visible_sale(user: User, sale_id: int) -> Sale:
    """A sale the user may see, else NotFound (another agent's sale is 404, not 403).

    Its co-agents (and their managers) see a split sale read-only: editing and deciding it ask
    check_may_edit_sale and check_may_decide_sale, which only the primary's side passes."""
    sale = db.session.get(Sale, sale_id)
    if sale is None or not may_see_sale(user, sale):
        raise NotFound()
    return sale


def may_decide_sale(user: User, sale: Sale) -> bool:
    """True for a manager or admin of the sale's (primary) agent: the people who approve or void it."""
    return can_manage_agent(user, sale.agent)


def co_agent(agent_id) -> User | None:
    """The active agent `agent_id`, whom a sale may be split with; None when there is none."""
    if not isinstance(agent_id, int) or isinstance(agent_id, bool) or not 1 <= agent_id <= 2**31 - 1:
        return None
    agent = db.session.get(User, agent_id)
    return agent if agent is not None and agent.role == Role.AGENT and agent.active else None


def co_agents(agent_ids: list[int]) -> list[User]:
    """The active agents among `agent_ids` (ids out of range are left out), for checking a batch."""
    ids = [i for i in agent_ids if 1 <= i <= 2**31 - 1]
    return list(db.session.scalars(select(User).where(
        User.id.in_(ids), User.role == Role.AGENT, User.active.is_(True)))) if ids else []


def active_agents_by_email(emails: list[str]) -> list[User]:
    """The active agents with these (lower-case) emails: the co-agents a CSV file names."""
    return list(db.session.scalars(select(User).where(
        func.lower(User.email).in_(emails), User.role == Role.AGENT, User.active.is_(True))))


def co_agent_matches(text: str, exclude_id: int, limit: int = 10) -> list[User]:
    """Active agents but `exclude_id` whose name or email contains `text`: at most `limit`, by name."""
    text = (text or "").strip().lower()
    if not text:
        return []
    name, email = func.lower(User.name), func.lower(User.email)
    # One LIMITed query whatever the number of agents (the sale form's co-agent search box); names
    # that start with the text come first, so "ann" finds Ann before Joanna.
    return list(db.session.scalars(
        select(User).where(User.role == Role.AGENT, User.active.is_(True), User.id != exclude_id,
                           or_(name.contains(text, autoescape=True), email.contains(text, autoescape=True)))
        .order_by(case((name.startswith(text, autoescape=True), 0), else_=1), User.name, User.id)
        .limit(limit)))


def may_edit_sale(user: User, sale: Sale) -> bool:
    """True for the sale's agent and whoever entered it (a co-agent only reads a split sale)."""
    return user.id in (sale.agent_id, sale.entered_by_id)


def check_may_edit_sale(actor: User, sale: Sale) -> None:
    """Only the sale's agent or whoever entered it may change or cancel it (others: 404)."""
    if not may_edit_sale(actor, sale):
        if any(credit.agent_id == actor.id for credit in sale.credits):  # a co-agent: theirs to read only
            raise ServiceError("You hold a share of this sale; only its agent can change or cancel it.",
                               status=403)
        raise NotFound()


def check_may_decide_sale(actor: User, sale: Sale) -> None:
    """A manager of the sale's agent may decide it (others: 404), never one they entered (403).

    Four eyes on every decision: approving, rejecting or voiding a sale you entered yourself would
    let one person both record and settle what the agent is paid."""
    if not can_manage_agent(actor, sale.agent):
        raise NotFound()
    if sale.entered_by_id == actor.id:
        raise ServiceError(OWN_SALE_REFUSED, status=403, code=FOUR_EYES)


# ---- Money, statements and disputes -----------------------------------------------------------


def visible_payout(user: User, payout_id: int) -> Payout:
    """A payout of an agent the user manages, else NotFound (another team's payout is 404)."""
    payout = db.session.get(Payout, payout_id)
    if payout is None:
        raise NotFound()
    visible_agent(user, payout.agent_id)
    return payout


def own_entry(agent: User, entry_id: int) -> CommissionEntry:
    """A ledger line of this agent, else NotFound (another agent's line is 404, not 403)."""
    entry = db.session.get(CommissionEntry, entry_id) if isinstance(entry_id, int) else None
    if entry is None or agent.role != Role.AGENT or entry.agent_id != agent.id:
        raise NotFound()
    return entry


def visible_statement(user: User, statement_id: int) -> Statement:
    """A statement the user may see, else NotFound (another agent's statement is 404)."""
    statement = db.session.scalar(
        select(Statement).where(Statement.id == statement_id, agent_scope(user, Statement.agent_id))
        .options(joinedload(Statement.agent), joinedload(Statement.run)))
    if statement is None:
        raise NotFound()
    return statement


def run_scope(user: User, team_statements: ColumnElement) -> ColumnElement[bool]:
    """SQL condition on StatementRun: runs the user may follow. Agents follow their own requests,
    managers theirs and any run holding a statement of their team (`team_statements`: a count of
    the run's statements the user may see), admins all."""
    if user.role == Role.ADMIN:
        return true()
    if user.role == Role.MANAGER:
        return (StatementRun.requested_by_id == user.id) | (team_statements > 0)
    return StatementRun.requested_by_id == user.id


def visible_run(user: User, run_id: int) -> StatementRun:
    """A run the user may follow (see run_scope), else NotFound."""
    run = db.session.get(StatementRun, run_id)
    if run is None:
        raise NotFound()
    if user.role == Role.ADMIN or run.requested_by_id == user.id:
        return run
    if user.role == Role.MANAGER:
        team_statement = select(Statement.id).where(Statement.run_id == run.id,
                                                    agent_scope(user, Statement.agent_id)).limit(1)
        if db.session.scalar(team_statement) is not None:
            return run
    raise NotFound()


def statement_agents(actor: User, agent_ids: list[int] | None) -> list[User]:
    """The agents a statement request is for: the agent themselves, or chosen agents of the team
    (managers) or of the company (admins)."""
    if actor.role == Role.AGENT:
        return [actor]
    if not agent_ids:
        raise ServiceError("Choose at least one agent.", "agent_ids")
    query = select(User).where(User.id.in_(agent_ids), User.role == Role.AGENT, agent_scope(actor, User.id))
    agents = list(db.session.scalars(query.order_by(User.name)))
    if len(agents) != len(set(agent_ids)):
        raise ServiceError("Choose agents of your team.", "agent_ids")
    return agents


def visible_dispute(user: User, dispute_id: int) -> Dispute:
    """A dispute the user may see: the agent's own, a manager's team's, any for admins; else 404."""
    return _of_visible_agent(user, Dispute, dispute_id)


# ---- Templates --------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Templates ask the same policy: `is_agent(user)`, `is_manager(user)`, `is_admin(user)`,
    `is_manager_side(user)`."""
    app.jinja_env.globals.update(is_agent=is_agent, is_manager=is_manager, is_admin=is_admin,
                                 is_manager_side=is_manager_side)
