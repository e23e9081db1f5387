"""Admin pages: the installation's settings (approval, period cadence, grace time, reminders, limits)."""

from __future__ import annotations

from flask_login import current_user

from webapp.admin import bp
from webapp.admin.catalog_forms import SettingsForm
from webapp.auth.decorators import admin_required
from webapp.commissions import periods
from webapp.web import form_page, saved


@bp.route("/settings", methods=["GET", "POST"])
@admin_required
def settings():
    """Company name, sale approval, statement period cadence, grace time, the reminder cadences
    (unpaid balance, plan documents) and the hourly limit of statements on request."""
    form = SettingsForm(obj=periods.get_settings())
    return form_page(form, lambda: periods.update_settings(
        current_user, company_name=form.company_name.data, approval_required=form.approval_required.data,
        period_cadence=form.period_cadence.data, grace_hours=form.grace_hours.data,
        reminder_days=form.reminder_days.data, statement_requests_per_hour=form.statement_requests_per_hour.data,
        plan_reminder_days=form.plan_reminder_days.data,
    ), template="admin/settings.html", done=saved("Settings saved.", "admin.settings"))
