"""Reading SPIFFs: the days each version is in force, status, the agent's dashboard panel, and
"who earned what" (set-based over the ledger's spiff entries and SPIFF adjustments)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Integer, cast, extract, func, select
from sqlalchemy.orm import selectinload

from webapp.auth import access
from webapp.auth.models import User
from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.commissions.periods import month_bounds
from webapp.extensions import db
from webapp.paging import Paged, Window, paginate
from webapp.sales.models import Sale
from webapp.spiffs.models import Spiff, SpiffVersion

EARNED_PAGE_SIZE = 25
ACTIVE, UPCOMING, ENDED = "active", "upcoming", "ended"
_LOAD_VERSIONS = (selectinload(Spiff.versions).selectinload(SpiffVersion.products),
                  selectinload(Spiff.versions).selectinload(SpiffVersion.categories),
                  selectinload(Spiff.versions).selectinload(SpiffVersion.teams))


@dataclass(frozen=True)
class InForce:
    """A version and the days it governs: its own days cut to the span until the next version."""

    version: SpiffVersion
    start: date
    end: date

    @property
    def empty(self) -> bool:
        """True for a version that covers no day (an "end early" version, or one superseded at once)."""
        return self.start > self.end


def in_force(spiff: Spiff) -> list[InForce]:
    """Every version with the days it governs, in effective-date order (as the ledger reads them)."""
    versions, found = spiff.versions, []
    for index, version in enumerate(versions):
        until = (versions[index + 1].effective_from - timedelta(days=1) if index + 1 < len(versions)
                 else version.last_day)
        found.append(InForce(version, max(version.first_day, version.effective_from),
                             min(version.last_day, until)))
    return found


@dataclass(frozen=True)
class SpiffSummary:
    """One line of the SPIFF list: the version that speaks for it now, its days and its status."""

    spiff: Spiff
    current: SpiffVersion
    first_day: date | None
    last_day: date | None
    status: str


def summarise(spiff: Spiff, today: date) -> SpiffSummary:
    """Status and days of a SPIFF on `today`: active when a version covers today, upcoming when a
    later day is covered, else ended; the current version is the one in force today (or the first)."""
    spans = [span for span in in_force(spiff) if not span.empty]
    current = next((v for v in reversed(spiff.versions) if v.effective_from <= today), spiff.versions[0])
    if any(span.start <= today <= span.end for span in spans):
        status = ACTIVE
    elif any(span.start > today for span in spans):
        status = UPCOMING
    else:
        status = ENDED
    return SpiffSummary(spiff, current, min((s.start for s in spans), default=None),
                        max((s.end for s in spans), default=None), status)


def list_spiffs(today: date) -> list[SpiffSummary]:
    """Every SPIFF, active first, then upcoming, then ended; by name within each."""
    order = {ACTIVE: 0, UPCOMING: 1, ENDED: 2}
    spiffs = db.session.scalars(select(Spiff).options(*_LOAD_VERSIONS)).all()
    return sorted((summarise(s, today) for s in spiffs),
                  key=lambda s: (order[s.status], s.spiff.name.lower()))


# ---- The agent's dashboard ----------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardSpiff:
    """A SPIFF the agent earns on today's sales: what it pays, until when, and the month so far."""

    spiff_id: int
    name: str
    version: SpiffVersion
    last_day: date
    days_left: int  # today included: 1 on the last day
    earned_cents: int  # this month's spiff lines and SPIFF adjustments of the agent's sales
    cap_cents: int | None

    @property
    def cap_left_cents(self) -> int | None:
        """What the cap still allows this month (None: no cap)."""
        return None if self.cap_cents is None else max(self.cap_cents - self.earned_cents, 0)

    @property
    def cap_percent(self) -> int:
        """Whole percent of the cap used (0 without a cap)."""
        return min(100, self.earned_cents * 100 // self.cap_cents) if self.cap_cents else 0


def _team_allows(version: SpiffVersion, agent: User) -> bool:
    """No teams listed, or the agent's team (manager) among them."""
    return not version.teams or any(team.id == agent.manager_id for team in version.teams)


def dashboard_spiffs(agent: User, today: date) -> list[DashboardSpiff]:
    """The SPIFFs active today that the agent can earn, with the month's earnings (two queries plus
    the versions' eligibility; nothing per agent)."""
    candidates = db.session.scalars(
        select(Spiff).join(SpiffVersion)
        .where(SpiffVersion.first_day <= today, SpiffVersion.last_day >= today,
               SpiffVersion.effective_from <= today)
        .distinct().options(*_LOAD_VERSIONS)).all()
    active = []
    for spiff in candidates:
        span = next((s for s in in_force(spiff) if s.start <= today <= s.end), None)
        if span is not None and _team_allows(span.version, agent):
            active.append((spiff, span))
    earned = month_earnings(agent.id, [spiff.id for spiff, _ in active], today)
    found = [DashboardSpiff(spiff.id, spiff.name, span.version, span.end, (span.end - today).days + 1,
                            earned.get(spiff.id, 0), span.version.cap_cents) for spiff, span in active]
    return sorted(found, key=lambda s: (s.last_day, s.name.lower()))


def month_earnings(agent_id: int, spiff_ids: list[int], day: date) -> dict[int, int]:
    """The agent's SPIFF money by SPIFF for sales dated in the month of `day` (lines and adjustments)."""
    if not spiff_ids:
        return {}
    first, last = month_bounds(day)
    return {spiff_id: int(total) for spiff_id, total in db.session.execute(
        select(CommissionEntry.spiff_id, func.sum(CommissionEntry.amount_cents))
        .join(Sale, Sale.id == CommissionEntry.sale_id)
        .where(CommissionEntry.agent_id == agent_id, CommissionEntry.spiff_id.in_(spiff_ids),
               Sale.sold_on >= first, Sale.sold_on <= last)
        .group_by(CommissionEntry.spiff_id))}


# ---- Who earned what ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EarnedRow:
    """One holder's SPIFF money for one calendar month (of the sales' dates), against the cap."""

    agent_id: int
    agent_name: str
    month: date
    lines: int
    earned_cents: int
    cap_cents: int | None

    @property
    def cap_reached(self) -> bool:
        """True when the month's earnings reached the cap."""
        return self.cap_cents is not None and self.earned_cents >= self.cap_cents


@dataclass(frozen=True)
class EarnedPage(Paged):
    """A page of "who earned what", and the total of every row the viewer may see."""

    rows: list[EarnedRow]
    window: Window
    total_cents: int
    holders: int


def who_earned_what(viewer: User, spiff: Spiff, page: int = 1, size: int | None = None) -> EarnedPage:
    """Each holder's earnings of the SPIFF per month (newest month first), for the agents the viewer
    may see: admins everyone, managers their team. The cap shown is the largest of the month's versions."""
    entry = CommissionEntry
    year = cast(extract("year", Sale.sold_on), Integer).label("year")
    month = cast(extract("month", Sale.sold_on), Integer).label("month")
    conditions = (entry.spiff_id == spiff.id, entry.kind.in_((EntryKind.SPIFF, EntryKind.ADJUSTMENT)),
                  access.agent_scope(viewer, entry.agent_id))
    query = (select(entry.agent_id, User.name, year, month,
                    func.count(entry.id).filter(entry.kind == EntryKind.SPIFF).label("lines"),
                    func.sum(entry.amount_cents).label("earned"),
                    func.max(SpiffVersion.cap_cents).label("cap"))
             .join(Sale, Sale.id == entry.sale_id).join(User, User.id == entry.agent_id)
             .outerjoin(SpiffVersion, SpiffVersion.id == entry.spiff_version_id)
             .where(*conditions).group_by(entry.agent_id, User.name, year, month)
             .order_by(year.desc(), month.desc(), User.name, entry.agent_id))
    window, paged = paginate(query, page, size or EARNED_PAGE_SIZE)
    rows = [EarnedRow(r.agent_id, r.name, date(r.year, r.month, 1), int(r.lines), int(r.earned),
                      int(r.cap) if r.cap is not None else None) for r in db.session.execute(paged)]
    total, holders = db.session.execute(
        select(func.coalesce(func.sum(entry.amount_cents), 0), func.count(entry.agent_id.distinct()))
        .where(*conditions)).one()
    return EarnedPage(rows, window, int(total), int(holders))

