"""Forms of the plan pages: plan rules, plans, versions, assignments and the simulator."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (BooleanField, FieldList, Form, FormField, SelectChoice, SelectField, StringField, SubmitField,
                     TextAreaField)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from webapp.commissions.plans import MAX_FROM_PERCENT, MAX_TERMS, PlanRules
from webapp.formtools import DecimalTextField, IsoDateField, MoneyField, PlainText, RateField, optional_db_id
from webapp.money import parse_money, parse_percent

# SelectChoice, not tuples: WTForms 3.3 deprecates tuple choices (and tests turn warnings into errors).
TIER_MODE_CHOICES = [
    SelectChoice("", "(no tier table)"),
    SelectChoice("marginal", "Marginal: each part of the volume earns its own bracket's rate"),
    SelectChoice("retroactive", "Retroactive: the whole month earns the rate the total reached"),
]
AMOUNT, TARGET_PERCENT = "amount", "target_percent"
TIER_BASIS_CHOICES = [
    SelectChoice(AMOUNT, "Amounts of the month's sales volume"),
    SelectChoice(TARGET_PERCENT, "Percents of the agent's monthly target (attainment)"),
]
# Blank rows shown without JavaScript; "More rows" adds MORE_ROWS at a time up to the limits.
TIER_ROWS, OVERRIDE_ROWS, MORE_ROWS = 6, 3, 3
MAX_TIER_ROWS, MAX_OVERRIDE_ROWS = 30, 100


class BracketStartField(DecimalTextField):
    """Where a bracket starts: an amount (two decimals), or with `percent` set by the rules form for a
    target_percent table, a percent of the target (>= 0, four decimals, no 100% ceiling)."""

    empty = "Enter where this bracket starts."

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.percent = False

    def parse(self, text: str):
        """An amount or a percent, as the table's basis says."""
        if self.percent:
            return parse_percent(text, limit=MAX_FROM_PERCENT)
        return parse_money(text, allow_zero=True)


class TierRow(Form):
    """One bracket of a tier table (a subform: the page's CSRF token covers it).

    The start keeps its historic name `from_amount` (forms and tests post it); for a
    target_percent table it holds a percent."""

    from_amount = BracketStartField("From")
    rate = RateField("Rate (%)")


class CategoryRateRow(Form):
    """A category's own rate."""

    category_id = SelectField("Category", coerce=optional_db_id)
    rate = RateField("Rate (%)")


class ProductRateRow(Form):
    """A product's own rate."""

    product_id = SelectField("Product", coerce=optional_db_id)
    rate = RateField("Rate (%)")


def _blank(value) -> bool:
    """True for an empty text box or the empty choice."""
    return value is None or (isinstance(value, str) and not value.strip())


