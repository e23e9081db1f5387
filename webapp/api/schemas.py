"""Request and response bodies of the API (money as decimal strings, dates as ISO dates)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from webapp.api.framework import Page, PageQuery, Strict
from webapp.formtools import MAX_DB_ID
from webapp.sales.services import MAX_QUANTITY

Money = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,11}(\.[0-9]{1,2})?$"),
                  Field(description="A non-negative decimal string with at most two decimals, e.g. \"1250.00\"",
                        examples=["1250.00"])]
MoneyOut = Annotated[str, Field(description="Decimal string with two places", examples=["1250.00"])]


class UserOut(BaseModel):
    """A user as the API shows it."""

    id: int
    email: str
    name: str
    role: Literal["admin", "manager", "agent"]
    manager_id: int | None


class ProductOut(BaseModel):
    """A product."""

    id: int
    sku: str
    name: str
    category: str
    list_price: MoneyOut
    active: bool
    restricted: bool


class ProductPage(Page[ProductOut]):
    """A page of products."""


class ProductIn(Strict):
    """A new product."""

    sku: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    category: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(description="Category code")
    list_price: Money
    restricted: bool = False


class ProductPatch(Strict):
    """Changes to a product (only the fields given change)."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None
    category: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    list_price: Money | None = None
    active: bool | None = None
    restricted: bool | None = None


class ProductQuery(PageQuery):
    """Filters of the product list."""

    # Unlike the other lists, unknown parameters are ignored here, as they always have been: clients'
    # existing product URLs keep working.
    model_config = ConfigDict(extra="ignore")
    active: Literal["true", "false"] | None = None


DateIn = Annotated[date, Field(description="YYYY-MM-DD (a date, not a date-time)")]


# ---- Sales, commissions, statements ---------------------------------------------------------

# Ids are bounded so a huge number is a 422, never a database error (ids are PostgreSQL INTEGERs).
Id = Annotated[int, Field(ge=1, le=MAX_DB_ID)]
SaleStatusName = Literal["pending", "approved", "rejected", "cancelled", "voided"]
Note = Annotated[str, StringConstraints(max_length=2000)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


def _plain_iso_date(value: object) -> object:
    """Query dates are YYYY-MM-DD only: pydantic's lax mode would take "2026-11-20T00:00:00"."""
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("Use a date as YYYY-MM-DD.")
    return value


QueryDate = Annotated[date, BeforeValidator(_plain_iso_date), Field(description="YYYY-MM-DD")]


Share = Annotated[str, StringConstraints(max_length=16),
                  Field(description="A percent as an exact decimal string: above 0, at most four decimals, "
                                    "e.g. \"40\" or \"33.3333\"", examples=["40"])]


class CoAgentIn(Strict):
    """A co-agent of a split sale and their share (COMMISSION_RULES.md section 8)."""

    agent_id: Id = Field(description="An active agent, not the sale's own agent")
    share: Share


class CreditOut(BaseModel):
    """One holder's credit of a sale: the primary (the sale's agent) first, then the co-agents."""

    agent_id: int
    share: str = Field(description="The holder's share in percent, four places", examples=["60.0000"])
    credit: MoneyOut = Field(description="The holder's credited amount: co-agents rounded down to the "
                                         "cent, the primary the rest")


class SaleIn(Strict):
    """A sale to record: a product, a customer (an existing one by id, or a new one by name),
    quantity, unit price (the list price if omitted) and the date it was sold."""

    product_id: Id
    customer_id: Id | None = Field(None, description="An existing customer (or give customer_name)")
    customer_name: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = Field(
        None, description="A new customer's name (or give customer_id)")
    customer_email: Annotated[str, StringConstraints(max_length=254)] | None = Field(
        None, description="The new customer's email, optional")
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
    unit_price: Money | None = Field(None, description="Defaults to the product's list price")
    sold_on: DateIn
    note: Note | None = None
    agent_id: Id | None = Field(None, description="Managers and admins: the team agent the sale is for")
    co_agents: list[CoAgentIn] = Field(default_factory=list, max_length=4,
                                       description="Split the sale with up to four co-agents")
    share: Share | None = Field(None, description="The sale's agent's own share; omitted: 100 minus the "
                                                  "co-agents' shares. All shares sum to exactly 100.")


class SaleOut(BaseModel):
    """A sale, with its standing commission (approved) or its estimate (pending)."""

    id: int
    agent_id: int
    entered_by_id: int
    product_id: int
    product_name: str
    customer_id: int
    customer_name: str
    quantity: int
    unit_price: MoneyOut
    amount: MoneyOut
    sold_on: date
    status: SaleStatusName
    reason: str | None
    note: str | None
    decided_by_id: int | None
    decided_at: datetime | None
    commission: MoneyOut | None = Field(description="Commission now standing for the sale (its line and "
                                                    "system adjustments); null when it has none")
    estimate: MoneyOut | None = Field(description="Pending sales: what approving it now would earn")
    credits: list[CreditOut] = Field(
        description="Who holds the sale and what each is credited (one credit of 100% when it is not "
                    "split). An agent's commission and estimate are their own part.")


class SalePage(Page[SaleOut]):
    """A page of sales, newest first."""


class SaleQuery(PageQuery):
    """Filters of the sale list (agents see their own sales, managers their team's, admins all)."""

    status: SaleStatusName | None = None
    start: QueryDate | None = None
    end: QueryDate | None = None
    agent_id: Id | None = None
    product_id: Id | None = None


class ReasonIn(Strict):
    """Why a sale is rejected or voided."""

    reason: Reason


class EstimateIn(Strict):
    """A sale being considered: what would it earn?"""

    product_id: Id
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
    unit_price: Money | None = Field(None, description="Defaults to the product's list price")
    sold_on: DateIn
    agent_id: Id | None = Field(None, description="Managers and admins: the team agent selling")


class EstimateOut(BaseModel):
    """What a sale would earn if it were recorded and approved now."""

    amount: MoneyOut
    commission: MoneyOut


class RangeQuery(BaseModel):
    """A date range (start <= end, at most 366 days, not starting in the future)."""

    model_config = ConfigDict(extra="forbid")
    start: QueryDate
    end: QueryDate


DERIVATION_HELP = ("How the engine worked the figure out, stored when it was computed: the plan version, the "
                   "engine's sentences (volume before and after, bracket portions and rates, overrides, credit "
                   "share, target and thresholds, SPIFF and cap left, the exact figure and its rounding) and the "
                   "same numbers as exact decimal strings; for an adjustment, what was stated and what changed")


class Derivation(BaseModel):
    """A ledger figure's derivation: words and the exact numbers behind them (decimal strings)."""

    model_config = ConfigDict(extra="allow")

    words: list[str]
    plan: dict | None = None
    adjustment: dict | None = None


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
    finished: bool = Field(description="Every statement reached a final state")
    statements: list[RunStatement]
