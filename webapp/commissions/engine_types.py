"""The commission engine's vocabulary: its numbers, errors, plans, sale lines and results.

Pure, like the engine (engine.py) that computes with them: no app imports, no I/O, no floats.
Every value is validated and normalised when it is built, so the allocation never checks again:

- Amounts are money: `Decimal`, >= 0, at most two decimals, normalised to exactly two places.
- Rates are percentages: `Decimal`, 0..100, at most four decimals, normalised to four places.
- A plan is a base rate XOR a tier table (COMMISSION_RULES.md section 2), plus optional category
  and product rates.

Callers import these names from `webapp.commissions.engine`, which re-exports them.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from enum import StrEnum
from typing import Any

# The one rounding rule of the product (DESIGN.md, "Money"): half-up, once per sale line.
ROUNDING = ROUND_HALF_UP
CENT = Decimal("0.01")
RATE_QUANTUM = Decimal("0.0001")
HUNDRED = Decimal(100)
ZERO_MONEY = Decimal("0.00")
ZERO_RATE = Decimal("0.0000")

# Products of amounts (2 places) and rates (4 places) stay exact at 60 digits for any amount a
# BIGINT of cents can hold, so no intermediate is ever rounded whatever context the caller set.
EXACT_CONTEXT = Context(prec=60, rounding=ROUNDING, traps=[InvalidOperation, DivisionByZero, Overflow])


class EngineError(ValueError):
    """Bad input to the commission engine."""


class PlanError(EngineError):
    """A plan that breaks the rules of COMMISSION_RULES.md section 2."""


class SaleLineError(EngineError):
    """A sale line the engine cannot compute (bad amount, id or date)."""


class MonthError(EngineError):
    """A set of lines that is not one agent-month (mixed months, duplicate ids)."""


class TierMode(StrEnum):
    """How a tier table turns volume into a rate."""

    MARGINAL = "marginal"
    RETROACTIVE = "retroactive"


class RateSource(StrEnum):
    """Where a line's rate came from; product > category > plan."""

    PRODUCT = "product"
    CATEGORY = "category"
    PLAN = "plan"
    NO_PLAN = "no_plan"


def round_money(value: Decimal) -> Decimal:
    """Round an exact amount to the cent, half-up: the only money rounding in the engine."""
    # Positional arguments: keyword arguments double the cost of this, the hottest call.
    return value.quantize(CENT, ROUNDING, EXACT_CONTEXT)


def as_decimal(value: Any, what: str, error: type[EngineError] = EngineError) -> Decimal:
    """Turn a Decimal, int or str into a finite Decimal; floats are a TypeError, never converted."""
    # bool is an int subclass; True as an amount is always a bug.
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        if isinstance(value, float):
            raise TypeError(f"{what} is a float ({value!r}); pass a Decimal or a str, floats are inexact")
        raise TypeError(f"{what} must be a Decimal or a str, not {type(value).__name__}")
    if isinstance(value, Decimal):
        number = value
    else:
        try:
            # Decimal(str) is exact and ignores the context's precision: "0.1" stays 0.1.
            number = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise error(f"{what} is not a number: {value!r}") from None
    if not number.is_finite():
        raise error(f"{what} must be a finite number, got {value!r}")
    return number


def _decimal_places(number: Decimal) -> int:
    """How many decimals the value really has (3.10 has one), without rounding anything."""
    _, digits, exponent = number.as_tuple()
    if exponent >= 0 or not any(digits):
        return 0
    places = -exponent
    index = len(digits) - 1
    while places and digits[index] == 0:
        places -= 1
        index -= 1
    return places


def _money(value: Any, what: str, error: type[EngineError]) -> Decimal:
    """A non-negative amount with at most two decimals, as exactly two places."""
    number = as_decimal(value, what, error)
    if number < 0:
        raise error(f"{what} must not be negative, got {value}")
    if _decimal_places(number) > 2:
        raise error(f"{what} has more than two decimals: {value}")
    # abs() turns -0 into 0, so no "-0.00" ever reaches a statement.
    return abs(number).quantize(CENT, context=EXACT_CONTEXT)


