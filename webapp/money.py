"""Money and rates: parsing user input, integer storage units, and display.

Money is stored as integer cents; rates as integer ten-thousandths of a percent (3% = 30000), so
nothing is ever a float and SQLite stores exact integers. In Python both are Decimal, always
built from `str` (Decimal(0.1) would carry the float's binary error into the ledger).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import cache

from babel.numbers import format_currency, format_decimal, get_currency_precision

CENT = Decimal("0.01")
RATE_UNITS_PER_PERCENT = 10_000
MAX_CENTS = 10**13  # 100 billion in currency units: far above any real sale, far below BIGINT

# Plain decimal notation only: no sign, no exponent, no thousands separators, no NaN/Infinity.
_PLAIN_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")


class MoneyError(ValueError):
    """User input that is not an acceptable amount or rate; the message is for the user."""


def _plain_decimal(text: str | None, what: str) -> Decimal:
    """Parse a plain, non-negative decimal string or raise MoneyError."""
    if text is None or not str(text).strip():
        raise MoneyError(f"Enter {what}.")
    text = str(text).strip()
    if text.startswith("-"):
        raise MoneyError(f"Enter {what} that is not negative.")
    if not _PLAIN_DECIMAL.match(text):
        raise MoneyError(f"Enter {what} as a plain number, like 1250.50.")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # unreachable after the pattern, kept as a guard
        raise MoneyError(f"Enter {what} as a plain number.") from exc


def parse_money(text: str | None, *, what: str = "an amount", allow_zero: bool = False) -> Decimal:
    """Parse user input into a Decimal amount with at most two decimals."""
    value = _plain_decimal(text, what)
    if value.as_tuple().exponent < -2:
        raise MoneyError("Use at most two decimals.")
    if value == 0 and not allow_zero:
        raise MoneyError("Enter an amount greater than zero.")
    if value * 100 >= MAX_CENTS:
        raise MoneyError("This amount is too large.")
    return value.quantize(CENT)


def parse_signed_money(text: str | None, *, what: str = "an amount") -> Decimal:
    """Parse a signed, non-zero amount such as "-25.00" (a deduction) with at most two decimals."""
    if text is None or not str(text).strip():
        raise MoneyError(f"Enter {what}.")
    text = str(text).strip()
    negative = text[0] == "-"
    digits = text[1:] if text[0] in "+-" else text
    # The sign must touch the number: "- 25" or "--25" is a typo, not an amount.
    if not _PLAIN_DECIMAL.match(digits):
        raise MoneyError(f"Enter {what} as a plain number, like -25.00 or 120.50.")
    value = parse_money(digits, what=what, allow_zero=True)
    if value == 0:
        raise MoneyError("Enter an amount other than zero.")
    return -value if negative else value


def parse_rate(text: str | None, *, what: str = "a rate") -> Decimal:
    """Parse a percentage between 0 and 100 with at most four decimals."""
    value = _plain_decimal(text, what)
    if value.as_tuple().exponent < -4:
        raise MoneyError("Use at most four decimals.")
    if value > 100:
        raise MoneyError("A rate is at most 100%.")
    return value


def parse_percent(text: str | None, *, what: str = "a percent", limit: Decimal | None = None) -> Decimal:
    """Parse a percent >= 0 with at most four decimals and no 100% ceiling (150% of a target is valid)."""
    value = _plain_decimal(text, what)
    if value.as_tuple().exponent < -4:
        raise MoneyError("Use at most four decimals.")
    if limit is not None and value > limit:
        raise MoneyError(f"Enter at most {limit:,}%.")
    return value


def to_cents(amount: Decimal) -> int:
    """Decimal currency units to integer cents (exact; two decimals at most)."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} has more than two decimals")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    """Integer cents to a Decimal with two places."""
    return (Decimal(int(cents)) / 100).quantize(CENT)


def rate_to_units(rate: Decimal) -> int:
    """Percent (Decimal) to stored ten-thousandths of a percent."""
    units = rate * RATE_UNITS_PER_PERCENT
    if units != units.to_integral_value():
        raise ValueError(f"{rate} has more than four decimals")
    return int(units)


def units_to_rate(units: int) -> Decimal:
    """Stored ten-thousandths of a percent to a percent Decimal (trailing zeros dropped)."""
    rate = Decimal(int(units)) / RATE_UNITS_PER_PERCENT
    return rate.quantize(Decimal(1)) if rate == rate.to_integral_value() else rate.normalize()


def format_money(value: int | Decimal | None, currency: str, *, cents: bool = True,
                 locale: str = "en_US") -> str:
    """Display an amount in the installation's currency (ints are cents unless cents=False)."""
    if value is None:
        return "—"
    if cents and type(value) is int and (layout := _cents_layout(currency, locale)) is not None:
        whole, part = divmod(abs(value), 100)
        return f"{layout[value < 0]}{whole:,}.{part:02d}"
    amount = from_cents(value) if (cents and isinstance(value, int)) else Decimal(value)
    return format_currency(amount, currency, locale=locale)


@cache
def _cents_layout(currency: str, locale: str) -> tuple[str, str] | None:
    """(prefix, negative prefix) when babel writes whole cents of `currency` in `locale` as a prefix
    and the digits grouped by threes with "," then "." and two decimals, as for USD in en_US; None
    otherwise (babel formats every amount). Read from babel's own output, so both always agree:
    babel's pattern machinery took about 60 us a call, and a team dashboard shows thousands."""
    if get_currency_precision(currency) != 2:
        return None
    digits = "1,234,567.89"
    shown = [format_currency(Decimal(text), currency, locale=locale) for text in ("1234567.89", "-1234567.89")]
    if not all(text.endswith(digits) for text in shown):
        return None
    prefix, negative = (text[:-len(digits)] for text in shown)
    if any(char.isdigit() for char in prefix + negative):
        return None
    return prefix, negative


def format_rate(value: int | Decimal | None, *, units: bool = True, locale: str = "en_US") -> str:
    """Display a rate as a percentage, e.g. 30000 units -> '3%' and 21250 -> '2.125%'."""
    if value is None:
        return "—"
    rate = units_to_rate(value) if (units and isinstance(value, int)) else Decimal(value)
    return format_decimal(rate, format="#,##0.####", locale=locale) + "%"


def init_app(app) -> None:
    """Register the `money` and `rate` Jinja filters bound to the installation's currency."""
    currency = app.config["CURRENCY"]
    app.jinja_env.filters["money"] = lambda value, cents=True: format_money(value, currency, cents=cents)
    app.jinja_env.filters["rate"] = lambda value, units=True: format_rate(value, units=units)
