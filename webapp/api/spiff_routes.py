"""API v1 SPIFFs: the ones the token's agent can earn today, or every SPIFF for managers and admins;
admins create, change and end them (as the SPIFF pages).

Money and percents are exact decimal strings ("12.25", "2.5"); dates ISO dates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from webapp import clock
from webapp.api.framework import ApiError, Page, PageQuery, Strict, decode_cursor, encode_cursor, operation
from webapp.api.schemas import DateIn, Id, MoneyOut
from webapp.api.text import NOT_ZERO, PERCENT_0_TO_100, exactly_one, text
from webapp.auth import access
from webapp.auth.models import Role
from webapp.extensions import db
from webapp.money import from_cents, units_to_rate
from webapp.spiffs import queries, recompute
from webapp.spiffs.models import SpiffVersion
from webapp.spiffs import services as spiff_services
from webapp.spiffs.services import dashboard_spiffs
from webapp.tasks import UNAVAILABLE, background_service_available

ADMINS = (Role.ADMIN,)


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


# ---- Administration (admins, as the SPIFF pages) ------------------------------------------------

Amount = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,11}(\.[0-9]{1,2})?$"), NOT_ZERO]
# 0 to 100 (zero: a SPIFF paying nothing, as the engine allows); above 100 the service says why.
Percent = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,3}(\.[0-9]{1,4})?$"), PERCENT_0_TO_100]


class SpiffRulesIn(Strict):
    """What a version of a SPIFF pays: per unit or a percent of the credited amount, an optional
    monthly cap per agent, on sales of these products or categories, for these teams, in these days."""

    # A reward per unit or a percent; eligible products, categories or both.
    model_config = ConfigDict(json_schema_extra={
        **exactly_one(per_unit={"type": "string"}, percent={"type": "string"}),
        "anyOf": [{"required": [name], "properties": {name: {"minItems": 1}}} for name in ("product_ids", "category_ids")]})

    first_day: DateIn
    last_day: DateIn
    per_unit: Amount | None = Field(None, description="Reward per unit sold (or give percent)")
    percent: Percent | None = Field(None, description="Reward as a percent of the credited amount (or per_unit)")
    cap: Amount | None = Field(None, description="Cap per agent and calendar month (null: none)")
    product_ids: list[Id] = Field(default_factory=list, max_length=500)
    category_ids: list[Id] = Field(default_factory=list, max_length=500)
    team_ids: list[Id] = Field(default_factory=list, max_length=500,
                               description="Managers whose teams earn it (empty: every agent)")


class SpiffIn(SpiffRulesIn):
    """A new SPIFF and its first version (in force from its first day)."""

    name: text(80)


class SpiffVersionIn(SpiffRulesIn):
    """A new version of a SPIFF for sales dated from `effective_from`."""

    effective_from: DateIn


class SpiffEndIn(Strict):
    """End a SPIFF early: the last day a sale earns it."""

    last_day: DateIn


class SpiffChangeOut(BaseModel):
    """The SPIFF after a change, and how the ledger caught up."""

    spiff: SpiffOut
    recomputed: int = Field(description="Agent-months recomputed with the change")
    recompute_pending: bool = Field(description="Too many to do at once: the rest is recomputed in the background")
    recompute_id: int | None = Field(None, description="That background recompute: GET "
                                                       "/spiffs/{spiff_id}/recomputes/{recompute_id} follows it")


class SpiffRecomputeOut(BaseModel):
    """A SPIFF change's background recompute of the agent-months it touches."""

    id: int
    spiff_id: int
    status: Literal["queued", "running", "done", "failed"]
    total: int = Field(description="Agent-months to recompute")
    done: int = Field(description="Agent-months whose batch is committed")
    error: str | None = Field(description="Why a failed recompute stopped (retry it to resume)")
    created_at: datetime
    finished_at: datetime | None


