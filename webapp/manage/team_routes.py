"""Team dashboard and the manager's view of one agent (under /manage)."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from webapp.auth.decorators import manager_required
from webapp.commissions import payouts as payout_service
from webapp.errors import ServiceError
from webapp.review import access, bp
from webapp.review import disputes as dispute_service
from webapp.review import money as money_service
from webapp.review import team as team_service
from webapp.review.money_forms import AdjustmentForm, PayoutForm
from webapp.sales import portal
from webapp.sales.models import SaleStatus

FIGURES_ID = "team-figures"
SALES_ID = "agent-sales"


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


def _sale_filters() -> portal.SaleFilters:
    """The agent page's sales filter (status) and page from the URL; junk is ignored."""
    status = request.args.get("status")
    return portal.SaleFilters(status=status if status in {s.value for s in SaleStatus} else None,
                              page=request.args.get("page", 1, type=int) or 1)


def render_agent_page(agent, *, payout_form: PayoutForm | None = None, adjustment_form: AdjustmentForm | None = None,
                      void_errors: dict | None = None, reverse_errors: dict | None = None, status: int = 200):
    """The agent page with its forms (fresh, or as posted with their errors beside the fields)."""
    filters = _sale_filters()
    sales = portal.list_sales(agent.id, filters)
    if _is_htmx_for(SALES_ID):
        return render_template("review/partials/_agent_sales.html", agent=agent, sales=sales, filters=filters,
                               void_errors=void_errors or {}), status
    show_all = request.args.get("ledger") == "all"
    ledger_periods, period_count = team_service.agent_ledger(agent.id, None if show_all else 12)
    payouts = payout_service.payouts_of(agent.id)
    return render_template(
        "review/agent.html", agent=agent, totals=portal.agent_totals(agent.id), sales=sales, filters=filters,
        ledger_periods=ledger_periods, period_count=period_count, show_all=show_all, payouts=payouts,
        reversed=money_service.reversed_ids([p.id for p in payouts]),
        statements=team_service.agent_statements(agent.id), disputes=dispute_service.agent_disputes(agent),
        payout_form=payout_form or PayoutForm(), adjustment_form=adjustment_form or AdjustmentForm(),
        void_errors=void_errors or {}, reverse_errors=reverse_errors or {}), status


@bp.route("/agents/<int:agent_id>")
@manager_required
def agent_detail(agent_id: int):
    """One agent as their manager sees them: figures, sales, ledger, payouts (another team's: 404)."""
    return render_agent_page(access.visible_agent(current_user, agent_id))
