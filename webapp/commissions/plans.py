"""Commission plans and their versions, who is on which plan (read), and monthly targets.

Changes that move what agents have earned (a plan given or ended, a version added or edited)
recompute the ledger, which reads plans from here: they live above it, in assignments.py and
plan_versions.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from webapp import clock
from webapp.audit.services import record
from webapp.auth import access
from webapp.auth.models import Role, User
from webapp.catalog.models import Category, Product
from webapp.commissions import engine
from webapp.commissions.models import (CommissionEntry, CommissionPlan, PlanAssignment, PlanOverride,
                                       PlanTier, PlanVersion, Target)
from webapp.commissions.periods import is_date_closed, month_bounds
from webapp.errors import CLOSED_PERIOD, NotFound, ServiceError, get_or_404
from webapp.extensions import db
from webapp.formtools import check_plain_text
from webapp.money import from_cents, rate_to_units, to_cents, units_to_rate

# A bracket's percent of the target is stored in ten-thousandths in a BIGINT; far above any real
# accelerator (the rules set no upper limit), far below the column's limit.
MAX_FROM_PERCENT = Decimal(10) ** 9


@dataclass
class PlanRules:
    """What a plan version pays, as typed by an admin (rates in percent, amounts in currency).

    A tier table's `basis` says what its brackets' starts are: amounts of monthly volume
    ("amount") or percents of the agent's monthly target ("target_percent"); a base-rate plan
    ignores the default "amount" and refuses "target_percent"."""

    base_rate: Decimal | None = None
    tiers: list[tuple[Decimal, Decimal]] = field(default_factory=list)
    tier_mode: str | None = None
    category_rates: dict[int, Decimal] = field(default_factory=dict)  # category id -> rate
    product_rates: dict[int, Decimal] = field(default_factory=dict)   # product id -> rate
    basis: str = engine.TierBasis.AMOUNT

    def __post_init__(self) -> None:
        """No basis given means amounts, as for every plan made before attainment tiers."""
        if self.basis is None:
            self.basis = engine.TierBasis.AMOUNT

    @property
    def percent_basis(self) -> bool:
        """True when the brackets start at percents of the month's target."""
        return self.basis == engine.TierBasis.TARGET_PERCENT


def _engine_plan_from_rules(rules: PlanRules, categories: dict[int, str], products: dict[int, str]) -> engine.Plan:
    """Build (and so validate) the engine's plan; PlanError says what is wrong."""
    return engine.Plan(
        base_rate=rules.base_rate,
        tiers=tuple(rules.tiers),
        tier_mode=rules.tier_mode or None if rules.tiers else None,
        basis=rules.basis if rules.tiers else None,
        category_rates={categories[cid]: rate for cid, rate in rules.category_rates.items()},
        product_rates={products[pid]: rate for pid, rate in rules.product_rates.items()},
    )


def _check_basis(rules: PlanRules) -> None:
    """The basis is known, belongs to a tier table, and its percents fit the storage."""
    if rules.basis not in tuple(engine.TierBasis):
        raise ServiceError("Choose what the brackets start at: amounts or percents of the target.", "basis")
    if not rules.percent_basis:
        return
    if not rules.tiers:
        if rules.base_rate is None:
            return  # neither a base rate nor brackets: the engine says what is missing
        # The engine's rule (section 9): a base-rate plan has no basis.
        raise ServiceError("Percents of the target need a tier table; a base-rate plan has no basis "
                           "(choose amounts, or give the brackets).", "basis")
    if any(start > MAX_FROM_PERCENT for start, _ in rules.tiers):
        raise ServiceError(f"A bracket starts at most at {MAX_FROM_PERCENT:,}% of the target.", "tiers")


