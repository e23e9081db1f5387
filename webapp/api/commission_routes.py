"""API v1 commissions: an agent's figures for a date range, and what a sale would earn."""

from __future__ import annotations

from webapp.api.convert import (money, snapshot_adjustments, snapshot_lines, snapshot_payouts,
                                snapshot_spiffs, unit_price)
from webapp.api.framework import operation
from webapp.api.schemas import EstimateIn, EstimateOut, RangeQuery
from webapp.api.statement_schemas import CommissionsOut
from webapp.auth.access import own_or_managed_agent
from webapp.money import to_cents
from webapp.sales import services as sales
from webapp.statements import services as statements


@operation("GET", "/agents/{agent_id}/commissions", summary="An agent's commission over a date range "
           "(at most 366 days)", tag="Commissions", area="ledger", query=RangeQuery,
           responses={200: CommissionsOut})
def agent_commissions(user, agent_id: int, query: RangeQuery):
    """An agent's volume, earned, SPIFF rewards, adjustments, payouts, unpaid balance and lines for a range.

    Agents only their own id, managers their team, admins every agent; anyone else is 404."""
    agent = own_or_managed_agent(user, agent_id)
    figures = statements.commission_summary(agent, query.start, query.end)
    totals = figures["totals"]
    return CommissionsOut(
        agent_id=agent.id, start=figures["start"], end=figures["end"], volume=money(totals["volume"]),
        earned=money(totals["earned"]), spiffs=money(totals["spiffs"]), adjustments=money(totals["adjustments"]),
        total=money(totals["total"]), payouts=money(totals["payouts"]),
        opening_unpaid=money(totals["opening"]), unpaid=money(totals["closing"]),
        lines=snapshot_lines(figures), spiff_lines=snapshot_spiffs(figures),
        adjustment_lines=snapshot_adjustments(figures),
        payout_lines=snapshot_payouts(figures))


@operation("POST", "/commissions/estimate", summary="What a sale would earn if recorded and approved now",
           tag="Commissions", area="ledger", body=EstimateIn, responses={200: EstimateOut})
def estimate(user, body: EstimateIn):
    """The commission a sale would earn, with the checks of recording one.

    It writes nothing, so a read-only token may ask."""
    data = sales.SaleInput(product_id=body.product_id, quantity=body.quantity,
                           unit_price=unit_price(body.unit_price, body.product_id), sold_on=body.sold_on)
    amount_cents, commission = sales.estimate_sale(user, data, agent_id=body.agent_id)
    return EstimateOut(amount=money(amount_cents), commission=money(to_cents(commission)))
