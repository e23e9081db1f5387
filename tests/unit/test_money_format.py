"""format_money: the cents shortcut writes exactly what babel writes, for every currency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_currency, list_currencies
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.money import MAX_CENTS, _cents_layout, format_money

CURRENCIES = sorted(list_currencies())  # what CURRENCY accepts (webapp/config.py)


def babel(cents: int, currency: str) -> str:
    """The reference: babel on the amount as a Decimal."""
    return format_currency(Decimal(cents) / 100, currency, locale="en_US")


@settings(max_examples=400, deadline=None)
@given(cents=st.one_of(st.integers(-MAX_CENTS, MAX_CENTS), st.integers(-1000, 1000)),
       currency=st.sampled_from(CURRENCIES))
def test_cents_are_shown_as_babel_shows_them(cents, currency):
    assert format_money(cents, currency) == babel(cents, currency)


@pytest.mark.parametrize("currency", CURRENCIES)
def test_every_currency_agrees_on_edge_amounts(currency):
    for cents in (0, 1, -1, 5, 99, 100, -100, 101, 99_999, 100_000, 123_456_789, -123_456_789, MAX_CENTS, -MAX_CENTS):
        assert format_money(cents, currency) == babel(cents, currency), (currency, cents)


def test_the_shortcut_serves_two_decimal_currencies_and_leaves_the_others_to_babel():
    assert _cents_layout("USD", "en_US") == ("$", "-$")
    assert _cents_layout("EUR", "en_US") == ("€", "-€")
    # No cents to show (JPY) or three decimals (BHD): babel rounds and pads as it always did.
    assert _cents_layout("JPY", "en_US") is None and format_money(123_456, "JPY") == "¥1,235"
    assert _cents_layout("BHD", "en_US") is None and format_money(123_456, "BHD") == "BHD1,234.560"


def test_decimals_and_whole_units_still_go_through_babel():
    assert format_money(Decimal("1234.565"), "USD") == format_currency(Decimal("1234.565"), "USD", locale="en_US")
    assert format_money(1234, "USD", cents=False) == "$1,234.00"
    assert format_money(None, "USD") == "—"
