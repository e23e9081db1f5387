"""Split sales in the agent portal (COMMISSION_RULES.md section 8): the sale form's co-agent rows
(a search box per row, picking an agent by name or email; no agent list in the page) and their
errors beside the fields, the per-holder live estimate, the co-agent's read-only view of
the sale (in My sales and on its page), and a 404 for any other agent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.conftest import browser_as
from tests.support.rows import counts
from tests.web._html import by_id, field_error, html_of, tags, text_of
from webapp.audit.models import AuditEvent
from webapp.catalog.models import Customer
from webapp.extensions import db
from webapp.sales import services as sales
from webapp.sales.models import Sale, SaleCredit

TODAY = date(2026, 11, 20)


@pytest.fixture
def world(app, factory, today):
    """Ana (10%) and Ben (5%) of one manager, a stranger agent, a product; browsers for each."""
    today(TODAY)
    manager = factory.user("manager", name="Maria Manager")
    ana = factory.user("agent", manager=manager, name="Ana Alvarez")
    ben = factory.user("agent", manager=manager, name="Ben Brown")
    stranger = factory.user("agent", manager=manager, name="Sam Stranger")
    factory.assign(ana, factory.plan(base_rate="10"))
    factory.assign(ben, factory.plan(base_rate="5"))
    product = factory.product(name="Patient monitor", list_price_cents=10_000)
    return {"ana": ana, "ben": ben, "stranger": stranger, "manager": manager, "product": product,
            "as_ana": browser_as(app, ana), "as_ben": browser_as(app, ben), "as_stranger": browser_as(app, stranger)}


def _key(browser) -> str:
    """The signed idempotency key of a fresh dashboard form."""
    page = tags(html_of(browser.get("/dashboard")), "input")
    return next(t.attrs["value"] for t in page if t.attrs.get("name") == "idempotency_key")


def _form(browser, product, **split) -> dict:
    """A valid sale form of 200.00 (2 x 100.00) plus the split fields given."""
    return {"idempotency_key": _key(browser), "product_id": str(product.id), "customer": "Acme Clinics",
            "customer_id": "", "quantity": "2", "unit_price": "100.00", "sold_on": TODAY.isoformat(), **split}


def _post(browser, data):
    """POST /sales as the dashboard's form does without htmx."""
    return browser.post("/sales", data, token_from="/dashboard")


def _split_sale(w, share="40") -> Sale:
    """Ana's pending sale of 200.00 split with Ben (his `share`), through the service."""
    sale, _ = sales.create_sale(w["ana"], sales.SaleInput(
        product_id=w["product"].id, quantity=2, unit_price=Decimal("100.00"), sold_on=TODAY,
        new_customer_name="Acme Clinics", co_agents=(sales.CoAgentInput(w["ben"].id, share),)),
        idempotency_key="split-sale-0001")
    return sale


def _inputs(html: str) -> dict:
    """name -> value of every input of the page or fragment."""
    return {t.attrs.get("name"): t.attrs.get("value") for t in tags(html, "input")}


def _search(browser, text, row=1):
    """GET the co-agent search of `row` as its search box sends it."""
    return browser.get("/co-agents/search", query_string={"row": row, f"co_agent_{row}_search": text})


def _matches(response) -> list[str]:
    """The names offered as picks (each button's text up to its email)."""
    return [text_of(t).rsplit(" ", 1)[0] for t in tags(html_of(response), "button")
            if "pick" in t.attrs.get("class", "").split()]


