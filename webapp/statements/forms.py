"""Statement forms: an agent's request, a manager's "Send statements", issuing a period, filters."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (BooleanField, HiddenField, SelectChoice, SelectField, SelectMultipleField, StringField,
                     TextAreaField)
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.formtools import PlainText, db_id_or_none, parse_iso_date
from webapp.statements.models import StatementKind

MAX_MESSAGE = 2000  # the service's limit, checked here too so the error sits beside the field


class _RangeForm(FlaskForm):
    """First day and Last day, both required; the service checks order and length."""

    start = StringField("First day", render_kw={"type": "date"})
    end = StringField("Last day", render_kw={"type": "date"})

    def validate_start(self, field):
        """A calendar date is required."""
        if not (field.data or "").strip():
            raise ValidationError("Enter the first day.")
        if parse_iso_date(field.data) is None:
            raise ValidationError("Enter the date as YYYY-MM-DD.")

    def validate_end(self, field):
        """A calendar date is required."""
        if not (field.data or "").strip():
            raise ValidationError("Enter the last day.")
        if parse_iso_date(field.data) is None:
            raise ValidationError("Enter the date as YYYY-MM-DD.")

    @property
    def dates(self):
        """(start, end) as dates (None where not a date)."""
        return parse_iso_date(self.start.data), parse_iso_date(self.end.data)


class RequestStatementForm(_RangeForm):
    """An agent asks for a statement of their own sales for any date range."""


class SendStatementsForm(_RangeForm):
    """A manager sends statements for a date range to all or some agents of the team, with a message."""

    all_agents = BooleanField("All agents of my team")
    agent_ids = SelectMultipleField(
        "Agents", coerce=int, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
        invalid_value_message="Choose agents from the list.",
        invalid_choice_message="Choose agents of your team.")
    message = TextAreaField("Message", validators=[PlainText(multiline=True)],
                            render_kw={"rows": 4, "maxlength": MAX_MESSAGE})

    def set_agents(self, agents) -> None:
        """Offer the team's agents as checkboxes."""
        self.agent_ids.choices = [SelectChoice(a.id, a.name) for a in agents]

    def validate_agent_ids(self, field):
        """At least one agent, unless "all" is ticked."""
        if not self.all_agents.data and not field.data:
            raise ValidationError("Choose at least one agent.")

    def validate_message(self, field):
        """At most 2000 characters (what the service accepts)."""
        if len((field.data or "").strip()) > MAX_MESSAGE:
            raise ValidationError(f"Keep the message under {MAX_MESSAGE} characters.")

    def chosen_agent_ids(self) -> list[int]:
        """Every offered agent when "all" is ticked, else the ticked ones."""
        if self.all_agents.data:
            return [choice.value for choice in self.agent_ids.choices]
        return list(self.agent_ids.data or [])


class IssuePeriodForm(FlaskForm):
    """Confirms issuing a period's statements, which closes the period."""

    period_id = HiddenField()
    confirm = BooleanField("I understand this closes the period for every team; it cannot be reopened.")

    def validate_confirm(self, field):
        """Closing a period is final: ask for an explicit tick."""
        if not field.data:
            raise ValidationError("Tick the box to confirm that the period closes.")


class StatementFilterForm(FlaskForm):
    """Agent, Period, Kind (GET: no CSRF token)."""

    class Meta:
        csrf = False

    agent_id = SelectField("Agent", coerce=db_id_or_none, validate_choice=False)
    period_id = SelectField("Period", coerce=db_id_or_none, validate_choice=False)
    kind = SelectField("Kind", validate_choice=False, choices=[
        SelectChoice("", "Any kind"), SelectChoice(StatementKind.PERIOD, "Period"),
        SelectChoice(StatementKind.ADHOC, "Ad hoc")])

    def set_choices(self, agents, periods) -> None:
        """Offer the user's agents and the periods that have statements."""
        self.agent_id.choices = [SelectChoice("", "All agents")] + [
            SelectChoice(a.id, a.name) for a in agents]
        self.period_id.choices = [SelectChoice("", "Any period")] + [
            SelectChoice(p.id, p.label) for p in periods]


class ResendForm(FlaskForm):
    """Resend a statement email (only the CSRF token, and where to come back to)."""

    back = HiddenField()
