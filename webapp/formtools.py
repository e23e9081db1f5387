"""Form helpers shared by every blueprint: money/rate/date fields, plain-text checks, ids, and a
service error beside its field (webapp/web.py runs the service calls)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from wtforms import StringField
from wtforms.widgets import DateInput
from wtforms.validators import ValidationError

from webapp.errors import ServiceError
from webapp.money import MoneyError, parse_money, parse_rate, parse_signed_money, to_cents


# Ids are PostgreSQL INTEGERs: a larger number names no row, and must not reach the database
# (SQLite raises OverflowError, PostgreSQL "integer out of range": a 500 either way). The one
# bound for ids from anywhere: URLs, query strings, forms, htmx parameters and API bodies.
MAX_DB_ID = 2**31 - 1


def parse_db_id(value) -> int:
    """A posted id as an int; ValueError for anything db_id_or_none refuses (a form's coerce)."""
    number = db_id_or_none(value)
    if number is None:
        raise ValueError(f"not an id: {str(value)[:20]}")
    return number


def db_id_or_none(text) -> int | None:
    """Plain ASCII digits naming a possible row as an int, else None ("²".isdigit() is True but
    int("²") raises; 5,000 digits exceed int()'s limit; both were a 500)."""
    text = str(text).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 10) or int(text) > MAX_DB_ID:
        return None
    return int(text)


def optional_db_id(value) -> int | None:
    """A select's id (a form field's coerce): None for the empty choice ("", or "None" as WTForms
    renders None); ValueError for anything else that is not an id, so the field shows an error.

    Filters, where junk means "no filter", coerce with db_id_or_none instead."""
    if value in (None, "", "None"):
        return None
    return parse_db_id(value)


# Characters no typed text needs, which can forge or disguise what a reader sees: line breaks in a
# one-line value become new headers in an email subject or split a PDF heading; NUL cannot be
# stored by PostgreSQL; C0/C1 controls are invisible; the bidirectional embedding, override and
# isolate characters reorder the text around them ("Trojan Source"). One-line values (names,
# SKUs, references, the company name) refuse them all, and the direction marks too. Multi-line
# values (notes, reasons, messages) keep line breaks and tabs, and the three direction marks
# (LRM, RLM, ALM: real right-to-left writing uses them, and they move no text around), but
# refuse the rest.
_DIRECTION_CONTROLS = r"\u202a-\u202e\u2066-\u2069"
_DIRECTION_MARKS = r"\u200e\u200f\u061c"
# The refused characters as the inside of a character class (the API's document states them too).
ONE_LINE_REFUSED = rf"\x00-\x1f\x7f-\x9f\u2028\u2029{_DIRECTION_MARKS}{_DIRECTION_CONTROLS}"
MULTI_LINE_REFUSED = rf"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_DIRECTION_CONTROLS}"
_ONE_LINE_REFUSED = re.compile(f"[{ONE_LINE_REFUSED}]")
_MULTI_LINE_REFUSED = re.compile(f"[{MULTI_LINE_REFUSED}]")
_DIRECTION = re.compile(rf"[{_DIRECTION_CONTROLS}{_DIRECTION_MARKS}]")
_CHARACTER_NAMES = {"\n": "line break", "\r": "carriage return", "\t": "tab", "\x00": "NUL character",
                    "\u2028": "line separator", "\u2029": "paragraph separator"}


def plain_text_problem(text: str | None, *, multiline: bool = False) -> str | None:
    """What is wrong with `text` as plain text (one line unless `multiline`), or None when fine."""
    match = (_MULTI_LINE_REFUSED if multiline else _ONE_LINE_REFUSED).search(text or "")
    if match is None:
        return None
    character = match.group()
    if character in _CHARACTER_NAMES:
        name = _CHARACTER_NAMES[character]
    elif _DIRECTION.match(character):
        name = "invisible text-direction character"
    else:
        name = "invisible control character"
    where = f"the {name} (U+{ord(character):04X})"
    return f"Remove {where}." if multiline else f"Use one line of plain text: remove {where}."


def check_plain_text(text: str | None, field: str, *, multiline: bool = False) -> str | None:
    """`text` unchanged, or a ServiceError naming `field` (the services' check: forms, API, imports)."""
    problem = plain_text_problem(text, multiline=multiline)
    if problem is not None:
        raise ServiceError(problem, field)
    return text


