"""Customer and agent bodies of the API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from webapp.api.framework import Page, PageQuery, Strict
from webapp.api.schemas import Trimmed
from webapp.api.text import text


class CustomerOut(BaseModel):
    """A customer: someone sales are made to (a record, not a login)."""

    id: int
    name: str
    email: str | None
    phone: str | None
    region: str | None
    created_at: datetime


class CustomerIn(Strict):
    """A customer to add to the directory."""

    name: text(120, trim=True)
    email: text(254, required=False) | None = None
    phone: text(40, required=False) | None = None
    region: text(80, required=False) | None = None


class CustomerQuery(PageQuery):
    """Search the customer directory (everyone who records sales searches the same one)."""

    q: Trimmed(100) | None = Field(
        None, description="Part of the name or email, any case (as the sale form's search)")


class CustomerPage(Page[CustomerOut]):
    """A page of customers, by id."""


class AgentOut(BaseModel):
    """An agent of the caller's team (admins: any agent)."""

    id: int
    name: str
    email: str
    manager_id: int | None
    active: bool


class AgentQuery(PageQuery):
    """Filters of the agent list."""

    active: bool | None = Field(None, description="true: only active agents; false: only deactivated ones")


class AgentPage(Page[AgentOut]):
    """A page of agents, by id."""
