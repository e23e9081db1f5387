"""What a plan document says, as data: built from the plan version's own rows, the agent's
assignment and target, the SPIFFs they can earn and the installation's settings. Worked examples
are computed by the engine itself, so the document can never disagree with the ledger.

Money is in integer cents and rates are decimal strings in percent (as typed by the admin), so
the content is plain JSON that the API returns and the templates format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.auth.models import User
from webapp.commissions import engine
from webapp.commissions.models import PlanAssignment, PlanVersion, Settings
from webapp.commissions.periods import month_bounds
from webapp.commissions.plans import engine_plan, target_for
from webapp.extensions import db
from webapp.money import from_cents, to_cents, units_to_rate
from webapp.spiffs.models import Spiff, SpiffVersion
from webapp.spiffs.queries import in_force

FORMAT = 1
# "What 10,000, 50,000 and 100,000 of sales in a month earn" (in the installation's currency).
EXAMPLE_VOLUMES = (Decimal("10000.00"), Decimal("50000.00"), Decimal("100000.00"))
# One sale of this size in an override's category or product, as the month's only sale.
OVERRIDE_EXAMPLE = Decimal("10000.00")
# The target an attainment plan's examples assume when the agent has none set yet.
ASSUMED_TARGET = Decimal("50000.00")
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Issue:
    """One document to issue: an agent's assignment and a version of its plan, over the days both cover."""

    assignment: PlanAssignment
    version: PlanVersion
    start: date
    end: date | None


def version_end(version: PlanVersion) -> date | None:
    """The last day a version governs: the day before the plan's next version (None: open-ended)."""
    later = [v.effective_from for v in version.plan.versions if v.effective_from > version.effective_from]
    return min(later) - _DAY if later else None


def _rate(units: int) -> str:
    """A stored rate as the percent string the admin typed (30000 -> "3")."""
    return format(units_to_rate(units).normalize(), "f")


def _earning(version: PlanVersion) -> dict:
    """How commission is earned: the base rate, or the tier table with its mode and basis."""
    if version.base_rate_units is not None:
        return {"kind": "base_rate", "base_rate": _rate(version.base_rate_units)}
    percent = version.basis == engine.TierBasis.TARGET_PERCENT
    tiers = []
    for index, tier in enumerate(version.tiers):
        following = version.tiers[index + 1] if index + 1 < len(version.tiers) else None
        if percent:
            tiers.append({"from_percent": _rate(tier.from_percent_units),
                          "to_percent": _rate(following.from_percent_units) if following else None,
                          "rate": _rate(tier.rate_units)})
        else:
            tiers.append({"from_cents": tier.from_cents, "to_cents": following.from_cents if following else None,
                          "rate": _rate(tier.rate_units)})
    return {"kind": "tiers", "tier_mode": version.tier_mode, "basis": version.basis, "tiers": tiers}


def _overrides(version: PlanVersion) -> dict:
    """Category and product rates that beat the plan's rate (product beats category)."""
    categories = sorted(({"code": o.category.code, "name": o.category.name, "rate": _rate(o.rate_units)}
                         for o in version.overrides if o.category_id), key=lambda o: o["name"].lower())
    products = sorted(({"sku": o.product.sku, "name": o.product.name, "rate": _rate(o.rate_units)}
                       for o in version.overrides if o.product_id), key=lambda o: o["name"].lower())
    return {"categories": categories, "products": products}


def _month_commission(plan: engine.Plan, day: date, amount: Decimal, target: Decimal | None,
                      sku: str | None = None, category: str | None = None) -> Decimal:
    """What one sale of `amount` earns as the month's only sale, by the engine."""
    line = engine.SaleLine(id=1, date=day, amount=amount, sku=sku, category=category, plan=plan)
    return engine.month_total(engine.compute_month([line], target=target))


