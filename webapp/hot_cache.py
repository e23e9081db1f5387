"""A per-process cache of what every hot request re-reads unchanged: each agent's plans in force,
their monthly targets, the month's SPIFFs, the current period and each agent's stated balance
(the entries of closed periods, which never change).

Each web process keeps its own copy (a dict on the app), valid while a version counter in Redis
is unchanged: one GET per request validates it, and any process that writes a row of a cached
table bumps the counter, so every other process drops its copy on its next request. The bump
happens after the commit (another process may re-read the old rows between a flush and the commit
and cache them under the counter it saw) and also at each flush (the writing request itself reads
its own uncommitted rows). Without Redis nothing is cached: every read goes to the database.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import current_app, g, has_app_context
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, selectinload

from webapp import clock
from webapp.commissions import engine, spiff_month
from webapp.commissions.models import CommissionEntry, Period, PeriodStatus, PlanOverride, PlanVersion, Target
from webapp.commissions.periods import is_date_closed, month_cadence, period_bounds
from webapp.commissions.plans import assignments_of, engine_plan
from webapp.extensions import db, redis_client
from webapp.money import from_cents

VERSION_KEY = "hot-cache:version"
# Every table whose rows feed a cached value (plans and their parts, assignments, targets, SPIFFs
# and their parts, periods, settings, and the products and categories plans and SPIFFs name).
WATCHED_TABLES = frozenset({
    "commission_plans", "plan_versions", "plan_tiers", "plan_overrides", "plan_assignments", "targets",
    "spiffs", "spiff_versions", "spiff_version_products", "spiff_version_categories", "spiff_version_teams",
    "periods", "settings", "products", "categories", "product_assignments",
})
_MISSING = object()
# An execution option for a write to a watched table that changes no cached value (a counter).
# Each statement issued takes a number from `settings`; bumping for it would empty every process's
# copies (and every totals panel's, webapp/panel_cache.py) once per statement of a run.
UNAFFECTED = "hot_cache_unaffected"


@dataclass(frozen=True)
class PeriodView:
    """A period as the pages show it, detached from any session (cached between requests)."""

    id: int | None  # None: not made yet (the first entry of the period makes it)
    start_date: date
    end_date: date
    status: str

    @property
    def is_open(self) -> bool:
        """True while entries of this period may still change."""
        return self.status == "open"

    @property
    def label(self) -> str:
        """The same label as Period.label."""
        if self.start_date.month == self.end_date.month:
            return f"{self.start_date:%b} {self.start_date.day}–{self.end_date.day}, {self.start_date.year}"
        return f"{self.start_date:%b %d, %Y} – {self.end_date:%b %d, %Y}"


@dataclass(frozen=True)
class AgentPlans:
    """An agent's assignments and the versions of each assigned plan, as the engine sees them."""

    assignments: tuple[tuple[int, date, date | None], ...]  # (plan id, from, to), oldest first
    versions: dict[int, tuple[tuple[date, int, engine.Plan], ...]]  # plan id -> (from, version id, plan)

    def in_force(self, day: date) -> tuple[int | None, engine.Plan | None]:
        """(version id, engine plan) in force on `day`, as PlanResolver.version_on resolves it."""
        for plan_id, start, end in self.assignments:
            if start <= day and (end is None or day <= end):
                found = (None, None)
                for effective_from, version_id, plan in self.versions.get(plan_id, ()):
                    if effective_from <= day:
                        found = (version_id, plan)
                return found
        return None, None


class HotCache:
    """One process's cache for one app; entries live while the Redis counter is unchanged."""

    def __init__(self):
        self._lock = threading.Lock()
        self._version = None
        self._entries: dict = {}

    def get(self, key, load):
        """The cached value of `key`, loaded by `load()` on a miss (every time without Redis)."""
        version = _request_version()
        if version is None:
            return load()
        with self._lock:
            if version != self._version:
                self._entries, self._version = {}, version
            value = self._entries.get(key, _MISSING)
        if value is _MISSING:
            value = load()
            with self._lock:
                if self._version == version:
                    self._entries[key] = value
        return value

    def clear(self) -> None:
        """Forget everything (this process only)."""
        with self._lock:
            self._entries, self._version = {}, None


def init_app(app) -> None:
    """Give the app its own cache (two apps in one process behave as two processes)."""
    app.extensions["hot_cache"] = HotCache()


def _cache() -> HotCache:
    """This app's cache."""
    return current_app.extensions["hot_cache"]


def _request_version():
    """The counter in Redis, read once per request (None when Redis cannot be reached)."""
    if "hot_cache_version" not in g:
        try:
            raw = redis_client().get(VERSION_KEY)
            g.hot_cache_version = b"0" if raw is None else raw
        except Exception:  # noqa: BLE001 - any Redis failure only turns the cache off
            g.hot_cache_version = None
    return g.hot_cache_version


def bump() -> None:
    """Invalidate every process's copy (and this request's memo of the counter)."""
    if not has_app_context():
        return
    g.pop("hot_cache_version", None)
    _cache().clear()
    try:
        # A fresh random value, not INCR: a Redis restart without persistence would reset a counter
        # to values processes already hold, and they would keep their old copies.
        redis_client().set(VERSION_KEY, uuid.uuid4().hex)
    except Exception:  # noqa: BLE001 - readers that cannot reach Redis cache nothing either
        current_app.logger.warning("hot cache: the version bump failed; other processes may serve old plan data")


# ---- What is cached -----------------------------------------------------------------------


def agent_plans(agent_id: int) -> AgentPlans:
    """The agent's assignments and their plans' versions (engine plans built once)."""
    return _cache().get(("plans", agent_id), lambda: _load_agent_plans(agent_id))


