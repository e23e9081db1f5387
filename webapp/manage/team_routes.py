"""Team dashboard and the manager's view of one agent (under /manage)."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from webapp.auth.access import visible_agent
from webapp.auth.decorators import manager_required
from webapp.errors import ServiceError
from webapp.manage import bp
from webapp.manage import team as team_service
from webapp.manage.agent_page import render_agent_page

FIGURES_ID = "team-figures"


def _is_htmx_for(target: str) -> bool:
    """True when htmx asks for the fragment with this id (others get the full page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == target


@bp.route("/team")
@manager_required
def team():
    """Team dashboard: per-agent figures, leaderboard, totals and chart for a period."""
    status, period_error = 200, None
    try:
        period = team_service.resolve_period(request.args.get("period"))
    except ServiceError as exc:
        if exc.status == 404:
            raise
        status, period_error = 422, exc.message
        period = team_service.resolve_period(None)
    dashboard = team_service.team_dashboard(current_user, period)
    if _is_htmx_for(FIGURES_ID):
        return render_template("review/partials/_team_figures.html", dash=dashboard), status
    before, after = team_service.neighbour_periods(period)
    return render_template("review/team.html", dash=dashboard, periods=team_service.picker_periods(period),
                           period_error=period_error, before=before, after=after,
                           period_text=request.args.get("period", "")), status


@bp.route("/agents/<int:agent_id>")
@manager_required
def agent_detail(agent_id: int):
    """One agent as their manager sees them: figures, sales, ledger, payouts (another team's: 404)."""
    return render_agent_page(visible_agent(current_user, agent_id))
