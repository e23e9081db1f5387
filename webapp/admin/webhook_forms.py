"""The webhooks page's forms: a new endpoint, and an endpoint's events and description."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectMultipleField, StringField
from wtforms.validators import Length
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.formtools import PlainText
from webapp.webhooks.catalog import EVENT_TYPES


def _event_types_field() -> SelectMultipleField:
    """The event types as checkboxes, each with what it means (the service says when none is ticked)."""
    return SelectMultipleField(
        "Events it receives", choices=[SelectChoice(event.name, event.name) for event in EVENT_TYPES],
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
        invalid_choice_message="Choose event types from the list.")


class WebhookEditForm(FlaskForm):
    """An endpoint's event types and description."""

    event_types = _event_types_field()
    description = StringField("Description (optional)", validators=[Length(max=200), PlainText()],
                              render_kw={"placeholder": "e.g. CRM sync"})


class WebhookForm(WebhookEditForm):
    """A new endpoint: its URL, event types and description."""

    # Checked by the service (http or https, absolute): one message, beside the field, for pages and API.
    url = StringField("Endpoint URL", render_kw={"placeholder": "https://crm.example.com/hooks/sales-tracking",
                                                 "inputmode": "url", "autocomplete": "off"})
