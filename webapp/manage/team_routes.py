"""Team dashboard and the manager's view of one agent (under /manage)."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from webapp.auth.access import visible_agent
from webapp.auth.decorators import manager_required
from webapp.manage import bp
from webapp.manage import team as team_service
from webapp.manage.agent_page import render_agent_page
from webapp.web import check, is_htmx, requested_page

FIGURES_ID = "team-figures"


@bp.route("/team")
@manager_required
def team():
    """Team dashboard: per-agent figures (a page of them), leaderboard, totals and chart for a period."""
    # A period that cannot be read is said beside the picker, over the current period's figures.
    chosen = check(lambda: team_service.resolve_period(request.args.get("period")), unplaced=None, error_status=422)
    period = chosen.value if chosen.ok else team_service.resolve_period(None)
    period_error = None if chosen.ok else chosen.error.message
    dashboard = team_service.team_dashboard(current_user, period, requested_page())
    if is_htmx(FIGURES_ID):
        return render_template("review/partials/_team_figures.html", dash=dashboard), chosen.status
    before, after = team_service.neighbour_periods(period)
    return render_template("review/team.html", dash=dashboard, periods=team_service.picker_periods(period),
                           period_error=period_error, before=before, after=after,
                           period_text=request.args.get("period", "")), chosen.status


@bp.route("/agents/<int:agent_id>")
@manager_required
def agent_detail(agent_id: int):
    """One agent as their manager sees them: figures, sales, ledger, payouts (another team's: 404)."""
    return render_agent_page(visible_agent(current_user, agent_id))
