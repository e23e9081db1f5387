"""The manager's page of one agent, shared by its view and by the money actions that show it again.

Adjustments, payouts, voids and reversals re-render it with the posted form and its errors
beside the fields; htmx asks for its sales table alone.
"""

from __future__ import annotations

from flask import render_template, request

from webapp.commissions import payouts as payout_service
from webapp.disputes import services as dispute_service
from webapp.manage import team as team_service
from webapp.manage.money_forms import AdjustmentForm, PayoutForm
from webapp.sales import portal
from webapp.sales.models import SaleStatus
from webapp.statements.queries import agent_statements
from webapp.web import is_htmx, requested_page

SALES_ID = "agent-sales"


def _sale_filters() -> portal.SaleFilters:
    """The agent page's sales filter (status) from the URL; junk is ignored."""
    status = request.args.get("status")
    return portal.SaleFilters(status=status if status in set(SaleStatus) else None)


def render_agent_page(agent, *, payout_form: PayoutForm | None = None, adjustment_form: AdjustmentForm | None = None,
                      void_errors: dict | None = None, reverse_errors: dict | None = None, status: int = 200):
    """The agent page with its forms (fresh, or as posted with their errors beside the fields)."""
    filters = _sale_filters()
    sales = portal.list_sales(agent.id, filters, requested_page())
    if is_htmx(SALES_ID):
        return render_template("review/partials/_agent_sales.html", agent=agent, sales=sales, filters=filters,
                               void_errors=void_errors or {}), status
    show_all = request.args.get("ledger") == "all"
    ledger_periods, period_count = team_service.agent_ledger(agent.id, None if show_all else 12)
    payouts = payout_service.payouts_of(agent.id)
    return render_template(
        "review/agent.html", agent=agent, totals=portal.agent_totals(agent.id), sales=sales, filters=filters,
        ledger_periods=ledger_periods, period_count=period_count, show_all=show_all, payouts=payouts,
        reversed=payout_service.reversed_ids([p.id for p in payouts]),
        statements=agent_statements(agent.id), disputes=dispute_service.agent_disputes(agent),
        payout_form=payout_form or PayoutForm(), adjustment_form=adjustment_form or AdjustmentForm(),
        void_errors=void_errors or {}, reverse_errors=reverse_errors or {}), status
