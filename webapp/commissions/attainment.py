"""Attainment plans on the pages (COMMISSION_RULES.md section 9): an agent's progress this month,
and a plan's percent brackets as amounts for one agent's target.

Every figure comes from the engine (engine_attainment and Plan.thresholds) on the lines and
target the ledger computes with (month_lines), so the panel says exactly what the ledger will pay:
"sell X more" is the amount at which the next bracket's rate starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from webapp import clock
from webapp.auth import access
from webapp.auth.models import User
from webapp.commissions import engine
from webapp.commissions.models import CommissionPlan, PlanVersion
from webapp.commissions.month_lines import PlanResolver, holder_month, target_of
from webapp.commissions.periods import month_bounds
from webapp.commissions.plans import engine_plan

TARGET_PERCENT = engine.TierBasis.TARGET_PERCENT


def is_attainment(version: PlanVersion | None) -> bool:
    """True for a version whose tier table starts its brackets at percents of the target."""
    return version is not None and version.basis == TARGET_PERCENT


# ---- The agent's panel ------------------------------------------------------------------------


@dataclass(frozen=True)
class AttainmentPanel:
    """The agent's attainment this month under an attainment plan (money as Decimal)."""

    month: date
    plan_name: str
    target: Decimal | None
    volume: Decimal
    percent: Decimal | None
    next: engine.NextBracket | None

    @property
    def bar_percent(self) -> int:
        """How full the progress bar is drawn: whole percent, at most 100."""
        return min(int(self.percent), 100) if self.percent is not None else 0


def agent_attainment(agent_id: int, day: date | None = None) -> AttainmentPanel | None:
    """The agent's attainment for the month of `day` (default today), or None when their plan that
    day is not an attainment plan (the panel is not shown)."""
    day = day or clock.today()
    # The plan first: most agents are not on an attainment plan, and the panel polls every 30 s.
    if not is_attainment(PlanResolver(agent_id).version_on(day)):
        return None
    month = holder_month(agent_id, day)
    version = month.resolver.version_on(day)
    # The approved lines the ledger computes with: the agent's credits, every line counted.
    result = engine.month_attainment(month.lines, month.resolver.engine_plan(version), month.target)
    return AttainmentPanel(month=month.first, plan_name=version.plan.name, target=result.target,
                           volume=result.volume, percent=result.percent, next=result.next)


# ---- A plan's brackets as amounts -------------------------------------------------------------


@dataclass(frozen=True)
class BracketAmount:
    """One bracket of a percent table: from `percent` of the target, i.e. from `threshold`, `rate`."""

    percent: Decimal
    rate: Decimal
    threshold: Decimal | None  # None: no target for the month


@dataclass(frozen=True)
class VersionAmounts:
    """A percent version in force during the month, with its brackets as amounts."""

    version: PlanVersion
    first_day: date
    last_day: date
    brackets: list[BracketAmount]


@dataclass(frozen=True)
class PlanAmounts:
    """A plan's percent brackets as amounts for one agent's target of one month."""

    agent: User
    month: date
    target: Decimal | None
    versions: list[VersionAmounts]


def has_attainment_versions(plan: CommissionPlan) -> bool:
    """True when any version of the plan has a percent-of-target tier table."""
    return any(is_attainment(v) for v in plan.versions)


def amount_agents(viewer: User) -> list[User]:
    """The agents the viewer may choose for the amounts (access policy: admins all, managers their team)."""
    return access.team_agents(viewer)


def _in_month(versions: list[PlanVersion], first: date, last: date) -> list[tuple[PlanVersion, date, date]]:
    """The versions in force on some day of [first, last], each with the days of the month it covers."""
    ordered = sorted(versions, key=lambda v: v.effective_from)
    found = []
    for version, following in zip(ordered, [*ordered[1:], None]):
        until = following.effective_from - timedelta(days=1) if following is not None else last
        start, end = max(version.effective_from, first), min(until, last)
        if start <= end:
            found.append((version, start, end))
    return found


def plan_amounts(viewer: User, plan: CommissionPlan, agent_id: int, month: date) -> PlanAmounts:
    """The percent brackets of the plan's versions in force during `month`, as amounts of the agent's
    target that month (thresholds as the engine computes them); an agent the viewer may not see is
    NotFound."""
    agent = access.visible_agent(viewer, agent_id)
    first, last = month_bounds(month)
    target = target_of(agent.id, first)
    versions = []
    for version, start, end in _in_month(plan.versions, first, last):
        if not is_attainment(version):
            continue
        table = engine_plan(version)
        thresholds = table.thresholds(target) if target is not None else (None,) * len(table.tiers)
        versions.append(VersionAmounts(version, start, end, [
            BracketAmount(bracket.start, bracket.rate, threshold)
            for bracket, threshold in zip(table.tiers, thresholds)]))
    return PlanAmounts(agent=agent, month=first, target=target, versions=versions)