def _rate(value: Any, what: str) -> Decimal:
    """A percentage 0..100 with at most four decimals, as exactly four places."""
    number = as_decimal(value, what, PlanError)
    if not 0 <= number <= 100:
        raise PlanError(f"{what} must be between 0 and 100 percent, got {value}")
    if _decimal_places(number) > 4:
        raise PlanError(f"{what} has more than four decimals: {value}")
    return abs(number).quantize(RATE_QUANTUM, context=EXACT_CONTEXT)


def _rate_table(value: Any, what: str) -> tuple[tuple[str, Decimal], ...]:
    """Normalise {key: rate} (or (key, rate) pairs) into sorted, hashable pairs."""
    pairs = value.items() if isinstance(value, Mapping) else value
    table: dict[str, Decimal] = {}
    for key, rate in pairs:
        if not isinstance(key, str):
            raise TypeError(f"{what} keys must be str, got {key!r}")
        if key in table:
            raise PlanError(f"{what} lists {key!r} twice")
        table[key] = _rate(rate, f"{what}[{key!r}]")
    return tuple(sorted(table.items()))


@dataclasses.dataclass(frozen=True, slots=True)
class Bracket:
    """One row of a tier table: from `from_amount` of monthly volume on, `rate` percent."""

    from_amount: Decimal
    rate: Decimal

    def __post_init__(self) -> None:
        """Validate and normalise both numbers."""
        object.__setattr__(self, "from_amount", _money(self.from_amount, "bracket from_amount", PlanError))
        object.__setattr__(self, "rate", _rate(self.rate, "bracket rate"))


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """A commission plan: a base rate XOR a tier table, plus optional category and product rates.

    `category_rates` and `product_rates` accept a mapping or (key, rate) pairs and are stored as
    sorted pairs so the plan stays hashable; `tiers` accepts Brackets or (from_amount, rate) pairs.
    """

    base_rate: Decimal | None = None
    tiers: tuple[Bracket, ...] = ()
    tier_mode: TierMode | None = None
    category_rates: tuple[tuple[str, Decimal], ...] = ()
    product_rates: tuple[tuple[str, Decimal], ...] = ()
    _categories: dict[str, Decimal] = dataclasses.field(init=False, repr=False, compare=False)
    _products: dict[str, Decimal] = dataclasses.field(init=False, repr=False, compare=False)
    # (from, next from or None, rate) per bracket, so allocation never looks ahead in the table.
    _edges: tuple[tuple[Decimal, Decimal | None, Decimal], ...] = dataclasses.field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        """Validate the plan (raising PlanError) and normalise every number in it."""
        set_ = object.__setattr__
        if self.base_rate is not None:
            set_(self, "base_rate", _rate(self.base_rate, "base rate"))
        rows = self.tiers or ()
        tiers = tuple(b if isinstance(b, Bracket) else self._bracket(i, b) for i, b in enumerate(rows))
        set_(self, "tiers", tiers)
        if self.base_rate is not None and tiers:
            raise PlanError("a plan has either a base rate or a tier table, not both")
        if self.base_rate is None and not tiers:
            raise PlanError("a plan needs a base rate or a tier table")
        if tiers:
            if self.tier_mode is None:
                raise PlanError("a tier table needs a tier mode: 'marginal' or 'retroactive'")
            try:
                set_(self, "tier_mode", TierMode(self.tier_mode))
            except ValueError:
                raise PlanError(
                    f"tier mode must be 'marginal' or 'retroactive', got {self.tier_mode!r}"
                ) from None
            self._check_brackets(tiers)
        elif self.tier_mode is not None:
            raise PlanError("a tier mode applies only to a tier table, not to a base rate")
        set_(self, "category_rates", _rate_table(self.category_rates or (), "category rates"))
        set_(self, "product_rates", _rate_table(self.product_rates or (), "product rates"))
        set_(self, "_categories", dict(self.category_rates))
        set_(self, "_products", dict(self.product_rates))
        uppers = [b.from_amount for b in tiers[1:]] + [None]
        set_(self, "_edges", tuple((b.from_amount, upper, b.rate) for b, upper in zip(tiers, uppers)))

    @staticmethod
    def _bracket(index: int, row: Any) -> Bracket:
        """Build bracket number `index` (1-based in messages) from a (from_amount, rate) pair."""
        if isinstance(row, (str, bytes)) or not isinstance(row, Iterable):
            raise PlanError(f"bracket {index + 1} must be a (from_amount, rate) pair, got {row!r}")
        items = tuple(row)
        if len(items) != 2:
            raise PlanError(f"bracket {index + 1} must be a (from_amount, rate) pair, got {row!r}")
        try:
            return Bracket(items[0], items[1])
        except PlanError as exc:
            raise PlanError(f"bracket {index + 1}: {exc}") from None

    @staticmethod
    def _check_brackets(tiers: tuple[Bracket, ...]) -> None:
        """Brackets ascend strictly from 0: the first starts at 0, no two share a start."""
        if tiers[0].from_amount != 0:
            raise PlanError(f"the first bracket must start at 0, not {tiers[0].from_amount}")
        for number, (before, after) in enumerate(zip(tiers, tiers[1:]), start=2):
            if after.from_amount == before.from_amount:
                raise PlanError(
                    f"brackets {number - 1} and {number} both start at {after.from_amount}; "
                    "each bracket needs its own starting amount"
                )
            if after.from_amount < before.from_amount:
                raise PlanError(
                    f"brackets must be in ascending order: bracket {number} starts at "
                    f"{after.from_amount}, below bracket {number - 1} at {before.from_amount}"
                )

    def override_for(self, sku: str | None, category: str | None) -> tuple[Decimal, RateSource] | None:
        """The product or category rate for a line, product first; None when the plan's own applies."""
        if sku is not None and sku in self._products:
            return self._products[sku], RateSource.PRODUCT
        if category is not None and category in self._categories:
            return self._categories[category], RateSource.CATEGORY
        return None