def validate_rules(rules: PlanRules) -> engine.Plan:
    """Check plan rules against the engine's contract and the catalogue; ServiceError if wrong."""
    categories = dict(db.session.execute(
        select(Category.id, Category.code).where(Category.id.in_(list(rules.category_rates) or [0]))
    ).all())
    products = dict(db.session.execute(
        select(Product.id, Product.sku).where(Product.id.in_(list(rules.product_rates) or [0]))
    ).all())
    if set(rules.category_rates) - set(categories):
        raise ServiceError("A category override names an unknown category.", "category_rates")
    if set(rules.product_rates) - set(products):
        raise ServiceError("A product override names an unknown product.", "product_rates")
    if rules.base_rate is not None and rules.tiers:
        raise ServiceError("Give either a base rate or a tier table, not both.", "base_rate")
    if rules.tiers and rules.tier_mode not in ("marginal", "retroactive"):
        raise ServiceError("Choose how tiers apply: marginal or retroactive.", "tier_mode")
    _check_basis(rules)
    try:
        return _engine_plan_from_rules(rules, categories, products)
    except engine.PlanError as exc:
        field_name = "tiers" if rules.tiers else "base_rate"
        raise ServiceError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", field_name) from exc


def _tier_start(tier: PlanTier) -> Decimal:
    """Where a bracket starts: an amount, or a percent of the target (target_percent basis)."""
    return from_cents(tier.from_cents) if tier.from_cents is not None else units_to_rate(tier.from_percent_units)


def engine_plan(version: PlanVersion) -> engine.Plan:
    """The engine's view of a stored plan version."""
    return engine.Plan(
        base_rate=units_to_rate(version.base_rate_units) if version.base_rate_units is not None else None,
        tiers=tuple((_tier_start(t), units_to_rate(t.rate_units)) for t in version.tiers),
        tier_mode=version.tier_mode,
        basis=version.basis,
        category_rates={o.category.code: units_to_rate(o.rate_units) for o in version.overrides if o.category_id},
        product_rates={o.product.sku: units_to_rate(o.rate_units) for o in version.overrides if o.product_id},
    )


def rules_of(version: PlanVersion) -> PlanRules:
    """The stored version as editable rules."""
    return PlanRules(
        base_rate=units_to_rate(version.base_rate_units) if version.base_rate_units is not None else None,
        tiers=[(_tier_start(t), units_to_rate(t.rate_units)) for t in version.tiers],
        tier_mode=version.tier_mode,
        category_rates={o.category_id: units_to_rate(o.rate_units) for o in version.overrides if o.category_id},
        product_rates={o.product_id: units_to_rate(o.rate_units) for o in version.overrides if o.product_id},
        basis=version.basis or engine.TierBasis.AMOUNT,
    )


def _tier_row(start: Decimal, rate: Decimal, percent: bool) -> PlanTier:
    """A bracket as stored: from an amount (cents) or from a percent of the target (ten-thousandths)."""
    if percent:
        return PlanTier(from_percent_units=rate_to_units(start), rate_units=rate_to_units(rate))
    return PlanTier(from_cents=to_cents(start), rate_units=rate_to_units(rate))


def write_rules(version: PlanVersion, rules: PlanRules) -> None:
    """Store validated rules on a version (replacing tiers and overrides)."""
    version.base_rate_units = rate_to_units(rules.base_rate) if rules.base_rate is not None else None
    version.tier_mode = rules.tier_mode if rules.tiers else None
    version.basis = engine.TierBasis(rules.basis) if rules.tiers else None
    if version.id is not None and version.tiers:
        # The old brackets go first: the unit of work inserts before it deletes orphans, and a
        # bracket kept at its start (0 always is) would collide with itself on the unique key.
        version.tiers.clear()
        db.session.flush()
    version.tiers = [_tier_row(f, r, rules.percent_basis) for f, r in rules.tiers]
    version.overrides = (
        [PlanOverride(category_id=cid, rate_units=rate_to_units(r)) for cid, r in rules.category_rates.items()]
        + [PlanOverride(product_id=pid, rate_units=rate_to_units(r)) for pid, r in rules.product_rates.items()]
    )


