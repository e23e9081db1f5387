"""The commission engine: one agent's approved sales of one calendar month in, Decimals out.

Pure: frozen dataclasses in, `LineResult`s out; no app imports, no I/O, no floats. The rules are
COMMISSION_RULES.md (sections 2-4); the golden cases are commission_cases.json.

Definitions used throughout:

- Amounts are money: `Decimal`, >= 0, at most two decimals, normalised to exactly two places.
- Rates are percentages: `Decimal`, 0..100, at most four decimals, normalised to four places.
- Allocation order is (date, id). A line whose id is None (a sale being typed, not saved yet)
  sorts after every saved line of the same date, because the id it will get is larger than
  every existing id.
- Tier volume is the cumulative amount of ALL lines of the month in allocation order: override
  lines and lines with no plan add volume too ("all lines counted").
- A line's commission is the sum of (portion amount x rate / 100) over its portions, computed
  exactly, then rounded ROUND_HALF_UP to the cent once (`round_money`).
- A line's effective rate (`LineResult.rate`) is the amount-weighted mean of its portions'
  rates, i.e. unrounded commission / amount x 100, rounded ROUND_HALF_UP to four decimals. For
  an unsplit line that is exactly the one rate applied; for a zero amount it is the rate its
  single zero portion would have earned; for a line with no plan it is 0.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
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
_CONTEXT = Context(prec=60, rounding=ROUNDING, traps=[InvalidOperation, DivisionByZero, Overflow])


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
    return value.quantize(CENT, ROUNDING, _CONTEXT)


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
    return abs(number).quantize(CENT, context=_CONTEXT)


def _rate(value: Any, what: str) -> Decimal:
    """A percentage 0..100 with at most four decimals, as exactly four places."""
    number = as_decimal(value, what, PlanError)
    if not 0 <= number <= 100:
        raise PlanError(f"{what} must be between 0 and 100 percent, got {value}")
    if _decimal_places(number) > 4:
        raise PlanError(f"{what} has more than four decimals: {value}")
    return abs(number).quantize(RATE_QUANTUM, context=_CONTEXT)


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


def _rate_at(edges: tuple[tuple[Decimal, Decimal | None, Decimal], ...], volume: Decimal) -> Decimal:
    """The rate of the bracket that `volume` has reached; brackets are half-open [from, next)."""
    rate = edges[0][2]
    for lower, _, bracket_rate in edges:
        if lower > volume:
            break
        rate = bracket_rate
    return rate


def _split(
    edges: tuple[tuple[Decimal, Decimal | None, Decimal], ...], first: int, start: Decimal, end: Decimal
) -> tuple[Portion, ...]:
    """Split the volume interval [start, end) over the brackets from index `first` on."""
    portions = []
    for lower, upper, rate in edges[first:]:
        if lower >= end:
            break
        top = end if upper is None or upper > end else upper
        portions.append(Portion(top - (start if start > lower else lower), rate))
    return tuple(portions)


def _sort_key(line: SaleLine) -> tuple[datetime.date, bool, int]:
    """Allocation order: date, then id; an unsaved line (id None) after its date's saved ones."""
    return (line.date, line.id is None, line.id or 0)


def _ordered(lines: Iterable[SaleLine], unsaved_allowed: int) -> list[SaleLine]:
    """Check that the lines make one agent-month and return them in allocation order."""
    lines = list(lines)
    seen: set[int] = set()
    unsaved = 0
    month = None
    for line in lines:
        if not isinstance(line, SaleLine):
            raise TypeError(f"expected SaleLine, got {type(line).__name__}")
        if month is None:
            month = line.date
        elif line.date.month != month.month or line.date.year != month.year:
            raise MonthError(
                f"lines span more than one calendar month ({month:%Y-%m} and {line.date:%Y-%m}); "
                "tier volume is per calendar month"
            )
        if line.id is None:
            unsaved += 1
        elif line.id in seen:
            raise MonthError(f"sale {line.id} appears twice in the month")
        else:
            seen.add(line.id)
    if unsaved > unsaved_allowed:
        raise MonthError("every line needs a sale id (only the candidate of an estimate may lack one)")
    lines.sort(key=_sort_key)
    return lines


