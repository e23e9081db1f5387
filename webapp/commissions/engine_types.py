"""The commission engine's vocabulary: its numbers, errors, plans, sale lines and results.

Pure, like the engine (engine.py) that computes with them: no app imports, no I/O, no floats.
Every value is validated and normalised when it is built, so the allocation never checks again:

- Amounts are money: `Decimal`, >= 0, at most two decimals, normalised to exactly two places.
- Rates are percentages: `Decimal`, 0..100, at most four decimals, normalised to four places.
- A plan is a base rate XOR a tier table (COMMISSION_RULES.md section 2), plus optional category
  and product rates; a tier table's brackets start at amounts or at percents of the month's
  target (its `basis`, section 9).
- A sale line carries its sale's holders' shares (section 8) and which holder it is for; its
  `credited` amount is that holder's part of the sale's amount.

The results (LineResult and the derivation it carries) are in engine_results.py; numbers and
errors in engine_numbers.py; split credit in engine_credit.py; SPIFFs in engine_spiffs.py.

Callers import these names from `webapp.commissions.engine`, which re-exports them.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any

from webapp.commissions.engine_credit import UNSPLIT, allocate, normalise_shares
from webapp.commissions.engine_numbers import (CENT, EXACT_CONTEXT, HUNDRED, RATE_QUANTUM, ROUNDING, ZERO_MONEY,
                                               ZERO_RATE, EngineError, MonthError, PlanError, SaleLineError,
                                               SpiffError, SplitError, as_decimal, round_money, to_money,
                                               to_percent, to_rate)

__all__ = [
    "CENT", "EXACT_CONTEXT", "HUNDRED", "RATE_QUANTUM", "ROUNDING", "ZERO_MONEY", "ZERO_RATE",
    "EngineError", "MonthError", "PlanError", "SaleLineError", "SpiffError", "SplitError",
    "as_decimal", "round_money", "Bracket", "PercentBracket", "Plan", "RateSource", "SaleLine",
    "TierBasis", "TierMode",
]

Edges = tuple[tuple[Decimal, Decimal | None, Decimal], ...]


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


class TierBasis(StrEnum):
    """What a tier table's `from` values are: amounts of volume, or percents of the month's target."""

    AMOUNT = "amount"
    TARGET_PERCENT = "target_percent"


def _rate_table(value: Any, what: str) -> tuple[tuple[str, Decimal], ...]:
    """Normalise {key: rate} (or (key, rate) pairs) into sorted, hashable pairs."""
    pairs = value.items() if isinstance(value, Mapping) else value
    table: dict[str, Decimal] = {}
    for key, rate in pairs:
        if not isinstance(key, str):
            raise TypeError(f"{what} keys must be str, got {key!r}")
        if key in table:
            raise PlanError(f"{what} lists {key!r} twice")
        table[key] = to_rate(rate, f"{what}[{key!r}]")
    return tuple(sorted(table.items()))


@dataclasses.dataclass(frozen=True, slots=True)
class Bracket:
    """One row of an amount tier table: from `from_amount` of monthly volume on, `rate` percent."""

    from_amount: Decimal
    rate: Decimal

    # A class attribute, not a field: PercentBracket's start is a percent of the target instead.
    _of_target = False

    def __post_init__(self) -> None:
        """Validate and normalise both numbers."""
        if self._of_target:
            start = to_percent(self.from_amount, "bracket from percent", PlanError)
        else:
            start = to_money(self.from_amount, "bracket from_amount", PlanError)
        object.__setattr__(self, "from_amount", start)
        object.__setattr__(self, "rate", to_rate(self.rate, "bracket rate"))

    @property
    def start(self) -> Decimal:
        """Where the bracket starts, in the table's own unit (an amount, or a percent of the target)."""
        return self.from_amount