class PlanRulesForm(FlaskForm):
    """What a plan version pays: a base rate or a tier table, and category and product rates.

    Empty rows are ignored. Whether the rules make a valid plan (brackets from 0, ascending,
    not both a base rate and tiers) is the plan service's call; the form checks only that each
    value is readable and each row complete.
    """

    base_rate = RateField("Base rate (%)")
    tier_mode = SelectField("Tier mode", choices=TIER_MODE_CHOICES)
    basis = SelectField("Brackets start at", choices=TIER_BASIS_CHOICES, default=AMOUNT)
    tiers = FieldList(FormField(TierRow), min_entries=TIER_ROWS)
    category_rates = FieldList(FormField(CategoryRateRow), min_entries=OVERRIDE_ROWS)
    product_rates = FieldList(FormField(ProductRateRow), min_entries=OVERRIDE_ROWS)
    more_rows = SubmitField("More rows")

    def set_catalogue(self, categories, products) -> None:
        """Offer the catalogue in the override selects (archived items marked, still choosable)."""
        category_choices = [SelectChoice("", "(choose a category)")] + [
            SelectChoice(c.id, f"{c.name} ({c.code})" + ("" if c.active else " — archived"))
            for c in categories
        ]
        product_choices = [SelectChoice("", "(choose a product)")] + [
            SelectChoice(p.id, f"{p.name} ({p.sku})" + ("" if p.active else " — archived"))
            for p in products
        ]
        self._choices = (category_choices, product_choices)
        self._apply_choices()

    def _apply_choices(self) -> None:
        """Give every override row (rows added later too) the catalogue choices."""
        category_choices, product_choices = getattr(self, "_choices", ([], []))
        for row in self.category_rates:
            row.form.category_id.choices = category_choices
        for row in self.product_rates:
            row.form.product_id.choices = product_choices

    def add_blank_rows(self, extra: int = 0) -> None:
        """Show the usual blank rows after the filled ones (plus `extra` when asked for more)."""
        for rows, minimum, limit in ((self.tiers, TIER_ROWS, MAX_TIER_ROWS),
                                     (self.category_rates, OVERRIDE_ROWS, MAX_OVERRIDE_ROWS),
                                     (self.product_rates, OVERRIDE_ROWS, MAX_OVERRIDE_ROWS)):
            filled = sum(1 for row in rows if not self._row_is_blank(row))
            wanted = min(limit, len(rows) + extra if extra else max(minimum, filled + 2))
            while len(rows) < wanted:
                rows.append_entry()
        self._apply_choices()

    @staticmethod
    def _row_is_blank(row) -> bool:
        """True when every box of a row is empty."""
        return all(_blank(field.data) for field in row.form)

    @property
    def percent_basis(self) -> bool:
        """True when the tier table's brackets start at percents of the target."""
        return self.basis.data == TARGET_PERCENT

    def validate(self, extra_validators=None) -> bool:
        """Check each value, then that every row used is complete and names nothing twice."""
        # Each bracket's start is read as the chosen basis says (an amount or a percent).
        for row in self.tiers:
            row.form.from_amount.percent = self.percent_basis
        valid = super().validate(extra_validators)
        if self.percent_basis and not self.basis.errors and not self.has_tier_rows() and \
                not _blank(self.base_rate.data):
            self.basis.errors.append("A base-rate plan has no basis: percents of the target need a tier table.")
            valid = False
        if len(self.tiers) > MAX_TIER_ROWS:
            self.tiers.errors.append(f"A tier table has at most {MAX_TIER_ROWS} brackets.")
            valid = False
        for rows, key, what in ((self.category_rates, "category_id", "category"),
                                (self.product_rates, "product_id", "product")):
            if len(rows) > MAX_OVERRIDE_ROWS:
                rows.errors.append(f"At most {MAX_OVERRIDE_ROWS} {what} rates.")
                valid = False
            seen = set()
            for row in rows:
                target, rate = getattr(row.form, key), row.form.rate
                if self._row_is_blank(row) or target.errors or rate.errors:
                    continue
                if target.data is None:
                    target.errors.append(f"Choose the {what} this rate is for.")
                    valid = False
                elif _blank(rate.data):
                    rate.errors.append(f"Enter the rate for this {what}.")
                    valid = False
                elif target.data in seen:
                    target.errors.append(f"This {what} has a rate already, in a row above.")
                    valid = False
                seen.add(target.data)
        for row in self.tiers:
            start, rate = row.form.from_amount, row.form.rate
            if self._row_is_blank(row) or start.errors or rate.errors:
                continue
            if _blank(start.data):
                what = "percent of the target" if self.percent_basis else "amount"
                start.errors.append(f"Enter the {what} this bracket starts at (the first starts at 0).")
                valid = False
            elif _blank(rate.data):
                rate.errors.append("Enter this bracket's rate.")
                valid = False
        return valid

    def has_tier_rows(self) -> bool:
        """True when any bracket row was typed."""
        return not all(self._row_is_blank(row) for row in self.tiers)

    def has_rules(self) -> bool:
        """True when anything of the rules was typed (a base rate, a mode or any row)."""
        rows = list(self.tiers) + list(self.category_rates) + list(self.product_rates)
        return not (_blank(self.base_rate.data) and _blank(self.tier_mode.data)
                    and all(self._row_is_blank(row) for row in rows))

    def rules(self) -> PlanRules:
        """The typed rules (after validate), empty rows left out, in the order typed."""
        return PlanRules(
            base_rate=self.base_rate.decimal,
            tiers=[(row.form.from_amount.decimal, row.form.rate.decimal)
                   for row in self.tiers if not self._row_is_blank(row)],
            tier_mode=self.tier_mode.data or None,
            basis=self.basis.data or AMOUNT,
            category_rates={row.form.category_id.data: row.form.rate.decimal
                            for row in self.category_rates if not self._row_is_blank(row)},
            product_rates={row.form.product_id.data: row.form.rate.decimal
                           for row in self.product_rates if not self._row_is_blank(row)},
        )


