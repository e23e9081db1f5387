"""SPIFFs (COMMISSION_RULES.md section 10): create one, give it a new version, end it early.

A SPIFF that has paid anything is never edited in place (see models): every change after the
first version is a new version effective from a date, and ending early is such a version too (the
same rules, with the last day moved: it takes over the days after the new last day and covers none
of them). The first day of a new SPIFF and the effective date of a change lie in open periods,
like a plan version's: a change reaching into a closed period would rewrite issued statements.

Every change recomputes the holder-months it touches (webapp/spiffs/recompute.py), in the request
when few, else in a background job.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapp.audit.services import record
from webapp.auth import access
from webapp.auth.models import User
from webapp.catalog.models import Category, Product
from webapp.commissions import engine
from webapp.commissions.periods import is_date_closed
from webapp.commissions.plans import is_day
from webapp.errors import CLOSED_PERIOD, ServiceError, get_or_404
from webapp.extensions import db
from webapp.formtools import check_plain_text
from webapp.money import from_cents, rate_to_units, to_cents, units_to_rate
from webapp.spiffs.models import Spiff, SpiffRecompute, SpiffVersion
from webapp.spiffs.queries import dashboard_spiffs
from webapp.spiffs.recompute import Touched, recompute_touched

__all__ = ["SpiffChange", "SpiffRules", "add_version", "create_spiff", "dashboard_spiffs", "end_early",
           "get_spiff", "rules_of", "validate_rules", "version_in_force"]

NAME_LENGTH = 80
_ONE_DAY = timedelta(days=1)
_CENT = Decimal("0.01")
NAME_TAKEN = "A SPIFF with this name already exists."
# The messages of the checks that need no database: the forms (webapp/admin/spiff_forms.py) make
# them too, so every field's error shows at once; the service stays the authority for every caller.
NAME_MISSING = f"Enter a name (at most {NAME_LENGTH} characters)."
FIRST_DAY_MISSING = "Enter the first day."
LAST_DAY_MISSING = "Enter the last day."
DAYS_OUT_OF_ORDER = "The last day is before the first day."
REWARD_BOTH = "Give either an amount per unit or a percent of the amount, not both."
REWARD_MISSING = "Give the reward: an amount per unit or a percent of the amount."
PER_UNIT_TOO_SMALL = "The amount per unit must be at least 0.01."
CAP_TOO_SMALL = "The monthly cap must be at least 0.01 (leave it empty for no cap)."
ELIGIBILITY_MISSING = "Choose at least one product or category."
EFFECTIVE_FROM_MISSING = "Enter the date the new version takes effect."


@dataclass
class SpiffRules:
    """What one version of a SPIFF pays, as an admin typed it (amounts and percent as Decimals)."""

    first_day: date | None = None
    last_day: date | None = None
    per_unit: Decimal | None = None
    percent: Decimal | None = None
    cap: Decimal | None = None
    product_ids: list[int] = field(default_factory=list)
    category_ids: list[int] = field(default_factory=list)
    team_ids: list[int] = field(default_factory=list)  # managers; empty: every holder


@dataclass(frozen=True)
class SpiffChange:
    """What a change made: the SPIFF, its new version, and how the ledger caught up."""

    spiff: Spiff
    version: SpiffVersion
    recomputed: int  # holder-months recomputed in this transaction
    run: SpiffRecompute | None  # the background recompute, when there were too many


# ---- Validation ---------------------------------------------------------------------------------


def _exact(value, what: str, field_name: str, places: int) -> Decimal:
    """A finite Decimal with at most `places` decimals, else a field error."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ServiceError(f"Enter the {what} as a number.", field_name)
    if value.as_tuple().exponent < -places:
        raise ServiceError(f"Use at most {places} decimals for the {what}.", field_name)
    return value