@dataclasses.dataclass(frozen=True, slots=True)
class SaleLine:
    """One approved (or would-be approved) sale as the engine sees it.

    `plan` is the plan in force on `date` (None: no plan, earns 0). `id` is None only for a sale
    being typed, which exists just for `estimate_line`.
    """

    id: int | None
    date: datetime.date
    amount: Decimal
    sku: str | None = None
    category: str | None = None
    plan: Plan | None = None

    def __post_init__(self) -> None:
        """Validate the line (TypeError for wrong types, SaleLineError for bad values)."""
        if self.id is not None and (isinstance(self.id, bool) or not isinstance(self.id, int)):
            raise TypeError(f"sale id must be an int, got {self.id!r}")
        # datetime is a date subclass; sold_on is a plain date and a time would hide a timezone bug.
        if isinstance(self.date, datetime.datetime) or not isinstance(self.date, datetime.date):
            raise TypeError(f"sale {self.id}: date must be a datetime.date, not {self.date!r}")
        for name in ("sku", "category"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise TypeError(f"sale {self.id}: {name} must be a str or None")
        if self.plan is not None and not isinstance(self.plan, Plan):
            raise TypeError(f"sale {self.id}: plan must be a Plan or None, got {type(self.plan).__name__}")
        object.__setattr__(self, "amount", _money(self.amount, f"sale {self.id}: amount", SaleLineError))


@dataclasses.dataclass(frozen=True, slots=True)
class Portion:
    """A part of a line's amount and the rate (percent) it earned."""

    amount: Decimal
    rate: Decimal


@dataclasses.dataclass(frozen=True, slots=True)
class LineResult:
    """What one line earns: commission (2 places), effective rate (4 places), the portions used."""

    sale_id: int | None
    commission: Decimal
    rate: Decimal
    portions: tuple[Portion, ...]
    source: RateSource

    @property
    def no_plan(self) -> bool:
        """True when no plan was in force on the sale's date (it earns 0 and must be flagged)."""
        return self.source is RateSource.NO_PLAN

    @property
    def override(self) -> bool:
        """True when a product or category rate replaced the plan's rate."""
        return self.source in (RateSource.PRODUCT, RateSource.CATEGORY)