def examples(version: PlanVersion, day: date, target_cents: int | None) -> dict:
    """Worked examples on round numbers, computed by the engine (see EXAMPLE_VOLUMES)."""
    plan = engine_plan(version)
    percent = version.basis == engine.TierBasis.TARGET_PERCENT
    target = None
    if percent:
        target = from_cents(target_cents) if target_cents else ASSUMED_TARGET
    volumes = [{"volume_cents": to_cents(volume),
                "commission_cents": to_cents(_month_commission(plan, day, volume, target))}
               for volume in EXAMPLE_VOLUMES]
    overrides = _overrides(version)
    by_override = [{"label": o["name"], "kind": "category", "volume_cents": to_cents(OVERRIDE_EXAMPLE),
                    "commission_cents": to_cents(_month_commission(plan, day, OVERRIDE_EXAMPLE, target,
                                                                   category=o["code"]))}
                   for o in overrides["categories"]]
    by_override += [{"label": o["name"], "kind": "product", "volume_cents": to_cents(OVERRIDE_EXAMPLE),
                     "commission_cents": to_cents(_month_commission(plan, day, OVERRIDE_EXAMPLE, target,
                                                                    sku=o["sku"]))}
                    for o in overrides["products"]]
    return {"month": day.replace(day=1).isoformat(), "volumes": volumes, "overrides": by_override,
            "target_cents": to_cents(target) if target is not None else None,
            "target_assumed": percent and not target_cents}


def _spiff_reward(version: SpiffVersion) -> dict:
    """A SPIFF version's reward and cap."""
    return {"per_unit_cents": version.per_unit_cents,
            "percent": _rate(version.percent_units) if version.percent_units is not None else None,
            "cap_cents": version.cap_cents}


def eligible_spiffs(agent: User, start: date, end: date | None, today: date) -> list[dict]:
    """SPIFFs the agent can earn on days of [start, end] that have not ended before `today`."""
    first = max(start, today)
    if end is not None and end < first:
        return []
    query = (select(Spiff).join(SpiffVersion).where(SpiffVersion.last_day >= first).distinct()
             .options(selectinload(Spiff.versions).selectinload(SpiffVersion.products),
                      selectinload(Spiff.versions).selectinload(SpiffVersion.categories),
                      selectinload(Spiff.versions).selectinload(SpiffVersion.teams)))
    if end is not None:
        query = query.where(SpiffVersion.first_day <= end)
    found = []
    for spiff in db.session.scalars(query):
        for span in in_force(spiff):
            version = span.version
            if span.empty or span.end < first or (end is not None and span.start > end):
                continue
            if version.teams and not any(team.id == agent.manager_id for team in version.teams):
                continue
            found.append({"name": spiff.name, "first_day": span.start.isoformat(), "last_day": span.end.isoformat(),
                          **_spiff_reward(version),
                          "products": [p.name for p in version.products],
                          "categories": [c.name for c in version.categories]})
    return sorted(found, key=lambda s: (s["first_day"], s["name"].lower()))


def build_content(issue: Issue, agent: User, settings: Settings, today: date) -> dict:
    """Everything the document says, as JSON-ready data (the template turns it into prose)."""
    version, assignment = issue.version, issue.assignment
    example_day = max(issue.start, today)
    if issue.end is not None:
        example_day = min(example_day, issue.end)
    target = target_for(agent.id, example_day) if version.basis == engine.TierBasis.TARGET_PERCENT else None
    return {
        "format": FORMAT,
        "company": settings.company_name,
        "agent": {"id": agent.id, "name": agent.name, "email": agent.email,
                  "manager": agent.manager.name if agent.manager else None},
        "plan": {"id": version.plan_id, "name": version.plan.name, "description": version.plan.description,
                 "version": version.version, "version_id": version.id,
                 "version_from": version.effective_from.isoformat(),
                 "version_to": (lambda end: end.isoformat() if end else None)(version_end(version))},
        "assignment": {"id": assignment.id, "from": assignment.effective_from.isoformat(),
                       "to": assignment.effective_to.isoformat() if assignment.effective_to else None},
        "effective_from": issue.start.isoformat(),
        "effective_to": issue.end.isoformat() if issue.end else None,
        "earning": _earning(version),
        "overrides": _overrides(version),
        "examples": examples(version, example_day, target.amount_cents if target else None),
        "spiffs": eligible_spiffs(agent, issue.start, issue.end, today),
        "periods": {"cadence": settings.period_cadence, "grace_hours": settings.grace_hours,
                    "month_example": [d.isoformat() for d in month_bounds(example_day)]},
        "terms": (version.terms or "").strip() or None,
    }
