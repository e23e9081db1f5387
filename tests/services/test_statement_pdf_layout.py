"""The statement PDF's layout (issue 12, item 4): a short on-request statement is one page with a clean
header; a long one ends with the reconciliation beside the last table, and each table's total is
printed once, at its end (not at the foot of every page the table crosses)."""

from __future__ import annotations

import io
import re
import uuid
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import update

from webapp.commissions.adjustments import add_manual_adjustment
from webapp.commissions.models import Settings
from webapp.commissions.payouts import record_payout
from webapp.commissions.periods import period_for
from webapp.demo import CUSTOMERS, PRODUCTS
from webapp.extensions import db
from webapp.money import format_money
from webapp.plandocs.services import issue_missing
from webapp.sales.services import SaleInput, approve_sale, create_sale, void_sale
from webapp.statements.rendering import render_statement
from webapp.statements.services import start_adhoc_run, start_period_run, statement_pdf

pytestmark = pytest.mark.usefixtures("empty_queues")  # render jobs enqueued here are not left behind

RECONCILE = re.compile(r"Closing unpaid balance = opening .* = \$[\d,]+\.\d\d\.")


def pages_of(data: bytes) -> list[str]:
    """The text of each page of a PDF."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def rendered(statement) -> list[str]:
    """Render the statement as the worker does and return its pages' text."""
    db.session.commit()
    assert render_statement(statement.id) == "rendered"
    return pages_of(statement_pdf(statement))


def agent_with_products(factory, name: str):
    """An agent on 3.25% under a manager, and the demo catalogue's products (names as long as real ones)."""
    manager = factory.user("manager", name="Maria Lopez")
    agent = factory.user("agent", manager=manager, name=name,
                         email=f"{name.lower().replace(' ', '.')}@example-medical-devices.com")
    factory.assign(agent, factory.plan(base_rate="3.25"))
    return manager, agent, [factory.product(name=product, sku=sku) for sku, product, _, _ in PRODUCTS]


def sell(factory, agent, products, count: int, days: list[date]) -> list:
    """`count` sales (pending) spread over `days`, for the demo's customers, amounts exact to the cent."""
    sales = []
    for i in range(count):
        quantity = 1 + i % 4
        unit = Decimal(100_000 + i * 9_731) / 100
        customer = factory.customer(name=CUSTOMERS[i % len(CUSTOMERS)])
        sale, _ = create_sale(agent, SaleInput(product_id=products[i % len(products)].id, quantity=quantity,
                                               unit_price=unit, sold_on=days[i % len(days)],
                                               customer_id=customer.id), idempotency_key=uuid.uuid4().hex)
        sales.append(sale)
    return sales


def test_a_ten_line_on_request_statement_is_one_page_with_a_clean_header(factory, today):
    today(date(2026, 12, 12))
    manager, agent, products = agent_with_products(factory, "Alexandra Montgomery")
    for sale in sell(factory, agent, products, 10, [date(2026, 12, day) for day in range(1, 11)]):
        approve_sale(manager, sale)
    record_payout(manager, agent_id=agent.id, amount_cents=10_000, paid_on=date(2026, 12, 10),
                  reference="Bank transfer 2026-12-10")
    [statement] = start_adhoc_run(agent, agent_ids=[], start=date(2026, 12, 1), end=date(2026, 12, 12)).statements
    pages = rendered(statement)
    assert len(pages) == 1, f"{len(pages)} pages: {pages[-1][:200]!r}"
    assert RECONCILE.search(" ".join(pages[0].split()))
    # The tag reads as one piece under the title, not split over two lines.
    assert "(ad hoc, on request)" in pages[0]
    assert "Page 1 of 1" in pages[0]


def test_lines_naming_their_plan_documents_still_fit_one_page(factory, today):
    today(date(2026, 12, 12))
    manager, agent, products = agent_with_products(factory, "Alexandra Montgomery")
    # Five-digit document numbers: the widest a busy installation prints for years.
    db.session.execute(update(Settings).values(last_plan_document_number=12_344))
    [document] = issue_missing()
    for sale in sell(factory, agent, products, 10, [date(2026, 12, day) for day in range(1, 11)]):
        approve_sale(manager, sale)
    [statement] = start_adhoc_run(agent, agent_ids=[], start=date(2026, 12, 1), end=date(2026, 12, 12)).statements
    pages = rendered(statement)
    assert len(pages) == 1, f"{len(pages)} pages: {pages[-1][:200]!r}"
    text = " ".join(pages[0].split())
    assert text.count(f"No. {document.number}") == 10 and RECONCILE.search(text)


def test_a_long_statement_ends_with_the_reconciliation_beside_the_last_table(factory, today):
    today(date(2026, 11, 15))
    manager, agent, products = agent_with_products(factory, "Alexandra Montgomery")
    early = sell(factory, agent, products, 3, [date(2026, 11, 3), date(2026, 11, 9), date(2026, 11, 14)])
    for sale in early:
        approve_sale(manager, sale)
    today(date(2026, 11, 17))
    start_period_run(None, period_for(date(2026, 11, 1)))
    today(date(2026, 11, 30))
    late = sell(factory, agent, products, 70, [date(2026, 11, day) for day in range(16, 31)])
    for sale in reversed(late):
        approve_sale(manager, sale)
    void_sale(manager, early[0], "Customer returned the unit")
    add_manual_adjustment(manager, agent.id, 2500, "Bonus for the regional trade show")
    record_payout(manager, agent_id=agent.id, amount_cents=10_000, paid_on=date(2026, 11, 20),
                  reference="Bank transfer 2026-11-20")
    record_payout(manager, agent_id=agent.id, amount_cents=5_000, paid_on=date(2026, 11, 28),
                  reference="Advance for travel", advance=True)
    today(date(2026, 12, 2))
    [statement] = start_period_run(None, period_for(date(2026, 11, 16))).statements
    pages = rendered(statement)
    assert len(pages) >= 3
    last = " ".join(pages[-1].split())
    assert RECONCILE.search(last) and "Closing unpaid balance" in last
    # With the payouts table and its total, not alone on a page of its own.
    assert "Bank transfer 2026-11-20" in last and "Advance for travel" in last
    assert f"Total {format_money(15_000, 'USD')}" in last
    assert not any(RECONCILE.search(" ".join(page.split())) for page in pages[:-1])
    # The sales total is printed once at the end of the table (and once as the sales volume), not
    # at the foot of every page the table runs over.
    volume = format_money(statement.snapshot["totals"]["volume"], "USD")
    assert sum(page.count(volume) for page in pages) == 2
