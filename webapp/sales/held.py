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
    sale_c, credit_c = Sale.__table__.c, SaleCredit.__table__.c
    own = sale_c.agent_id == agent_id
    co_held = (credit_c.agent_id == agent_id) & (credit_c.position > 0)
    in_span = sale_c.sold_on.between(first, last)
    return union_all(
        select(sale_c.id.label("sale_id")).where(own, in_span),
        select(credit_c.sale_id).join(Sale.__table__, credit_c.sale_id == sale_c.id).where(co_held, in_span),
    )
