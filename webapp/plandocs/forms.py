"""Plan document forms: the agent's acknowledgement."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired

from webapp.formtools import PlainText


class AcknowledgeForm(FlaskForm):
    """The agent types their full name and confirms they read the document (the name is checked
    against the account by the service, acknowledgements.check_typed_name)."""

    typed_name = StringField("Type your full name", validators=[PlainText()],
                             render_kw={"autocomplete": "name", "maxlength": 200, "spellcheck": "false"})
    confirm = BooleanField("I have read this document",
                           validators=[DataRequired("Tick the box to confirm that you have read this document.")])