def _check_reward(rules: SpiffRules) -> None:
    """Exactly one reward kind, each within its range; an optional cap of at least 0.01."""
    if rules.per_unit is not None and rules.percent is not None:
        raise ServiceError(REWARD_BOTH, "per_unit")
    if rules.per_unit is None and rules.percent is None:
        raise ServiceError(REWARD_MISSING, "per_unit")
    if rules.per_unit is not None and _exact(rules.per_unit, "amount per unit", "per_unit", 2) < _CENT:
        raise ServiceError(PER_UNIT_TOO_SMALL, "per_unit")
    if rules.percent is not None and not 0 <= _exact(rules.percent, "percent", "percent", 4) <= 100:
        raise ServiceError("The percent must be between 0 and 100.", "percent")
    if rules.cap is not None and _exact(rules.cap, "monthly cap", "cap", 2) < _CENT:
        raise ServiceError(CAP_TOO_SMALL, "cap")


def _known_ids(model, ids: list[int], what: str, field_name: str) -> dict[int, object]:
    """The rows of these ids, or a field error naming the unknown ones."""
    ids = sorted(set(ids))
    rows = {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(ids or [0])))}
    if len(rows) != len(ids):
        raise ServiceError(f"Choose {what} from the list: one of them does not exist.", field_name)
    return rows


def _check_eligibility(rules: SpiffRules) -> tuple[dict, dict, dict]:
    """Products and categories (at least one in all) and teams (managers) that exist."""
    products = _known_ids(Product, rules.product_ids, "products", "product_ids")
    categories = _known_ids(Category, rules.category_ids, "categories", "category_ids")
    if not products and not categories:
        raise ServiceError(ELIGIBILITY_MISSING, "product_ids")
    teams = _known_ids(User, rules.team_ids, "teams", "team_ids")
    if not all(access.is_manager(user) for user in teams.values()):
        raise ServiceError("A team is a manager's agents: choose managers.", "team_ids")
    return products, categories, teams


def validate_rules(rules: SpiffRules) -> SpiffRules:
    """Check a version's rules (days, reward, cap, eligibility); ServiceError naming the field."""
    if not is_day(rules.first_day):
        raise ServiceError(FIRST_DAY_MISSING, "first_day")
    if not is_day(rules.last_day):
        raise ServiceError(LAST_DAY_MISSING, "last_day")
    if rules.last_day < rules.first_day:
        raise ServiceError(DAYS_OUT_OF_ORDER, "last_day")
    _check_reward(rules)
    products, categories, teams = _check_eligibility(rules)
    # The engine's own check, so nothing stored can fail it later.
    try:
        engine.Spiff(name="check", first_day=rules.first_day, last_day=rules.last_day,
                     products=frozenset(p.sku for p in products.values()),
                     categories=frozenset(c.code for c in categories.values()),
                     teams=frozenset(str(t) for t in teams) or None,
                     per_unit=rules.per_unit, percent=rules.percent, cap=rules.cap)
    except engine.SpiffError as exc:
        raise ServiceError(str(exc), "per_unit") from exc
    return rules


def _check_open(day: date, field_name: str, what: str) -> None:
    """A change may not reach into a closed period (issued statements would change)."""
    if is_date_closed(day):
        raise ServiceError(f"{what} is in a closed period; choose a date in an open period.", field_name,
                           code=CLOSED_PERIOD)


def _check_name(name: str | None, ignore_id: int | None = None) -> str:
    """A one-line name of at most 80 characters that no other SPIFF has (case ignored)."""
    name = check_plain_text((name or "").strip(), "name")
    if not name or len(name) > NAME_LENGTH:
        raise ServiceError(NAME_MISSING, "name")
    clash = db.session.scalar(select(Spiff.id).where(func.lower(Spiff.name) == name.lower(),
                                                     Spiff.id != (ignore_id or 0)))
    if clash is not None:
        raise ServiceError(NAME_TAKEN, "name")
    return name


# ---- Rules <-> versions -------------------------------------------------------------------------


def rules_of(version: SpiffVersion) -> SpiffRules:
    """A stored version as editable rules."""
    return SpiffRules(
        first_day=version.first_day, last_day=version.last_day,
        per_unit=from_cents(version.per_unit_cents) if version.per_unit_cents is not None else None,
        percent=units_to_rate(version.percent_units) if version.percent_units is not None else None,
        cap=from_cents(version.cap_cents) if version.cap_cents is not None else None,
        product_ids=[p.id for p in version.products], category_ids=[c.id for c in version.categories],
        team_ids=[t.id for t in version.teams])


