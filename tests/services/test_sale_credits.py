"""Every sale has its credits (COMMISSION_RULES.md section 8): whichever way a sale is written (one
at a time, a batch, an edit, a bulk load), it holds at least its primary credit, and the credits
sum to the sale's amount."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select

from webapp.extensions import db
from webapp.sales import services as sales
from webapp.sales.credits import add_missing_primary_credits
from webapp.sales.models import FULL_SHARE, Sale, SaleCredit

TODAY = date(2026, 11, 20)


@pytest.fixture
def team(build):
    build.on(TODAY)
    manager, (agent,) = build.team("Maria", "Alice")
    return manager, agent


def _credits(sale: Sale) -> list[tuple]:
    """(agent, position, share units, credit cents, team) of each credit of the sale."""
    rows = db.session.execute(select(SaleCredit.agent_id, SaleCredit.position, SaleCredit.share_units,
                                     SaleCredit.credit_cents, SaleCredit.team_id)
                              .where(SaleCredit.sale_id == sale.id).order_by(SaleCredit.position)).all()
    return [tuple(row) for row in rows]


def _input(factory, amount: str, quantity: int = 1) -> sales.SaleInput:
    """A sale of one product to a new customer on TODAY."""
    return sales.SaleInput(product_id=factory.product().id, quantity=quantity,
                           unit_price=Decimal(amount) / quantity, sold_on=TODAY, new_customer_name="Acme")


def test_a_recorded_sale_holds_its_primary_credit(team, factory):
    manager, agent = team
    sale = factory.sale(agent, "1234.56", TODAY, approve=False)
    assert _credits(sale) == [(agent.id, 0, FULL_SHARE, 123456, manager.id)]
    assert sale.credits[0].is_primary


def test_a_sale_entered_by_the_manager_is_still_the_agents(team, factory):
    manager, agent = team
    sale = factory.sale(agent, "10.00", TODAY, approve=False, entered_by=manager)
    assert _credits(sale) == [(agent.id, 0, FULL_SHARE, 1000, manager.id)]


def test_an_edit_credits_the_new_amount(team, factory):
    manager, agent = team
    sale = factory.sale(agent, "100.00", TODAY, approve=False)
    sales.update_sale(agent, sale, _input(factory, "250.40", quantity=2))
    assert _credits(sale) == [(agent.id, 0, FULL_SHARE, 25040, manager.id)]


def test_a_batch_gives_every_sale_its_credit(team, factory):
    manager, agent = team
    items = [sales.BatchItem(_input(factory, amount), uuid.uuid4().hex, agent.id) for amount in ("5.00", "7.25")]
    results = sales.create_sales(manager, items)
    assert [_credits(r.sale) for r in results] == [[(agent.id, 0, FULL_SHARE, 500, manager.id)],
                                                   [(agent.id, 0, FULL_SHARE, 725, manager.id)]]


def test_a_bulk_load_gets_its_credits_in_one_statement(team, factory):
    manager, agent = team
    product, customer = factory.product(), factory.customer()
    db.session.execute(insert(Sale), [
        {"agent_id": agent.id, "product_id": product.id, "customer_id": customer.id, "quantity": 2,
         "unit_price_cents": 150, "amount_cents": 300, "sold_on": TODAY, "status": "approved",
         "entered_by_id": agent.id, "idempotency_key": f"bulk-{n:04d}"} for n in range(3)])
    already = factory.sale(agent, "1.00", TODAY)
    add_missing_primary_credits()
    add_missing_primary_credits()  # a second run adds nothing
    loaded = db.session.scalars(select(Sale).where(Sale.idempotency_key.like("bulk-%"))).all()
    assert [_credits(sale) for sale in loaded] == [[(agent.id, 0, FULL_SHARE, 300, manager.id)]] * 3
    assert _credits(already) == [(agent.id, 0, FULL_SHARE, 100, manager.id)]
    assert db.session.scalar(select(func.count()).select_from(SaleCredit)) == 4
