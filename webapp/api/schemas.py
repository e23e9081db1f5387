"""Request and response bodies of the API (money as decimal strings, dates as ISO dates)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from webapp.api.framework import Page, PageQuery, Strict
from webapp.api.text import (CATEGORY_CODE, CO_SHARE, CURSOR_PATTERN, NOT_ZERO, SEARCH_PATTERN, SHARE, SKU, Documented,
                             exactly_one, stripped_non_blank, text)
from webapp.formtools import MAX_DB_ID
from webapp.sales.services import MAX_QUANTITY

Money = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,11}(\.[0-9]{1,2})?$"), NOT_ZERO,
                  Field(description="A decimal string above zero with at most two decimals, e.g. \"1250.00\"",
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

    sku: Annotated[str, StringConstraints(min_length=1, max_length=40), SKU]
    name: text(120)
    category: Annotated[str, StringConstraints(min_length=1, max_length=40), CATEGORY_CODE] = Field(
        description="Category code")
    list_price: Money
    restricted: bool = False


class ProductPatch(Strict):
    """Changes to a product (only the fields given change)."""

    name: text(120) | None = None
    category: Annotated[str, StringConstraints(min_length=1, max_length=40), CATEGORY_CODE] | None = None
    list_price: Money | None = None
    active: bool | None = None
    restricted: bool | None = None


class ProductQuery(PageQuery):
    """Filters of the product list (unknown parameters are refused, as on every list: the document
    lists each one, and a misspelt filter must not list everything)."""

    active: Literal["true", "false"] | None = None


DateIn = Annotated[date, Field(description="YYYY-MM-DD (a date, not a date-time)")]


# ---- Sales, commissions, statements ---------------------------------------------------------

# Ids are bounded so a huge number is a 422, never a database error (ids are PostgreSQL INTEGERs).
Id = Annotated[int, Field(ge=1, le=MAX_DB_ID)]


def Trimmed(max_length: int):  # noqa: N802  (a type, used like one)
    """Text of 1 to `max_length` characters as sent (what the document states), kept without its
    surrounding whitespace and refused when that is all it has. The length is checked before the
    trim, so the document's limits are exactly what is enforced."""
    return Annotated[str, StringConstraints(min_length=1, max_length=max_length), AfterValidator(stripped_non_blank),
                     Documented(pattern=SEARCH_PATTERN)]
SaleStatusName = Literal["pending", "approved", "rejected", "cancelled", "voided"]
Note = text(2000, multiline=True, required=False)
Reason = text(2000, multiline=True)


def _plain_iso_date(value: object) -> object:
    """Query dates are YYYY-MM-DD only: pydantic's lax mode would take "2026-11-20T00:00:00"."""
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("Use a date as YYYY-MM-DD.")
    return value


QueryDate = Annotated[date, BeforeValidator(_plain_iso_date), Field(description="YYYY-MM-DD")]


Share = Annotated[str, StringConstraints(max_length=16), SHARE,
                  Field(description="A percent as an exact decimal string: above 0, at most four decimals, "
                                    "e.g. \"40\" or \"33.3333\"", examples=["40"])]


class CoAgentIn(Strict):
    """A co-agent of a split sale and their share (COMMISSION_RULES.md section 8)."""

    agent_id: Id = Field(description="An active agent, not the sale's own agent")
    share: Annotated[Share, CO_SHARE]


class CreditOut(BaseModel):
    """One holder's credit of a sale: the primary (the sale's agent) first, then the co-agents."""

    agent_id: int
    share: str = Field(description="The holder's share in percent, four places", examples=["60.0000"])
    credit: MoneyOut = Field(description="The holder's credited amount: co-agents rounded down to the "
                                         "cent, the primary the rest")


class SaleEdit(Strict):
    """A pending sale's new fields, all of them (as the edit page sends them): a product, a customer
    (an existing one by id, or a new one by name), quantity, unit price (the list price if omitted),
    the date it was sold, the note and the split."""

    model_config = ConfigDict(json_schema_extra=exactly_one(customer_id={"type": "integer"},
                                                            customer_name={"type": "string"}))

    product_id: Id
    customer_id: Id | None = Field(None, description="An existing customer (or give customer_name)")
    customer_name: text(120) | None = Field(
        None, description="A new customer's name (or give customer_id)")
    customer_email: text(254, required=False) | None = Field(
        None, description="The new customer's email, optional")
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
    unit_price: Money | None = Field(None, description="Defaults to the product's list price")
    sold_on: DateIn
    note: Note | None = None
    co_agents: list[CoAgentIn] = Field(default_factory=list, max_length=4,
                                       description="Split the sale with up to four co-agents")
    share: Share | None = Field(None, description="The sale's agent's own share; omitted: 100 minus the "
                                                  "co-agents' shares. All shares sum to exactly 100.")


