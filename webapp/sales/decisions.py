"""Deciding sales: approve, reject, void. Each keeps the ledger exact.

A decision locks every holder of the sale in id order, re-reads the sale (another manager may have
just decided it), checks the access policy (four eyes included), then recomputes each holder's
month in the same transaction. Services flush; the route commits once.
"""

from __future__ import annotations

from webapp import clock
from webapp.audit.services import record
from webapp.auth import access
from webapp.auth.models import User
from webapp.commissions.ledger import lock_agents, recompute_agents_month
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.formtools import check_plain_text
from webapp.sales import notify
from webapp.sales.checks import snapshot
from webapp.sales.credits import holder_ids
from webapp.sales.models import Sale, SaleStatus


def _decide(actor: User, sale: Sale, *, expect: str, to: str, action: str, reason: str | None = None) -> Sale:
    """Move a sale between statuses under the agent lock, then recompute its month."""
    if not access.can_manage_agent(actor, sale.agent):
        raise NotFound()  # before the lock: another team's sale is not even locked
    # Every holder's month changes: lock them all, in id order (two split sales sharing holders
    # then queue instead of deadlocking). The primary alone for an unsplit sale.
    holders = holder_ids(sale)
    lock_agents(holders)
    # Re-read after taking the lock: another manager may have decided it a moment ago, or its
    # agent changed its co-agents. Locking a new co-agent now could take a lower id after a higher
    # one (the order that deadlocks), so the decision is refused and the reviewer looks again.
    db.session.refresh(sale)
    db.session.refresh(sale, ["credits"])
    if not holder_ids(sale) <= holders:
        raise ServiceError("This sale's co-agents changed a moment ago: look at it again, then decide.",
                           status=409)
    if sale.status != expect:
        if sale.status == SaleStatus.PENDING:
            raise ServiceError("This sale is still pending: approve or reject it instead.", status=409)
        who = f" by {sale.decided_by.name}" if sale.decided_by else ""
        raise ServiceError(f"This sale was already {sale.status}{who}.", status=409)
    access.check_may_decide_sale(actor, sale)  # four eyes, after the status so a stale click says why
    before = snapshot(sale)
    sale.status = to
    sale.decided_by_id, sale.decided_at = actor.id, clock.now_utc()
    if reason is not None:
        sale.reason = reason
    db.session.flush()
    record(actor, action, sale, before, snapshot(sale))
    recompute_agents_month(holders, sale.sold_on)
    notify.sale_decided(sale)
    return sale


def lock_for_decision(actor: User, sale: Sale) -> Sale:
    """Take the locks a decision takes (every holder, in id order) and re-read the sale: as it is now,
    and stays until the transaction ends (an API If-Match compares it). Another team's sale:
    NotFound, before anything is locked."""
    if not access.can_manage_agent(actor, sale.agent):
        raise NotFound()
    lock_agents(holder_ids(sale))
    db.session.refresh(sale)
    db.session.refresh(sale, ["credits"])
    return sale


def check_reason(reason: str | None) -> str:
    """A reason is required for rejections and voids."""
    reason = check_plain_text((reason or "").strip(), "reason", multiline=True)
    if not reason:
        raise ServiceError("Give a reason.", "reason")
    if len(reason) > 2000:
        raise ServiceError("Keep the reason under 2000 characters.", "reason")
    return reason


def approve_sale(actor: User, sale: Sale) -> Sale:
    """Approve a pending sale (never one you entered); a late one posts in the open period."""
    return _decide(actor, sale, expect=SaleStatus.PENDING, to=SaleStatus.APPROVED, action="sale.approve")


def reject_sale(actor: User, sale: Sale, reason: str) -> Sale:
    """Reject a pending sale with a reason (never one you entered)."""
    return _decide(actor, sale, expect=SaleStatus.PENDING, to=SaleStatus.REJECTED,
                   action="sale.reject", reason=check_reason(reason))


def void_sale(actor: User, sale: Sale, reason: str) -> Sale:
    """Void an approved sale (never one you entered); a stated one gets a clawback."""
    return _decide(actor, sale, expect=SaleStatus.APPROVED, to=SaleStatus.VOIDED,
                   action="sale.void", reason=check_reason(reason))
