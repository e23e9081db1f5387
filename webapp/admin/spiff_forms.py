"""Forms of the SPIFF pages: a SPIFF's rules (days, reward, cap, eligibility), a new SPIFF, a new
version, ending early. The forms only parse what was typed; the rules (one reward kind, a cap of at
least 0.01, known products...) are the SPIFF service's, shown beside the field it names."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectMultipleField, StringField
from wtforms.validators import InputRequired

from webapp.admin.plan_forms import IsoDateField
from webapp.formtools import MoneyField, PlainText, RateField, parse_db_id
from webapp.spiffs.services import SpiffRules

_DECIMAL_INPUT = {"inputmode": "decimal", "autocomplete": "off"}


def _multi(label: str, what: str) -> SelectMultipleField:
    """A multiple select of ids (an unknown or junk id gets a message, not a 500)."""
    return SelectMultipleField(label, coerce=parse_db_id, render_kw={"size": 6},
                               invalid_value_message=f"Choose {what} from the list.",
                               invalid_choice_message=f"Choose {what} from the list.")


class SpiffRulesForm(FlaskForm):
    """What one version of a SPIFF pays, for which sales, on which days."""

    first_day = IsoDateField("First day", required=True)
    last_day = IsoDateField("Last day", required=True)
    per_unit = MoneyField("Reward per unit", render_kw=_DECIMAL_INPUT)
    percent = RateField("Or a percent of the amount (%)", render_kw=_DECIMAL_INPUT)
    cap = MoneyField("Monthly cap per agent (optional)", render_kw=_DECIMAL_INPUT)
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

    def rules(self) -> SpiffRules:
        """The parsed rules (validated by the service)."""
        return SpiffRules(first_day=self.first_day.date, last_day=self.last_day.date,
                          per_unit=self.per_unit.decimal, percent=self.percent.decimal, cap=self.cap.decimal,
                          product_ids=list(self.product_ids.data or ()),
                          category_ids=list(self.category_ids.data or ()),
                          team_ids=list(self.team_ids.data or ()))


class SpiffCreateForm(SpiffRulesForm):
    """A new SPIFF: a unique name and its first version."""

    name = StringField("Name", validators=[InputRequired("Enter a name."), PlainText()])


class SpiffVersionForm(SpiffRulesForm):
    """A new version, for sales dated from its effective date."""

    effective_from = IsoDateField("Effective from", required=True)


class EndEarlyForm(FlaskForm):
    """End a SPIFF on an earlier day."""

    last_day = IsoDateField("New last day", required=True)


def rules_data(rules: SpiffRules) -> dict:
    """Form data prefilled from rules (a new version starts from the current one)."""
    text = {name: str(getattr(rules, name)) if getattr(rules, name) is not None else ""
            for name in ("per_unit", "percent", "cap")}
    return {"first_day": rules.first_day.isoformat(), "last_day": rules.last_day.isoformat(), **text,
            "product_ids": rules.product_ids, "category_ids": rules.category_ids, "team_ids": rules.team_ids}
