"""Forms of the SPIFF pages: a SPIFF's rules (days, reward, cap, eligibility), a new SPIFF, a new
version, ending early. The forms parse what was typed and make the checks that need no database
(presence, day order, one reward kind, the minimums, a product or category), so a submit shows every
field's error at once; the SPIFF service makes them again with the same messages (it is the authority
for the API and every other caller) and adds those that need the database (known ids, a unique
name, open periods), shown beside the field it names."""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectMultipleField, StringField

from webapp.formtools import IsoDateField
from webapp.formtools import MoneyField, PlainText, RateField, parse_db_id
from webapp.spiffs.services import (CAP_TOO_SMALL, DAYS_OUT_OF_ORDER, EFFECTIVE_FROM_MISSING, ELIGIBILITY_MISSING,
                                    FIRST_DAY_MISSING, LAST_DAY_MISSING, NAME_LENGTH, NAME_MISSING,
                                    PER_UNIT_TOO_SMALL, REWARD_BOTH, REWARD_MISSING, SpiffRules)

_DECIMAL_INPUT = {"inputmode": "decimal", "autocomplete": "off"}
_CENT = Decimal("0.01")
# Required in the browser too; the date fields' own "Enter a date." is replaced by the service's
# message for each (their presence is checked in `problems`, not by the field).
_REQUIRED = {"required": True}


def _multi(label: str, what: str) -> SelectMultipleField:
    """A multiple select of ids (an unknown or junk id gets a message, not a 500)."""
    return SelectMultipleField(label, coerce=parse_db_id, render_kw={"size": 6},
                               invalid_value_message=f"Choose {what} from the list.",
                               invalid_choice_message=f"Choose {what} from the list.")


class SpiffRulesForm(FlaskForm):
    """What one version of a SPIFF pays, for which sales, on which days."""

    first_day = IsoDateField("First day", render_kw=_REQUIRED)
    last_day = IsoDateField("Last day", render_kw=_REQUIRED)
    # Zero parses, so the service's minimum (and its message) is the one shown.
    per_unit = MoneyField("Reward per unit", allow_zero=True, render_kw=_DECIMAL_INPUT)
    percent = RateField("Or a percent of the amount (%)", render_kw=_DECIMAL_INPUT)
    cap = MoneyField("Monthly cap per agent (optional)", allow_zero=True, render_kw=_DECIMAL_INPUT)
    product_ids = _multi("Products", "products")
    category_ids = _multi("Categories", "categories")
    team_ids = _multi("Only these teams (optional)", "teams")

    def set_choices(self, products, categories, managers) -> None:
        """Offer the catalogue and the managers (a team is a manager's agents)."""
        self.product_ids.choices = [
            SelectChoice(p.id, f"{p.name} ({p.sku})" + ("" if p.active else " — archived")) for p in products]
        self.category_ids.choices = [
            SelectChoice(c.id, f"{c.name} ({c.code})" + ("" if c.active else " — archived"))
            for c in categories]
        self.team_ids.choices = [SelectChoice(m.id, f"{m.name}'s team") for m in managers]

    def validate(self, extra_validators=None) -> bool:
        """Each field's own parsing, then every rule problem beside its field, all at once."""
        valid = super().validate(extra_validators)
        for field_name, message in self.problems():
            getattr(self, field_name).errors.append(message)
            valid = False
        return valid

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) of the rules broken that need no database; a field whose text did not
        parse already says so and is not also called missing."""
        found = []
        days = {}
        for name, missing in (("first_day", FIRST_DAY_MISSING), ("last_day", LAST_DAY_MISSING)):
            field = getattr(self, name)
            if not field.errors:
                if field.date is None:
                    found.append((name, missing))
                days[name] = field.date
        if days.get("first_day") and days.get("last_day") and days["last_day"] < days["first_day"]:
            found.append(("last_day", DAYS_OUT_OF_ORDER))
        if not self.per_unit.errors and not self.percent.errors:
            per_unit, percent = self.per_unit.decimal, self.percent.decimal
            if per_unit is not None and percent is not None:
                found.append(("per_unit", REWARD_BOTH))
            elif per_unit is None and percent is None:
                found.append(("per_unit", REWARD_MISSING))
            elif per_unit is not None and per_unit < _CENT:
                found.append(("per_unit", PER_UNIT_TOO_SMALL))
        if not self.cap.errors and self.cap.decimal is not None and self.cap.decimal < _CENT:
            found.append(("cap", CAP_TOO_SMALL))
        if not (self.product_ids.errors or self.category_ids.errors or self.product_ids.data
                or self.category_ids.data):
            found.append(("product_ids", ELIGIBILITY_MISSING))
        return found

    def rules(self) -> SpiffRules:
        """The parsed rules (validated by the service)."""
        return SpiffRules(first_day=self.first_day.date, last_day=self.last_day.date,
                          per_unit=self.per_unit.decimal, percent=self.percent.decimal, cap=self.cap.decimal,
                          product_ids=list(self.product_ids.data or ()),
                          category_ids=list(self.category_ids.data or ()),
                          team_ids=list(self.team_ids.data or ()))


class SpiffCreateForm(SpiffRulesForm):
    """A new SPIFF: a unique name and its first version."""

    name = StringField("Name", validators=[PlainText()], render_kw={**_REQUIRED, "maxlength": NAME_LENGTH})

    def problems(self) -> list[tuple[str, str]]:
        """The rules' problems, and a name missing or too long (as the service strips it)."""
        name = (self.name.data or "").strip()
        missing = [] if self.name.errors or 0 < len(name) <= NAME_LENGTH else [("name", NAME_MISSING)]
        return missing + super().problems()


class SpiffVersionForm(SpiffRulesForm):
    """A new version, for sales dated from its effective date."""

    effective_from = IsoDateField("Effective from", render_kw=_REQUIRED)

    def problems(self) -> list[tuple[str, str]]:
        """The rules' problems, and the effective date missing."""
        missing = self.effective_from.date is None and not self.effective_from.errors
        return ([("effective_from", EFFECTIVE_FROM_MISSING)] if missing else []) + super().problems()


class EndEarlyForm(FlaskForm):
    """End a SPIFF on an earlier day."""

    last_day = IsoDateField("New last day", required=True)


def rules_data(rules: SpiffRules) -> dict:
    """Form data prefilled from rules (a new version starts from the current one)."""
    text = {name: str(getattr(rules, name)) if getattr(rules, name) is not None else ""
            for name in ("per_unit", "percent", "cap")}
    return {"first_day": rules.first_day.isoformat(), "last_day": rules.last_day.isoformat(), **text,
            "product_ids": rules.product_ids, "category_ids": rules.category_ids, "team_ids": rules.team_ids}
