"""SPIFFs (COMMISSION_RULES.md section 10): short-term rewards beside commission, with monthly caps.

Pure (standard library and the engine's own modules). A `Spiff` is one VERSION of a SPIFF: the
days it governs, what it rewards and its cap; versions of one SPIFF share its `name`, and so one
cap count. The caller passes each version with the days it is in force (a version effective from
the 16th ends the one before on the 15th); two versions of one name may not share a day.

For one holder's month (lines in allocation order), `spiff_rewards` gives every line a reward per
eligible SPIFF, in the order the SPIFFs were given:

- eligible: first_day <= date <= last_day, and (sku in products OR category in categories), and
  (no teams, or the line's team among them);
- reward before the cap: per unit: the whole reward (per_unit x quantity, exact to the cent) is
  allocated among the holders like an amount (engine_credit.allocate); percent: the credited
  amount x percent / 100, half-up to the cent once;
- cap, per SPIFF name: each line gets its reward while the month's running total stays within its
  version's cap; the line that crosses it gets the rest; later lines 0.00. SPIFF money never adds
  to tier volume, and plans never change it.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from webapp.commissions.engine_credit import UNSPLIT, allocate
from webapp.commissions.engine_numbers import (CENT, EXACT_CONTEXT, HUNDRED, ZERO_MONEY, SpiffError, round_money,
                                               to_money, to_rate)
from webapp.commissions.engine_types import SaleLine


def _names(value: Any, what: str) -> frozenset[str]:
    """A set of product, category or team names, as a frozenset of non-empty strings."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{what} must be a collection of names, not a single {type(value).__name__}")
    names = frozenset(value)
    if not all(isinstance(name, str) and name for name in names):
        raise SpiffError(f"{what} must be non-empty strings")
    return names


def _plain_date(value: Any, what: str) -> datetime.date:
    """A plain date (no time), as sold_on is compared with it."""
    if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
        raise TypeError(f"{what} must be a datetime.date, not {value!r}")
    return value


def _positive_money(value: Any, what: str) -> Decimal:
    """Money of at least 0.01."""
    amount = to_money(value, what, SpiffError)
    if amount < CENT:
        raise SpiffError(f"{what} must be at least 0.01, got {value}")
    return amount


@dataclasses.dataclass(frozen=True, slots=True)
class Spiff:
    """One version of a SPIFF: days (inclusive), eligibility, a reward per unit XOR percent, a cap."""

    name: str
    first_day: datetime.date
    last_day: datetime.date
    products: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    teams: frozenset[str] | None = None
    per_unit: Decimal | None = None
    percent: Decimal | None = None
    cap: Decimal | None = None
    version: int = 1

    def __post_init__(self) -> None:
        """Validate and normalise (SpiffError for bad values, TypeError for wrong types)."""
        set_ = object.__setattr__
        if not isinstance(self.name, str) or not self.name.strip():
            raise SpiffError(f"a SPIFF needs a name, got {self.name!r}")
        what = f"SPIFF {self.name!r}"
        if _plain_date(self.first_day, f"{what}: first_day") > _plain_date(self.last_day, f"{what}: last_day"):
            raise SpiffError(f"{what}: first_day {self.first_day} is after last_day {self.last_day}")
        set_(self, "products", _names(self.products or (), f"{what}: products"))
        set_(self, "categories", _names(self.categories or (), f"{what}: categories"))
        if not self.products and not self.categories:
            raise SpiffError(f"{what} needs at least one product or category")
        if self.teams is not None:
            set_(self, "teams", _names(self.teams, f"{what}: teams"))
            if not self.teams:
                raise SpiffError(f"{what}: teams, when given, must name at least one team")
        if (self.per_unit is None) == (self.percent is None):
            raise SpiffError(f"{what} needs exactly one reward: an amount per unit or a percent")
        if self.per_unit is not None:
            set_(self, "per_unit", _positive_money(self.per_unit, f"{what}: per_unit"))
        else:
            set_(self, "percent", to_rate(self.percent, f"{what}: percent", SpiffError))
        if self.cap is not None:
            set_(self, "cap", _positive_money(self.cap, f"{what}: cap"))
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise TypeError(f"{what}: version must be an int")

    def covers(self, line: SaleLine) -> bool:
        """True when the line earns this SPIFF version: in its days, product OR category, and team."""
        if not self.first_day <= line.date <= self.last_day:
            return False
        if line.sku not in self.products and line.category not in self.categories:
            return False
        return self.teams is None or line.team in self.teams


