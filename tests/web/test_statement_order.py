"""Statement lines by sale date, then sale id (COMMISSION_RULES.md section 11), not in approval order
(issue 12, item 4): the stored snapshot, the page, the PDF and the API, for period and ad-hoc statements,
and for statements issued before the order was applied."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from tests.conftest import browser_as
from tests.web._api import API, headers_for
from tests.web._html import tags, text_of, within
from webapp.commissions.periods import period_for
from webapp.extensions import db
from webapp.sales.services import approve_sale
from webapp.statements.models import Statement
from webapp.statements.rendering import render_statement
from webapp.statements.services import start_adhoc_run, start_period_run, statement_pdf

pytestmark = pytest.mark.usefixtures("empty_queues")  # render jobs enqueued here are not left behind


def d(day: int, month: int = 11) -> date:
    return date(2026, month, day)


@pytest.fixture
def sales(build, factory):
    """Alice's five sales of Nov 1-15, entered out of date order and approved latest date first.

    Amounts name their day (and order within Nov 7) so a line can be told apart in the PDF's text."""
    build.on(d(15))
    maria, (alice,) = build.team("Maria Lopez", "Alice Chen")
    product = factory.product(name="Patient monitor", sku="MED-100")
    entered = {key: factory.sale(alice, amount, day, approve=False, product=product) for key, amount, day in (
        ("11", "1011.00", d(11)), ("7a", "1007.00", d(7)), ("14", "1014.00", d(14)), ("3", "1003.00", d(3)),
        ("7b", "1077.00", d(7)))}
    for key in ("14", "11", "7b", "7a", "3"):  # approval order: newest sale date first, later id first
        approve_sale(maria, entered[key])
    return {"maria": maria, "alice": alice, "sales": entered}


EXPECTED_DATES = ["2026-11-03", "2026-11-07", "2026-11-07", "2026-11-11", "2026-11-14"]
EXPECTED_AMOUNTS = ["$1,003.00", "$1,007.00", "$1,077.00", "$1,011.00", "$1,014.00"]


def expected_sale_ids(sales: dict) -> list[int]:
    """Sale ids by date, then id: Nov 3, the two Nov 7 sales (7a was entered first), Nov 11, Nov 14."""
    entered = sales["sales"]
    assert entered["7a"].id < entered["7b"].id
    return [entered[key].id for key in ("3", "7a", "7b", "11", "14")]


def page_rows(html: str, heading: str) -> list[list[str]]:
    """The body rows (cell texts) of the statement table that follows the heading `heading` (a line's
    derivation row under it belongs to the line)."""
    page = tags(html)
    h2 = next(i for i, t in enumerate(page) if t.name == "h2" and t.text.strip() == heading)
    table = next(t for t in page[h2:] if t.name == "table")
    body = next(t for t in within(table, page, "tbody"))
    return [[text_of(c) for c in within(row, page, "td")] for row in within(body, page, "tr")
            if "derivation-row" not in (row.attrs.get("class") or "")]


def pdf_amount_order(data: bytes) -> list[str]:
    """The sale amounts of the expected set, in the order the PDF's text shows them."""
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    return [m for m in re.findall(r"\$1,0\d\d\.00", text) if m in EXPECTED_AMOUNTS]


def check_everywhere(app, statement: Statement, sales: dict) -> None:
    """The snapshot, the page, the PDF and the API all list the sale lines by date, then sale id."""
    assert [line["sale_id"] for line in statement.snapshot["lines"]] == expected_sale_ids(sales)
    html = browser_as(app, sales["alice"]).get(f"/statements/{statement.id}").get_data(as_text=True)
    rows = page_rows(html, "Sales")
    assert [row[0] for row in rows] == EXPECTED_DATES
    assert [row[4] for row in rows] == EXPECTED_AMOUNTS
    db.session.commit()
    assert render_statement(statement.id) == "rendered"
    assert pdf_amount_order(statement_pdf(statement)) == EXPECTED_AMOUNTS
    detail = app.test_client().get(f"{API}/statements/{statement.id}", headers=headers_for(sales["alice"])).json
    assert [line["sale_id"] for line in detail["lines"]] == expected_sale_ids(sales)


def test_a_period_statement_lists_sales_by_date_then_id(app, sales, today):
    today(d(17))
    run = start_period_run(None, period_for(d(1)))
    [statement] = run.statements
    check_everywhere(app, statement, sales)


def test_an_adhoc_statement_lists_sales_by_date_then_id(app, sales):
    [statement] = start_adhoc_run(sales["alice"], agent_ids=[], start=d(1), end=d(15)).statements
    check_everywhere(app, statement, sales)


def test_a_statement_issued_in_approval_order_is_shown_by_date_and_keeps_what_was_stored(app, sales, today):
    today(d(17))
    [statement] = start_period_run(None, period_for(d(1))).statements
    db.session.commit()
    assert render_statement(statement.id) == "rendered"
    stored_pdf = statement.pdf
    # As statements issued before the fix were stored: lines and adjustments in ledger (approval) order.
    old = dict(statement.snapshot)
    old["lines"] = sorted(old["lines"], key=lambda line: line["entry_id"])
    old["adjustments"] = [
        {"entry_id": 90, "kind": "manual", "date": "2026-11-12", "sale_id": None, "sale_date": None,
         "product": None, "reason": "Second", "late_approval": False, "amount_cents": 200},
        {"entry_id": 91, "kind": "manual", "date": "2026-11-02", "sale_id": None, "sale_date": None,
         "product": None, "reason": "First", "late_approval": False, "amount_cents": 100},
        {"entry_id": 80, "kind": "manual", "date": "2026-11-12", "sale_id": None, "sale_date": None,
         "product": None, "reason": "Earlier entry, same day", "late_approval": False, "amount_cents": 300}]
    statement.snapshot = old
    db.session.commit()
    assert [line["sale_id"] for line in old["lines"]] != expected_sale_ids(sales), "stored in approval order"

    alice = browser_as(app, sales["alice"])
    html = alice.get(f"/statements/{statement.id}").get_data(as_text=True)
    assert [row[0] for row in page_rows(html, "Sales")] == EXPECTED_DATES
    assert [row[2] for row in page_rows(html, "Adjustments")] == [
        "Manual correction. First", "Manual correction. Earlier entry, same day", "Manual correction. Second"]
    detail = app.test_client().get(f"{API}/statements/{statement.id}", headers=headers_for(sales["alice"])).json
    assert [line["sale_id"] for line in detail["lines"]] == expected_sale_ids(sales)
    assert [item["entry_id"] for item in detail["adjustments"]] == [91, 80, 90]
    # What was issued stays as issued: the stored snapshot and the PDF bytes.
    db.session.expire_all()
    stored = db.session.get(Statement, statement.id)
    assert stored.snapshot == old and stored.pdf == stored_pdf
    assert alice.get(f"/statements/{statement.id}.pdf").get_data() == stored_pdf
    assert db.session.scalar(select(Statement.pdf_sha256).where(Statement.id == statement.id)) == stored.pdf_sha256
