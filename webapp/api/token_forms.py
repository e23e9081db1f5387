"""The profile page's form for a new API token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from webapp.formtools import PlainText


class TokenForm(FlaskForm):
    """Name and scope of a new token."""

    name = StringField("Token name", validators=[DataRequired(), Length(max=80), PlainText()],
                       render_kw={"placeholder": "e.g. Web shop"})
    scope = SelectField("Access", choices=[SelectChoice("write", "Read and write"),
                                           SelectChoice("read", "Read only")])