class SaleIn(SaleEdit):
    """A sale to record: a product, a customer (an existing one by id, or a new one by name),
    quantity, unit price (the list price if omitted) and the date it was sold."""

    agent_id: Id | None = Field(None, description="Managers and admins: the team agent the sale is for")


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
    created_at: datetime
    updated_at: datetime = Field(description="When the sale itself last changed (recorded, edited, decided); "
                                             "what `updated_since` filters on")
    commission: MoneyOut | None = Field(description="Commission now standing for the sale (its lines and "
                                                    "system adjustments): an agent's own part; for managers "
                                                    "and admins every holder's together. Null when it has none")
    estimate: MoneyOut | None = Field(description="Pending sales: what approving it now would earn, as "
                                                  "`commission` counts it (an agent's part, or every holder's)")
    credits: list[CreditOut] = Field(
        description="Who holds the sale and what each is credited (one credit of 100% when it is not "
                    "split). An agent's commission and estimate are their own part.")


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


class EntryOut(BaseModel):
    """One ledger line of a sale: a holder's commission, SPIFF reward or adjustment, with its derivation."""

    id: int
    agent_id: int
    kind: Literal["sale", "spiff", "adjustment", "manual"]
    period_start: date
    period_end: date
    period_closed: bool
    spiff: str | None = Field(description="The SPIFF a SPIFF reward (or a SPIFF's adjustment) is for")
    rate: str | None = Field(description="Percent applied to a commission line, e.g. \"3\" or \"2.125\"")
    amount: MoneyOut
    reason: str | None
    late_approval: bool
    derivation: Derivation | None = Field(None, description=DERIVATION_HELP)


class LedgerEntryOut(EntryOut):
    """A ledger entry: a commission line, SPIFF reward, system adjustment or manual correction."""

    sale_id: int | None
    created_by_id: int | None = Field(description="Who posted a manual correction (null: the system)")
    created_at: datetime


class LedgerPage(Page[LedgerEntryOut]):
    """A page of ledger entries, newest first."""

    total: int | None = Field(None, description="How many entries match the filters over every page, when "
                                                "asked for with include_total=true; else null")


class LedgerQuery(PageQuery):
    """Filters of the ledger (agents: their own entries; managers: their team's; admins: all)."""

    agent_id: Id | None = None
    period_of: QueryDate | None = Field(None, description="Entries of the pay period holding this day "
                                                          "(YYYY-MM-DD)")
    kind: Literal["sale", "spiff", "adjustment", "manual"] | None = None
    sale_id: Id | None = None
    include_total: bool = Field(False, description="Count every entry matching the filters into `total`")


SignedMoney = Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,11}(\.[0-9]{1,2})?$"), NOT_ZERO,
                        Field(description="A non-zero decimal string with at most two decimals, negative "
                                          "for a deduction, e.g. \"-25.00\"", examples=["-25.00"])]


class AdjustmentIn(Strict):
    """A manual correction to an agent's ledger, posted in today's period."""

    agent_id: Id
    amount: SignedMoney
    reason: Reason = Field(description="Shown on the agent's statement")
    sale_id: Id | None = Field(None, description="The agent's sale it corrects, if any")


class SaleEntries(BaseModel):
    """A sale's ledger lines the caller may see, oldest first per holder."""

    sale_id: int
    entries: list[EntryOut]


class SalePage(Page[SaleOut]):
    """A page of sales, in the order asked for (newest first by default)."""

    total: int | None = Field(None, description="How many sales match the filters over every page, when asked "
                                                "for with include_total=true; else null")


SaleSort = Literal["-id", "id", "-sold_on", "sold_on", "-amount", "amount"]


class SaleQuery(PageQuery):
    """Filters of the sale list (agents see their own sales, managers their team's, admins all)."""

    cursor: str | None = Field(None, max_length=120, json_schema_extra={"pattern": CURSOR_PATTERN},
                               description="next_cursor of the previous page, asked for with the same sort and "
                                           "filters")
    status: SaleStatusName | None = None
    start: QueryDate | None = Field(None, description="Sold on or after this day (YYYY-MM-DD)")
    end: QueryDate | None = Field(None, description="Sold on or before this day (YYYY-MM-DD)")
    agent_id: Id | None = None
    product_id: Id | None = None
    customer_id: Id | None = None
    customer: Trimmed(100) | None = Field(
        None, description="Part of the customer's name or email, any case (as the sales page searches)")
    updated_since: AwareDatetime | None = Field(
        None, description="Only sales that changed at or after this instant, with its zone, e.g. "
                          "2026-12-07T09:00:00Z: for an incremental sync, pass the time your previous sync "
                          "started, less a minute (a change is stamped when its transaction starts)")
    sort: SaleSort = Field("-id", description="id (the order sales were recorded in), sold_on or amount; a "
                                              "leading - for descending. Ties are broken by id, the same way")
    include_total: bool = Field(False, description="Count every sale matching the filters into `total` "
                                                   "(costs a count; leave it off when paging)")


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