def rules_data(rules: PlanRules) -> dict:
    """Form data showing existing rules (for a new version or an edit, prefilled)."""
    return {
        "base_rate": str(rules.base_rate) if rules.base_rate is not None else "",
        "tier_mode": rules.tier_mode or "",
        "basis": str(rules.basis or AMOUNT),
        "tiers": [{"from_amount": str(start), "rate": str(rate)} for start, rate in rules.tiers],
        "category_rates": [{"category_id": cid, "rate": str(rate)}
                           for cid, rate in rules.category_rates.items()],
        "product_rates": [{"product_id": pid, "rate": str(rate)}
                          for pid, rate in rules.product_rates.items()],
    }


def terms_field() -> TextAreaField:
    """The admin's own section of the plan document (the service checks it: plain text, at most MAX_TERMS)."""
    return TextAreaField("Plan document: further terms (draws, clawback policy, ...)",
                         render_kw={"rows": 6, "maxlength": MAX_TERMS})


class PlanCreateForm(PlanRulesForm):
    """A new plan and its first version."""

    name = StringField("Name", validators=[DataRequired(), Length(max=80), PlainText()])
    description = TextAreaField("Description",
                                validators=[Optional(), Length(max=2000), PlainText(multiline=True)],
                                render_kw={"rows": 2})
    effective_from = IsoDateField("Effective from", required=True)
    terms = terms_field()


class VersionCreateForm(PlanRulesForm):
    """A new version of a plan, effective from a date."""

    effective_from = IsoDateField("Effective from", required=True)
    terms = terms_field()


class VersionEditForm(PlanRulesForm):
    """The rules of a version that has earned nothing yet."""

    terms = terms_field()


class AssignmentForm(FlaskForm):
    """Put an agent on a plan for a date range."""

    agent_id = SelectField("Agent", coerce=optional_db_id)
    plan_id = SelectField("Plan", coerce=optional_db_id)
    effective_from = IsoDateField("From", required=True)
    effective_to = IsoDateField("To (optional, inclusive)")

    def set_choices(self, agents, plans) -> None:
        """Offer the active agents and every plan."""
        self.agent_id.choices = [SelectChoice("", "(choose an agent)")] + [
            SelectChoice(a.id, f"{a.name} ({a.email})") for a in agents]
        self.plan_id.choices = [SelectChoice("", "(choose a plan)")] + [
            SelectChoice(p.id, p.name) for p in plans]

    def validate(self, extra_validators=None) -> bool:
        """Both selects need a choice."""
        valid = super().validate(extra_validators)
        for field, what in ((self.agent_id, "an agent"), (self.plan_id, "a plan")):
            if not field.errors and field.data is None:
                field.errors.append(f"Choose {what}.")
                valid = False
        return valid


class EndAssignmentForm(FlaskForm):
    """End an assignment on a date (inclusive)."""

    effective_to = IsoDateField("Last day on this plan", required=True)


class SimulatorForm(PlanRulesForm):
    """A plan version or typed rules, and sales pasted as CSV."""

    version_id = SelectField("Plan version", coerce=optional_db_id)
    sales_csv = TextAreaField("Sales (CSV)", render_kw={"rows": 10, "spellcheck": "false", "class": "mono"})
    target = MoneyField("Monthly target", render_kw={"inputmode": "decimal"})
    include_spiffs = BooleanField("Include the SPIFFs in force")

    def set_versions(self, plans) -> None:
        """Offer every version of every plan, or typed rules."""
        self.version_id.choices = [SelectChoice("", "(type the rules below)")] + [
            SelectChoice(v.id, f"{p.name} — version {v.version}, from {v.effective_from.isoformat()}",
                         optgroup=p.name)
            for p in plans for v in p.versions
        ]

    def validate(self, extra_validators=None) -> bool:
        """A version and typed rules together would be ambiguous: which one is simulated?"""
        valid = super().validate(extra_validators)
        if not self.version_id.errors and self.version_id.data is not None and self.has_rules():
            self.version_id.errors.append("Choose a plan version or type rules, not both "
                                          "(clear the rules below to simulate this version).")
            valid = False
        return valid