def rules_snapshot(rules: PlanRules) -> dict:
    """Rules as JSON-safe data for the audit trail."""
    return {
        "base_rate": str(rules.base_rate) if rules.base_rate is not None else None,
        "tiers": [[str(f), str(r)] for f, r in rules.tiers],
        "tier_mode": rules.tier_mode,
        "basis": str(rules.basis) if rules.tiers else None,
        "category_rates": {str(k): str(v) for k, v in rules.category_rates.items()},
        "product_rates": {str(k): str(v) for k, v in rules.product_rates.items()},
    }


def is_day(value) -> bool:
    """A plain date; a datetime (a date subclass) is not one, and comparing it with dates raises."""
    return isinstance(value, date) and not isinstance(value, datetime)


def check_effective_date(effective_from: date | None) -> date:
    """A plan change may not reach into a closed period (that would rewrite issued statements)."""
    if not is_day(effective_from):
        raise ServiceError("Enter the date the plan takes effect.", "effective_from")
    if is_date_closed(effective_from):
        raise ServiceError("That date is in a closed period; choose a date in an open period.",
                           "effective_from", code=CLOSED_PERIOD)
    return effective_from


MAX_TERMS = 20000


def check_terms(terms: str | None) -> str | None:
    """The admin's section of the plan document: plain text, at most MAX_TERMS characters (None if blank)."""
    terms = check_plain_text((terms or "").strip(), "terms", multiline=True)
    if len(terms) > MAX_TERMS:
        raise ServiceError(f"Keep the terms under {MAX_TERMS:,} characters.", "terms")
    return terms or None


def create_plan(actor, *, name: str, description: str | None, rules: PlanRules,
                effective_from: date, terms: str | None = None) -> CommissionPlan:
    """Create a plan with its first version."""
    name = check_plain_text((name or "").strip(), "name")
    if not name or len(name) > 80:
        raise ServiceError("Enter a plan name (at most 80 characters).", "name")
    description = check_plain_text((description or "").strip(), "description", multiline=True)
    if db.session.scalar(select(CommissionPlan.id).where(CommissionPlan.name == name)):
        raise ServiceError("A plan with this name exists already.", "name")
    validate_rules(rules)
    terms = check_terms(terms)
    plan = CommissionPlan(name=name, description=description or None)
    version = PlanVersion(plan=plan, version=1, effective_from=effective_from or date(2000, 1, 1),
                          terms=terms, created_by_id=getattr(actor, "id", None))
    write_rules(version, rules)
    db.session.add(plan)
    db.session.flush()
    record(actor, "plan.create", plan, None, {"name": name, **rules_snapshot(rules)})
    return plan


def version_has_earned(version: PlanVersion) -> bool:
    """True once any ledger entry was computed with this version."""
    return db.session.scalar(
        select(CommissionEntry.id).where(CommissionEntry.plan_version_id == version.id).limit(1)
    ) is not None


def version_in_force(plan_id: int, day: date) -> PlanVersion | None:
    """The plan's version whose date is the latest on or before `day`."""
    return db.session.scalar(
        select(PlanVersion).where(PlanVersion.plan_id == plan_id, PlanVersion.effective_from <= day)
        .order_by(PlanVersion.effective_from.desc()).limit(1)
    )


def assignments_of(agent_id: int) -> list[PlanAssignment]:
    """An agent's plan assignments, oldest first."""
    return list(db.session.scalars(
        select(PlanAssignment).where(PlanAssignment.agent_id == agent_id).order_by(PlanAssignment.effective_from)
    ))


def assignment_on(agent_id: int, day: date) -> PlanAssignment | None:
    """The assignment in force for an agent on a date."""
    return db.session.scalar(
        select(PlanAssignment).where(
            PlanAssignment.agent_id == agent_id, PlanAssignment.effective_from <= day,
            or_(PlanAssignment.effective_to.is_(None), PlanAssignment.effective_to >= day),
        )
    )


