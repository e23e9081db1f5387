"""The profile page's form for a new API token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField, StringField
from wtforms.widgets import TextInput
from wtforms.validators import DataRequired, Length

from webapp.auth.tokens import AREAS
from webapp.formtools import IsoDateField, PlainText

LEVEL_CHOICES = [SelectChoice("none", "No access"), SelectChoice("read", "Read"),
                 SelectChoice("write", "Read and write")]
# What most integrations need: record sales, read what they earn; nothing of payouts or administration.
DEFAULT_ACCESS = {"sales": "write", "ledger": "read", "payouts": "none", "admin": "none"}


class TokenForm(FlaskForm):
    """Name, access per area and last day of a new token."""

    name = StringField("Token name", validators=[DataRequired(), Length(max=80), PlainText()],
                       render_kw={"placeholder": "e.g. Web shop"})
    sales = SelectField(AREAS["sales"], choices=LEVEL_CHOICES, default=DEFAULT_ACCESS["sales"])
    ledger = SelectField(AREAS["ledger"], choices=LEVEL_CHOICES, default=DEFAULT_ACCESS["ledger"])
    payouts = SelectField(AREAS["payouts"], choices=LEVEL_CHOICES, default=DEFAULT_ACCESS["payouts"])
    admin = SelectField(AREAS["admin"], choices=LEVEL_CHOICES, default=DEFAULT_ACCESS["admin"])
    # Typed text, not <input type=date>: a half-typed date there is sent empty, which would
    # silently make a token that never expires; as text the server sees it and says so.
    expires_on = IsoDateField("Last day (optional)", widget=TextInput(),
                              render_kw={"placeholder": "YYYY-MM-DD", "inputmode": "numeric", "autocomplete": "off"})
    # Where an error about the areas as a whole is shown (beside the fieldset); it carries nothing.
    access = HiddenField()

    # The areas the user's role has operations in (set by the view); the others are not offered.
    usable: tuple[str, ...] = tuple(AREAS)

    @property
    def levels(self) -> dict[str, str]:
        """Each area's chosen level (none for an area the role has nothing in)."""
        return {area: self[area].data if area in self.usable else "none" for area in AREAS}