def test_the_form_has_a_search_box_per_co_agent_row_and_no_agent_list(world, factory):
    """The dashboard (the hot "log a sale" page) neither lists nor reads every agent: with more
    agents than any query of the request returns, none of them is named in the page."""
    from sqlalchemy import event

    others = [factory.user("agent", manager=world["manager"], name=f"Bulk Agent {n:02d}") for n in range(30)]
    rows_read: list[int] = []

    def count_rows(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            rows_read.append(cursor.rowcount)

    event.listen(db.engine, "after_cursor_execute", count_rows)
    try:
        page = html_of(world["as_ana"].get("/dashboard"))
    finally:
        event.remove(db.engine, "after_cursor_execute", count_rows)
    assert rows_read and max(rows_read) < len(others)
    assert not any(t.attrs.get("name", "").startswith("co_agent_") for t in tags(page, "select"))
    for name in ("Ben Brown", "Sam Stranger", "Bulk Agent", "Maria Manager"):
        assert name not in page
    values = _inputs(page)
    for row in range(1, 5):
        assert values[f"co_agent_{row}"] == "" and values[f"co_share_{row}"] in ("", None)
        box = by_id(page, f"co_agent_{row}_search")
        assert box.attrs["hx-get"] == f"/co-agents/search?row={row}" and box.attrs["hx-include"] == "this"
        assert "delay:250ms" in box.attrs["hx-trigger"] and box.attrs.get("hx-sync") == "this:replace"
    assert by_id(page, "share") is not None and by_id(page, "co_share_4") is not None


def test_the_co_agent_search_offers_matching_active_agents_only(world, factory):
    w = world
    factory.user("agent", manager=w["manager"], name="Bella Inactive", active=False)
    factory.user("manager", name="Bert Manager")
    factory.user("admin", name="Bea Admin")
    factory.user("agent", manager=w["manager"], name="Rob Bennett", email="rob@example.com")
    factory.user("agent", manager=w["manager"], name="Zoe Zimmer", email="bees.knees@example.com")
    # "be" starts Ben's name (first), is inside Rob Bennett's and Zoe's email; never Ana herself.
    assert _matches(_search(w["as_ana"], "be")) == ["Ben Brown", "Rob Bennett", "Zoe Zimmer"]
    assert _matches(_search(w["as_ana"], "  BROWN ", row=3)) == ["Ben Brown"]
    assert f"/co-agents/pick/{w['ben'].id}?row=3" in html_of(_search(w["as_ana"], "brown", row=3))
    # By email, and the signed-in agent is never offered (Ben sees Ana; Ana does not see herself).
    assert _matches(_search(w["as_ana"], w["ben"].email)) == ["Ben Brown"]
    assert _matches(_search(w["as_ana"], "Alvarez")) == []
    assert _matches(_search(w["as_ben"], "Alvarez")) == ["Ana Alvarez"]
    assert "No active agent matches" in html_of(_search(w["as_ana"], "Alvarez"))
    # One letter (or none) searches nothing; LIKE wildcards are plain text.
    one_letter = html_of(_search(w["as_ana"], "b"))
    assert "pick" not in one_letter and "No active agent" not in one_letter
    assert _matches(_search(w["as_ana"], "%%")) == [] and _matches(_search(w["as_ana"], "__")) == []


def test_the_co_agent_search_returns_at_most_ten(world, factory):
    for n in range(12):
        factory.user("agent", manager=world["manager"], name=f"Quinn {n:02d}")
    assert _matches(_search(world["as_ana"], "quinn")) == [f"Quinn {n:02d}" for n in range(10)]


def test_picking_a_co_agent_fills_the_row_with_the_id_and_name(world, factory):
    w = world
    response = w["as_ana"].get(f"/co-agents/pick/{w['ben'].id}", query_string={"row": 2})
    assert response.status_code == 200
    html = html_of(response)
    values = _inputs(html)
    assert (values["co_agent_2"], values["co_agent_2_search"]) == (str(w["ben"].id), "Ben Brown")
    assert "Picked: Ben Brown" in text_of(by_id(html, "co_agent_2-help"))
    field = by_id(html, "co_agent_2-field")
    assert "data-just-picked" in field.attrs  # sale-form.js then refreshes the estimate
    inactive = factory.user("agent", manager=w["manager"], name="Ina Inactive", active=False)
    for agent_id in (w["ana"].id, inactive.id, w["manager"].id, 987654, 2**31):
        assert w["as_ana"].get(f"/co-agents/pick/{agent_id}", query_string={"row": 1}).status_code == 404
    assert w["as_ana"].get(f"/co-agents/pick/{w['ben'].id}", query_string={"row": 5}).status_code == 404
    assert w["as_ana"].get("/co-agents/search", query_string={"row": "0"}).status_code == 404


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_only_agents_search_and_pick_co_agents(app, world, factory, role):
    user = world["manager"] if role == "manager" else factory.user("admin")
    browser = browser_as(app, user)
    for url in ("/co-agents/search?co_agent_1_search=ben", f"/co-agents/pick/{world['ben'].id}?row=1"):
        response = browser.get(url)
        assert response.status_code == 403 and "Ben Brown" not in html_of(response)


def test_a_refused_sale_shows_the_picked_co_agent_by_name(world):
    w = world
    before = counts(Sale, SaleCredit, Customer, AuditEvent)
    response = _post(w["as_ana"], _form(w["as_ana"], w["product"], co_agent_1=str(w["ben"].id),
                                        co_agent_1_search="whatever was typed", co_share_1="100"))
    assert response.status_code == 422
    html = html_of(response)
    values = _inputs(html)
    assert (values["co_agent_1"], values["co_agent_1_search"]) == (str(w["ben"].id), "Ben Brown")
    assert "Picked: Ben Brown" in text_of(by_id(html, "co_agent_1-help"))
    assert "Sam Stranger" not in html
    assert counts(Sale, SaleCredit, Customer, AuditEvent) == before


def test_a_name_typed_but_not_picked_is_refused_beside_the_row(world):
    w = world
    before = counts(Sale, SaleCredit, Customer, AuditEvent)
    response = _post(w["as_ana"], _form(w["as_ana"], w["product"], co_agent_1="", co_agent_1_search="Ben"))
    assert response.status_code == 422
    html = html_of(response)
    assert "choose an active agent" in field_error(html, "co_agent_1")
    assert _inputs(html)["co_agent_1_search"] == "Ben" and "data-split open" in html
    assert counts(Sale, SaleCredit, Customer, AuditEvent) == before


def test_logging_a_60_40_split_sale_writes_both_credits(world):
    w = world
    response = _post(w["as_ana"], _form(w["as_ana"], w["product"], co_agent_1=str(w["ben"].id), co_share_1="40"))
    assert response.status_code == 302
    sale = db.session.scalars(select(Sale).where(Sale.agent_id == w["ana"].id)).one()
    credits = [(c.agent_id, c.share_units, c.credit_cents) for c in sale.credits]
    assert credits == [(w["ana"].id, 600_000, 12_000), (w["ben"].id, 400_000, 8_000)]


@pytest.mark.parametrize("split, field_id, words", [
    ({"co_share_1": "70", "share": "40"}, "share", "The shares add up to 110%"),
    ({"co_share_1": "100"}, "share", "leave the agent a share above 0"),
    ({"co_share_1": "33.33333"}, "co_share_1", "Use at most four decimals."),
    ({"co_share_1": ""}, "co_share_1", "Enter co-agent 1's share."),
])
def test_bad_shares_are_refused_beside_the_field_and_write_nothing(world, split, field_id, words):
    w = world
    before = counts(Sale, SaleCredit, Customer, AuditEvent)
    response = _post(w["as_ana"], _form(w["as_ana"], w["product"], co_agent_1=str(w["ben"].id), **split))
    assert response.status_code == 422
    page = html_of(response)
    assert words in (field_error(page, field_id) or "")
    assert counts(Sale, SaleCredit, Customer, AuditEvent) == before
    # The split section stays open with what was typed.
    assert 'data-split open' in page


def test_the_agent_themself_as_co_agent_is_refused_beside_the_row(world):
    w = world
    response = _post(w["as_ana"], _form(w["as_ana"], w["product"], co_agent_1=str(w["ben"].id), co_share_1="10",
                                        co_agent_2=str(w["ana"].id), co_share_2="10"))
    assert response.status_code == 422
    assert "the sale's own agent" in field_error(html_of(response), "co_agent_2")


def test_the_live_estimate_shows_each_holder(world):
    w = world
    args = {"product_id": w["product"].id, "quantity": "2", "unit_price": "100.01", "sold_on": TODAY.isoformat(),
            "co_agent_1": w["ben"].id, "co_share_1": "50"}
    page = html_of(w["as_ana"].get("/sales/estimate", query_string=args))
    rows = [[text_of(td) for td in tags(page, "td") if tr in td.ancestors]
            for tr in tags(page, "tr") if any(tr in td.ancestors for td in tags(page, "td"))]
    # 200.02 split 50/50: Ben 100.01 (rounded down), Ana the rest 100.01; 10% and 5% of those.
    assert rows == [["You", "50%", "$100.01", "$10.00"], ["Ben Brown", "50%", "$100.01", "$5.00"]]
    bad = html_of(w["as_ana"].get("/sales/estimate", query_string={**args, "share": "60"}))
    assert "The shares add up to 110%" in bad and "estimate-holders" not in bad


def test_a_co_agent_sees_the_split_sale_read_only(world):
    w = world
    sale = _split_sale(w)
    listing = html_of(w["as_ben"].get("/sales"))
    assert f'id="sale-{sale.id}"' in listing and "Split · 40%" in listing
    page = w["as_ben"].get(f"/sales/{sale.id}")
    assert page.status_code == 200
    html = html_of(page)
    holders = text_of(by_id(html, "sale-holders"))
    assert "Ana Alvarez (agent): 60% · $120.00" in holders and "Ben Brown: 40% · $80.00" in holders
    # Ben's own estimate: 80.00 at his 5%.
    assert "would earn you $4.00" in " ".join(html.split()).replace("<strong>", "").replace("</strong>", "")
    assert f"/sales/{sale.id}/edit" not in html and f"/sales/{sale.id}/cancel" not in html
    # Editing or cancelling it is refused (403), and nothing changes.
    assert w["as_ben"].get(f"/sales/{sale.id}/edit").status_code == 403
    refused = w["as_ben"].post(f"/sales/{sale.id}/cancel", {}, token_from=f"/sales/{sale.id}")
    assert refused.status_code == 403
    assert "only its agent can change or cancel it" in html_of(refused)
    db.session.refresh(sale)
    assert sale.status == "pending"


def test_the_primary_lists_the_split_with_their_own_share(world):
    w = world
    sale = _split_sale(w)
    listing = html_of(w["as_ana"].get("/sales"))
    assert f'id="sale-{sale.id}"' in listing and "Split · 60%" in listing
    assert w["as_ana"].get(f"/sales/{sale.id}/edit").status_code == 200


def test_another_agent_gets_404_for_a_split_sale(world):
    w = world
    sale = _split_sale(w)
    assert w["as_stranger"].get(f"/sales/{sale.id}").status_code == 404
    assert w["as_stranger"].get(f"/sales/{sale.id}/edit").status_code == 404
    assert f'id="sale-{sale.id}"' not in html_of(w["as_stranger"].get("/sales"))


def test_the_edit_page_keeps_and_changes_the_split(world):
    w = world
    sale = _split_sale(w)
    page = html_of(w["as_ana"].get(f"/sales/{sale.id}/edit"))
    values = _inputs(page)
    assert (values["share"], values["co_share_1"]) == ("60", "40")
    assert (values["co_agent_1"], values["co_agent_1_search"]) == (str(w["ben"].id), "Ben Brown")
    assert "Picked: Ben Brown" in text_of(by_id(page, "co_agent_1-help")) and "Sam Stranger" not in page
    data = {"product_id": str(w["product"].id), "customer": "Acme Clinics", "customer_id": str(sale.customer_id),
            "quantity": "2", "unit_price": "100.00", "sold_on": TODAY.isoformat(), "share": "",
            "co_agent_1": str(w["ben"].id), "co_share_1": "25"}
    response = w["as_ana"].post(f"/sales/{sale.id}/edit", data)
    assert response.status_code == 302
    db.session.expire_all()
    assert [(c.agent_id, c.credit_cents) for c in sale.credits] == [(w["ana"].id, 15_000), (w["ben"].id, 5_000)]
