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
    return _held(lambda agent: agent == agent_id, first, last)


def held_credits(agent_ids: list[int], first: date, last: date) -> CompoundSelect:
    """Every (sale_id, agent_id) credit these agents hold of the sales sold in [first, last].

    Each pair is one credit (a sale has one credit per holder), so two holders of one split sale in
    the list give two rows and joining credits on both columns repeats none."""
    return _held(lambda agent: agent.in_(agent_ids), first, last)


def _held(holders, first, last) -> CompoundSelect:
    """The (sale_id, agent_id) credits whose holder meets `holders` (a function of the agent column
    giving the condition), of the sales sold in [first, last]."""
    sale_c, credit_c = Sale.__table__.c, SaleCredit.__table__.c
    in_span = sale_c.sold_on.between(first, last)
    return union_all(
        select(sale_c.id.label("sale_id"), sale_c.agent_id.label("agent_id")).where(holders(sale_c.agent_id), in_span),
        select(credit_c.sale_id, credit_c.agent_id).join(Sale.__table__, credit_c.sale_id == sale_c.id)
        # A literal 0, not a bound parameter: a prepared statement's generic plan can then match the
        # partial index's own `position > 0` (with a parameter it read every credit of the agent).
        .where(holders(credit_c.agent_id), credit_c.position > literal_column("0"), in_span),
    )