@dataclasses.dataclass(frozen=True, slots=True)
class PercentBracket(Bracket):
    """One row of a target_percent table: from `from_percent` of the month's target on, `rate` percent.

    Built like a Bracket, PercentBracket(from_percent, rate); the start is a percent >= 0 with at
    most four decimals and no upper limit (150% is an accelerator), read as `from_percent`.
    """

    _of_target = True

    @property
    def from_percent(self) -> Decimal:
        """The percent of the month's target this bracket starts at."""
        return self.from_amount


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """A commission plan: a base rate XOR a tier table, plus optional category and product rates.

    `category_rates` and `product_rates` accept a mapping or (key, rate) pairs and are stored as
    sorted pairs so the plan stays hashable; `tiers` accepts Brackets (PercentBrackets for a
    `target_percent` basis) or (from, rate) pairs. `basis` defaults to `amount` for a tier table
    and must stay None for a base rate.
    """

    base_rate: Decimal | None = None
    tiers: tuple[Bracket | PercentBracket, ...] = ()
    tier_mode: TierMode | None = None
    category_rates: tuple[tuple[str, Decimal], ...] = ()
    product_rates: tuple[tuple[str, Decimal], ...] = ()
    basis: TierBasis | None = None
    _categories: dict[str, Decimal] = dataclasses.field(init=False, repr=False, compare=False)
    _products: dict[str, Decimal] = dataclasses.field(init=False, repr=False, compare=False)
    # (from, next from or None, rate) per bracket, so allocation never looks ahead in the table;
    # empty for a target_percent table, whose amounts depend on the month (edges_for).
    _edges: Edges = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Validate the plan (raising PlanError) and normalise every number in it."""
        set_ = object.__setattr__
        if self.base_rate is not None:
            set_(self, "base_rate", to_rate(self.base_rate, "base rate"))
        rows = self.tiers or ()
        set_(self, "basis", self._basis(bool(rows)))
        kind = PercentBracket if self.basis is TierBasis.TARGET_PERCENT else Bracket
        tiers = tuple(self._bracket(kind, i, b) for i, b in enumerate(rows))
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
        edges = _edges([b.start for b in tiers], tiers) if kind is Bracket else ()
        set_(self, "_edges", edges)

    def _basis(self, has_tiers: bool) -> TierBasis | None:
        """The table's basis: `amount` unless told otherwise; a base-rate plan has none."""
        if not has_tiers:
            if self.basis is not None:
                raise PlanError("a basis applies only to a tier table, not to a base rate")
            return None
        try:
            return TierBasis(self.basis or TierBasis.AMOUNT)
        except ValueError:
            raise PlanError(f"basis must be 'amount' or 'target_percent', got {self.basis!r}") from None

    @staticmethod
    def _bracket(kind: type, index: int, row: Any) -> Bracket | PercentBracket:
        """Build bracket number `index` (1-based in messages) of the basis' kind from a (from, rate) pair."""
        if isinstance(row, Bracket):
            if type(row) is not kind:
                raise PlanError(f"bracket {index + 1} is a {type(row).__name__}; this table needs {kind.__name__}s")
            return row
        if isinstance(row, (str, bytes)) or not isinstance(row, Iterable):
            raise PlanError(f"bracket {index + 1} must be a (from_amount, rate) pair, got {row!r}")
        items = tuple(row)
        if len(items) != 2:
            raise PlanError(f"bracket {index + 1} must be a (from_amount, rate) pair, got {row!r}")
        try:
            return kind(items[0], items[1])
        except PlanError as exc:
            raise PlanError(f"bracket {index + 1}: {exc}") from None

    @staticmethod
    def _check_brackets(tiers: tuple[Bracket | PercentBracket, ...]) -> None:
        """Brackets ascend strictly from 0: the first starts at 0, no two share a start."""
        if tiers[0].start != 0:
            raise PlanError(f"the first bracket must start at 0, not {tiers[0].start}")
        for number, (before, after) in enumerate(zip(tiers, tiers[1:]), start=2):
            if after.start == before.start:
                raise PlanError(
                    f"brackets {number - 1} and {number} both start at {after.start}; "
                    "each bracket needs its own starting amount"
                )
            if after.start < before.start:
                raise PlanError(
                    f"brackets must be in ascending order: bracket {number} starts at "
                    f"{after.start}, below bracket {number - 1} at {before.start}"
                )

    def override_for(self, sku: str | None, category: str | None) -> tuple[Decimal, RateSource] | None:
        """The product or category rate for a line, product first; None when the plan's own applies."""
        if sku is not None and sku in self._products:
            return self._products[sku], RateSource.PRODUCT
        if category is not None and category in self._categories:
            return self._categories[category], RateSource.CATEGORY
        return None

    def thresholds(self, target: Decimal) -> tuple[Decimal, ...]:
        """A target_percent table's bracket starts as amounts: target x from% / 100, half-up to the cent."""
        multiply = EXACT_CONTEXT.multiply
        return tuple(round_money(multiply(target, b.start) / HUNDRED) for b in self.tiers)

    def edges_for(self, target: Decimal | None) -> Edges | None:
        """The table as (from, next from, rate) amounts for a month with `target`; None: no target."""
        if self.basis is not TierBasis.TARGET_PERCENT:
            return self._edges
        if target is None:
            return None
        return _edges(list(self.thresholds(target)), self.tiers)


