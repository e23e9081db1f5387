"""The commission engine's numbers and errors: money and rates as exact Decimals, one rounding rule.

Pure (standard library only), like every engine module. Split from engine_types.py so the types
stay small; engine_types.py and engine.py re-export every name here.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
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


class SplitError(EngineError):
    """Shares that break COMMISSION_RULES.md section 8 (count, range, decimals, sum of 100)."""


class SpiffError(EngineError):
    """A SPIFF that breaks COMMISSION_RULES.md section 10."""


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


def decimal_places(number: Decimal) -> int:
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


def _non_negative(value: Any, what: str, error: type[EngineError], places: int) -> Decimal:
    """A number >= 0 with at most `places` (2 or 4) decimals, as exactly that many places."""
    number = as_decimal(value, what, error)
    if number < 0:
        raise error(f"{what} must not be negative, got {value}")
    if decimal_places(number) > places:
        raise error(f"{what} has more than {'two' if places == 2 else 'four'} decimals: {value}")
    # abs() turns -0 into 0, so no "-0.00" ever reaches a statement.
    return abs(number).quantize(CENT if places == 2 else RATE_QUANTUM, context=EXACT_CONTEXT)


def to_money(value: Any, what: str, error: type[EngineError]) -> Decimal:
    """A non-negative amount with at most two decimals, as exactly two places."""
    # The ledger builds every line from cents (exactly two places, never -0.00): that value is
    # already what the checks below return, and a month recompute builds tens of thousands.
    if type(value) is Decimal and value.as_tuple().exponent == -2 and not value.is_signed():
        return value
    return _non_negative(value, what, error, 2)


def to_rate(value: Any, what: str, error: type[EngineError] = PlanError) -> Decimal:
    """A percentage 0..100 with at most four decimals, as exactly four places."""
    number = as_decimal(value, what, error)
    if not 0 <= number <= 100:
        raise error(f"{what} must be between 0 and 100 percent, got {value}")
    if decimal_places(number) > 4:
        raise error(f"{what} has more than four decimals: {value}")
    return abs(number).quantize(RATE_QUANTUM, context=EXACT_CONTEXT)


def to_percent(value: Any, what: str, error: type[EngineError]) -> Decimal:
    """A percent >= 0 with at most four decimals and no upper limit (an attainment bracket's from)."""
    return _non_negative(value, what, error, 4)


def round_down_money(value: Decimal) -> Decimal:
    """Round an exact non-negative amount DOWN to the cent: the allocation rule of split credit only."""
    # Not a commission figure: section 8 allocates money among holders; half-up stays the one
    # rounding of commissions and rewards (round_money).
    return value.quantize(CENT, ROUND_DOWN, EXACT_CONTEXT)


def check_target(target: Any) -> Decimal | None:
    """A month's target as money >= 0.01, or None for "no target"."""
    if target is None:
        return None
    amount = to_money(target, "target", EngineError)
    if amount < CENT:
        raise EngineError(f"a target is at least 0.01, got {target}")
    return amount
