"""Forms of the review queue: the filters (GET) and the bulk decision bar."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import ValidationError

from webapp.formtools import MoneyField, OptionalDateRange, PlainText, db_id_or_none
from webapp.money import to_cents


class QueueFilterForm(OptionalDateRange, FlaskForm):
    """Agent, Product, From, To, Min amount, Max amount, Flagged only (GET: no CSRF token)."""

    END_BEFORE_START = "Enter a date on or after From."

    class Meta:
        csrf = False

    agent_id = SelectField("Agent", coerce=db_id_or_none, validate_choice=False)
    product_id = SelectField("Product", coerce=db_id_or_none, validate_choice=False)
    start = StringField("From", render_kw={"type": "date"})
    end = StringField("To", render_kw={"type": "date"})
    min_amount = MoneyField("Min amount", allow_zero=True,
                            render_kw={"inputmode": "decimal", "placeholder": "0.00"})
    max_amount = MoneyField("Max amount", allow_zero=True,
                            render_kw={"inputmode": "decimal", "placeholder": "any"})
    flagged = BooleanField("Flagged only")

    def set_choices(self, agents, products) -> None:
        """Offer the user's agents and the catalogue's products."""
        self.agent_id.choices = [SelectChoice("", "All agents")] + [
            SelectChoice(a.id, a.name) for a in agents]
        self.product_id.choices = [SelectChoice("", "All products")] + [
            SelectChoice(p.id, p.name) for p in products]

    def validate_max_amount(self, field):
        """At least the minimum, when both are given."""
        low = self.min_amount.decimal
        if field.decimal is not None and low is not None and field.decimal < low:
            raise ValidationError("Enter a maximum at least the minimum.")

    def cents(self, field: MoneyField) -> int | None:
        """A parsed amount field in cents, or None when empty or invalid."""
        return to_cents(field.decimal) if field.decimal is not None and not field.errors else None


class BulkForm(FlaskForm):
    """The bar above the queue: a reason for rejections (the buttons carry the action).

    CSRF is checked for every POST by CSRFProtect (the header from htmx, or the hidden field).
    """

    class Meta:
        csrf = False

    reason = TextAreaField(
        "Reason (for rejections)", id="bulk-reason", validators=[PlainText(multiline=True)],
        render_kw={"rows": 1, "maxlength": 2000, "placeholder": "Tell the agents why; they are emailed it"})