def _spiff_rules(body: SpiffRulesIn) -> spiff_services.SpiffRules:
    """The SPIFF services' rules from a body (decimal strings checked by the body's patterns)."""
    return spiff_services.SpiffRules(
        first_day=body.first_day, last_day=body.last_day,
        per_unit=None if body.per_unit is None else Decimal(body.per_unit),
        percent=None if body.percent is None else Decimal(body.percent),
        cap=None if body.cap is None else Decimal(body.cap), product_ids=list(body.product_ids),
        category_ids=list(body.category_ids), team_ids=list(body.team_ids))


def _changed(change: spiff_services.SpiffChange) -> SpiffChangeOut:
    """A SPIFF change for the API."""
    db.session.refresh(change.spiff, ["versions"])
    s = queries.summarise(change.spiff, clock.today())
    return SpiffChangeOut(spiff=_out(s.spiff.id, s.spiff.name, s.current, s.status, s.first_day, s.last_day, None),
                          recomputed=change.recomputed, recompute_pending=change.run is not None,
                          recompute_id=change.run.id if change.run is not None else None)


@operation("POST", "/spiffs", summary="Create a SPIFF", tag="SPIFFs", area="admin", body=SpiffIn,
           responses={201: SpiffChangeOut}, roles=ADMINS, write=True)
def create_spiff(user, body: SpiffIn):
    """A SPIFF with its first version; it pays the approved sales already in its days."""
    return _changed(spiff_services.create_spiff(user, body.name, _spiff_rules(body))), 201


@operation("POST", "/spiffs/{spiff_id}/versions", summary="Change a SPIFF from a day", tag="SPIFFs", area="admin",
           body=SpiffVersionIn, responses={201: SpiffChangeOut}, roles=ADMINS, write=True)
def create_spiff_version(user, spiff_id: int, body: SpiffVersionIn):
    """A new version for sales dated from a day in an open period; the days it changes are recomputed."""
    return _changed(spiff_services.add_version(user, spiff_services.get_spiff(spiff_id), _spiff_rules(body),
                                               body.effective_from)), 201


@operation("POST", "/spiffs/{spiff_id}/end", summary="End a SPIFF early", tag="SPIFFs", area="admin",
           body=SpiffEndIn, responses={200: SpiffChangeOut}, roles=ADMINS, write=True)
def end_spiff(user, spiff_id: int, body: SpiffEndIn):
    """Sales after the last day earn nothing; what they earned already is clawed back."""
    return _changed(spiff_services.end_early(user, spiff_services.get_spiff(spiff_id), body.last_day))


def _recompute_out(run) -> SpiffRecomputeOut:
    """A background recompute for the API."""
    return SpiffRecomputeOut(id=run.id, spiff_id=run.spiff_id, status=run.status, total=run.total, done=run.done,
                             error=run.error, created_at=run.created_at, finished_at=run.finished_at)


@operation("GET", "/spiffs/{spiff_id}/recomputes/{recompute_id}", summary="A SPIFF change's background recompute",
           tag="SPIFFs", area="admin", responses={200: SpiffRecomputeOut}, roles=ADMINS)
def get_spiff_recompute(user, spiff_id: int, recompute_id: int):
    """How far the recompute got (another SPIFF's: 404)."""
    return _recompute_out(recompute.get_run(spiff_services.get_spiff(spiff_id).id, recompute_id))


@operation("POST", "/spiffs/{spiff_id}/recomputes/{recompute_id}/retry",
           summary="Queue a failed SPIFF recompute again (one not failed is left as it is)", tag="SPIFFs",
           area="admin", responses={200: SpiffRecomputeOut}, roles=ADMINS, write=True, errors=(503,))
def retry_spiff_recompute(user, spiff_id: int, recompute_id: int):
    """It resumes at the agent-months already done; the answer's status says where it stands (the
    job queue down: 503, nothing changed)."""
    if not background_service_available():
        raise ApiError(503, UNAVAILABLE)
    return _recompute_out(recompute.retry_run(recompute.get_run(spiff_services.get_spiff(spiff_id).id,
                                                                recompute_id)))