@dataclasses.dataclass(frozen=True, slots=True)
class SpiffResult:
    """One (sale, SPIFF, holder) reward and how it was reached.

    `whole` is the sale's whole per-unit reward before it was allocated among the holders (None
    for a percent SPIFF); `exact` the holder's figure before rounding (percent) or allocation
    (per unit: whole x share / 100); `uncapped` the reward before the cap; `cap_left` the cap room
    before this line (None: no cap); `reward` what the line earns.
    """

    spiff: Spiff
    reward: Decimal
    uncapped: Decimal
    exact: Decimal
    whole: Decimal | None
    cap_left: Decimal | None

    @property
    def name(self) -> str:
        """The SPIFF's name (shared by its versions)."""
        return self.spiff.name

    @property
    def capped(self) -> bool:
        """True when the cap cut the reward ("cap reached" when it is 0.00)."""
        return self.reward < self.uncapped

    @property
    def cap_left_after(self) -> Decimal | None:
        """The cap room left for the month's later lines (None: no cap)."""
        return None if self.cap_left is None else self.cap_left - self.reward


def check_versions(spiffs: Iterable[Spiff]) -> tuple[Spiff, ...]:
    """The SPIFFs as a tuple, refusing two versions of one name that share a day."""
    spiffs = tuple(spiffs)
    by_name: dict[str, list[Spiff]] = {}
    for spiff in spiffs:
        if not isinstance(spiff, Spiff):
            raise TypeError(f"expected Spiff, got {type(spiff).__name__}")
        for other in by_name.setdefault(spiff.name, []):
            if spiff.first_day <= other.last_day and other.first_day <= spiff.last_day:
                raise SpiffError(
                    f"SPIFF {spiff.name!r}: versions {other.version} and {spiff.version} both cover "
                    f"{max(spiff.first_day, other.first_day)}; a sale takes the one version in force"
                )
        by_name[spiff.name].append(spiff)
    return spiffs


def _uncapped(spiff: Spiff, line: SaleLine) -> tuple[Decimal, Decimal, Decimal | None]:
    """(reward before the cap, exact figure, whole per-unit reward or None) of one holder's line."""
    if spiff.per_unit is not None:
        whole = spiff.per_unit * line.quantity
        shares = line.shares or UNSPLIT
        exact = EXACT_CONTEXT.divide(EXACT_CONTEXT.multiply(whole, shares[line.holder]), HUNDRED)
        return allocate(whole, shares)[line.holder], exact, whole
    exact = EXACT_CONTEXT.divide(EXACT_CONTEXT.multiply(line.credited, spiff.percent), HUNDRED)
    return round_money(exact), exact, None


def spiff_rewards(ordered: Sequence[SaleLine], spiffs: tuple[Spiff, ...]) -> list[tuple[SpiffResult, ...]]:
    """Every line's SPIFF rewards (lines in allocation order, one holder's month), capped in that order."""
    paid: dict[str, Decimal] = {}
    out = []
    for line in ordered:
        results = []
        for spiff in spiffs:
            if not spiff.covers(line):
                continue
            uncapped, exact, whole = _uncapped(spiff, line)
            so_far = paid.get(spiff.name, ZERO_MONEY)
            left = None if spiff.cap is None else max(spiff.cap - so_far, ZERO_MONEY)
            reward = uncapped if left is None else min(uncapped, left)
            paid[spiff.name] = so_far + reward
            results.append(SpiffResult(spiff, reward, uncapped, exact, whole, left))
        out.append(tuple(results))
    return out
