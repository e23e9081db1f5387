"""The shared form fields and id coercions of webapp/formtools.py (no database, no request)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form, SelectChoice, SelectField
from wtforms.validators import InputRequired

from webapp.formtools import (MAX_DB_ID, DecimalTextField, MoneyField, RateField, SignedMoneyField, db_id_or_none,
                              optional_db_id)


class _Fields(Form):
    """Every kind of decimal field, optional, and one required."""

    amount = MoneyField("Amount")
    floor = MoneyField("Floor", allow_zero=True)
    rate = RateField("Rate")
    adjustment = SignedMoneyField("Adjustment")
    price = MoneyField("Price", validators=[InputRequired("Enter the price.")])


def _form(**typed) -> _Fields:
    """The form with `typed` posted (a price unless one is given), validated."""
    form = _Fields(MultiDict({"price": "1", **typed}))
    form.validate()
    return form


def test_typed_text_is_parsed_exactly_to_decimal():
    form = _form(amount="1250.5", floor="0", rate="3.125", adjustment="-12.50")

    assert form.errors == {}
    assert (form.amount.decimal, form.floor.decimal) == (Decimal("1250.50"), Decimal("0.00"))
    assert form.rate.decimal == Decimal("3.125")
    assert (form.adjustment.decimal, form.adjustment.cents) == (Decimal("-12.50"), -1250)


def test_empty_optional_fields_stay_none():
    form = _form(amount="  ", rate="", adjustment="")

    assert form.errors == {}
    assert (form.amount.decimal, form.rate.decimal, form.adjustment.decimal, form.adjustment.cents) == (
        None, None, None, None)


@pytest.mark.parametrize("field, text, says", [
    ("amount", "0", "greater than zero"),
    ("amount", "-5", "not negative"),
    ("amount", "1.234", "two decimals"),
    ("amount", "1e3", "plain number"),
    ("rate", "100.5", "100"),
    ("rate", "1.23456", "four decimals"),
    ("adjustment", "0", "other than zero"),
    ("adjustment", "--5", "plain number"),
])
def test_bad_text_is_an_error_beside_the_field_and_no_value(field, text, says):
    form = _form(**{field: text})

    assert says in " ".join(form.errors[field])
    assert getattr(form, field).decimal is None


def test_a_required_field_left_empty_says_so_once():
    form = _Fields(MultiDict({}))
    form.validate()

    assert form.errors["price"] == ["Enter the price."]


def test_the_base_field_says_what_a_subclass_must_add():
    with pytest.raises(NotImplementedError):
        DecimalTextField().bind(Form(), "value").parse("1")


@pytest.mark.parametrize("value, expected", [
    ("12", 12), (" 7 ", 7), (12, 12), (str(MAX_DB_ID), MAX_DB_ID),
    ("", None), (None, None), ("None", None), ("abc", None), ("-1", None), ("1.0", None), ("²", None),
    (str(MAX_DB_ID + 1), None), ("9" * 5000, None),
])
def test_a_filter_id_is_an_id_or_none(value, expected):
    assert db_id_or_none(value) == expected


@pytest.mark.parametrize("value", ["", None, "None"])
def test_an_empty_select_choice_is_no_id(value):
    assert optional_db_id(value) is None


@pytest.mark.parametrize("value", ["abc", "-1", str(MAX_DB_ID + 1)])
def test_a_select_id_that_is_no_id_is_refused(value):
    with pytest.raises(ValueError):
        optional_db_id(value)


def test_a_select_coerced_strictly_shows_an_error_for_junk():
    class Pick(Form):
        """A required choice among ids."""

        item = SelectField("Item", coerce=optional_db_id, choices=[SelectChoice(1, "One")],
                           invalid_value_message="Choose an item.")

    assert Pick(MultiDict({"item": "1"})).validate()
    junk = Pick(MultiDict({"item": "x"}))
    assert not junk.validate() and junk.errors["item"] == ["Choose an item."]
