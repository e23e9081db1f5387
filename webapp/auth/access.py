"""Who may see or act on what: the agents of a user's team, one agent, a sale, a payout.

Another team's or agent's object is NotFound (404), never 403, so its existence is not revealed.
"""

from __future__ import annotations

from sqlalchemy import select

from webapp.auth.models import Role, User
from webapp.commissions.models import Payout
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.sales.models import Sale


def team_agent_ids(user: User) -> list[int] | None:
    """Ids of the agents the user manages; None means every agent (admins)."""
    if user.role == Role.ADMIN:
        return None
    return list(db.session.scalars(select(User.id).where(User.manager_id == user.id, User.role == Role.AGENT)))


def team_agents(user: User, include_inactive: bool = False) -> list[User]:
    """The agents the user manages (admins: all agents), by name."""
    query = select(User).where(User.role == Role.AGENT).order_by(User.name)
    if user.role != Role.ADMIN:
        query = query.where(User.manager_id == user.id)
    if not include_inactive:
        query = query.where(User.active.is_(True))
    return list(db.session.scalars(query))


def visible_agent(user: User, agent_id: int) -> User:
    """An agent the user manages, else NotFound (another team's agent is 404, not 403)."""
    agent = db.session.get(User, agent_id)
    if agent is None or agent.role != Role.AGENT:
        raise NotFound()
    if user.role != Role.ADMIN and agent.manager_id != user.id:
        raise NotFound()
    return agent


def own_or_managed_agent(user: User, agent_id: int) -> User:
    """The agent `agent_id` if the user may see them (agents only themselves), else NotFound."""
    if user.role == Role.AGENT:
        if agent_id != user.id:
            raise NotFound()
        return user
    return visible_agent(user, agent_id)


def can_manage_agent(actor: User, agent: User) -> bool:
    """Admins manage every agent; managers their own team."""
    if actor.role == Role.ADMIN:
        return True
    return actor.role == Role.MANAGER and agent.manager_id == actor.id


def visible_sale(user: User, sale_id: int) -> Sale:
    """A sale the user may see, else NotFound (another agent's sale is 404, not 403)."""
    sale = db.session.get(Sale, sale_id)
    if sale is None:
        raise NotFound()
    if user.role == Role.AGENT and sale.agent_id != user.id:
        raise NotFound()
    if user.role == Role.MANAGER and sale.agent.manager_id != user.id:
        raise NotFound()
    return sale


def visible_payout(user: User, payout_id: int) -> Payout:
    """A payout of an agent the user manages, else NotFound (another team's payout is 404)."""
    payout = db.session.get(Payout, payout_id)
    if payout is None:
        raise NotFound()
    visible_agent(user, payout.agent_id)
    return payout