def _load_agent_plans(agent_id: int) -> AgentPlans:
    """Read an agent's assignments and every version of each assigned plan."""
    assignments = tuple((a.plan_id, a.effective_from, a.effective_to) for a in assignments_of(agent_id))
    versions: dict[int, list] = {plan_id: [] for plan_id, _, _ in assignments}
    if versions:
        for version in db.session.scalars(
                select(PlanVersion).where(PlanVersion.plan_id.in_(list(versions)))
                .options(selectinload(PlanVersion.tiers),
                         selectinload(PlanVersion.overrides).joinedload(PlanOverride.category),
                         selectinload(PlanVersion.overrides).joinedload(PlanOverride.product))
                .order_by(PlanVersion.effective_from)):
            versions[version.plan_id].append((version.effective_from, version.id, engine_plan(version)))
    return AgentPlans(assignments, {plan_id: tuple(rows) for plan_id, rows in versions.items()})


def target_cents(agent_id: int, month_start: date) -> int | None:
    """The agent's target for the month (cents; None: no target)."""
    first = month_start.replace(day=1)
    return _cache().get(("target", agent_id, first), lambda: db.session.scalar(
        select(Target.amount_cents).where(Target.agent_id == agent_id, Target.month == first)))


def target_decimal(agent_id: int, month_start: date) -> Decimal | None:
    """The target as month_lines.target_of gives it (a Decimal of units)."""
    cents = target_cents(agent_id, month_start)
    return from_cents(cents) if cents is not None else None


def month_spiffs(first: date, last: date):
    """The month's SPIFFs (spiff_month.month_spiffs), shared by every agent."""
    return _cache().get(("spiffs", first, last), lambda: spiff_month.month_spiffs(first, last))


# The stated balance of an agent with no closed period, and the one every lookup gets without Redis
# (the panel then finds a later closed period and sums the whole balance itself).
NOTHING_STATED = (date.min, 0)


def stated_balance(agent_id: int) -> tuple[date, int]:
    """(through, cents): the sum of the agent's entries in the periods ending on or before
    `through`, which are all closed.

    Closed periods form a prefix of the calendar (periods.close_period) and their entries never
    change, so the sum stays true for this `through` whatever happens later. The caller compares
    `through` with the latest closed period's end it reads itself and, on a later close, sums the
    balance afresh: unlike the other values here, a copy from before a close is never used."""
    if _request_version() is None:
        return NOTHING_STATED
    return _cache().get(("stated", agent_id), lambda: _load_stated_balance(agent_id))


def _load_stated_balance(agent_id: int) -> tuple[date, int]:
    """Read the latest closed period's end and the agent's entries up to it, in one statement (one
    snapshot, so a close committed meanwhile cannot fall between the two)."""
    through = select(func.max(Period.end_date)).where(Period.status == PeriodStatus.CLOSED).scalar_subquery()
    stated = (select(func.coalesce(func.sum(CommissionEntry.amount_cents), 0))
              .select_from(CommissionEntry).join(Period, CommissionEntry.period_id == Period.id)
              .where(CommissionEntry.agent_id == agent_id, Period.end_date <= through).scalar_subquery())
    row = db.session.execute(select(through, stated)).one()
    return NOTHING_STATED if row[0] is None else (row[0], int(row[1]))


def current_period() -> PeriodView:
    """The period containing today, as periods.current_period would make it, without writing: a
    read-only request must not insert the row (its rollback would invalidate every cache)."""
    today = clock.today()

    def load() -> PeriodView:
        period = db.session.scalar(select(Period).where(Period.start_date <= today, Period.end_date >= today))
        if period is not None:
            return PeriodView(period.id, period.start_date, period.end_date, period.status)
        start, end = period_bounds(today, month_cadence(today))
        return PeriodView(None, start, end, PeriodStatus.CLOSED if is_date_closed(today) else PeriodStatus.OPEN)

    return _cache().get(("period", today), load)


# ---- Invalidation -------------------------------------------------------------------------


def _touches_watched(session: Session) -> bool:
    """True when the flush writes a row of a watched table."""
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table in WATCHED_TABLES and (obj not in session.dirty or session.is_modified(obj)):
            return True
    return False


@event.listens_for(Session, "after_flush")
def _after_flush(session, _context):
    """Note (and announce at once, for this request's own reads) a write to a watched table."""
    if _touches_watched(session):
        session.info["hot_cache_dirty"] = True
        bump()


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state):
    """Bulk INSERT/UPDATE/DELETE statements bypass the flush: watch them too (unless the statement
    says it changes nothing cached: the statement and document counters kept in `settings`)."""
    if (state.is_insert or state.is_update or state.is_delete) and not state.execution_options.get(UNAFFECTED):
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in WATCHED_TABLES:
            state.session.info["hot_cache_dirty"] = True
            bump()


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    """Bump the counter once the writes are visible to every process."""
    # SQLAlchemy fires after_commit for a released SAVEPOINT too; the writes are not visible to
    # other processes until the outer COMMIT, so keep the flag for that one.
    if session.in_nested_transaction():
        return
    if session.info.pop("hot_cache_dirty", False):
        bump()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session, previous):
    """Rolled-back writes were announced at flush time; bump again so no copy keeps them."""
    # Only the outermost transaction's end: a SAVEPOINT's, or the inner transaction of a flush that
    # failed inside one (reported with nested False), leave the flag to the outer COMMIT.
    if previous.parent is not None:
        return
    if session.info.pop("hot_cache_dirty", False):
        bump()
