"""Payouts: money paid to agents, and their reversals (never deletions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import func, insert, select

from webapp import clock, panel_writes
from webapp.audit.models import AuditEvent
from webapp.audit.services import record
from webapp.auth import access
from webapp.auth.models import User
from webapp.commissions.ledger import agent_balance, lock_agent
from webapp.commissions.models import Payout
from webapp.commissions.periods import hold_open, is_date_closed, period_for
from webapp.errors import CLOSED_PERIOD, NotFound, ServiceError
from webapp.extensions import db
from webapp.formtools import check_plain_text
from webapp.money import MAX_CENTS, format_money

RECENT_PAYOUTS = 50
CLOSED_DATE = "That date is in a closed period; date the payout in an open period."


def _snapshot(payout: Payout) -> dict:
    """The audited fields of a payout."""
    return {"agent_id": payout.agent_id, "amount_cents": payout.amount_cents, "paid_on": payout.paid_on.isoformat(),
            "reference": payout.reference, "advance": payout.advance, "reverses_id": payout.reverses_id}


def _hold_open_date(paid_on: date) -> None:
    """Refuse a date in a closed period, else hold its period open until the commit, so a close
    cannot freeze the period without this payout (periods.hold_open). Every payout lies in a period
    row, so period summaries chain without holes."""
    # is_date_closed first: a refused date must not create a period row.
    if is_date_closed(paid_on) or not hold_open(period_for(paid_on)):
        raise ServiceError(CLOSED_DATE, "paid_on", code=CLOSED_PERIOD)


def record_payout(actor, *, agent_id: int, amount_cents: int, paid_on: date, reference: str | None = None,
                  advance: bool = False) -> Payout:
    """Record a payout dated in an open period, capped at the unpaid balance unless an advance."""
    agent = db.session.get(User, agent_id) if isinstance(agent_id, int) else None
    if agent is None or not access.is_agent(agent):
        raise ServiceError("Choose an agent.", "agent_id")
    if actor is not None and not access.can_manage_agent(actor, agent):
        raise NotFound()
    lock_agent(agent.id)
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents < 1:
        raise ServiceError("Enter an amount greater than zero.", "amount")
    if amount_cents >= MAX_CENTS:
        raise ServiceError("This amount is too large.", "amount")
    # datetime is a date subclass; comparing it with today() raised a TypeError (a 500).
    if not isinstance(paid_on, date) or isinstance(paid_on, datetime):
        raise ServiceError("Enter the payment date.", "paid_on")
    if paid_on > clock.today():
        raise ServiceError("The payment date cannot be in the future.", "paid_on")
    # is_date_closed, not period_for(...).is_open: a check must not create a period row (closed
    # periods form a prefix, so the two agree), or a refused payout would leave a write behind.
    if is_date_closed(paid_on):
        raise ServiceError(CLOSED_DATE, "paid_on", code=CLOSED_PERIOD)
    unpaid = agent_balance(agent.id).unpaid
    if amount_cents > unpaid and not advance:
        raise ServiceError(
            f"This is more than the unpaid balance "
            f"({format_money(max(unpaid, 0), current_app.config['CURRENCY'])}). "
            "Mark it as an advance to pay more.", "amount")
    _hold_open_date(paid_on)
    reference = check_plain_text((reference or "").strip()[:120], "reference") or None
    payout = Payout(agent_id=agent.id, amount_cents=amount_cents, paid_on=paid_on, reference=reference,
                    advance=bool(advance), created_by_id=getattr(actor, "id", None))
    db.session.add(payout)
    db.session.flush()
    record(actor, "payout.create", payout, None, _snapshot(payout))
    return payout


def record_payouts(actor, amounts: dict[int, int], *, paid_on: date, reference: str) -> list[Payout]:
    """Record many payouts at once, each with its audit event (set-based: a few statements for any
    number). The caller holds the agents' locks and has capped each amount at what is owed."""
    if any(isinstance(cents, bool) or not isinstance(cents, int) or not 1 <= cents < MAX_CENTS
           for cents in amounts.values()):
        raise ServiceError("Each amount must be above zero and below the largest amount allowed.", "amount")
    _hold_open_date(paid_on)
    reference = check_plain_text(reference.strip()[:120], "reference") or None
    actor_id = getattr(actor, "id", None)
    # Bulk INSERT ... RETURNING: one statement per thousand rows on every database (a flush of new
    # objects is batched like this on PostgreSQL only). Rows come back in no promised order; each
    # names its agent.
    with panel_writes.writes_for(amounts):  # only these agents' totals panels change
        made = sorted(db.session.scalars(insert(Payout).returning(Payout), [
            {"agent_id": agent_id, "amount_cents": cents, "paid_on": paid_on, "reference": reference,
             "advance": False, "created_by_id": actor_id} for agent_id, cents in amounts.items()]),
            key=lambda payout: payout.id)
    db.session.execute(insert(AuditEvent), [
        # "before" given as None, as record() gives it (the JSON column then stores a JSON null), so
        # every payout.create row reads alike whichever path wrote it.
        {"actor_id": actor_id, "action": "payout.create", "object_type": "Payout", "object_id": payout.id,
         "before": None, "after": _snapshot(payout)} for payout in made])
    return made