def _write(version: SpiffVersion, rules: SpiffRules) -> None:
    """Store validated rules on a (new) version."""
    version.first_day, version.last_day = rules.first_day, rules.last_day
    version.per_unit_cents = to_cents(rules.per_unit) if rules.per_unit is not None else None
    version.percent_units = rate_to_units(rules.percent) if rules.percent is not None else None
    version.cap_cents = to_cents(rules.cap) if rules.cap is not None else None
    # The lookups below must not flush a half-written version.
    with db.session.no_autoflush:
        _write_eligibility(version, rules)


def _write_eligibility(version: SpiffVersion, rules: SpiffRules) -> None:
    """Store a version's products, categories and teams."""
    version.products = list(db.session.scalars(
        select(Product).where(Product.id.in_(rules.product_ids or [0]))))
    version.categories = list(db.session.scalars(
        select(Category).where(Category.id.in_(rules.category_ids or [0]))))
    version.teams = list(db.session.scalars(select(User).where(User.id.in_(rules.team_ids or [0]))))


def snapshot(rules: SpiffRules) -> dict:
    """Rules as JSON-safe data for the audit trail."""
    return {"first_day": rules.first_day.isoformat(), "last_day": rules.last_day.isoformat(),
            "per_unit": str(rules.per_unit) if rules.per_unit is not None else None,
            "percent": str(rules.percent) if rules.percent is not None else None,
            "cap": str(rules.cap) if rules.cap is not None else None,
            "product_ids": sorted(rules.product_ids), "category_ids": sorted(rules.category_ids),
            "team_ids": sorted(rules.team_ids)}


def _touched(start: date, end: date, *rule_sets: SpiffRules) -> Touched:
    """The days a change moves and the products and categories that may be eligible on them."""
    return Touched(start, end, frozenset(i for r in rule_sets for i in r.product_ids),
                   frozenset(i for r in rule_sets for i in r.category_ids))


# ---- Changes ------------------------------------------------------------------------------------


def create_spiff(actor, name: str | None, rules: SpiffRules) -> SpiffChange:
    """Create a SPIFF with its first version (in force from its first day) and pay it on the sales
    already approved in its days."""
    name = _check_name(name)
    validate_rules(rules)
    _check_open(rules.first_day, "first_day", "The first day")
    spiff = Spiff(name=name, created_by_id=getattr(actor, "id", None))
    version = SpiffVersion(spiff=spiff, version=1, effective_from=rules.first_day,
                           created_by_id=getattr(actor, "id", None))
    _write(version, rules)
    _insert_named(spiff)
    record(actor, "spiff.create", spiff, None, {"name": name, **snapshot(rules)})
    recomputed, run = recompute_touched(spiff.id, _touched(rules.first_day, rules.last_day, rules))
    return SpiffChange(spiff, version, recomputed, run)


def _insert_named(spiff: Spiff) -> None:
    """Insert a new SPIFF (and its version) in a savepoint: the name check above and this insert
    race with another admin's create of the same name, and the unique constraint settles it."""
    db.session.flush()  # so only this insert can fail inside the savepoint below
    try:
        with db.session.begin_nested():
            db.session.add(spiff)
            db.session.flush()
    except IntegrityError as exc:
        # Only the name's constraint is the user's doing; any other violation is a bug to surface.
        if not _is_name_clash(exc):
            raise
        raise ServiceError(NAME_TAKEN, "name") from None


def _is_name_clash(exc: IntegrityError) -> bool:
    """True if the violation is of a unique constraint on spiffs.name (the plain one or the one
    ignoring case, uq_spiffs_name_lower), in PostgreSQL's or SQLite's wording."""
    text = str(exc.orig)
    return "uq_spiffs_name" in text or "spiffs.name" in text


