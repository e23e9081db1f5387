"""Dispute forms: open (agent), reply (both sides), accept and reject (managers)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import ValidationError

from webapp.formtools import PlainText
from webapp.money import MoneyError, parse_signed_money, to_cents


class SignedMoneyField(StringField):
    """An amount that may carry a minus sign (a deduction), parsed to signed integer cents."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.cents = None

    def pre_validate(self, form):
        """Parse '-12.50' or '12.50' exactly (never through float); empty stays None for the service."""
        self.cents = None
        if not (self.data or "").strip():
            return
        try:
            self.cents = to_cents(parse_signed_money(self.data))
        except MoneyError as exc:
            raise ValidationError(str(exc)) from exc


class DisputeOpenForm(FlaskForm):
    """The agent's comment on the line they dispute."""

    comment = TextAreaField("What is wrong with this line?", validators=[PlainText(multiline=True)],
                            render_kw={"rows": 5, "maxlength": 2000})


class DisputeReplyForm(FlaskForm):
    """A message added to the thread."""

    body = TextAreaField("Your reply", validators=[PlainText(multiline=True)],
                         render_kw={"rows": 3, "maxlength": 2000})


class DisputeAcceptForm(FlaskForm):
    """Accept with an adjustment posted to today's period."""

    amount = SignedMoneyField("Adjustment amount", render_kw={"inputmode": "decimal", "autocomplete": "off"})
    note = TextAreaField("Note to the agent (optional)", validators=[PlainText(multiline=True)],
                         render_kw={"rows": 2, "maxlength": 2000})


class DisputeRejectForm(FlaskForm):
    """Reject with a reason the agent will read."""

    reason = TextAreaField("Reason", validators=[PlainText(multiline=True)],
                           render_kw={"rows": 2, "maxlength": 2000})