def agent_for_plan(agent_id: int) -> User:
    """An agent by id, or a field error."""
    agent = db.session.get(User, agent_id)
    if agent is None or not access.is_agent(agent):
        raise ServiceError("Choose an agent.", "agent_id")
    return agent


def target_for(agent_id: int, day: date) -> Target | None:
    """The agent's target for the month of `day`."""
    first, _ = month_bounds(day)
    return db.session.scalar(select(Target).where(Target.agent_id == agent_id, Target.month == first))


def get_plan(plan_id: int) -> CommissionPlan:
    """A plan by id, or NotFound."""
    return get_or_404(CommissionPlan, plan_id)


# ---- Reading, for the admin pages ---------------------------------------------------------


def list_plans() -> list[CommissionPlan]:
    """Every plan by name, with its versions' tiers and overrides loaded."""
    return list(db.session.scalars(
        select(CommissionPlan).order_by(CommissionPlan.name).options(
            selectinload(CommissionPlan.versions).selectinload(PlanVersion.tiers),
            selectinload(CommissionPlan.versions).selectinload(PlanVersion.overrides),
        )
    ))


def used_version_ids(versions: list[PlanVersion]) -> set[int]:
    """The ids of the given versions that have earned commission (one query for a whole page)."""
    ids = [v.id for v in versions]
    if not ids:
        return set()
    return set(db.session.scalars(
        select(CommissionEntry.plan_version_id).where(CommissionEntry.plan_version_id.in_(ids)).distinct()
    ))


def get_version(plan: CommissionPlan, version_id: int, *, lock: bool = False) -> PlanVersion:
    """A version of this plan by id, or NotFound (a version of another plan is not found either);
    `lock`: row-locked, so a change checked against it (If-Match) is not overtaken by another."""
    version = get_or_404(PlanVersion, version_id, fresh_lock=lock)
    if version.plan_id != plan.id:
        raise NotFound()
    return version


def get_version_by_id(version_id) -> PlanVersion:
    """Any plan's version by id, or NotFound."""
    return get_or_404(PlanVersion, version_id)


def current_version(plan: CommissionPlan) -> PlanVersion:
    """The version in force today (or, for a plan not yet in force, its latest version)."""
    return version_in_force(plan.id, clock.today()) or plan.versions[-1]


def current_rules(plan: CommissionPlan) -> PlanRules:
    """The rules in force today (or, for a plan not yet in force, its latest version's)."""
    return rules_of(current_version(plan))


def list_assignments() -> list[PlanAssignment]:
    """Every assignment, by agent name then start date."""
    return list(db.session.scalars(
        select(PlanAssignment).join(User, User.id == PlanAssignment.agent_id)
        .order_by(User.name, User.id, PlanAssignment.effective_from)
    ))


def assignments_page(*, agent_id: int | None = None, plan_id: int | None = None, on: date | None = None,
                     after_id: int | None = None, limit: int = 50) -> list[PlanAssignment]:
    """Plan assignments by id after `after_id` (a keyset page): one agent's, one plan's, those
    covering a day."""
    query = select(PlanAssignment)
    if agent_id is not None:
        query = query.where(PlanAssignment.agent_id == agent_id)
    if plan_id is not None:
        query = query.where(PlanAssignment.plan_id == plan_id)
    if on is not None:
        query = query.where(PlanAssignment.effective_from <= on,
                            or_(PlanAssignment.effective_to.is_(None), PlanAssignment.effective_to >= on))
    if after_id is not None:
        query = query.where(PlanAssignment.id > after_id)
    return list(db.session.scalars(query.order_by(PlanAssignment.id).limit(limit)))


def get_assignment(assignment_id: int) -> PlanAssignment:
    """An assignment by id, or NotFound."""
    return get_or_404(PlanAssignment, assignment_id)


def assignable_agents() -> list[User]:
    """Active agents by name: the people a plan can be given to."""
    return list(db.session.scalars(
        select(User).where(User.role == Role.AGENT, User.active.is_(True)).order_by(User.name)
    ))
