"""Agent portal through the Flask client: log a sale (plain and htmx), live totals, estimates,
bad input, who sees what, "My sales", sale detail, edit/cancel, "My products" (issue 4)."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.conftest import Factory, browser_as
from tests.support.rows import counts, reload
from tests.web._html import (by_id, by_testid, field_error, form_error, html_of, redirect_path, tags, text_of,
                             within)
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.catalog.models import Customer, ProductAssignment
from webapp.commissions import ledger
from webapp.commissions.models import CommissionEntry
from webapp.commissions.periods import close_period, period_for
from webapp.extensions import db
from webapp.money import format_money, to_cents
from webapp.sales import services as sales
from webapp.sales.forms import verify_form_key
from webapp.sales.models import Sale

TODAY = date(2026, 11, 20)
HTMX = {"HX-Request": "true", "HX-Target": "sale-form"}


# --- helpers --------------------------------------------------------------------------------------

def _usd(cents: int | Decimal) -> str:
    """How the pages print an amount (cents as int, or a Decimal in currency units)."""
    return format_money(cents if isinstance(cents, int) else to_cents(cents), "USD")


def _rows() -> dict[str, int]:
    """Row counts of everything logging a sale may write."""
    return counts(Sale, Customer, CommissionEntry, AuditEvent)


def _inputs(html: str) -> dict[str, str | None]:
    """What the sale form shows in each field: input values, the selected product, the note."""
    page = tags(html)
    values = {t.attrs["name"]: t.attrs.get("value")
              for t in page if t.name == "input" and t.attrs.get("name")}
    selects = [t for t in page if t.name == "select" and t.attrs.get("name") == "product_id"]
    if selects:
        options = [t for t in page if t.name == "option" and any(a is selects[0] for a in t.ancestors)]
        values["product_id"] = next((o.attrs.get("value") for o in options if "selected" in o.attrs), None)
    note = next((t for t in page if t.name == "textarea" and t.attrs.get("name") == "note"), None)
    if note is not None:
        values["note"] = note.text.lstrip("\r\n")
    return values


def _form_key(html: str) -> str:
    """The signed idempotency key rendered into the sale form."""
    return _inputs(html)["idempotency_key"]


def _sale_form(browser, product, **overrides) -> dict:
    """A valid "Log a sale" form as the dashboard renders it (its own signed key)."""
    form = {
        "idempotency_key": _form_key(html_of(browser.get("/dashboard"))),
        "product_id": str(product.id), "customer": "Acme Clinics", "customer_id": "",
        "quantity": "2", "unit_price": "150.25", "sold_on": TODAY.isoformat(), "note": "Met at the fair",
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def _post_sale(browser, data, htmx: bool = False):
    """POST /sales as the dashboard does (htmx headers or a plain browser form)."""
    return browser.post("/sales", data, token_from="/dashboard", headers=HTMX if htmx else {})


def _row_ids(html: str) -> list[int]:
    """Sale ids of the table rows, top to bottom."""
    return [int(m) for m in re.findall(r'<tr id="sale-(\d+)"', html)]


def _record_sale(agent, product, customer, amount: str, sold_on: date, *, status: str = "pending",
                 quantity: int = 1) -> Sale:
    """A sale entered by `agent` through the service, then decided by their manager as asked."""
    return Factory().sale(agent, amount, sold_on, status=status, product=product, customer=customer,
                          quantity=quantity)


@pytest.fixture
def agent(as_agent, today):
    """The signed-in agent, with "today" frozen at TODAY."""
    today(TODAY)
    return as_agent.user


@pytest.fixture
def product(factory):
    """A product open to every agent."""
    return factory.product(name="Patient monitor", list_price_cents=12_345)


# --- log a sale -------------------------------------------------------------------------------------

def test_plain_post_records_the_sale_redirects_and_flashes(as_agent, agent, product):
    before = _rows()
    response = _post_sale(as_agent, _sale_form(as_agent, product))
    assert response.status_code == 302 and redirect_path(response) == "/dashboard"
    after = _rows()
    assert after["Sale"] == before["Sale"] + 1
    assert after["Customer"] == before["Customer"] + 1  # "Acme Clinics" was added inline
    assert after["CommissionEntry"] == before["CommissionEntry"]  # pending: earns nothing yet
    sale = db.session.scalars(select(Sale).where(Sale.agent_id == agent.id)).one()
    assert (sale.quantity, sale.unit_price_cents, sale.amount_cents) == (2, 15_025, 30_050)
    assert (sale.sold_on, sale.status, sale.note, sale.customer.name) == (TODAY, "pending", "Met at the fair",
                                                                          "Acme Clinics")
    assert sale.entered_by_id == agent.id
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Sale",
                                                        AuditEvent.object_id == sale.id)).one()
    assert (event.action, event.actor_id, event.after["amount_cents"]) == ("sale.create", agent.id, 30_050)

    page = html_of(as_agent.get("/dashboard"))
    assert "Sale of Patient monitor recorded." in page  # the flash, after the redirect
    assert _row_ids(page)[0] == sale.id


def test_htmx_post_answers_the_row_a_fresh_form_and_the_trigger(as_agent, agent, product):
    data = _sale_form(as_agent, product)
    before = _rows()
    response = _post_sale(as_agent, data, htmx=True)
    assert response.status_code == 201
    assert response.headers["HX-Trigger"] == "sales-changed"
    html = html_of(response)
    assert "<html" not in html  # a fragment, not a page
    sale = db.session.scalars(select(Sale).where(Sale.agent_id == agent.id)).one()
    assert _rows()["Sale"] == before["Sale"] + 1
    row = by_id(html, f"sale-{sale.id}")
    assert row is not None and "$300.50" in text_of(row) and "Acme Clinics" in text_of(row)
    # "Recent sales" is replaced out of band (newest first, ten rows); the form is the main swap.
    assert '<tbody id="recent-sales-body" hx-swap-oob="true">' in html
    fresh = _inputs(html)
    assert fresh["idempotency_key"] != data["idempotency_key"]
    assert verify_form_key(fresh["idempotency_key"]) is not None
    assert fresh["quantity"] == "1" and fresh["customer"] in (None, "") and fresh["product_id"] in (None, "")
    assert fresh["sold_on"] == TODAY.isoformat()
    assert "Sale recorded: Patient monitor for Acme Clinics, $300.50." in html
    # The replaced body no longer has the "No sales yet" row.
    assert "no-sales-row" not in html
    older = _post_sale(as_agent, _sale_form(as_agent, product, sold_on=(TODAY - timedelta(days=3)).isoformat()),
                       htmx=True)
    body = by_id(html_of(older), "recent-sales-body")
    dates = [cell for cell in text_of(body).split() if cell[:4].isdigit() and cell.count("-") == 2]
    assert dates == sorted(dates, reverse=True), "recent sales must stay newest first"


def test_an_existing_customer_is_reused_by_id_or_by_exact_name(as_agent, agent, product, factory):
    northwind = factory.customer("Northwind Clinics")
    before = _rows()
    assert _post_sale(as_agent, _sale_form(as_agent, product, customer="Northwind Clinics",
                                           customer_id=str(northwind.id))).status_code == 302
    by_name = _sale_form(as_agent, product, customer="northwind clinics")
    assert _post_sale(as_agent, by_name).status_code == 302
    after = _rows()
    assert after["Sale"] == before["Sale"] + 2 and after["Customer"] == before["Customer"]
    assert {s.customer_id for s in db.session.scalars(select(Sale).where(Sale.agent_id == agent.id))} == {
        northwind.id}


def test_two_customers_with_the_typed_name_ask_the_agent_to_pick_one(as_agent, agent, product, factory):
    factory.customer("Harbor Foods")
    factory.customer("Harbor Foods")
    before = _rows()
    response = _post_sale(as_agent, _sale_form(as_agent, product, customer="Harbor Foods"), htmx=True)
    assert response.status_code == 422
    assert field_error(html_of(response), "customer") == (
        "Several customers are called Harbor Foods; pick one from the list.")
    assert _rows() == before


def test_empty_unit_price_uses_the_list_price(as_agent, agent, product):
    assert _post_sale(as_agent, _sale_form(as_agent, product, unit_price="", quantity="3")).status_code == 302
    sale = db.session.scalars(select(Sale).where(Sale.agent_id == agent.id)).one()
    assert (sale.unit_price_cents, sale.amount_cents) == (12_345, 37_035)


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_double_submit_makes_one_sale(as_agent, agent, product, htmx):
    data = _sale_form(as_agent, product)
    before = _rows()
    first = _post_sale(as_agent, data, htmx=htmx)
    second = _post_sale(as_agent, data, htmx=htmx)
    after = _rows()
    assert after["Sale"] == before["Sale"] + 1 and after["Customer"] == before["Customer"] + 1
    assert after["AuditEvent"] == before["AuditEvent"] + 1
    sale = db.session.scalars(select(Sale).where(Sale.agent_id == agent.id)).one()
    if htmx:
        assert (first.status_code, second.status_code) == (201, 200)
        assert by_id(html_of(second), f"sale-{sale.id}") is not None
        assert "This sale was already recorded." in html_of(second)
    else:
        assert (first.status_code, second.status_code) == (302, 302)


# --- totals -----------------------------------------------------------------------------------------

def test_totals_fragment_follows_a_logged_sale_and_its_approval(as_agent, agent, factory):
    plan = factory.plan(tiers=[("0", "3"), ("10000", "5")], tier_mode="marginal")
    factory.assign(agent, plan)
    earlier = factory.sale(agent, "8000.00", date(2026, 11, 5))  # approved, first period of November
    product = factory.product()
    empty = html_of(as_agent.get("/dashboard/totals"))
    assert by_testid(empty, "month-commission") == "$240.00"  # 8000 x 3%
    assert by_testid(empty, "month-pending") == "Nothing pending"

    response = _post_sale(as_agent, _sale_form(as_agent, product, quantity="2", unit_price="2000.05",
                                               sold_on="2026-11-18"), htmx=True)
    assert response.status_code == 201
    sale = db.session.scalars(select(Sale).where(Sale.agent_id == agent.id, Sale.id != earlier.id)).one()

    totals = as_agent.get("/dashboard/totals")
    assert totals.status_code == 200
    html = html_of(totals)
    assert "<html" not in html and html.lstrip().startswith("<section id=\"totals\"")
    pending = ledger.pending_total(agent.id, date(2026, 11, 1))
    # By hand: 8000 already this month; 4000.10 more crosses 10000: 2000 x 3% + 2000.10 x 5%.
    assert pending == Decimal("160.01")
    assert by_testid(html, "month-pending") == f"+ {_usd(pending)} pending"
    assert by_testid(html, "period-pending") == f"+ {_usd(pending)} pending (1 sale)"
    assert by_testid(html, "month-commission") == "$240.00"  # pending earns nothing yet

    sales.approve_sale(agent.manager, db.session.get(Sale, sale.id))
    html = html_of(as_agent.get("/dashboard/totals"))
    month_entries = int(db.session.scalar(select(func.sum(CommissionEntry.amount_cents)).where(
        CommissionEntry.agent_id == agent.id)))  # PostgreSQL sums BIGINT as NUMERIC
    assert month_entries == 40_001
    assert by_testid(html, "month-commission") == _usd(month_entries) == "$400.01"
    assert by_testid(html, "period-commission") == "$160.01"  # Nov 16-30 holds only the new sale
    assert by_testid(html, "month-pending") == "Nothing pending"


def test_totals_panel_refreshes_on_the_trigger_and_every_30_seconds(as_agent, agent):
    panel = by_id(html_of(as_agent.get("/dashboard")), "totals")
    assert panel.attrs["hx-get"] == "/dashboard/totals"
    assert panel.attrs["hx-trigger"] == "sales-changed from:body, every 30s"


# --- estimate -----------------------------------------------------------------------------------------

def _estimate(browser, **params):
    """GET /sales/estimate and return (figure text or None, the whole fragment)."""
    response = browser.get("/sales/estimate", query_string=params)
    assert response.status_code == 200
    html = html_of(response)
    figure = next((t for t in tags(html, "strong")
                   if "estimate-figure" in (t.attrs.get("class") or "")), None)
    return (text_of(figure) if figure else None), html


@pytest.fixture
def tiered_month(agent, factory):
    """Marginal tiers (3% to 10,000, then 5%) with 8,000 approved before the 10th of November."""
    plan = factory.plan(tiers=[("0", "3"), ("10000", "5")], tier_mode="marginal")
    factory.assign(agent, plan)
    factory.sale(agent, "8000.00", date(2026, 11, 5))
    factory.sale(agent, "3000.00", date(2026, 11, 15))   # after the typed sale's date: not before it
    factory.sale(agent, "9000.00", date(2026, 10, 30))   # last month: another month's volume
    factory.sale(agent, "5000.00", date(2026, 11, 3), approve=False)  # pending: not counted
    return plan


def test_estimate_matches_the_engine_for_marginal_tiers(as_agent, agent, tiered_month, factory):
    product = factory.product(list_price_cents=123_456)
    figure, html = _estimate(as_agent, product_id=product.id, quantity="2", unit_price="2000.05",
                             sold_on="2026-11-10")
    # By hand (COMMISSION_RULES 2-4): 8000 approved earlier in the month; 4000.10 takes it to
    # 12000.10: 2000 x 3% = 60 plus 2000.10 x 5% = 100.005; 160.005 rounds half up to 160.01.
    assert figure == "$160.01"
    assert "This sale would earn" in html and "on $4,000.10" in html
    assert ledger.estimate_new_sale(agent.id, product, 400_010, date(2026, 11, 10)) == Decimal("160.01")


def test_estimate_defaults_the_price_to_the_list_price(as_agent, agent, tiered_month, factory):
    product = factory.product(list_price_cents=123_456)
    figure, html = _estimate(as_agent, product_id=product.id, quantity="3", unit_price="",
                             sold_on="2026-11-10")
    # 3 x 1234.56 = 3703.68: 2000 x 3% = 60 plus 1703.68 x 5% = 85.184 -> 145.18.
    assert figure == "$145.18" and "on $3,703.68" in html
    assert ledger.estimate_new_sale(agent.id, product, 370_368, date(2026, 11, 10)) == Decimal("145.18")


def test_estimate_refuses_junk_and_future_dates(as_agent, agent, tiered_month, factory):
    product = factory.product()
    assert _estimate(as_agent, product_id=product.id, quantity="abc", unit_price="10")[0] is None
    assert _estimate(as_agent, product_id=product.id, quantity="0", unit_price="10")[0] is None
    figure, html = _estimate(as_agent, product_id=product.id, quantity="1", unit_price="1.234")
    assert figure is None and "Use at most two decimals." in html
    future = _estimate(as_agent, product_id=product.id, quantity="1", unit_price="10", sold_on="2026-11-21")
    assert future[0] is None


def test_estimate_refuses_another_agents_restricted_product(as_agent, agent, factory):
    other = factory.user(Role.AGENT)
    theirs = factory.product(restricted=True)
    db.session.add(ProductAssignment(agent_id=other.id, product_id=theirs.id))
    archived = factory.product(active=False)
    for hidden in (theirs, archived):
        figure, html = _estimate(as_agent, product_id=hidden.id, quantity="1", unit_price="100.00")
        assert figure is None and "This sale would earn" not in html
        assert "Choose a product you can sell." in html


# --- bad input ------------------------------------------------------------------------------------

def _restricted_for(factory, agent=None):
    """A restricted product, assigned to `agent` when given (else to nobody)."""
    product = factory.product(restricted=True)
    if agent is not None:
        db.session.add(ProductAssignment(agent_id=agent.id, product_id=product.id))
        db.session.flush()
    return product


QUANTITY = "Enter a whole number of at least 1."
DATE = "Enter the date as YYYY-MM-DD."
PRODUCT = "Choose a product you can sell."
CUSTOMER = "Choose an existing customer or add a new one."
PLAIN = "Enter an amount as a plain number, like 1250.50."

# (case id, field whose error element is checked, form changes, expected message)
FIELD_CASES = [
    ("quantity-empty", "quantity", {"quantity": ""}, QUANTITY),
    ("quantity-junk", "quantity", {"quantity": "abc"}, QUANTITY),
    ("quantity-zero", "quantity", {"quantity": "0"}, QUANTITY),
    ("quantity-negative", "quantity", {"quantity": "-1"}, QUANTITY),
    ("quantity-decimal", "quantity", {"quantity": "1.5"}, QUANTITY),
    ("quantity-huge", "quantity", {"quantity": "9999999"}, "Enter a whole number from 1 to 1,000,000."),
    ("price-junk", "unit_price", {"unit_price": "abc"}, PLAIN),
    ("price-three-decimals", "unit_price", {"unit_price": "1.234"}, "Use at most two decimals."),
    ("price-negative", "unit_price", {"unit_price": "-5"}, "Enter an amount that is not negative."),
    ("price-exponent", "unit_price", {"unit_price": "1e3"}, PLAIN),
    ("price-zero", "unit_price", {"unit_price": "0"}, "Enter an amount greater than zero."),
    ("date-empty", "sold_on", {"sold_on": ""}, DATE),
    ("date-impossible", "sold_on", {"sold_on": "2026-13-40"}, DATE),
    ("date-word", "sold_on", {"sold_on": "yesterday"}, DATE),
    ("date-datetime", "sold_on", {"sold_on": "2026-11-20T10:00"}, DATE),
    ("date-future", "sold_on", {"sold_on": "2026-11-21"}, "The sale date cannot be in the future."),
    ("product-missing", "product_id", {"product_id": ""}, "Choose a product."),
    ("product-junk", "product_id", {"product_id": "abc"}, "Choose a product."),
    ("product-unknown", "product_id", {"product_id": "987654"}, PRODUCT),
    ("product-archived", "product_id", {"product_id": lambda f, other: f.product(active=False).id}, PRODUCT),
    ("product-restricted", "product_id", {"product_id": lambda f, other: _restricted_for(f).id}, PRODUCT),
    ("product-other-agents", "product_id", {"product_id": lambda f, other: _restricted_for(f, other).id},
     PRODUCT),
    ("customer-unknown", "customer_id", {"customer_id": "987654", "customer": "Ghost Ltd"}, CUSTOMER),
    ("customer-empty", "customer_id", {"customer": "", "customer_id": ""}, CUSTOMER),
    ("note-too-long", "note", {"note": "x" * 2001}, "Field cannot be longer than 2000 characters."),
]


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
@pytest.mark.parametrize(("field", "changes", "message"), [c[1:] for c in FIELD_CASES],
                         ids=[c[0] for c in FIELD_CASES])
def test_bad_input_is_refused_beside_its_field(as_agent, agent, product, factory, htmx, field, changes,
                                               message):
    other = factory.user(Role.AGENT)
    changes = {k: (str(v(factory, other)) if callable(v) else v) for k, v in changes.items()}
    data = _sale_form(as_agent, product, **changes)
    before = _rows()
    response = _post_sale(as_agent, data, htmx=htmx)
    assert response.status_code == 422
    html = html_of(response)
    assert ("<html" in html) is not htmx  # htmx swaps the form only; without JS the whole page
    assert field_error(html, field) == message
    assert form_error(html) is None
    # The input the agent sees is marked too (red border, read out as invalid): for the picked
    # customer's hidden id that is the customer name box.
    shown = "customer" if field == "customer_id" else field
    control = next(t for t in tags(html) if t.attrs.get("id") == shown)
    assert control.attrs.get("aria-invalid") == "true", shown
    assert any("has-error" in (t.attrs.get("class") or "").split() for t in control.ancestors if t.name == "div"), shown
    kept = _inputs(html)
    for name in ("quantity", "unit_price", "sold_on", "customer", "customer_id", "note"):
        assert (kept[name] or "") == data[name], name
    if field != "product_id":
        assert kept["product_id"] == data["product_id"]
    assert kept["idempotency_key"] == data["idempotency_key"]  # same sale, fixed and sent again
    assert _rows() == before
    assert "HX-Trigger" not in response.headers


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_every_field_the_service_refuses_is_shown_at_once(as_agent, agent, product, htmx):
    data = _sale_form(as_agent, product, product_id="987654", sold_on="2026-11-21", customer="", customer_id="")
    before = _rows()
    response = _post_sale(as_agent, data, htmx=htmx)
    assert response.status_code == 422
    html = html_of(response)
    assert (field_error(html, "product_id"), field_error(html, "sold_on"), field_error(html, "customer_id")) == (
        PRODUCT, "The sale date cannot be in the future.", CUSTOMER)
    assert form_error(html) is None
    assert _rows() == before


def test_a_fixed_form_goes_through_with_the_key_it_kept(as_agent, agent, product):
    data = _sale_form(as_agent, product, quantity="abc")
    assert _post_sale(as_agent, data, htmx=True).status_code == 422
    assert _post_sale(as_agent, dict(data, quantity="2"), htmx=True).status_code == 201
    assert _post_sale(as_agent, dict(data, quantity="2"), htmx=True).status_code == 200  # a retry


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_a_date_in_a_closed_period_is_refused(as_agent, agent, product, htmx):
    close_period(None, period_for(date(2026, 11, 10)))  # Nov 1-15; today is the 20th
    data = _sale_form(as_agent, product, sold_on="2026-11-10")
    before = _rows()
    response = _post_sale(as_agent, data, htmx=htmx)
    assert response.status_code == 422
    assert field_error(html_of(response), "sold_on") == (
        "That date is in a closed period; record the sale in an open period.")
    assert _inputs(html_of(response))["sold_on"] == "2026-11-10"
    assert _rows() == before


@pytest.mark.parametrize("zone, instant, local_today", [
    ("Pacific/Kiritimati", datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc), date(2026, 11, 21)),  # UTC+14
    ("Etc/GMT+12", datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc), date(2026, 11, 19)),  # UTC-12
], ids=["ahead-of-utc", "behind-utc"])
def test_future_means_after_today_in_the_installation_time_zone(as_agent, product, monkeypatch, at,
                                                                zone, instant, local_today):
    # The clock stands at an instant when the zone's date is not UTC's (a day ahead, or a day behind).
    at(instant)
    monkeypatch.setitem(as_agent.client.application.config, "TIMEZONE", zone)
    page = html_of(as_agent.get("/dashboard"))
    assert _inputs(page)["sold_on"] == local_today.isoformat()  # the Date field defaults to local today

    tomorrow = local_today + timedelta(days=1)
    before = _rows()
    response = _post_sale(as_agent, _sale_form(as_agent, product, sold_on=tomorrow.isoformat()), htmx=True)
    assert response.status_code == 422
    assert field_error(html_of(response), "sold_on") == "The sale date cannot be in the future."
    assert _rows() == before
    # Local today is accepted, even when it is already (or still) another day in UTC.
    response = _post_sale(as_agent, _sale_form(as_agent, product, sold_on=local_today.isoformat()), htmx=True)
    assert response.status_code == 201


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
@pytest.mark.parametrize("key", ["tampered", "missing", "unsigned"])
def test_a_tampered_or_missing_idempotency_key_is_refused(as_agent, agent, product, htmx, key):
    data = _sale_form(as_agent, product)
    signed = data["idempotency_key"]
    if key == "tampered":
        value, signature = signed.rsplit(".", 1)
        flipped = "0" if value[0] != "0" else "1"
        data["idempotency_key"] = flipped + value[1:] + "." + signature
    elif key == "missing":
        del data["idempotency_key"]
    else:
        data["idempotency_key"] = uuid.uuid4().hex  # a well-formed key without the server's signature
    before = _rows()
    response = _post_sale(as_agent, data, htmx=htmx)
    # 422, not 400: htmx swaps only 422 answers, so the agent sees why and can send it again.
    assert response.status_code == 422
    html = html_of(response)
    assert form_error(html) == (
        "This form has expired or was altered; check the sale and submit it again.")
    assert _rows() == before
    kept = _inputs(html)
    assert (kept["quantity"], kept["unit_price"], kept["customer"]) == ("2", "150.25", "Acme Clinics")
    # The answer carries a new, valid key, so submitting again works (and only once).
    fresh = kept["idempotency_key"]
    assert fresh != data.get("idempotency_key") and verify_form_key(fresh) is not None
    again = dict(data, idempotency_key=fresh)
    assert _post_sale(as_agent, again, htmx=True).status_code == 201
    assert _post_sale(as_agent, again, htmx=True).status_code == 200
    assert _rows()["Sale"] == before["Sale"] + 1


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_a_missing_csrf_token_is_refused(as_agent, agent, product, htmx):
    data = _sale_form(as_agent, product)
    before = _rows()
    response = as_agent.client.post("/sales", data=data, headers=HTMX if htmx else {})
    assert response.status_code == 400
    assert _rows() == before


# --- who sees what --------------------------------------------------------------------------------

@pytest.fixture
def other_sale(agent, factory):
    """A pending sale of another agent (another team), of a product only that agent may sell."""
    other = factory.user(Role.AGENT, name="Olga Other")
    product = _restricted_for(factory, other)
    customer = factory.customer("Secret Buyer Corp")
    return _record_sale(other, product, customer, "777.00", TODAY - timedelta(days=1))


def test_another_agents_sale_is_not_found(as_agent, other_sale):
    before = (_rows(), other_sale.status, other_sale.amount_cents)
    assert as_agent.get(f"/sales/{other_sale.id}").status_code == 404
    assert as_agent.get(f"/sales/{other_sale.id}/edit").status_code == 404
    edit = as_agent.post(f"/sales/{other_sale.id}/edit", {
        "product_id": str(other_sale.product_id), "customer_id": str(other_sale.customer_id),
        "customer": "x", "quantity": "9", "unit_price": "1.00", "sold_on": TODAY.isoformat()},
        token_from="/dashboard")
    assert edit.status_code == 404
    assert as_agent.post(f"/sales/{other_sale.id}/cancel", token_from="/dashboard").status_code == 404
    sale = reload(other_sale)
    assert (_rows(), sale.status, sale.amount_cents) == before
    assert as_agent.get("/sales/987654").status_code == 404


@pytest.mark.parametrize("query", [
    {}, {"product_id": "PRODUCT"}, {"customer": "Secret Buyer"}, {"customer": "secret"},
    {"status": "pending"}, {"start": "2026-11-01", "end": "2026-11-30"},
    {"product_id": "PRODUCT", "customer": "Secret", "status": "pending"},
])
def test_the_sales_list_never_shows_another_agents_sales(as_agent, agent, factory, other_sale, query):
    mine = _record_sale(agent, factory.product(), factory.customer("My Buyer"), "100.00", TODAY)
    query = {k: (str(other_sale.product_id) if v == "PRODUCT" else v) for k, v in query.items()}
    html = html_of(as_agent.get("/sales", query_string=query))
    assert other_sale.id not in _row_ids(html)
    assert "Secret Buyer Corp" not in html and "$777.00" not in html
    if not query or query.get("status") == "pending" and len(query) == 1:
        assert _row_ids(html) == [mine.id]
    dashboard = html_of(as_agent.get("/dashboard"))
    assert "Secret Buyer Corp" not in dashboard and _row_ids(dashboard) == [mine.id]


def test_the_customer_search_and_pick_fill_the_customer_field(as_agent, agent, factory):
    bluebird = factory.customer("Bluebird Offices")
    html = html_of(as_agent.get("/customers/search", query_string={"customer": "bluebird"}))
    assert "Bluebird Offices" in html and f"/customers/pick/{bluebird.id}" in html
    assert "it will be added as a new customer" in html_of(
        as_agent.get("/customers/search", query_string={"customer": "Nobody Here"}))
    picked = html_of(as_agent.get(f"/customers/pick/{bluebird.id}"))
    fields = _inputs(picked)
    assert (fields["customer"], fields["customer_id"]) == ("Bluebird Offices", str(bluebird.id))
    assert as_agent.get("/customers/pick/987654").status_code == 404


AGENT_ONLY = [("GET", "/dashboard"), ("GET", "/dashboard/totals"), ("GET", "/sales"), ("POST", "/sales"),
              ("GET", "/sales/estimate"), ("GET", "/customers/search?customer=ab"), ("GET", "/products/mine"),
              ("GET", "/sales/SALE/edit"), ("POST", "/sales/SALE/edit"), ("POST", "/sales/SALE/cancel")]


@pytest.mark.parametrize("role", ["manager", "admin"])
@pytest.mark.parametrize(("method", "url"), AGENT_ONLY, ids=[f"{m} {u}" for m, u in AGENT_ONLY])
def test_managers_and_admins_cannot_use_agent_pages(app, factory, today, role, method, url):
    today(TODAY)
    user = factory.user(Role(role))
    agent = factory.user(Role.AGENT, manager=user if role == "manager" else None)
    sale = _record_sale(agent, factory.product(), factory.customer(), "50.00", TODAY)
    browser = browser_as(app, user)
    url = url.replace("SALE", str(sale.id))
    before = (_rows(), reload(sale).status)
    if method == "GET":
        response = browser.get(url)
    else:
        response = browser.post(url, {"quantity": "1"}, token_from="/")
    assert response.status_code == 403
    assert (_rows(), reload(sale).status) == before


def test_managers_see_their_teams_sale_detail_only(as_manager, as_admin, factory, today):
    today(TODAY)
    team_agent = factory.user(Role.AGENT, manager=as_manager.user)
    other_agent = factory.user(Role.AGENT)
    ours = _record_sale(team_agent, factory.product(), factory.customer("Team Buyer"), "120.00", TODAY)
    theirs = _record_sale(other_agent, factory.product(), factory.customer(), "130.00", TODAY)
    page = as_manager.get(f"/sales/{ours.id}")
    assert page.status_code == 200 and "Team Buyer" in html_of(page)
    assert "Cancel this sale" not in html_of(page)  # a manager decides; only the agent withdraws
    assert as_manager.get(f"/sales/{theirs.id}").status_code == 404
    assert as_admin.get(f"/sales/{ours.id}").status_code == 200
    assert as_admin.get(f"/sales/{theirs.id}").status_code == 200


# --- My sales -------------------------------------------------------------------------------------

@pytest.fixture
def my_sales(agent, factory):
    """Five sales of the agent in mixed states, named for what they test."""
    desk, lamp = factory.product(name="Standing desk"), factory.product(name="Desk lamp")
    zephyr, acme = factory.customer("Zephyr Works"), factory.customer("Acme Clinics")
    return {
        "oct": _record_sale(agent, desk, acme, "1200.00", date(2026, 10, 20), status="approved"),
        "nov2": _record_sale(agent, desk, zephyr, "500.00", date(2026, 11, 2), status="approved"),
        "nov10": _record_sale(agent, lamp, acme, "2500.00", date(2026, 11, 10)),
        "nov12": _record_sale(agent, lamp, acme, "90.00", date(2026, 11, 12), status="rejected"),
        "nov15": _record_sale(agent, desk, acme, "700.00", date(2026, 11, 15), status="voided"),
        "desk": desk, "lamp": lamp,
    }


def _ids(s, *names) -> list[int]:
    """Sale ids of the named fixture sales."""
    return [s[n].id for n in names]


def test_my_sales_filters(as_agent, my_sales):
    s = my_sales

    def listed(**query):
        return _row_ids(html_of(as_agent.get("/sales", query_string=query)))

    assert listed() == _ids(s, "nov15", "nov12", "nov10", "nov2", "oct")
    assert listed(start="2026-11-01", end="2026-11-12") == _ids(s, "nov12", "nov10", "nov2")
    assert listed(start="2026-11-11") == _ids(s, "nov15", "nov12")
    assert listed(status="pending") == _ids(s, "nov10")
    assert listed(status="approved") == _ids(s, "nov2", "oct")
    assert listed(product_id=str(s["lamp"].id)) == _ids(s, "nov12", "nov10")
    assert listed(customer="zeph") == _ids(s, "nov2")
    assert listed(customer="ACME", status="voided") == _ids(s, "nov15")
    # Junk filter values are ignored rather than failing the page.
    assert listed(start="junk", status="bogus", sort="nope", direction="x") == listed()


def test_my_sales_shows_commission_for_approved_and_the_estimate_for_pending(as_agent, agent, factory):
    factory.assign(agent, factory.plan(base_rate="10"))
    approved = _record_sale(agent, factory.product(), factory.customer(), "500.00", date(2026, 11, 2),
                            status="approved")
    pending = _record_sale(agent, factory.product(), factory.customer(), "250.00", date(2026, 11, 3))
    html = html_of(as_agent.get("/sales"))
    assert "$50.00" in text_of(by_id(html, f"sale-{approved.id}"))
    pending_row = text_of(by_id(html, f"sale-{pending.id}"))
    assert "≈ $25.00" in pending_row and "Pending" in pending_row


@pytest.mark.parametrize(("sort", "direction", "order"), [
    ("date", "desc", ["nov15", "nov12", "nov10", "nov2", "oct"]),
    ("date", "asc", ["oct", "nov2", "nov10", "nov12", "nov15"]),
    ("amount", "asc", ["nov12", "nov2", "nov15", "oct", "nov10"]),
    ("amount", "desc", ["nov10", "oct", "nov15", "nov2", "nov12"]),
    ("status", "asc", ["oct", "nov2", "nov10", "nov12", "nov15"]),
    ("status", "desc", ["nov15", "nov12", "nov10", "nov2", "oct"]),
])
def test_my_sales_sorting(as_agent, my_sales, sort, direction, order):
    html = html_of(as_agent.get("/sales", query_string={"sort": sort, "direction": direction}))
    assert _row_ids(html) == _ids(my_sales, *order)
    header = next(t for t in tags(html, "th") if t.attrs.get("aria-sort"))
    assert header.attrs["aria-sort"] == ("ascending" if direction == "asc" else "descending")
    assert sort.title() in text_of(header)


def test_sort_links_keep_the_filters_in_the_url(as_agent, my_sales):
    query = {"status": "approved", "sort": "amount", "direction": "desc"}
    html = html_of(as_agent.get("/sales", query_string=query))
    links = {text_of(a).split(" ")[0]: a.attrs["href"]
             for a in tags(html, "a") if "sort=" in (a.attrs.get("href") or "")}
    assert "status=approved" in links["Amount"] and "direction=asc" in links["Amount"]
    assert "status=approved" in links["Date"] and "direction=desc" in links["Date"]


def test_my_sales_pagination(as_agent, agent, factory):
    product, customer = factory.product(), factory.customer()
    made = [_record_sale(agent, product, customer, f"{10 + n}.00", date(2026, 11, 1) + timedelta(days=n % 19))
            for n in range(25)]
    first = html_of(as_agent.get("/sales", query_string={"sort": "amount", "direction": "asc"}))
    assert "25 sales · page 1 of 2" in first
    assert _row_ids(first) == [s.id for s in made[:20]]
    next_link = next(a for a in tags(first, "a") if text_of(a) == "Next →")
    assert "page=2" in next_link.attrs["href"] and "sort=amount" in next_link.attrs["href"]
    second = html_of(as_agent.get(next_link.attrs["href"]))
    assert _row_ids(second) == [s.id for s in made[20:]]
    assert any(text_of(a) == "← Previous" for a in tags(second, "a"))
    assert not any(text_of(a) == "Next →" for a in tags(second, "a"))
    past_the_end = html_of(as_agent.get("/sales?page=9&sort=amount&direction=asc"))
    assert _row_ids(past_the_end) == [s.id for s in made[20:]]
    junk = html_of(as_agent.get("/sales?page=abc&sort=amount&direction=asc"))
    assert _row_ids(junk) == [s.id for s in made[:20]]


def test_htmx_table_requests_get_the_same_partial_the_page_includes(as_agent, my_sales):
    query = {"status": "approved", "sort": "amount", "direction": "asc"}
    full = as_agent.get("/sales", query_string=query)
    partial = as_agent.get("/sales", query_string=query,
                           headers={"HX-Request": "true", "HX-Target": "sales-table"})
    assert full.status_code == partial.status_code == 200
    assert "HX-Request" in full.headers["Vary"] and "HX-Request" in partial.headers["Vary"]
    fragment = html_of(partial).strip()
    assert fragment.startswith('<div id="sales-table">') and "<html" not in fragment
    assert fragment in html_of(full)
    assert _row_ids(fragment) == _ids(my_sales, "nov2", "oct")
    # Another htmx target (or none) still gets the full page.
    other = as_agent.get("/sales", query_string=query, headers={"HX-Request": "true", "HX-Target": "main"})
    assert "<html" in html_of(other)


def test_pages_work_without_javascript(as_agent, agent):
    dashboard = html_of(as_agent.get("/dashboard"))
    form = by_id(dashboard, "sale-form")
    assert (form.attrs["method"], form.attrs["action"]) == ("post", "/sales")
    assert any(t.name == "button" and t.attrs.get("type") == "submit" and text_of(t) == "Log sale"
               for t in tags(dashboard))
    labels = {text_of(t) for t in tags(dashboard, "label")}
    assert {"Product", "Customer", "Quantity", "Unit price", "Date", "Note"} <= labels
    listing = html_of(as_agent.get("/sales"))
    filters = next(t for t in tags(listing, "form") if "filters" in (t.attrs.get("class") or ""))
    assert (filters.attrs["method"], filters.attrs["action"]) == ("get", "/sales")


# --- detail, edit, cancel -------------------------------------------------------------------------

def test_detail_shows_ledger_entries_with_a_clawback_and_the_history(as_agent, agent, factory):
    factory.assign(agent, factory.plan(base_rate="10"))
    sale = _record_sale(agent, factory.product(name="Walk-in cooler"), factory.customer("Harbor Foods"),
                        "2140.00", date(2026, 11, 5), status="approved")
    close_period(None, period_for(date(2026, 11, 5)))  # Nov 1-15 is stated: its line is frozen
    sales.void_sale(agent.manager, db.session.get(Sale, sale.id), "Order cancelled by the customer")
    html = html_of(as_agent.get(f"/sales/{sale.id}"))
    entries = [text_of(t) for t in tags(html, "tr") if (t.attrs.get("id") or "").startswith("entry-")]
    assert len(entries) == 2
    assert "Nov 1–15, 2026 closed" in entries[0] and "Commission" in entries[0] and "$214.00" in entries[0]
    assert "Nov 16–30, 2026" in entries[1] and "Adjustment" in entries[1] and "-$214.00" in entries[1]
    assert "Clawback: sale of 2026-11-05 voided after its period closed" in entries[1]
    page = tags(html)
    total = next(t for t in page if t.name == "tfoot")
    assert "Total for this sale" in total.text
    assert text_of(within(total, page, "td")[0]) == "$0.00"
    history = [text_of(t) for t in tags(html, "li") if "UTC" in t.text]
    assert [h.split(" — ")[1] for h in history] == [
        "Create → pending", "Approve → approved", "Void → voided: “Order cancelled by the customer”"]
    assert "Voided" in html and "Edit" not in [text_of(a) for a in tags(html, "a")]


def test_agent_edits_a_pending_sale_and_its_estimate_follows(as_agent, agent, factory):
    factory.assign(agent, factory.plan(base_rate="10"))
    product, customer = factory.product(), factory.customer("Cobalt Data")
    sale = _record_sale(agent, product, customer, "200.00", date(2026, 11, 18), quantity=2)
    assert "would earn <strong>$20.00</strong>" in html_of(as_agent.get(f"/sales/{sale.id}"))
    form_page = html_of(as_agent.get(f"/sales/{sale.id}/edit"))
    form = _inputs(form_page)
    assert (form["quantity"], form["unit_price"], form["customer"]) == ("2", "100.00", "Cobalt Data")
    data = {k: form[k] or ""
            for k in ("product_id", "customer", "customer_id", "unit_price", "sold_on", "note")}
    data["quantity"] = "3"
    response = as_agent.post(f"/sales/{sale.id}/edit", data)
    assert response.status_code == 302 and redirect_path(response) == f"/sales/{sale.id}"
    sale = reload(sale)
    assert (sale.quantity, sale.amount_cents, sale.status) == (3, 30_000, "pending")
    page = html_of(as_agent.get(f"/sales/{sale.id}"))
    assert "would earn <strong>$30.00</strong>" in page and "$300.00" in page
    assert ledger.sale_estimate(sale) == Decimal("30.00")
    assert "Update" in page  # the audit history shows the edit
    bad = as_agent.post(f"/sales/{sale.id}/edit", dict(data, unit_price="1.234"))
    assert bad.status_code == 422 and field_error(html_of(bad), "unit_price") == "Use at most two decimals."
    assert reload(sale).amount_cents == 30_000


def test_agent_cancels_a_pending_sale(as_agent, agent, factory):
    sale = _record_sale(agent, factory.product(), factory.customer(), "80.00", TODAY)
    response = as_agent.post(f"/sales/{sale.id}/cancel", token_from=f"/sales/{sale.id}")
    assert response.status_code == 302 and redirect_path(response) == f"/sales/{sale.id}"
    assert response.headers["HX-Trigger"] == "sales-changed"
    assert reload(sale).status == "cancelled"
    page = html_of(as_agent.get(f"/sales/{sale.id}"))
    assert "Sale cancelled." in page and "Cancel → cancelled" in page


@pytest.mark.parametrize("status", ["approved", "rejected", "cancelled"])
def test_a_decided_sale_cannot_be_edited_or_cancelled(as_agent, agent, factory, status):
    sale = _record_sale(agent, factory.product(), factory.customer(), "80.00", TODAY,
                        status="pending" if status == "cancelled" else status)
    if status == "cancelled":
        sales.cancel_sale(agent, sale)
    before = (_rows(), reload(sale).status, reload(sale).amount_cents)
    message = f"This sale is {status}; only pending sales can be changed."
    detail = html_of(as_agent.get(f"/sales/{sale.id}"))
    assert "Cancel this sale" not in detail and f"/sales/{sale.id}/edit" not in detail

    for response in (as_agent.get(f"/sales/{sale.id}/edit"),
                     as_agent.post(f"/sales/{sale.id}/edit", {
                         "product_id": str(sale.product_id), "customer_id": str(sale.customer_id),
                         "customer": "x", "quantity": "5", "unit_price": "1.00",
                         "sold_on": TODAY.isoformat()}, token_from=f"/sales/{sale.id}"),
                     as_agent.post(f"/sales/{sale.id}/cancel", token_from=f"/sales/{sale.id}")):
        assert response.status_code == 409
        assert message in html_of(response)
    sale = reload(sale)
    assert (_rows(), sale.status, sale.amount_cents) == before


# --- My products -----------------------------------------------------------------------------------

def test_my_products_lists_the_restricted_products_assigned_to_the_agent(as_agent, agent, factory):
    mine = factory.product(name="Portable ultrasound", restricted=True)
    db.session.add(ProductAssignment(agent_id=agent.id, product_id=mine.id))
    theirs = _restricted_for(factory, factory.user(Role.AGENT))
    open_to_all = factory.product(name="Laptop fleet")
    archived = factory.product(name="Old fax machine", active=False)
    db.session.flush()
    html = html_of(as_agent.get("/products/mine"))
    sections = {text_of(t).split(" ")[0]: t for t in tags(html, "section")}
    assigned, sellable = text_of(sections["Assigned"]), text_of(sections["Everything"])
    assert "Portable ultrasound" in assigned and open_to_all.name not in assigned
    assert theirs.name not in html and archived.name not in html
    assert "Portable ultrasound" in sellable and "Laptop fleet" in sellable
    # The log-a-sale form offers the same products.
    options = {text_of(t) for t in tags(html_of(as_agent.get("/dashboard")), "option")}
    assert f"Portable ultrasound ({mine.sku})" in options and not any(theirs.sku in o for o in options)


def test_a_pending_sale_in_a_closed_period_cannot_be_edited_or_cancelled(as_agent, agent, factory):
    sale = _record_sale(agent, factory.product(), factory.customer(), "80.00", date(2026, 11, 10))
    close_period(None, period_for(date(2026, 11, 10)))
    for response in (as_agent.get(f"/sales/{sale.id}/edit"),
                     as_agent.post(f"/sales/{sale.id}/cancel", token_from=f"/sales/{sale.id}")):
        assert response.status_code == 409
        assert "This sale&#39;s period is closed; ask a manager to decide it." in html_of(response)
    assert reload(sale).status == "pending"
