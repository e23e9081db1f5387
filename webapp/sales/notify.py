"""Emails to agents about their sales (queued in the same transaction as the decision)."""

from __future__ import annotations

from flask import current_app, render_template

from webapp.mail.services import queue_email
from webapp.sales.models import Sale, SaleStatus

SUBJECTS = {SaleStatus.REJECTED: "Your sale was rejected", SaleStatus.VOIDED: "Your sale was voided"}


def sale_decided(sale: Sale) -> None:
    """Tell the agent their sale was rejected or voided, with the reason (once per decision)."""
    if sale.status not in SUBJECTS:
        return
    base_url = current_app.config.get("BASE_URL") or ""
    context = {"sale": sale, "link": f"{base_url}/sales/{sale.id}" if base_url else None}
    queue_email(
        key=f"sale-{sale.status}:{sale.id}",
        to=sale.agent.email,
        subject=f"{SUBJECTS[sale.status]}: {sale.product.name}, {sale.sold_on.isoformat()}",
        text=render_template("email/sale_decided.txt", **context),
        html=render_template("email/sale_decided.html", **context),
        meta={"kind": f"sale_{sale.status}", "sale_id": str(sale.id)},
    )
