"""Admin forms for the catalogue, monthly targets and installation settings.

The forms only turn text into values (ints, Decimals, ids) and catch what cannot be parsed; the
rules themselves (name lengths, SKU shape, grace-time range...) live in the services, whose
errors the routes show beside the field with apply_service_error.
"""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (BooleanField, IntegerField, RadioField, SelectChoice, SelectField,
                     SelectMultipleField, StringField)
from wtforms.validators import InputRequired
from wtforms.widgets import CheckboxInput, ListWidget, TextInput

from webapp.formtools import MoneyField, PlainText, optional_db_id

# SelectChoice, not tuples: WTForms 3.3 deprecates tuple choices (and tests turn warnings into errors).
CADENCE_CHOICES = [SelectChoice("semi_monthly", "Semi-monthly (1st-15th and 16th-end of month)"),
                   SelectChoice("monthly", "Monthly")]

_WHOLE_NUMBER = re.compile(r"^-?[0-9]+$")


class WholeNumberField(IntegerField):
    """An integer typed as text; only plain digits (int() alone would take "1_000" or "٣")."""

    # A text box, not type=number: the browser would blank junk instead of showing what was typed.
    widget = TextInput()

    def process_formdata(self, valuelist):
        """Keep the value only when it is a plain (possibly negative) whole number."""
        if not valuelist:
            return
        text = (valuelist[0] or "").strip()
        if not _WHOLE_NUMBER.match(text):
            self.data = None
            raise ValueError(self.invalid_value_message or "Enter a whole number.")
        self.data = int(text)


class CategoryCreateForm(FlaskForm):
    """Create a category."""

    code = StringField("Code", validators=[InputRequired("Enter a code.")])
    name = StringField("Name", validators=[InputRequired("Enter a name."), PlainText()])


class CategoryEditForm(FlaskForm):
    """Rename a category (its code is fixed once created)."""

    name = StringField("Name", validators=[InputRequired("Enter a name."), PlainText()])


class _ProductFields(FlaskForm):
    """Fields shared by the create and edit product forms."""

    name = StringField("Name", validators=[InputRequired("Enter a name."), PlainText()])
    # Required here (not only in the service) so a missing category shows with the other errors.
    category_id = SelectField("Category", coerce=optional_db_id,
                              validators=[InputRequired("Choose a category.")],
                              invalid_value_message="Choose a category.",
                              invalid_choice_message="Choose a category.")
    list_price = MoneyField("List price", validators=[InputRequired("Enter the list price.")],
                            render_kw={"inputmode": "decimal", "autocomplete": "off"})
    restricted = BooleanField("Only assigned agents may sell it")

    def set_categories(self, categories):
        """Offer these categories (plus an empty "choose" entry) in the category select."""
        self.category_id.choices = [SelectChoice("", "Choose a category")] + [
            SelectChoice(c.id, c.name if c.active else f"{c.name} (archived)") for c in categories
        ]


class ProductCreateForm(_ProductFields):
    """Create a product."""

    sku = StringField("SKU", validators=[InputRequired("Enter a SKU.")])


class ProductEditForm(_ProductFields):
    """Edit a product (its SKU is fixed once created)."""

    active = BooleanField("Active (agents can sell it)")


class ProductAgentsForm(FlaskForm):
    """Choose the agents allowed to sell a restricted product."""

    agent_ids = SelectMultipleField(
        "Agents who may sell it", coerce=int,
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
        invalid_value_message="Choose agents from the list.",
        invalid_choice_message="Choose agents from the list.",
    )

    def set_agents(self, agents):
        """Offer these agents as checkboxes (deactivated ones say so)."""
        self.agent_ids.choices = [
            SelectChoice(a.id, a.name if a.active else f"{a.name} (deactivated)") for a in agents
        ]


class TargetForm(FlaskForm):
    """One agent's sales target for the month shown."""

    amount = MoneyField("Target", validators=[InputRequired("Enter a target amount.")],
                        render_kw={"inputmode": "decimal", "autocomplete": "off"})


class TargetImportForm(FlaskForm):
    """A CSV file of targets: email,month,amount."""

    file = FileField("CSV file (email,month,amount)", render_kw={"accept": ".csv,text/csv"})


class SettingsForm(FlaskForm):
    """Installation settings."""

    company_name = StringField("Company name",
                               validators=[InputRequired("Enter the company name."), PlainText()])
    approval_required = BooleanField("Sales need a manager's approval")
    # The service names the allowed cadences; an unknown value gets its message beside the field.
    period_cadence = RadioField("Statement period", choices=CADENCE_CHOICES, validate_choice=False)
    grace_hours = WholeNumberField("Grace time (hours)",
                                   invalid_value_message="Enter the grace time as a whole number of hours.",
                                   render_kw={"inputmode": "numeric"})
    reminder_days = WholeNumberField(
        "Unpaid-balance reminder (days)", render_kw={"inputmode": "numeric"},
        invalid_value_message="Enter the reminder interval as a whole number of days.")
    plan_reminder_days = WholeNumberField(
        "Plan document reminder (days)", render_kw={"inputmode": "numeric"},
        invalid_value_message="Enter the plan document reminder interval as a whole number of days.")
    statement_requests_per_hour = WholeNumberField(
        "Statement requests per person per hour", render_kw={"inputmode": "numeric"},
        invalid_value_message="Enter the number of statement requests as a whole number.")
