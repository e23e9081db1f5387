"""The sale form (log a sale, edit a pending sale) and the "My sales" filters."""

from __future__ import annotations

import re
import uuid

from flask import current_app
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, Signer
from wtforms import HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length, ValidationError

from webapp.formtools import MoneyField, PlainText, db_id_or_none, parse_iso_date
from webapp.sales.checks import CoAgentInput
from webapp.sales.models import MAX_CO_AGENTS, SaleStatus

_WHOLE = re.compile(r"^[0-9]{1,7}$")


def _key_signer() -> Signer:
    """Signs the idempotency keys rendered into forms, so a tampered key is recognised."""
    return Signer(current_app.config["SECRET_KEY"], salt="sale-form-key")


def new_form_key() -> str:
    """A fresh signed idempotency key for one rendering of the sale form."""
    return _key_signer().sign(uuid.uuid4().hex).decode()


def verify_form_key(token: str | None) -> str | None:
    """The key inside a signed token, or None when it was tampered with or is missing."""
    try:
        return _key_signer().unsign(token or "").decode()
    except BadSignature:
        return None


class IdField(HiddenField):
    """A hidden row id (a picked co-agent): an int, or None when empty or not an id."""

    def process_formdata(self, valuelist):
        """Keep only a plausible id; anything else is "nothing picked" (the service says so)."""
        self.data = db_id_or_none(valuelist[0]) if valuelist and valuelist[0] else None

    def _value(self):
        """The id as the hidden input's value ("" when none)."""
        return "" if self.data is None else str(self.data)


def _co_agent_search(number: int) -> StringField:
    """The text typed to find co-agent `number` (only searched with; the hidden id is what counts)."""
    return StringField(f"Co-agent {number}", render_kw={
        "autocomplete": "off", "placeholder": "Search by name or email", "spellcheck": "false"})


