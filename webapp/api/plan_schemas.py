"""Commission plan bodies of the API: plans, their versions' rules (rates in percent, exact decimal
strings), and who is on which plan when."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from webapp.api.framework import Page, PageQuery, Strict
from webapp.api.schemas import DateIn, Id, Money, MoneyOut, QueryDate
from webapp.api.text import RATE_0_TO_100, text

Decimal4 = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,11}(\.[0-9]{1,4})?$"),
                     Field(description="A non-negative decimal string, at most four decimals", examples=["3.5"])]


Terms = Annotated[text(20_000, multiline=True, required=False) | None, Field(
    description="The plan's terms in words, shown on the agents' plan documents")]


# A rate: a percent of 0 to 100 (above 100 the plan services say why).
Rate = Annotated[Decimal4, RATE_0_TO_100, Field(description="A percent from 0 to 100, at most four decimals")]


class TierRule(Strict):
    """A bracket: from where it starts (an amount of monthly volume, or a percent of the month's
    target with basis target_percent), the rate it pays."""

    start: Decimal4
    rate: Rate


class CategoryRate(Strict):
    """A rate for one category's sales, instead of the plan's."""

    category_id: Id
    rate: Rate


class ProductRate(Strict):
    """A rate for one product's sales, instead of the plan's (and its category's)."""

    product_id: Id
    rate: Rate


class Rules(BaseModel):
    """What a version pays: a base rate, or a tier table (marginal or retroactive); overrides."""

    base_rate: Rate | None = None
    tiers: list[TierRule] = Field(default_factory=list, max_length=50)
    tier_mode: Literal["marginal", "retroactive"] | None = None
    basis: Literal["amount", "target_percent"] = Field(
        "amount", description="What the brackets start at: amounts of monthly volume, or percents of the target")
    category_rates: list[CategoryRate] = Field(default_factory=list, max_length=100)
    product_rates: list[ProductRate] = Field(default_factory=list, max_length=100)


class VersionOut(Rules):
    """A version of a plan: in force from `effective_from` until the next version."""

    id: int
    version: int
    effective_from: date
    terms: str | None
    created_at: datetime


class PlanOut(BaseModel):
    """A commission plan with its versions, oldest first."""

    id: int
    name: str
    description: str | None
    active: bool
    versions: list[VersionOut]


class PlanList(BaseModel):
    """Every plan, by name."""

    items: list[PlanOut]


class RulesIn(Rules, Strict):
    """Rules as sent: a base rate (amount basis), or a tier table with its mode; never both."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["base_rate"], "properties": {"base_rate": {"type": "string"}, "tiers": {"maxItems": 0},
                                                   "basis": {"const": "amount"}}},
        {"required": ["tiers", "tier_mode"], "properties": {"tiers": {"minItems": 1}, "tier_mode": {"type": "string"},
                                                            "base_rate": {"type": "null"}}}]})


class VersionIn(RulesIn):
    """A new version of a plan, from a day in an open period."""

    effective_from: DateIn
    terms: Terms = None


class VersionEdit(RulesIn):
    """New rules and terms for a version that has earned nothing yet (its date stays)."""

    terms: Terms = None


class PlanIn(RulesIn):
    """A new plan with its first version: its rules, and the day they apply from."""

    name: text(80, trim=True) = Field(description="Unique among plans")
    description: text(2000, multiline=True, required=False) | None = None
    effective_from: DateIn = Field(description="The first version's first day")
    terms: Terms = None


class AssignmentOut(BaseModel):
    """An agent on a plan for a range of days (effective_to null: open-ended)."""

    id: int
    agent_id: int
    plan_id: int
    effective_from: date
    effective_to: date | None


class AssignmentPage(Page[AssignmentOut]):
    """A page of plan assignments, by id."""


class AssignmentQuery(PageQuery):
    """Filters of the plan assignments."""

    agent_id: Id | None = None
    plan_id: Id | None = None
    on: QueryDate | None = Field(None, description="Only those covering this day")


class AssignmentIn(Strict):
    """Put an agent on a plan from a day (in an open period), optionally until a day."""

    agent_id: Id
    plan_id: Id
    effective_from: DateIn
    effective_to: DateIn | None = None


class AssignmentEnd(Strict):
    """The last day the agent is on the plan."""

    effective_to: DateIn


class SimulationIn(Rules, Strict):
    """What a plan would pay on sales, written nowhere: a stored version, or rules as typed (a base
    rate or a tier table), on sales in CSV as the simulator page takes them."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["version_id"], "properties": {
            "version_id": {"type": "integer"}, "base_rate": {"type": "null"}, "tiers": {"maxItems": 0},
            "tier_mode": {"type": "null"}, "basis": {"const": "amount"}, "category_rates": {"maxItems": 0},
            "product_rates": {"maxItems": 0}}},
        {"properties": {"version_id": {"type": "null"}}, "oneOf": RulesIn.model_config["json_schema_extra"]["oneOf"]}]})
    version_id: Id | None = Field(None, description="A stored plan version (or give the rules)")
    sales_csv: Annotated[str, StringConstraints(min_length=1, max_length=60_000)] = Field(
        description="One agent's sales, a header then a line each: date,amount,sku,category, optionally "
                    "followed by quantity and/or share (the agent's percent of a split sale)")
    target: Money | None = Field(None, description="The agent's target in every month (for percent brackets "
                                                   "and attainment)")
    include_spiffs: bool = Field(False, description="Add the rewards of the SPIFFs in force on each day")


class SimulatedLineOut(BaseModel):
    """A sale and what it would earn."""

    line: int = Field(description="Its line number in sales_csv")
    sold_on: date
    amount: MoneyOut
    credited: MoneyOut = Field(description="The agent's share of the amount")
    commission: MoneyOut
    rate: str = Field(description="Percent applied, exact")
    source: str = Field(description="Where the rate came from (base, tier, category, product)")
    spiffs: MoneyOut
    words: list[str] = Field(description="How it was worked out, in words")


class SimulatedMonthOut(BaseModel):
    """A calendar month of the simulation."""

    month: date = Field(description="Its first day")
    volume: MoneyOut
    commission: MoneyOut
    spiffs: MoneyOut
    attainment: str | None = Field(description="Percent of the target reached, rounded down (null: no target)")
    lines: list[SimulatedLineOut]


class SimulationOut(BaseModel):
    """Every month and the totals."""

    volume: MoneyOut
    commission: MoneyOut
    spiffs: MoneyOut
    months: list[SimulatedMonthOut]