class PlainText:
    """WTForms validator: the field is plain text, one line unless `multiline` (plain_text_problem).

    Checked as the service will store it (surrounding whitespace stripped)."""

    def __init__(self, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, form, field):
        problem = plain_text_problem((field.data or "").strip(), multiline=self.multiline)
        if problem is not None:
            raise ValidationError(problem)


def apply_service_error(form, exc: ServiceError) -> None:
    """Show a service error beside its field (or above the form when it names none); each of
    FieldErrors' beside its own."""
    for error in getattr(exc, "errors", [exc]):
        field = getattr(form, error.field, None) if error.field else None
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [error.message]
        else:
            form.form_errors.append(error.message)


class DecimalTextField(StringField):
    """Base of the money and rate fields: text parsed exactly by webapp.money (never through float).

    The parsed value is `decimal` (None while the field is empty and optional). A subclass says how
    to `parse` the text and what to say when a required field is left `empty`.
    """

    empty = "Enter a value."

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.decimal = None

    def parse(self, text: str) -> Decimal:
        """The typed text as a Decimal; MoneyError (its message is for the user) when it is not one."""
        raise NotImplementedError

    def pre_validate(self, form):
        """Parse the text; an empty optional field stays None."""
        self.decimal = None
        if not (self.data or "").strip():
            if self.flags.required:
                raise ValidationError(self.empty)
            return
        try:
            self.decimal = self.parse(self.data)
        except MoneyError as exc:
            raise ValidationError(str(exc)) from exc


class MoneyField(DecimalTextField):
    """An amount: not negative, at most two decimals; zero only with `allow_zero`."""

    empty = "Enter an amount."

    def __init__(self, label=None, validators=None, allow_zero: bool = False, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.allow_zero = allow_zero

    def parse(self, text: str) -> Decimal:
        """A non-negative amount with at most two decimals."""
        return parse_money(text, allow_zero=self.allow_zero)


class SignedMoneyField(DecimalTextField):
    """An amount that may carry a minus sign (a deduction, "-12.50"); never zero."""

    empty = "Enter an amount."

    def parse(self, text: str) -> Decimal:
        """A signed, non-zero amount with at most two decimals."""
        return parse_signed_money(text)

    @property
    def cents(self) -> int | None:
        """The amount in signed integer cents; None while the field is empty."""
        return None if self.decimal is None else to_cents(self.decimal)


class RateField(DecimalTextField):
    """A percentage typed as text (0..100, at most four decimals)."""

    empty = "Enter a rate."

    def parse(self, text: str) -> Decimal:
        """A percentage with at most four decimals."""
        return parse_rate(text)


def parse_iso_date(text: str | None) -> date | None:
    """A YYYY-MM-DD date or None; anything else (times included) is refused."""
    text = (text or "").strip()
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


_YEAR_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")


def parse_year_month(text: str | None) -> date | None:
    """The first day of a YYYY-MM month (what <input type=month> sends), or None for anything else."""
    match = _YEAR_MONTH.match((text or "").strip())
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        return None


class OptionalDateRange:
    """Inline validators for a filter form's optional `start` and `end` dates (mix in before FlaskForm)."""

    END_BEFORE_START = "The end cannot be before the start."

    def validate_start(self, field):
        """A calendar date, or nothing."""
        if (field.data or "").strip() and parse_iso_date(field.data) is None:
            raise ValidationError("Enter the date as YYYY-MM-DD.")

    def validate_end(self, field):
        """A calendar date not before the start, or nothing."""
        if not (field.data or "").strip():
            return
        end = parse_iso_date(field.data)
        if end is None:
            raise ValidationError("Enter the date as YYYY-MM-DD.")
        start = parse_iso_date(self.start.data)
        if start is not None and end < start:
            raise ValidationError(self.END_BEFORE_START)


class IsoDateField(StringField):
    """A date typed as YYYY-MM-DD (what <input type=date> sends); `.date` holds the parsed value."""

    widget = DateInput()

    def __init__(self, label=None, validators=None, required: bool = False, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.required = required
        self.date = None
        if required:
            self.flags.required = True

    def pre_validate(self, form):
        """Parse the text; an empty optional field stays None."""
        self.date = None
        text = (self.data or "").strip()
        if not text:
            if self.required:
                raise ValidationError("Enter a date.")
            return
        self.date = parse_iso_date(text)
        if self.date is None:
            raise ValidationError("Enter a date like 2026-11-01.")
