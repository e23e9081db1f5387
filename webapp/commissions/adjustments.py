"""Manual adjustments: a manager's signed correction to an agent's ledger, with a reason.

A manual entry sits in the period of the day it is made and is never recomputed: the ledger's
month recompute only touches `sale` and `adjustment` entries (COMMISSION_RULES.md section 5).
"""

from __future__ import annotations

from webapp import clock
from webapp.audit.services import record
from webapp.auth import access
from webapp.auth.models import User
from webapp.commissions.ledger import lock_agent
from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.commissions.periods import hold_open, period_for
from webapp.errors import CLOSED_PERIOD, NotFound, ServiceError
from webapp.extensions import db
from webapp.formtools import check_plain_text
from webapp.money import MAX_CENTS
from webapp.sales.models import Sale

MAX_REASON = 2000


def _snapshot(entry: CommissionEntry) -> dict:
    """The audited fields of a manual entry."""
    return {"agent_id": entry.agent_id, "period_id": entry.period_id, "kind": entry.kind,
            "amount_cents": entry.amount_cents, "reason": entry.reason, "sale_id": entry.sale_id}


def add_manual_adjustment(actor, agent_id: int, amount_cents: int, reason: str, *,
                          sale_id: int | None = None) -> CommissionEntry:
    """Post a signed, non-zero manual entry with a reason in today's (open) period."""
    agent = db.session.get(User, agent_id) if isinstance(agent_id, int) and not isinstance(agent_id, bool) else None
    if agent is None or not access.is_agent(agent) or not access.may_adjust(actor, agent):
        raise NotFound()
    lock_agent(agent.id)
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool):
        raise ServiceError("Enter an amount.", "amount")
    if amount_cents == 0:
        raise ServiceError("Enter an amount other than zero.", "amount")
    if abs(amount_cents) >= MAX_CENTS:
        raise ServiceError("This amount is too large.", "amount")
    reason = (reason or "").strip() if isinstance(reason, str) or reason is None else ""
    check_plain_text(reason, "reason", multiline=True)  # shown on the agent's statement
    if not reason:
        raise ServiceError("Give a reason: it is shown on the agent's statement.", "reason")
    if len(reason) > MAX_REASON:
        raise ServiceError(f"Keep the reason under {MAX_REASON} characters.", "reason")
    if sale_id is not None:
        sale = db.session.get(Sale, sale_id)
        if sale is None or sale.agent_id != agent.id:
            raise ServiceError("That sale is not one of this agent's.", "sale_id")
    period = period_for(clock.today())
    # Held (FOR SHARE) until this commits, as every ledger write holds its period: a close starting
    # now waits, and one that committed first is seen here, so no entry lands in a closed period.
    if not hold_open(period):
        # Only possible if today's period was closed early; a frozen period never changes.
        raise ServiceError(f"{period.label} is closed; adjustments go in an open period.", status=409,
                           code=CLOSED_PERIOD)
    entry = CommissionEntry(agent_id=agent.id, period_id=period.id, kind=EntryKind.MANUAL, sale_id=sale_id,
                            amount_cents=amount_cents, reason=reason, created_by_id=getattr(actor, "id", None))
    db.session.add(entry)
    db.session.flush()
    record(actor, "ledger.adjust", entry, None, _snapshot(entry))
    return entry