def _edges(starts: list[Decimal], tiers: tuple[Bracket | PercentBracket, ...]) -> Edges:
    """(from, next from or None, rate) per bracket, from the brackets' starts as amounts."""
    uppers: list[Decimal | None] = [*starts[1:], None]
    return tuple((start, upper, b.rate) for start, upper, b in zip(starts, uppers, tiers))


@dataclasses.dataclass(frozen=True, slots=True)
class SaleLine:
    """One approved (or would-be approved) sale as the engine sees it, for one of its holders.

    `plan` is the plan in force on `date` for this holder (None: no plan, earns 0). `id` is None
    only for a sale being typed, which exists just for `estimate_line`. `shares` are every
    holder's share, primary first (empty: one holder with 100%), `holder` the index of the holder
    this line is for, and `credited` (computed) that holder's part of `amount`. `quantity` is the
    sale's whole quantity (never split) and `team` the holder's team, both for SPIFFs only.
    """

    id: int | None
    date: datetime.date
    amount: Decimal
    sku: str | None = None
    category: str | None = None
    plan: Plan | None = None
    quantity: int = 1
    shares: tuple[Decimal, ...] = ()
    holder: int = 0
    team: str | None = None
    credited: Decimal = dataclasses.field(init=False, compare=False)

    def __post_init__(self) -> None:
        """Validate the line (TypeError for wrong types, SaleLineError for bad values)."""
        if self.id is not None and (isinstance(self.id, bool) or not isinstance(self.id, int)):
            raise TypeError(f"sale id must be an int, got {self.id!r}")
        # datetime is a date subclass; sold_on is a plain date and a time would hide a timezone bug.
        if isinstance(self.date, datetime.datetime) or not isinstance(self.date, datetime.date):
            raise TypeError(f"sale {self.id}: date must be a datetime.date, not {self.date!r}")
        for name in ("sku", "category", "team"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise TypeError(f"sale {self.id}: {name} must be a str or None")
        if self.plan is not None and not isinstance(self.plan, Plan):
            raise TypeError(f"sale {self.id}: plan must be a Plan or None, got {type(self.plan).__name__}")
        amount = to_money(self.amount, f"sale {self.id}: amount", SaleLineError)
        object.__setattr__(self, "amount", amount)
        if self.quantity != 1 or self.shares or self.holder != 0:
            self._check_split()
            object.__setattr__(self, "credited", allocate(amount, self.shares)[self.holder])
        else:
            object.__setattr__(self, "credited", amount)

    def _check_split(self) -> None:
        """Validate quantity, shares and holder of a line that uses them (normalising the shares)."""
        for name in ("quantity", "holder"):
            if isinstance(getattr(self, name), bool) or not isinstance(getattr(self, name), int):
                raise TypeError(f"sale {self.id}: {name} must be an int, got {getattr(self, name)!r}")
        if self.quantity < 1:
            raise SaleLineError(f"sale {self.id}: quantity must be a whole number >= 1, got {self.quantity}")
        try:
            shares = normalise_shares(self.shares) if self.shares else UNSPLIT
        except SplitError as exc:
            raise SplitError(f"sale {self.id}: {exc}") from None
        object.__setattr__(self, "shares", shares if self.shares else ())
        if not 0 <= self.holder < len(shares):
            raise SplitError(f"sale {self.id}: holder {self.holder} is not one of its {len(shares)} holders")

    @property
    def share(self) -> Decimal:
        """This holder's share in percent (100 for an unsplit sale)."""
        return self.shares[self.holder] if self.shares else UNSPLIT[0]

    @property
    def primary(self) -> bool:
        """True for the primary holder (the agent the sale is recorded for)."""
        return self.holder == 0
