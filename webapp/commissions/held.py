"""Which sales an agent holds in a span of days, found from the indexes instead of every credit.

An agent holds the sales recorded for them (their primary credit, position 0, is the sale's agent)
and those they are co-agent on. The first come from the sales' (agent, date) index; the second
from the small partial index of co-agent credits (ix_sale_credits_co_held). Joining an agent's
credits to their sales instead reads every credit they ever held, which at a few thousand sales an
agent was most of the cost of the totals panel (bench/dashboards.py).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import CompoundSelect, literal_column, select, union_all

from webapp.sales.models import Sale, SaleCredit


def held_sale_ids(agent_id, first, last) -> CompoundSelect:
    """The sales (column `sale_id`) the agent holds a credit of, sold in [first, last]; each argument
    is a value or a bound parameter (the totals panel builds its statement once)."""
    sale_c, credit_c = Sale.__table__.c, SaleCredit.__table__.c
    in_span = sale_c.sold_on.between(first, last)
    return union_all(
        select(sale_c.id.label("sale_id"), sale_c.agent_id.label("agent_id")).where(sale_c.agent_id == agent_id, in_span),
        select(credit_c.sale_id, credit_c.agent_id).join(Sale.__table__, credit_c.sale_id == sale_c.id)
        # A literal 0, not a bound parameter: a prepared statement's generic plan can then match the
        # partial index's own `position > 0` (with a parameter it read every credit of the agent).
        .where(credit_c.agent_id == agent_id, credit_c.position > literal_column("0"), in_span),
    )


def held_credit_rows(agent_ids: list[int], first: date, last: date) -> CompoundSelect:
    """Every credit these agents hold of the sales sold in [first, last], one row per credit with its
    sale's columns: sale_id, agent_id (the holder), sold_on, status, amount_cents, quantity,
    product_id, position, share_units, team_id and credit_cents.

    Each branch joins a sale to the very credit it stands for (its agent's, or a co-agent's from the
    partial index), so nothing joins the credits a second time: joining held
    (sale, agent) pairs back to every credit made PostgreSQL hash the whole credits table for a
    month of 500 agents (bench/recompute_month.py). A condition on these columns put on the union
    (the sale's status) reaches both branches."""
    sale_c, credit_c = Sale.__table__.c, SaleCredit.__table__.c
    in_span = sale_c.sold_on.between(first, last)
    columns = (sale_c.id.label("sale_id"), credit_c.agent_id, sale_c.sold_on, sale_c.status, sale_c.amount_cents,
               sale_c.quantity, sale_c.product_id, credit_c.position, credit_c.share_units, credit_c.team_id,
               credit_c.credit_cents)
    # The sale's agent's own credit (its primary one, position 0).
    primary = Sale.__table__.join(SaleCredit.__table__,
                                  (credit_c.sale_id == sale_c.id) & (credit_c.agent_id == sale_c.agent_id))
    co_held = SaleCredit.__table__.join(Sale.__table__, credit_c.sale_id == sale_c.id)
    return union_all(
        select(*columns).select_from(primary).where(sale_c.agent_id.in_(agent_ids), in_span),
        select(*columns).select_from(co_held).where(credit_c.agent_id.in_(agent_ids),
                                                   credit_c.position > literal_column("0"), in_span),
    )
