"""A sale's credits: who holds the sale and what each holder is credited (COMMISSION_RULES.md 8).

Every sale has at least its primary credit (position 0: the sale's agent), so the ledger and every
figure read holders the same way for split and unsplit sales.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import exists, insert, literal, select

from webapp.auth.models import User
from webapp.commissions.engine_credit import split_credit
from webapp.extensions import db
from webapp.money import from_cents, rate_to_units, to_cents
from webapp.sales.models import FULL_SHARE, Sale, SaleCredit


def holder_ids(sale: Sale) -> set[int]:
    """Every agent holding a credit of the sale (its primary included)."""
    return {sale.agent_id, *(credit.agent_id for credit in sale.credits)}


def new_credits(holders: list[tuple[User, Decimal]], amount_cents: int) -> list[SaleCredit]:
    """The credits of a sale of `amount_cents` held by `holders` (primary first, with their shares),
    allocated by the engine: co-agents rounded down to the cent, the primary takes the rest."""
    shares = [share for _, share in holders]
    credits = split_credit(from_cents(amount_cents), shares)
    return [SaleCredit(agent_id=holder.id, position=position, share_units=rate_to_units(share),
                       credit_cents=to_cents(credit), team_id=holder.manager_id)
            for position, ((holder, share), credit) in enumerate(zip(holders, credits))]


def set_credits(sale: Sale, holders: list[tuple[User, Decimal]]) -> None:
    """Give the sale these holders and shares, allocating its amount again (after any edit).

    Credits of unchanged holders keep their rows and their team (the team when first credited);
    when the holders or their order change the credits are written anew, the old rows deleted
    first (a holder or a position is unique per sale)."""
    fresh = new_credits(holders, sale.amount_cents)
    if [c.agent_id for c in sale.credits] == [c.agent_id for c in fresh]:
        for credit, new in zip(sale.credits, fresh):
            credit.share_units, credit.credit_cents = new.share_units, new.credit_cents
        return
    if sale.credits:
        sale.credits.clear()
        db.session.flush()
    sale.credits.extend(fresh)


def add_missing_primary_credits() -> None:
    """Give every sale that has no credit its primary credit, in one statement (bulk loads)."""
    sale_c, credit_c = Sale.__table__.c, SaleCredit.__table__.c
    db.session.execute(insert(SaleCredit.__table__).from_select(
        ["sale_id", "agent_id", "position", "share_units", "credit_cents", "team_id"],
        select(sale_c.id, sale_c.agent_id, literal(0), literal(FULL_SHARE), sale_c.amount_cents,
               User.__table__.c.manager_id)
        .join(User.__table__, User.__table__.c.id == sale_c.agent_id)
        .where(~exists().where(credit_c.sale_id == sale_c.id))))
