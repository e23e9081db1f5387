"""Forms of the manager's money actions: record a payout, post a manual adjustment.

Both sit on the agent page together, so each has a prefix (unique ids and names). The CSRF
token is the page's own hidden `csrf_token`, checked by CSRFProtect for every POST; the forms
themselves skip WTForms' check, which would look for a prefixed token name.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import Length, ValidationError

from webapp import clock
from webapp.formtools import MoneyField, PlainText, parse_iso_date
from webapp.money import MoneyError, parse_signed_money, to_cents


class PayoutForm(FlaskForm):
    """Amount, Payment date, Reference, Advance."""

    class Meta:
        csrf = False

    amount = MoneyField("Amount", render_kw={"inputmode": "decimal", "autocomplete": "off"})
    paid_on = StringField("Payment date", render_kw={"type": "date"})
    reference = StringField("Reference",
                            validators=[Length(max=120, message="Keep the reference under 120 characters."),
                                        PlainText()],
                            render_kw={"placeholder": "e.g. bank transfer 2026-118", "autocomplete": "off"})
    advance = BooleanField("Advance: may exceed the unpaid balance")

    def __init__(self, formdata=None, **kwargs):
        """A fresh form (formdata None) is dated today; a posted one keeps what was typed."""
        super().__init__(formdata=formdata, prefix="payout", **kwargs)
        if formdata is None and not self.paid_on.data:
            self.paid_on.data = clock.today().isoformat()

    def validate_amount(self, field):
        """An amount is required."""
        if field.decimal is None and not field.errors:
            raise ValidationError("Enter an amount.")

    def validate_paid_on(self, field):
        """A calendar date (YYYY-MM-DD)."""
        if parse_iso_date(field.data) is None:
            raise ValidationError("Enter the payment date as YYYY-MM-DD.")

    @property
    def amount_cents(self) -> int:
        """The validated amount in cents."""
        return to_cents(self.amount.decimal)


class AdjustmentForm(FlaskForm):
    """Amount (signed) and Reason."""

    class Meta:
        csrf = False

    amount = StringField("Amount", render_kw={"inputmode": "decimal", "autocomplete": "off",
                                              "placeholder": "e.g. 50.00 or -25.00"})
    reason = TextAreaField("Reason", validators=[PlainText(multiline=True)], render_kw={"rows": 2})

    def __init__(self, formdata=None, **kwargs):
        """A fresh form (formdata None) or the posted one."""
        super().__init__(formdata=formdata, prefix="adjustment", **kwargs)
        self.decimal = None

    def validate_amount(self, field):
        """A signed, non-zero amount with at most two decimals."""
        try:
            self.decimal = parse_signed_money(field.data)
        except MoneyError as exc:
            raise ValidationError(str(exc)) from exc

    def validate_reason(self, field):
        """A reason is required: the agent reads it on the statement."""
        text = (field.data or "").strip()
        if not text:
            raise ValidationError("Give a reason: it is shown on the agent's statement.")
        if len(text) > 2000:
            raise ValidationError("Keep the reason under 2000 characters.")

    @property
    def amount_cents(self) -> int:
        """The validated amount in cents."""
        return to_cents(self.decimal)
