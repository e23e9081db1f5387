"""Home page and /healthz (the team page is the review blueprint's /manage/team)."""

from __future__ import annotations

from flask import jsonify, redirect, render_template, url_for
from flask_login import current_user, login_required

from webapp.auth import access
from webapp.main import bp
from webapp.main import services


@bp.route("/")
@login_required
def home():
    """The signed-in user's home page (agents live on their dashboard)."""
    if access.is_agent(current_user):
        return redirect(url_for("sales.dashboard"))
    if access.is_manager(current_user):
        return redirect(url_for("review.queue"))  # a manager's morning starts with the queue
    return render_template("main/home.html", user=current_user)


@bp.route("/healthz")
def healthz():
    """Database and Redis reachability: 200 when both answer, 503 otherwise."""
    checks = services.health_checks()
    healthy = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if healthy else "unavailable", checks=checks), 200 if healthy else 503