def _split_result(line: SaleLine, portions: tuple[Portion, ...]) -> LineResult:
    """A line split across brackets: sum the portions exactly, round once, weigh the rate."""
    weighted = sum([p.amount * p.rate for p in portions], Decimal(0))
    # At 60 digits the quotient cannot land on a false half-unit tie, so one quantize is exact.
    rate = (weighted / line.amount).quantize(RATE_QUANTUM, ROUNDING)
    return LineResult(line.id, round_money(weighted / HUNDRED), rate, portions, RateSource.PLAN)


def _allocate(ordered: list[SaleLine]) -> list[LineResult]:
    """Compute every line of an ordered agent-month in one pass; results in the same order."""
    plan_rate, marginal, no_plan = RateSource.PLAN, TierMode.MARGINAL, RateSource.NO_PLAN
    with localcontext(_CONTEXT):
        total = sum([line.amount for line in ordered], Decimal(0))
        # Per plan (keyed by id(), plans being immutable): the retroactive rate the month's total
        # reached, and the marginal bracket the running volume is in. Volume only grows, so a
        # bracket cursor never moves back, and a line inside one bracket needs no split.
        reached: dict[int, Decimal] = {}
        cursor: dict[int, int] = {}
        results = []
        volume = Decimal(0)
        for line in ordered:
            plan = line.plan
            amount = line.amount
            if plan is None:
                results.append(LineResult(line.id, ZERO_MONEY, ZERO_RATE, (), no_plan))
                volume += amount  # "all lines counted": a line with no plan still adds volume
                continue
            source = plan_rate
            override = plan.override_for(line.sku, line.category)
            if override is not None:
                rate, source = override
            elif plan.base_rate is not None:
                rate = plan.base_rate
            elif plan.tier_mode is marginal:
                edges = plan._edges
                index = cursor.get(id(plan), 0)
                while index + 1 < len(edges) and edges[index + 1][0] <= volume:
                    index += 1
                cursor[id(plan)] = index
                upper = edges[index][1]
                rate = edges[index][2]
                if upper is not None and volume + amount > upper:
                    results.append(_split_result(line, _split(edges, index, volume, volume + amount)))
                    volume += amount
                    continue
            else:
                rate = reached.get(id(plan))
                if rate is None:
                    rate = reached[id(plan)] = _rate_at(plan._edges, total)
            commission = round_money(amount * rate / HUNDRED)
            results.append(LineResult(line.id, commission, rate, (Portion(amount, rate),), source))
            # Override lines add volume too: they keep their rate but count toward the tiers.
            volume += amount
        return results


def compute_month(lines: Iterable[SaleLine]) -> dict[int, LineResult]:
    """Commission of every line of one agent's approved sales in one calendar month, by sale id.

    The dict is in allocation order (date, id). Raises MonthError for mixed months, duplicate
    ids or a line without an id.
    """
    ordered = _ordered(lines, unsaved_allowed=0)
    return {result.sale_id: result for result in _allocate(ordered)}


def month_total(results: Mapping[Any, LineResult] | Iterable[LineResult]) -> Decimal:
    """Sum of rounded line commissions (totals are sums of rounded lines, never re-rounded)."""
    values = results.values() if isinstance(results, Mapping) else results
    return sum((r.commission for r in values), ZERO_MONEY)


def estimate_line(approved_lines: Iterable[SaleLine], candidate: SaleLine) -> LineResult:
    """What `candidate` would earn if approved now, placed at its (date, id) among the month's lines.

    A candidate with id None (a sale being typed) goes after every approved line of its date, as
    if entered now. A candidate whose id is already among `approved_lines` replaces that line
    (the estimate of an edited sale).
    """
    if not isinstance(candidate, SaleLine):
        raise TypeError(f"candidate must be a SaleLine, got {type(candidate).__name__}")
    others = [line for line in approved_lines if candidate.id is None or line.id != candidate.id]
    ordered = _ordered(others + [candidate], unsaved_allowed=1 if candidate.id is None else 0)
    results = _allocate(ordered)
    for line, result in zip(ordered, results):
        if line is candidate:
            return result
    raise AssertionError("the candidate is always among the ordered lines")  # pragma: no cover


def pending_total(approved_lines: Iterable[SaleLine], pending_lines: Iterable[SaleLine]) -> Decimal:
    """What approving every pending line would add to the month: engine(all) - engine(approved)."""
    approved = list(approved_lines)
    with_pending = compute_month(approved + list(pending_lines))
    return month_total(with_pending) - month_total(compute_month(approved))
