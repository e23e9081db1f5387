"""Admin pages: the installation's settings (approval, period cadence, grace time, reminders, limits)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.admin import bp
from webapp.admin.catalog_forms import SettingsForm
from webapp.auth.decorators import admin_required
from webapp.commissions import periods
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.formtools import apply_service_error


@bp.route("/settings", methods=["GET", "POST"])
@admin_required
def settings():
    """Company name, sale approval, statement period cadence, grace time, reminder cadence and the
    hourly limit of statements on request."""
    current = periods.get_settings()
    form = SettingsForm(obj=current)
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                periods.update_settings(
                    current_user, company_name=form.company_name.data,
                    approval_required=form.approval_required.data,
                    period_cadence=form.period_cadence.data, grace_hours=form.grace_hours.data,
                    reminder_days=form.reminder_days.data,
                    statement_requests_per_hour=form.statement_requests_per_hour.data,
                )
            except ServiceError as exc:
                db.session.rollback()
                apply_service_error(form, exc)
            else:
                db.session.commit()
                flash("Settings saved.", "success")
                return redirect(url_for("admin.settings"))
        return render_template("admin/settings.html", form=form), 422
    return render_template("admin/settings.html", form=form)
