"""Which agents a manager may see and act for."""

from __future__ import annotations

from sqlalchemy import select

from webapp.auth.models import Role, User
from webapp.errors import NotFound
from webapp.extensions import db


def team_agent_ids(user: User) -> list[int] | None:
    """Ids of the agents the user manages; None means every agent (admins)."""
    if user.role == Role.ADMIN:
        return None
    return list(db.session.scalars(
        select(User.id).where(User.manager_id == user.id, User.role == Role.AGENT)))


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
