"""Periods: the list, the close preview, and closing (managers and admins)."""

from __future__ import annotations

from flask import render_template, url_for
from flask_login import current_user

from webapp.auth import access
from webapp.auth.decorators import manager_required
from webapp.manage import bp
from webapp.manage import periods
from webapp.manage.period_forms import CloseForm
from webapp.web import finish, run_service


def _user():
    """The signed-in user as a plain model object."""
    return current_user._get_current_object()


@bp.route("/periods")
@manager_required
def periods_page():
    """Every statement period with its status and your team's figures; the next one to close."""
    return render_template("review/periods.html", rows=periods.list_periods(_user()),
                           team_only=not access.is_admin(current_user))


def _close_page(period, error: str | None = None, status: int = 200):
    """The close preview (with the refusal message, if a close was refused)."""
    return render_template("review/period_close.html", preview=periods.preview(_user(), period),
                           form=CloseForm(), error=error), status


@bp.route("/periods/<int:period_id>/close")
@manager_required
def period_close(period_id: int):
    """What closing the period freezes (your team's figures) and a confirmation button."""
    return _close_page(periods.get_period(period_id))


@bp.route("/periods/<int:period_id>/close", methods=["POST"])
@manager_required
def period_close_confirm(period_id: int):
    """Close the period for every team (409 with the reason when it cannot be closed)."""
    outcome = run_service(lambda: periods.close(_user(), period_id).label, unplaced=None)
    if not outcome.ok:
        return _close_page(periods.get_period(period_id), outcome.error.message, outcome.status)
    return finish(url_for("review.periods_page"),
                  f"{outcome.value} is closed: its entries are frozen, and later changes post to the next open period.")
