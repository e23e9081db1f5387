"""Payout bodies of the API (money as decimal strings, dates as ISO dates)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from webapp.api.framework import Page, PageQuery, Strict
from webapp.api.schemas import DateIn, Id, Money, MoneyOut, QueryDate
from webapp.api.text import text


class PayoutOut(BaseModel):
    """Money paid to an agent, or the reversal of such a payment (a negative amount)."""

    id: int
    agent_id: int
    amount: MoneyOut = Field(description="Paid (positive), or taken back by a reversal (negative)")
    paid_on: date
    reference: str | None
    advance: bool = Field(description="Paid beyond the unpaid balance, to be repaid by later commission")
    reverses_id: int | None = Field(description="On a reversal: the payout it reverses")
    reversed_by_id: int | None = Field(description="On a reversed payout: its reversal")
    created_by_id: int | None
    created_at: datetime


class PayoutIn(Strict):
    """A payout to record for an agent of the caller's team."""

    agent_id: Id
    amount: Money = Field(description="Above zero; at most the agent's unpaid balance unless `advance`")
    paid_on: DateIn = Field(description="In an open period, and not in the future")
    reference: text(120, required=False) | None = None
    advance: bool = False


class PayoutQuery(PageQuery):
    """Filters of the payout list (managers: their team's; admins: all)."""

    agent_id: Id | None = None
    start: QueryDate | None = Field(None, description="Paid on or after this day (YYYY-MM-DD)")
    end: QueryDate | None = Field(None, description="Paid on or before this day (YYYY-MM-DD)")
    include_total: bool = Field(False, description="Count every payout matching the filters into `total`")


class PayoutPage(Page[PayoutOut]):
    """A page of payouts and reversals, newest recorded first."""

    total: int | None = Field(None, description="How many payouts match the filters over every page, when "
                                                "asked for with include_total=true; else null")


class PlannedPayoutOut(BaseModel):
    """What paying a closed period's statements would pay one agent, and why."""

    agent_id: int
    name: str
    closing: MoneyOut = Field(description="The closing unpaid balance of the period's statement")
    paid_since: MoneyOut = Field(description="Payouts dated after the period's end, net of reversals")
    unpaid: MoneyOut = Field(description="The unpaid balance now")
    amount: MoneyOut = Field(description="What paying the period pays (0.00: nothing)")


class PaymentPlanOut(BaseModel):
    """Every agent of the team with a positive closing balance for the period, and what they would
    be paid; send `digest` back to pay exactly this."""

    period_id: int
    digest: str
    total: MoneyOut
    items: list[PlannedPayoutOut]


class PayPeriodIn(Strict):
    """Pay the period's statements as the payment plan showed them."""

    digest: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The payment plan's digest: if the amounts changed since, nothing is paid (409)")


class PaidOut(BaseModel):
    """The payouts paying the period made (empty: nothing was due); or, for a team larger than a
    request pays, the background operation paying them."""

    items: list[PayoutOut]
    operation_id: int | None = Field(description="Set when a background operation pays the statements "
                                                       "(items is then empty): follow it at "
                                                       "GET /operations/{operation_id} (also in Operation-Location)")
