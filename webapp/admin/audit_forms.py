"""The audit log's filter form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from webapp.audit.queries import SYSTEM, AuditFilters, known_actions, object_types
from webapp.auth.models import User
from webapp.extensions import db
from webapp.formtools import OptionalDateRange, db_id_or_none, parse_iso_date


class AuditFilterForm(OptionalDateRange, FlaskForm):
    """Actor, object type, object id, action, date range (a GET: no CSRF token)."""

    class Meta:
        csrf = False

    actor = SelectField("Actor", validate_choice=False)
    object_type = SelectField("Object type", validate_choice=False)
    object_id = StringField("Object id", render_kw={"inputmode": "numeric"})
    action = SelectField("Action", validate_choice=False)
    start = StringField("From", render_kw={"type": "date"})
    end = StringField("To", render_kw={"type": "date"})

    def set_choices(self) -> None:
        """Offer the users, and the object types and actions the log holds."""
        users = db.session.execute(select(User.id, User.name, User.role).order_by(User.name)).all()
        self.actor.choices = [SelectChoice("", "Anyone"), SelectChoice(SYSTEM, "System (jobs, commands)")] + [
            SelectChoice(str(uid), f"{name} ({role})") for uid, name, role in users]
        self.object_type.choices = [SelectChoice("", "Any object")] + [
            SelectChoice(t, t) for t in object_types()]
        self.action.choices = [SelectChoice("", "Any action")] + [SelectChoice(a, a) for a in known_actions()]

    def validate_actor(self, field):
        """A listed user or System."""
        if field.data and field.data != SYSTEM and db_id_or_none(field.data) is None:
            raise ValidationError("Choose an actor from the list.")

    def validate_object_id(self, field):
        """A whole number."""
        text = (field.data or "").strip()
        if text and db_id_or_none(text) is None:
            raise ValidationError("Enter the object's id, a whole number.")

    def filters(self) -> AuditFilters:
        """The valid filters (an invalid form filters nothing it could not read)."""
        object_id = (self.object_id.data or "").strip()
        actor = self.actor.data or None
        return AuditFilters(
            actor=actor if actor and not self.actor.errors else None,
            object_type=self.object_type.data or None,
            object_id=int(object_id) if object_id and not self.object_id.errors else None,
            action=self.action.data or None,
            start=parse_iso_date(self.start.data),
            end=None if self.end.errors else parse_iso_date(self.end.data))
