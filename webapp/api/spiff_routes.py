"""API v1 SPIFFs: the ones the token's agent can earn today, or every SPIFF for managers and admins.

Money and percents are exact decimal strings ("12.25", "2.5"); dates ISO dates."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from webapp import clock
from webapp.api.framework import Page, PageQuery, decode_cursor, encode_cursor, operation
from webapp.api.schemas import MoneyOut
from webapp.auth import access
from webapp.money import from_cents, units_to_rate
from webapp.spiffs import queries
from webapp.spiffs.models import SpiffVersion
from webapp.spiffs.services import dashboard_spiffs


class SpiffOut(BaseModel):
    """A SPIFF as its version in force today (or, for one not running, its current version) has it."""

    id: int
    name: str
    version: int
    status: Literal["active", "upcoming", "ended"]
    first_day: date | None = Field(description="First day a sale can earn it (any version)")
    last_day: date | None = Field(description="Last day a sale can earn it (any version)")
    per_unit: MoneyOut | None = Field(description="Reward per unit sold (null for a percent SPIFF)")
    percent: str | None = Field(description="Reward as a percent of the credited amount, exact "
                                            "(e.g. \"2.5\")",
                                examples=["2.5"])
    cap: MoneyOut | None = Field(description="Cap per agent and calendar month (null: none)")
    products: list[str] = Field(description="SKUs of the eligible products")
    categories: list[str] = Field(description="Codes of the eligible categories (a sale matches either list)")
    teams: list[int] = Field(description="Managers whose teams earn it (empty: every agent)")
    earned_this_month: MoneyOut | None = Field(description="Agents: what they earned of it this month so far")


class SpiffPage(Page[SpiffOut]):
    """A page of SPIFFs."""


class SpiffQuery(PageQuery):
    """Paging of the SPIFF list."""


def _out(spiff_id: int, name: str, version: SpiffVersion, status: str, first: date | None, last: date | None,
         earned: int | None) -> SpiffOut:
    """One SPIFF for the API."""
    return SpiffOut(
        id=spiff_id, name=name, version=version.version, status=status, first_day=first, last_day=last,
        per_unit=str(from_cents(version.per_unit_cents)) if version.per_unit_cents is not None else None,
        percent=str(units_to_rate(version.percent_units)) if version.percent_units is not None else None,
        cap=str(from_cents(version.cap_cents)) if version.cap_cents is not None else None,
        products=sorted(p.sku for p in version.products),
        categories=sorted(c.code for c in version.categories),
        teams=sorted(t.id for t in version.teams),
        earned_this_month=str(from_cents(earned)) if earned is not None else None)


@operation("GET", "/spiffs", summary="SPIFFs (agents: those they can earn today)", tag="SPIFFs", area="sales",
           query=SpiffQuery, responses={200: SpiffPage})
def list_spiffs(user, query: SpiffQuery):
    """SPIFFs by id, paginated: an agent's running ones with this month's earnings; all for staff."""
    today = clock.today()
    if access.is_agent(user):
        items = [_out(s.spiff_id, s.name, s.version, queries.ACTIVE, None, s.last_day, s.earned_cents)
                 for s in dashboard_spiffs(user, today)]
        wanted = {i.id for i in items}
        summaries = {s.spiff.id: s for s in queries.list_spiffs(today) if s.spiff.id in wanted}
        items = [item.model_copy(update={"first_day": summaries[item.id].first_day}) for item in items]
    else:
        items = [_out(s.spiff.id, s.spiff.name, s.current, s.status, s.first_day, s.last_day, None)
                 for s in queries.list_spiffs(today)]
    after = decode_cursor(query.cursor)
    items = sorted((i for i in items if after is None or i.id > after), key=lambda i: i.id)
    page = items[: query.limit]
    return SpiffPage(items=page, next_cursor=encode_cursor(page[-1].id) if len(items) > query.limit else None)
