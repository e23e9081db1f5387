"""One sale's page (figures, ledger entries, history), shared by every view that shows it.

The sale view shows it; the edit and cancel refusals and the manager's void refusal show it again
with their message (a flash, or the void form's error beside its reason) and their status.
"""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from webapp.commissions import ledger
from webapp.money import to_cents
from webapp.sales import portal
from webapp.sales.models import Sale, SaleStatus


def render_sale_page(sale: Sale, *, void_error: dict | None = None, status: int = 200):
    """The sale page for the signed-in user; `void_error` is shown beside the void form's reason."""
    # A co-agent's estimate is of their own credit; managers see the primary's.
    holder_id = current_user.id if any(c.agent_id == current_user.id for c in sale.credits) else None
    estimate_cents = (to_cents(ledger.sale_estimate(sale, holder_id)) if sale.status == SaleStatus.PENDING
                      else None)
    return render_template("sales/detail.html", sale=sale, entries=portal.sale_entries(current_user, sale.id),
                           history=portal.sale_history(sale.id), estimate=estimate_cents,
                           can_edit=sale.status == SaleStatus.PENDING and current_user.id in (
                               sale.agent_id, sale.entered_by_id), void_error=void_error), status
