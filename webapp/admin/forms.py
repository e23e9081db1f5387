"""Admin forms."""

from flask_wtf import FlaskForm
from wtforms import (BooleanField, EmailField, PasswordField, SelectChoice, SelectField, StringField,
                     SubmitField)
from wtforms.validators import DataRequired, Length

from webapp.auth.models import Role
from webapp.formtools import PlainText, optional_db_id

# SelectChoice, not tuples: WTForms 3.3 deprecates tuple choices (and tests turn warnings into errors).
ROLE_CHOICES = [SelectChoice(Role.AGENT, "Agent"), SelectChoice(Role.MANAGER, "Manager"),
                SelectChoice(Role.ADMIN, "Admin")]


class _UserFields(FlaskForm):
    """Fields shared by the create and edit forms."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120), PlainText()])
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[DataRequired()])
    manager_id = SelectField("Manager", coerce=optional_db_id, validate_choice=False)

    def set_managers(self, managers):
        """Offer the active managers (and "none") as choices."""
        self.manager_id.choices = [SelectChoice("", "(no manager)")] + [
            SelectChoice(m.id, m.name) for m in managers
        ]


class UserCreateForm(_UserFields):
    """Create a user."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Initial password", validators=[DataRequired(), Length(max=256)])
    submit = SubmitField("Create user")


class UserEditForm(_UserFields):
    """Edit a user."""

    active = BooleanField("Active (can sign in)")
    submit = SubmitField("Save changes")
