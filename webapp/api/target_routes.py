"""API v1 monthly targets (admins, as the targets page): read a month's, set or remove an agent's.
A change recomputes the agent-month (attainment plans place their brackets by the target)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from webapp.api.convert import cents_of, money
from webapp.api.framework import Page, PageQuery, Strict, decode_cursor, keyset_page, operation
from webapp.api.schemas import Id, Money, MoneyOut
from webapp.auth.models import Role
from webapp.commissions import targets

ADMINS = (Role.ADMIN,)


# Years 1900-2099: a month is a calendar month people set targets for (year 0 or 9999 would overflow).
Month = Annotated[str, StringConstraints(pattern=r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$"),
                  Field(description="YYYY-MM", examples=["2026-11"])]


def _month(text: str) -> date:
    """A checked YYYY-MM as the first day of that month."""
    return date.fromisoformat(f"{text}-01")


class TargetOut(BaseModel):
    """An agent's sales target for a calendar month."""

    agent_id: int
    month: str = Field(description="YYYY-MM")
    amount: MoneyOut


class TargetPage(Page[TargetOut]):
    """A page of a month's targets, by agent id."""


class TargetQuery(PageQuery):
    """Which month's targets (and optionally one agent's)."""

    month: Month
    agent_id: Id | None = None


class TargetIn(Strict):
    """Set an agent's target for a month, or remove it (amount null)."""

    agent_id: Id
    month: Month
    amount: Money | None = Field(description="Above zero; null removes the target")


class TargetSet(BaseModel):
    """The target as it now stands (amount null: none)."""

    agent_id: int
    month: str
    amount: MoneyOut | None


def _out(target) -> TargetOut:
    """A target for the API."""
    return TargetOut(agent_id=target.agent_id, month=target.month.strftime("%Y-%m"), amount=money(target.amount_cents))


@operation("GET", "/targets", summary="A month's sales targets", tag="Plans", area="admin", query=TargetQuery,
           responses={200: TargetPage}, roles=ADMINS)
def list_targets(user, query: TargetQuery):
    """The month's targets by agent id, paginated."""
    page, after = keyset_page(targets.targets_page(_month(query.month), agent_id=query.agent_id,
                                                   after_agent_id=decode_cursor(query.cursor), limit=query.limit + 1),
                              query.limit, key=lambda target: target.agent_id)
    return TargetPage(items=[_out(t) for t in page], next_cursor=after)


@operation("PUT", "/targets", summary="Set or remove an agent's target for a month", tag="Plans", area="admin",
           body=TargetIn, responses={200: TargetSet}, roles=ADMINS, write=True)
def set_target(user, body: TargetIn):
    """Set (or, with amount null, remove) the target; the agent-month is recomputed."""
    month = _month(body.month)
    if body.amount is None:
        targets.remove_target(user, agent_id=body.agent_id, month=month)
        return TargetSet(agent_id=body.agent_id, month=body.month, amount=None)
    target = targets.set_target(user, agent_id=body.agent_id, month=month,
                                amount_cents=cents_of(body.amount, "amount"))
    return TargetSet(**_out(target).model_dump())
