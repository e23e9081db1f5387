"""A voided sale's commission reads the same wherever its period stood when it was voided (issue 12, item 4).

Voided in an open period, its line simply goes; voided after its period closed, its frozen line stays
and an adjustment in the open period takes it back (net 0.00). Both show "—" with a note saying why,
and the second links to the adjustment line that holds the clawback."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import sign_in
from tests.web._html import by_id, tags, text_of, within
from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.extensions import db
from webapp.sales.services import void_sale

TODAY = date(2026, 11, 20)


@pytest.fixture
def voided(as_manager, build, factory):
    """Ann on 3%: a Nov 5 sale voided after Nov 1-15 closed, a Nov 18 sale voided in the open period."""
    build.on(date(2026, 11, 16))
    ann = build.agent("Ann Archer", as_manager.user)
    after_close = factory.sale(ann, "10000.00", date(2026, 11, 5))
    build.close(date(2026, 11, 5))
    build.on(TODAY)
    in_open = factory.sale(ann, "2000.00", date(2026, 11, 18))
    for sale in (after_close, in_open):
        void_sale(as_manager.user, sale, "Refunded")
    clawback = db.session.scalar(select(CommissionEntry).where(
        CommissionEntry.sale_id == after_close.id, CommissionEntry.kind == EntryKind.ADJUSTMENT))
    assert clawback is not None and clawback.amount_cents == -30000
    return {"ann": ann, "after_close": after_close, "in_open": in_open, "clawback": clawback}


def commission_cell(html: str, sale):
    """The sale row's Commission cell: (the figure it shows, its tooltip, its note, the links in the note)."""
    page = tags(html)
    row = next(t for t in page if t.attrs.get("id") == f"sale-{sale.id}")
    table = next(t for t in reversed(row.ancestors) if t.name == "table")
    column = [text_of(th) for th in within(table, page, "th")].index("Commission")
    cell = within(row, page, "td")[column]
    inside = within(cell, page)
    note = next((t for t in inside if "commission-note" in (t.attrs.get("class") or "").split()), None)
    note_text = text_of(note) if note else ""
    figure = text_of(cell).replace(note_text, "").strip()
    title = next((t.attrs["title"] for t in inside if t.attrs.get("title")), None)
    links = [a.attrs["href"] for a in within(note, page, "a")] if note else []
    return figure, title, note_text, links


def test_voided_sales_show_the_same_dash_and_say_where_the_clawback_is(as_manager, voided):
    html = as_manager.get(f"/manage/agents/{voided['ann'].id}").get_data(as_text=True)
    after_close = commission_cell(html, voided["after_close"])
    in_open = commission_cell(html, voided["in_open"])
    assert after_close[0] == in_open[0] == "—", "one way for both, never $0.00 for one of them"
    assert after_close[1] == in_open[1] and after_close[1], "the same explanation on both"
    assert "$0.00" not in after_close[2] + in_open[2]
    entry = voided["clawback"]
    assert after_close[3] == [f"/sales/{voided['after_close'].id}#entry-{entry.id}"]
    assert "clawed back" in after_close[2].lower() and "adjustment" in after_close[2].lower()
    assert in_open[3] == [] and "nothing to claw back" in in_open[2].lower()
    # The link lands on the adjustment line of the sale's page.
    sale_page = as_manager.get(f"/sales/{voided['after_close'].id}").get_data(as_text=True)
    line = by_id(sale_page, f"entry-{entry.id}")
    assert line is not None and "Adjustment" in line.text and "-$300.00" in line.text


def test_the_agents_own_list_shows_voided_sales_the_same_way(app, voided):
    client = app.test_client()
    sign_in(client, voided["ann"])
    html = client.get("/sales").get_data(as_text=True)
    after_close = commission_cell(html, voided["after_close"])
    in_open = commission_cell(html, voided["in_open"])
    assert after_close[0] == in_open[0] == "—"
    assert after_close[3] == [f"/sales/{voided['after_close'].id}#entry-{voided['clawback'].id}"]