def reverse_payout(actor, payout: Payout, *, reason: str) -> Payout:
    """Reverse a payout with a counter-entry dated today (the original stays on record)."""
    lock_agent(payout.agent_id)
    reason = check_plain_text((reason or "").strip(), "reason", multiline=True)
    if not reason:
        raise ServiceError("Give a reason.", "reason")
    if payout.reverses_id is not None:
        raise ServiceError("A reversal cannot itself be reversed; record a new payout.", status=409)
    if db.session.scalar(select(Payout.id).where(Payout.reverses_id == payout.id)) is not None:
        raise ServiceError("This payout has already been reversed.", status=409)
    today = clock.today()
    period_for(today)  # like a payout, a reversal lies in a period row (summaries would miss it)
    reversal = Payout(agent_id=payout.agent_id, amount_cents=-payout.amount_cents, paid_on=today,
                      reference=f"Reversal of payout {payout.id}: {reason}"[:120], advance=payout.advance,
                      reverses_id=payout.id, created_by_id=getattr(actor, "id", None))
    db.session.add(reversal)
    db.session.flush()
    record(actor, "payout.reverse", reversal, _snapshot(payout), _snapshot(reversal))
    return reversal


def payouts_of(agent_id: int) -> list[Payout]:
    """An agent's payouts, newest first."""
    return list(db.session.scalars(select(Payout).where(Payout.agent_id == agent_id)
                                   .order_by(Payout.paid_on.desc(), Payout.id.desc())))


def reversed_ids(payout_ids: list[int]) -> set[int]:
    """Which of these payouts have been reversed."""
    return set(reversals_of(payout_ids))


def team_payouts(user: User, limit: int = RECENT_PAYOUTS) -> list[tuple[Payout, User]]:
    """The most recent payouts (and reversals) of the user's team with their agent, newest first."""
    query = select(Payout, User).join(User, Payout.agent_id == User.id).where(
        access.agent_scope(user, Payout.agent_id))
    return [(payout, agent) for payout, agent in
            db.session.execute(query.order_by(Payout.paid_on.desc(), Payout.id.desc()).limit(limit)).all()]


@dataclass(frozen=True)
class PayoutFilters:
    """Filters of the API's payout list: one agent, paid on or after `start`, on or before `end`."""

    agent_id: int | None = None
    start: date | None = None
    end: date | None = None


def _visible_payouts(user: User, filters: PayoutFilters):
    """The query of the payouts (and reversals) of the agents the user manages, filtered."""
    query = select(Payout).where(access.agent_scope(user, Payout.agent_id))
    if filters.agent_id is not None:
        query = query.where(Payout.agent_id == filters.agent_id)
    if filters.start is not None:
        query = query.where(Payout.paid_on >= filters.start)
    if filters.end is not None:
        query = query.where(Payout.paid_on <= filters.end)
    return query


def visible_payouts(user: User, filters: PayoutFilters, *, before_id: int | None = None,
                    limit: int = RECENT_PAYOUTS) -> list[Payout]:
    """Payouts and reversals the user may see, newest recorded first; only ids below `before_id`
    (a keyset page, stable while payouts are recorded)."""
    query = _visible_payouts(user, filters)
    if before_id is not None:
        query = query.where(Payout.id < before_id)
    return list(db.session.scalars(query.order_by(Payout.id.desc()).limit(limit)))


def count_visible_payouts(user: User, filters: PayoutFilters) -> int:
    """How many payouts visible_payouts would list over every page."""
    return db.session.scalar(select(func.count()).select_from(_visible_payouts(user, filters).subquery()))


def reversals_of(payout_ids: list[int]) -> dict[int, int]:
    """The reversal's id of each of these payouts that has been reversed."""
    if not payout_ids:
        return {}
    return dict(db.session.execute(select(Payout.reverses_id, Payout.id).where(
        Payout.reverses_id.in_(payout_ids))).all())