class SaleForm(FlaskForm):
    """Product, Customer, Quantity, Unit price, Date, Note (the labels people and tests look for)."""

    product_id = SelectField("Product", coerce=db_id_or_none, validate_choice=False)
    customer = StringField("Customer", validators=[Length(max=120), PlainText()],
                           render_kw={"autocomplete": "off", "placeholder": "Search or type a new customer"})
    customer_id = HiddenField()
    quantity = StringField("Quantity", default="1", render_kw={"inputmode": "numeric"})
    unit_price = MoneyField("Unit price", render_kw={"inputmode": "decimal"})
    sold_on = StringField("Date", render_kw={"type": "date"})
    note = TextAreaField("Note", validators=[Length(max=2000), PlainText(multiline=True)],
                         render_kw={"rows": 2})
    idempotency_key = HiddenField()
    # Split credit (COMMISSION_RULES.md 8): the agent's own share (blank: the rest) and up to four
    # co-agent rows. The services check them; errors land beside `share`, `co_agent_N`, `co_share_N`.
    share = StringField("Your share %", render_kw={"inputmode": "decimal", "placeholder": "the rest"})
    # Each co-agent row: a search box (co_agent_N_search) whose picked result fills the hidden id
    # co_agent_N (sales.co_agent_search / co_agent_pick), so no agent list is ever rendered.
    co_agent_1 = IdField()
    co_agent_1_search = _co_agent_search(1)
    co_share_1 = StringField("Co-agent 1 share %", render_kw={"inputmode": "decimal"})
    co_agent_2 = IdField()
    co_agent_2_search = _co_agent_search(2)
    co_share_2 = StringField("Co-agent 2 share %", render_kw={"inputmode": "decimal"})
    co_agent_3 = IdField()
    co_agent_3_search = _co_agent_search(3)
    co_share_3 = StringField("Co-agent 3 share %", render_kw={"inputmode": "decimal"})
    co_agent_4 = IdField()
    co_agent_4_search = _co_agent_search(4)
    co_share_4 = StringField("Co-agent 4 share %", render_kw={"inputmode": "decimal"})

    def set_products(self, products) -> None:
        """Offer only the products this agent may sell."""
        # The list price rides on each option so the page can prefill Unit price (static/js).
        self.product_id.choices = [SelectChoice("", "Choose a product…")] + [
            SelectChoice(p.id, f"{p.name} ({p.sku})",
                         render_kw={"data-list-price": f"{p.list_price_cents // 100}.{p.list_price_cents % 100:02d}"})
            for p in products]
        self.products = {p.id: p for p in products}

    def show_co_agents(self, agents) -> None:
        """Name the picked co-agents (the active agents among the rows' ids): each row's search box
        shows its co-agent's name, also when a refused form is shown again."""
        self.picked_co_agents = {agent.id: agent for agent in agents}
        for number in range(1, MAX_CO_AGENTS + 1):
            picked = self.picked_co_agents.get(self[f"co_agent_{number}"].data)
            if picked is not None:
                self[f"co_agent_{number}_search"].data = picked.name

    def picked_co_agent(self, number: int):
        """The agent picked in row `number` (1-4), when shown by show_co_agents, else None."""
        return getattr(self, "picked_co_agents", {}).get(self[f"co_agent_{number}"].data)

    @property
    def co_agent_rows(self) -> list[tuple]:
        """The (co-agent, share) field pairs, in order."""
        return [(self[f"co_agent_{n}"], self[f"co_share_{n}"]) for n in range(1, MAX_CO_AGENTS + 1)]

    @property
    def co_agents_value(self) -> tuple[CoAgentInput, ...]:
        """The co-agent rows up to the last one filled in (an empty row before it is kept, so its
        error is shown beside it): the service checks them."""
        # A name typed but never picked keeps its row too, so "choose an active agent" is said
        # rather than the sale being saved unsplit.
        rows = [(agent.data, (share.data or "").strip(), (self[f"{agent.name}_search"].data or "").strip())
                for agent, share in self.co_agent_rows]
        while rows and rows[-1] == (None, "", ""):
            rows.pop()
        return tuple(CoAgentInput(agent_id, share or None) for agent_id, share, _ in rows)

    @property
    def is_split(self) -> bool:
        """True when any split field is filled in or refused (the split section opens)."""
        return bool(self.co_agents_value or (self.share.data or "").strip() or self.share.errors
                    or any(a.errors or s.errors for a, s in self.co_agent_rows))

    def validate_product_id(self, field):
        """A product must be chosen."""
        if field.data is None:
            raise ValidationError("Choose a product.")

    def validate_quantity(self, field):
        """A whole number of at least 1."""
        text = (field.data or "").strip()
        if not _WHOLE.match(text) or int(text) < 1:
            raise ValidationError("Enter a whole number of at least 1.")

    def validate_sold_on(self, field):
        """A calendar date (YYYY-MM-DD)."""
        if parse_iso_date(field.data) is None:
            raise ValidationError("Enter the date as YYYY-MM-DD.")

    @property
    def quantity_value(self) -> int | None:
        """The quantity as an int, when valid."""
        text = (self.quantity.data or "").strip()
        return int(text) if _WHOLE.match(text) else None

    @property
    def customer_id_value(self) -> int | None:
        """The chosen existing customer, if any."""
        return db_id_or_none(self.customer_id.data)


class SaleFilterForm(FlaskForm):
    """Filters of the sales list (GET, so no CSRF token: it changes nothing)."""

    class Meta:
        csrf = False

    start = StringField("From", render_kw={"type": "date"})
    end = StringField("To", render_kw={"type": "date"})
    status = SelectField("Status", validate_choice=False, choices=[
        SelectChoice("", "Any status"), *(SelectChoice(status, status.title()) for status in SaleStatus)])
    product_id = SelectField("Product", coerce=db_id_or_none, validate_choice=False)
    customer = StringField("Customer", validators=[Length(max=120)])
    sort = HiddenField(default="date")
    direction = HiddenField(default="desc")
