"""Which sales an agent holds in a span of days, found from the indexes instead of every credit.

An agent holds the sales recorded for them (their primary credit, position 0, is the sale's agent)
and those they are co-agent on. The first come from the sales' (agent, date) index; the second
from the small partial index of co-agent credits (ix_sale_credits_co_held). Joining an agent's
credits to their sales instead reads every credit they ever held, which at a few thousand sales an
agent was most of the cost of the totals panel (bench/dashboards.py).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import CompoundSelect, select, union_all

from webapp.sales.models import Sale, SaleCredit


def held_sale_ids(agent_id: int, first: date, last: date) -> CompoundSelect:
    """The ids (column `sale_id`) of every sale the agent holds a credit of, sold in [first, last]."""
    return held_credits([agent_id], first, last)


def held_credits(agent_ids: list[int], first: date, last: date) -> CompoundSelect:
    """Every (sale_id, agent_id) credit these agents hold of the sales sold in [first, last].

    Each pair is one credit (a sale has one credit per holder), so two holders of one split sale in
    the list give two rows and joining credits on both columns repeats none."""
    sale_c, credit_c = Sale.__table__.c, SaleCredit.__table__.c
    in_span = sale_c.sold_on.between(first, last)
    return union_all(
        select(sale_c.id.label("sale_id"), sale_c.agent_id.label("agent_id")).where(sale_c.agent_id.in_(agent_ids), in_span),
        select(credit_c.sale_id, credit_c.agent_id).join(Sale.__table__, credit_c.sale_id == sale_c.id)
        .where(credit_c.agent_id.in_(agent_ids), credit_c.position > 0, in_span),
    )
