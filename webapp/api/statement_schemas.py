"""Statement and commission bodies of the API: lines as issued (sale credits, SPIFF rewards,
adjustments, payouts, each with its derivation), totals, runs (money as decimal strings)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from webapp.api.framework import Page, PageQuery, Strict
from webapp.api.schemas import DERIVATION_HELP, DateIn, Derivation, Id, MoneyOut, Note


class StatementLine(BaseModel):
    """A sale line: the sale and the commission it earned."""

    entry_id: int
    sale_id: int
    date: date
    product: str
    sku: str
    customer: str
    quantity: int
    amount: MoneyOut = Field(description="The sale's whole amount")
    credited: MoneyOut = Field(description="The agent's credited amount (the whole amount unless split)")
    share: str = Field(description="The agent's share of the sale in percent, exact (\"100\", \"33.3334\")")
    split: bool = Field(description="The sale is credited to more than one agent")
    rate: str | None = Field(description="Percent, e.g. \"3\" or \"2.125\"")
    commission: MoneyOut
    derivation: Derivation | None = Field(None, description=DERIVATION_HELP)
    plan_document: int | None = Field(None, description="The number of the plan document the line was earned "
                                                        "under (null: none was issued for it, e.g. before plan "
                                                        "documents existed, or no plan)")


class StatementSpiff(BaseModel):
    """A SPIFF reward on one of the agent's sale credits."""

    entry_id: int
    sale_id: int
    date: date
    product: str
    quantity: int
    spiff: str
    amount: MoneyOut
    derivation: Derivation | None = Field(None, description=DERIVATION_HELP)


class StatementAdjustment(BaseModel):
    """An adjustment: a system one for a sale (late approval, clawback, recalculation) or a manual one."""

    entry_id: int
    kind: str
    date: date
    sale_id: int | None
    sale_date: date | None
    product: str | None
    reason: str
    spiff: str | None = Field(None, description="The SPIFF a SPIFF adjustment is for")
    amount: MoneyOut
    derivation: Derivation | None = Field(None, description=DERIVATION_HELP)


class StatementPayout(BaseModel):
    """A payout to the agent."""

    id: int
    date: date
    reference: str
    advance: bool
    amount: MoneyOut


class CommissionsOut(BaseModel):
    """An agent's commission over a date range: the figures an ad-hoc statement of it would show."""

    agent_id: int
    start: date
    end: date
    volume: MoneyOut = Field(description="Approved sales sold in the range")
    earned: MoneyOut = Field(description="Commission on those sales")
    spiffs: MoneyOut = Field(description="SPIFF rewards on those sales")
    adjustments: MoneyOut = Field(description="Adjustments made in the range")
    total: MoneyOut = Field(description="earned + spiffs + adjustments")
    payouts: MoneyOut = Field(description="Paid in the range")
    opening_unpaid: MoneyOut = Field(description="Unpaid balance before the range")
    unpaid: MoneyOut = Field(description="Unpaid balance at the end of the range")
    lines: list[StatementLine]
    spiff_lines: list[StatementSpiff]
    adjustment_lines: list[StatementAdjustment]
    payout_lines: list[StatementPayout]


class StatementTotals(BaseModel):
    """A statement's figures; closing = opening + total - payouts."""

    volume: MoneyOut
    earned: MoneyOut
    spiffs: MoneyOut = Field("0.00", description="SPIFF rewards (statements issued before SPIFFs: 0.00)")
    adjustments: MoneyOut
    total: MoneyOut
    opening: MoneyOut
    payouts: MoneyOut
    closing: MoneyOut


class StatementOut(BaseModel):
    """An issued statement: its number, range, figures and where its PDF and email stand."""

    id: int
    number: int
    run_id: int
    agent_id: int
    agent_name: str
    kind: Literal["period", "adhoc"]
    start: date
    end: date
    period_label: str | None
    status: Literal["pending", "rendered", "failed"] = Field(
        description="The PDF: pending, rendered or failed")
    pdf_sha256: str | None
    email_status: str | None
    totals: StatementTotals


class StatementDetail(StatementOut):
    """A statement with every line as issued."""

    currency: str
    message: str | None
    lines: list[StatementLine]
    spiffs: list[StatementSpiff]
    adjustments: list[StatementAdjustment]
    payouts: list[StatementPayout]


class StatementPage(Page[StatementOut]):
    """A page of statements, newest first."""


class StatementQuery(PageQuery):
    """Filters of the statement list."""

    agent_id: Id | None = None
    kind: Literal["period", "adhoc"] | None = None


class RunIn(Strict):
    """Issue statements for a date range: agents for themselves; managers and admins for chosen
    agents of their team, with a message."""

    start: DateIn
    end: DateIn
    agent_ids: Annotated[list[Id], Field(max_length=1000)] | None = Field(
        None, description="Managers and admins: the agents (agents: omit, or only their own id)")
    message: Note | None = None


class RunStatement(BaseModel):
    """A statement of a run and where it stands."""

    id: int
    number: int
    agent_id: int
    status: Literal["pending", "rendered", "failed"]
    email_status: str | None


class RunOut(BaseModel):
    """A statement run and its progress (over the statements you may see)."""

    id: int
    kind: Literal["period", "adhoc"]
    start: date
    end: date
    message: str | None
    total: int
    rendered: int
    sent: int
    failed: int = Field(description="Statements whose PDF or email failed")
    finished: bool = Field(description="Every statement is issued (a large period run issues them in the "
                                       "background) and reached a final state")
    statements: list[RunStatement] = Field(description="A page of its statements, by number (`limit` and "
                                                       "`cursor` as in the lists)")
    next_cursor: str | None = Field(description="The `cursor` of the next page of statements (null: none left)")


class RunQuery(PageQuery):
    """Which page of the run's statements to include."""