def version_in_force(spiff: Spiff, day: date) -> SpiffVersion | None:
    """The version whose effective date is the latest on or before `day` (None before the first)."""
    in_force = [v for v in spiff.versions if v.effective_from <= day]
    return in_force[-1] if in_force else None


def _next_start(spiff: Spiff, day: date) -> date | None:
    """The effective date of the first version after `day` (None: none)."""
    return next((v.effective_from for v in spiff.versions if v.effective_from > day), None)


def _lock(spiff: Spiff) -> None:
    """Serialise changes of one SPIFF (two admins adding versions at once), then read its versions anew."""
    db.session.execute(select(Spiff.id).where(Spiff.id == spiff.id).with_for_update())
    db.session.refresh(spiff, ["versions"])


def add_version(actor, spiff: Spiff, rules: SpiffRules, effective_from: date | None) -> SpiffChange:
    """A new version of the SPIFF for sales dated from `effective_from` (until a later version's)."""
    _lock(spiff)
    if not is_day(effective_from):
        raise ServiceError(EFFECTIVE_FROM_MISSING, "effective_from")
    _check_open(effective_from, "effective_from", "That date")
    if any(v.effective_from == effective_from for v in spiff.versions):
        raise ServiceError("A version already starts on that date; choose another.", "effective_from")
    validate_rules(rules)
    before = version_in_force(spiff, effective_from)
    old = rules_of(before) if before is not None else replace(rules, product_ids=[], category_ids=[])
    # The days that change hands: from the effective date to the day before the next version.
    next_start = _next_start(spiff, effective_from)
    end = max(rules.last_day, old.last_day)
    if next_start is not None:
        end = min(end, next_start - _ONE_DAY)
    version = _new_version(actor, spiff, rules, effective_from)
    record(actor, "spiff.version.create", version, snapshot(old) if before is not None else None,
           {"effective_from": effective_from.isoformat(), **snapshot(rules)})
    recomputed, run = recompute_touched(spiff.id, _touched(effective_from, end, rules, old))
    return SpiffChange(spiff, version, recomputed, run)


def _new_version(actor, spiff: Spiff, rules: SpiffRules, effective_from: date) -> SpiffVersion:
    """Add and flush the next-numbered version."""
    version = SpiffVersion(spiff=spiff, version=max(v.version for v in spiff.versions) + 1,
                           effective_from=effective_from, created_by_id=getattr(actor, "id", None))
    db.session.add(version)
    _write(version, rules)
    db.session.flush()
    db.session.refresh(spiff, ["versions"])
    return version


def end_early(actor, spiff: Spiff, last_day: date | None) -> SpiffChange:
    """End the SPIFF on `last_day`: a version from the next day with the same rules and that last
    day, so sales after it earn nothing (already paid ones are clawed back by the recompute)."""
    if not is_day(last_day):
        raise ServiceError("Enter the new last day.", "last_day")
    _lock(spiff)
    latest = spiff.versions[-1]
    if last_day >= latest.last_day:
        raise ServiceError(f"It already ends on {latest.last_day.isoformat()}; choose an earlier day.",
                           "last_day")
    starts = last_day + _ONE_DAY
    _check_open(starts, "last_day", "The day after it")
    if latest.effective_from >= starts:
        raise ServiceError(f"Version {latest.version} starts on {latest.effective_from.isoformat()}, "
                           "after that day; end it on a later day, or add a version instead.", "last_day")
    old = rules_of(latest)
    rules = replace(old, first_day=min(old.first_day, last_day), last_day=last_day)
    version = _new_version(actor, spiff, rules, starts)
    record(actor, "spiff.end_early", version, {"last_day": old.last_day.isoformat()},
           {"last_day": last_day.isoformat(), "effective_from": starts.isoformat()})
    recomputed, run = recompute_touched(spiff.id, _touched(starts, old.last_day, old))
    return SpiffChange(spiff, version, recomputed, run)


def get_spiff(spiff_id: int) -> Spiff:
    """A SPIFF by id, or NotFound."""
    return get_or_404(Spiff, spiff_id)
