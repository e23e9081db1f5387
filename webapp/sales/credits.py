"""A sale's credits: who holds the sale and what each holder is credited (COMMISSION_RULES.md 8).

Every sale has at least its primary credit (position 0: the sale's agent), so the ledger and every
figure read holders the same way for split and unsplit sales.
"""

from __future__ import annotations

from sqlalchemy import exists, insert, literal, select

from webapp.auth.models import User
from webapp.extensions import db
from webapp.sales.models import FULL_SHARE, Sale, SaleCredit


def primary_credit(agent: User, amount_cents: int) -> SaleCredit:
    """The one credit of an unsplit sale: its agent, 100%, the whole amount, the agent's team."""
    return SaleCredit(agent_id=agent.id, position=0, share_units=FULL_SHARE, credit_cents=amount_cents,
                      team_id=agent.manager_id)


def reallocate(sale: Sale) -> None:
    """After the amount changed: credit the holders again (an unsplit sale's primary: the whole amount)."""
    (primary,) = sale.credits  # split sales arrive with the split credit services
    primary.credit_cents = sale.amount_cents


def add_missing_primary_credits() -> None:
    """Give every sale that has no credit its primary credit, in one statement (bulk loads)."""
    sale_c, credit_c = Sale.__table__.c, SaleCredit.__table__.c
    db.session.execute(insert(SaleCredit.__table__).from_select(
        ["sale_id", "agent_id", "position", "share_units", "credit_cents", "team_id"],
        select(sale_c.id, sale_c.agent_id, literal(0), literal(FULL_SHARE), sale_c.amount_cents,
               User.__table__.c.manager_id)
        .join(User.__table__, User.__table__.c.id == sale_c.agent_id)
        .where(~exists().where(credit_c.sale_id == sale_c.id))))
