"""Pay period bodies of the API (money as decimal strings)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from webapp.api.schemas import MoneyOut


class PeriodOut(BaseModel):
    """A pay period, with the caller's team's ledger in it (admins: everyone's)."""

    id: int
    start: date
    end: date
    label: str
    status: Literal["open", "closed"]
    closed_at: datetime | None
    closed_by: str | None = Field(description="Who closed it (null: the statement run, or still open)")
    entries: int = Field(description="Ledger entries of the caller's team in the period")
    commission: MoneyOut = Field(description="Their total")
    blocker: str | None = Field(description="Why it cannot be closed now (null: it can)")


class PeriodList(BaseModel):
    """Every pay period, newest first."""

    items: list[PeriodOut]


class AgentFreezeOut(BaseModel):
    """What closing the period freezes for one agent."""

    agent_id: int
    name: str
    entries: int
    commission: MoneyOut
    volume: MoneyOut = Field(description="Approved volume credited to the agent in the period")
    pending: int = Field(description="Pending sales dated in the period: approved later, they are late approvals")
    pending_amount: MoneyOut


class PendingSaleOut(BaseModel):
    """A pending sale dated in the period."""

    id: int
    agent_name: str
    sold_on: date
    product_name: str
    amount: MoneyOut


class ClosePreviewOut(BaseModel):
    """What closing the period would freeze, for the caller's team (admins: everyone)."""

    period: PeriodOut
    team_only: bool
    blocker: str | None = Field(description="Why it cannot be closed now (null: it can)")
    grace_until: datetime | None = Field(description="When the statement run would close it by itself")
    agents: list[AgentFreezeOut]
    pending_sales: list[PendingSaleOut] = Field(description="The first 50, oldest first")
