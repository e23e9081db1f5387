"""One sale's page (figures, ledger entries, history), shared by every view that shows it.

The sale view shows it; the edit and cancel refusals and the manager's void refusal show it again
with their message (a flash, or the void form's error beside its reason) and their status.
"""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from webapp.auth import access
from webapp.commissions import ledger
from webapp.money import to_cents
from webapp.sales import portal
from webapp.sales.models import Sale, SaleStatus


def render_sale_page(sale: Sale, *, void_error: dict | None = None, status: int = 200):
    """The sale page for the signed-in user; `void_error` is shown beside the void form's reason.

    A split sale lists every holder's share and credit; an agent's estimate and ledger lines are
    their own part (a co-agent reads the sale, the primary's commission stays the primary's)."""
    holders = portal.sale_holders(sale)
    own = next((credit for credit in holders if credit.agent_id == current_user.id), None)
    estimate_cents = None
    if sale.status == SaleStatus.PENDING:
        estimate_cents = to_cents(ledger.sale_estimate(sale, own.agent_id if own else None))
    return render_template("sales/detail.html", sale=sale, entries=portal.sale_entries(current_user, sale.id),
                           history=portal.sale_history(sale.id), estimate=estimate_cents,
                           split_credits=holders if len(holders) > 1 else [], own_credit=own,
                           can_edit=(sale.status == SaleStatus.PENDING
                                     and access.may_edit_sale(current_user, sale)),
                           may_decide=access.may_decide_sale(current_user, sale),
                           void_error=void_error), status
