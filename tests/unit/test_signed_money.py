"""parse_signed_money: the signed amounts of manual adjustments ("-25.00" deducts)."""

from decimal import Decimal

import pytest

from webapp.money import MoneyError, parse_signed_money


@pytest.mark.parametrize("text, expected", [
    ("-25.00", Decimal("-25.00")),
    ("-25", Decimal("-25.00")),
    ("+12.5", Decimal("12.50")),
    ("120.50", Decimal("120.50")),
    ("  -0.01 ", Decimal("-0.01")),
    ("99999999999.99", Decimal("99999999999.99")),
])
def test_signed_amounts_are_parsed_with_two_places(text, expected):
    value = parse_signed_money(text)
    assert value == expected and value.as_tuple().exponent == -2


@pytest.mark.parametrize("text, says", [
    ("", "Enter an amount"),
    (None, "Enter an amount"),
    ("0", "other than zero"),
    ("-0.00", "other than zero"),
    ("+0", "other than zero"),
    ("-12.345", "at most two decimals"),
    ("1.234", "at most two decimals"),
    ("- 25", "plain number"),
    ("--25", "plain number"),
    ("-", "plain number"),
    ("25-", "plain number"),
    ("-1e3", "plain number"),
    ("-NaN", "plain number"),
    ("-Infinity", "plain number"),
    ("-1,000.00", "plain number"),
    ("−25", "plain number"),  # a typographic minus is not taken for a sign silently
    ("-100000000000", "too large"),
])
def test_bad_signed_amounts_are_refused_with_a_message(text, says):
    with pytest.raises(MoneyError) as info:
        parse_signed_money(text)
    assert says in str(info.value)
