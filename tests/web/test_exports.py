"""CSV exports (issue 5, item 7): streamed, team-scoped, formula-safe, plain decimal money."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest

from tests.web._html import by_id
from tests.web._streaming import streaming_browser
from webapp.auth.models import Role
from webapp.commissions.periods import close_period, period_for
from webapp.extensions import db
from webapp.manage import exports
from webapp.sales import services as sales

TODAY = date(2026, 11, 20)
NOVEMBER = {"start": "2026-11-01", "end": "2026-11-30"}


@pytest.fixture
def world(build, factory):
    """Two teams on a flat 3% plan: manager_a with agent_a, manager_b with agent_b."""
    build.on(TODAY)
    manager_a, (agent_a,) = build.team(None, "Ann Agent <ann@example.com>")
    manager_b, (agent_b,) = build.team(None, "Bob Agent <bob@example.com>")
    product = factory.product(sku="WID-1", name="Widget")
    return {"manager_a": manager_a, "manager_b": manager_b, "agent_a": agent_a, "agent_b": agent_b,
            "product": product}


def _as(app, user):
    """A signed-in browser for `user` that can read streamed downloads."""
    return streaming_browser(app, user)


def _rows(response) -> list[dict[str, str]]:
    """The CSV body as dicts (the byte-order mark is dropped)."""
    text = response.get_data().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _header(response) -> list[str]:
    """The CSV header row."""
    text = response.get_data().decode("utf-8-sig")
    return next(csv.reader(io.StringIO(text, newline="")))


# --- the page -------------------------------------------------------------------------------------

def test_exports_page_has_both_forms_with_labels(app, world):
    response = _as(app, world["manager_a"]).get("/manage/exports")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'action="/manage/exports/sales.csv"' in html and 'action="/manage/exports/ledger.csv"' in html
    for field_id in ("sales-start", "sales-end", "sales-status", "ledger-start", "ledger-end"):
        assert f'<label for="{field_id}"' in html, field_id


def test_agents_cannot_export(app, world):
    browser = _as(app, world["agent_a"])
    assert browser.get("/manage/exports").status_code == 403
    assert browser.get("/manage/exports/sales.csv", query_string=NOVEMBER).status_code == 403
    assert browser.get("/manage/exports/ledger.csv", query_string=NOVEMBER).status_code == 403


# --- sales export ---------------------------------------------------------------------------------

def test_sales_export_is_streamed_as_an_attachment_named_after_the_range(app, world, factory):
    factory.sale(world["agent_a"], "1250.00", date(2026, 11, 3), product=world["product"])
    response = _as(app, world["manager_a"]).get("/manage/exports/sales.csv", query_string=NOVEMBER)
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="sales_2026-11-01_2026-11-30.csv"'
    assert response.get_data().startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read UTF-8
    assert _header(response) == list(exports.SALES_COLUMNS)
    assert _header(response)[:8] == ["key", "agent_email", "sku", "customer", "quantity", "unit_price", "date", "note"]


def test_sales_export_money_is_plain_decimal_and_dates_are_iso(app, world, factory):
    sale = factory.sale(world["agent_a"], "1250.00", date(2026, 11, 3), product=world["product"], quantity=2)
    [row] = _rows(_as(app, world["manager_a"]).get("/manage/exports/sales.csv", query_string=NOVEMBER))
    assert row["key"] == f"sale-{sale.id}" and row["sale_id"] == str(sale.id)
    assert row["agent_email"] == "ann@example.com" and row["agent_name"] == "Ann Agent"
    assert row["sku"] == "WID-1" and row["product_name"] == "Widget"
    assert (row["quantity"], row["unit_price"], row["amount"]) == ("2", "625.00", "1250.00")
    assert row["date"] == "2026-11-03"
    assert row["status"] == "approved"
    assert row["commission"] == "37.50"  # 3% of 1250.00
    assert row["entered_by"] == "ann@example.com" and row["decided_by"] == world["manager_a"].email
    assert datetime.fromisoformat(row["decided_at"]).tzinfo is not None or "T" in row["decided_at"]


def test_manager_exports_only_their_team_admin_exports_everyone(app, world, factory):
    factory.sale(world["agent_a"], "100.00", date(2026, 11, 3))
    factory.sale(world["agent_b"], "200.00", date(2026, 11, 4))
    as_a = _rows(_as(app, world["manager_a"]).get("/manage/exports/sales.csv", query_string=NOVEMBER))
    as_b = _rows(_as(app, world["manager_b"]).get("/manage/exports/sales.csv", query_string=NOVEMBER))
    admin = factory.user(Role.ADMIN)
    everyone = _rows(_as(app, admin).get("/manage/exports/sales.csv", query_string=NOVEMBER))
    assert [r["agent_email"] for r in as_a] == ["ann@example.com"]
    assert [r["agent_email"] for r in as_b] == ["bob@example.com"]
    assert sorted(r["agent_email"] for r in everyone) == ["ann@example.com", "bob@example.com"]


def test_sales_export_keeps_to_the_range_and_the_status(app, world, factory):
    factory.sale(world["agent_a"], "100.00", date(2026, 10, 31))
    inside = factory.sale(world["agent_a"], "200.00", date(2026, 11, 1))
    pending = factory.sale(world["agent_a"], "300.00", date(2026, 11, 2), approve=False)
    browser = _as(app, world["manager_a"])
    rows = _rows(browser.get("/manage/exports/sales.csv", query_string=NOVEMBER))
    assert [r["sale_id"] for r in rows] == [str(inside.id), str(pending.id)]
    only_pending = browser.get("/manage/exports/sales.csv", query_string={**NOVEMBER, "status": "pending"})
    assert [r["sale_id"] for r in _rows(only_pending)] == [str(pending.id)]
    assert only_pending.headers["Content-Disposition"].endswith('_pending.csv"')


def test_sales_export_reads_in_batches_and_keeps_every_row_once(app, world, factory, monkeypatch):
    # Ties on the date make the keyset pagination use the id as well.
    made = [factory.sale(world["agent_a"], f"{10 + i}.00", date(2026, 11, 1 + i // 3)) for i in range(7)]
    monkeypatch.setattr(exports, "BATCH_SIZE", 2)
    response = _as(app, world["manager_a"]).get("/manage/exports/sales.csv", query_string=NOVEMBER)
    chunks = list(response.response)
    assert len(chunks) == 1 + 4  # the header, then ceil(7 / 2) batches
    text = b"".join(chunks).decode("utf-8-sig")
    assert [r["sale_id"] for r in csv.DictReader(io.StringIO(text, newline=""))] == [str(s.id) for s in made]


def test_formula_cells_are_neutralised_in_text_columns(app, world, factory):
    dangerous = {
        "=cmd|' /C calc'!A0": "'=cmd|' /C calc'!A0",
        "+SUM(1,2)": "'+SUM(1,2)",
        "-2+3": "'-2+3",
        "@HYPERLINK(\"http://x\")": "'@HYPERLINK(\"http://x\")",
        "\tTabbed": "'\tTabbed",
        "\rReturn": "'\rReturn",
    }
    for index, text in enumerate(dangerous):
        factory.sale(world["agent_a"], "100.00", date(2026, 11, 1 + index), customer=text, note=text)
    rows = _rows(_as(app, world["manager_a"]).get("/manage/exports/sales.csv", query_string=NOVEMBER))
    assert [r["customer"] for r in rows] == list(dangerous.values())
    # The sales service trims notes, so only the customer names keep a leading tab or CR.
    assert [r["note"] for r in rows] == list(dangerous.values())[:4] + ["Tabbed", "Return"]


def test_harmless_text_is_left_as_it_is(app, world, factory):
    factory.sale(world["agent_a"], "100.00", date(2026, 11, 2), customer="Acme, Inc. \"West\"", note="Paid 50% up front")
    [row] = _rows(_as(app, world["manager_a"]).get("/manage/exports/sales.csv", query_string=NOVEMBER))
    assert row["customer"] == 'Acme, Inc. "West"' and row["note"] == "Paid 50% up front"


@pytest.mark.parametrize("query, field, message", [
    ({"end": "2026-11-30"}, "sales-start", "Enter the first day"),
    ({"start": "2026-11-01", "end": "30/11/2026"}, "sales-end", "Enter the last day"),
    ({"start": "2026-11-30", "end": "2026-11-01"}, "sales-end", "cannot be before"),
    ({**NOVEMBER, "status": "lost"}, "sales-status", "Choose a status"),
])
def test_bad_sales_export_ranges_show_the_error_beside_the_field(app, world, query, field, message):
    response = _as(app, world["manager_a"]).get("/manage/exports/sales.csv", query_string=query)
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    error = by_id(response.get_data(as_text=True), f"{field}-error")
    assert error is not None and message in error.text


# --- ledger export --------------------------------------------------------------------------------

def test_ledger_export_columns_and_a_negative_clawback_that_stays_numeric(app, world, factory):
    sale = factory.sale(world["agent_a"], "1000.00", date(2026, 11, 5), product=world["product"])
    close_period(None, period_for(date(2026, 11, 5)))
    sales.void_sale(world["manager_a"], sale, "-refund: customer returned it")
    response = _as(app, world["manager_a"]).get("/manage/exports/ledger.csv", query_string=NOVEMBER)
    assert response.is_streamed
    assert response.headers["Content-Disposition"] == 'attachment; filename="ledger_2026-11-01_2026-11-30.csv"'
    assert _header(response) == ["entry_id", "agent_email", "agent_name", "period_start", "period_end",
                                 "period_status", "kind", "sale_id", "sale_date", "product_sku", "amount",
                                 "rate_percent", "reason", "sale_amount", "holder_role", "share_percent",
                                 "credited_amount", "spiff", "spiff_version"]
    line, clawback = _rows(response)
    assert (line["kind"], line["period_start"], line["period_end"], line["period_status"]) == (
        "sale", "2026-11-01", "2026-11-15", "closed")
    assert (line["amount"], line["rate_percent"], line["sale_id"], line["sale_date"], line["product_sku"]) == (
        "30.00", "3", str(sale.id), "2026-11-05", "WID-1")
    assert line["agent_email"] == "ann@example.com" and line["agent_name"] == "Ann Agent"
    assert (clawback["kind"], clawback["period_start"], clawback["period_status"]) == ("adjustment", "2026-11-16", "open")
    assert clawback["amount"] == "-30.00"  # a number, not neutralised into text
    assert Decimal(clawback["amount"]) == Decimal("-30.00")


def test_ledger_export_names_the_spiff_and_version_of_a_spiff_reward(app, world, factory):
    from webapp.spiffs.services import SpiffRules, add_version, create_spiff

    product, admin = world["product"], factory.user(Role.ADMIN)
    spiff = create_spiff(admin, "Widget push", SpiffRules(
        date(2026, 11, 1), date(2026, 11, 30), per_unit=Decimal("5.00"), product_ids=[product.id])).spiff
    add_version(admin, spiff, SpiffRules(date(2026, 11, 1), date(2026, 11, 30), per_unit=Decimal("8.00"),
                                                      product_ids=[product.id]), date(2026, 11, 16))
    early = factory.sale(world["agent_a"], "100.00", date(2026, 11, 5), product=product, quantity=2)
    late = factory.sale(world["agent_a"], "100.00", date(2026, 11, 17), product=product)
    rows = _rows(_as(app, world["manager_a"]).get("/manage/exports/ledger.csv", query_string=NOVEMBER))
    assert sorted((r["sale_id"], r["kind"], r["amount"], r["spiff"], r["spiff_version"]) for r in rows) == sorted([
        (str(early.id), "sale", "3.00", "", ""), (str(early.id), "spiff", "10.00", "Widget push", "1"),
        (str(late.id), "sale", "3.00", "", ""), (str(late.id), "spiff", "8.00", "Widget push", "2")])


def test_ledger_export_neutralises_a_manual_reason_but_not_its_negative_amount(app, world, factory):
    from webapp.commissions.models import CommissionEntry, EntryKind

    period = period_for(date(2026, 11, 18))
    db.session.add(CommissionEntry(agent_id=world["agent_a"].id, period_id=period.id, kind=EntryKind.MANUAL,
                                   amount_cents=-1250, reason="=HYPERLINK(\"http://evil\")"))
    db.session.flush()
    [row] = _rows(_as(app, world["manager_a"]).get("/manage/exports/ledger.csv", query_string=NOVEMBER))
    assert row["amount"] == "-12.50"
    assert row["reason"] == "'=HYPERLINK(\"http://evil\")"
    assert row["sale_id"] == "" and row["rate_percent"] == ""


def test_ledger_export_takes_periods_starting_in_the_range_and_the_team_only(app, world, factory):
    factory.sale(world["agent_a"], "100.00", date(2026, 11, 14))
    factory.sale(world["agent_a"], "200.00", date(2026, 11, 16))
    factory.sale(world["agent_b"], "300.00", date(2026, 11, 17))
    browser = _as(app, world["manager_a"])
    second_half = _rows(browser.get("/manage/exports/ledger.csv", query_string={"start": "2026-11-10", "end": "2026-11-30"}))
    assert [(r["period_start"], r["amount"]) for r in second_half] == [("2026-11-16", "6.00")]
    whole = _rows(browser.get("/manage/exports/ledger.csv", query_string=NOVEMBER))
    assert [r["amount"] for r in whole] == ["3.00", "6.00"]
    assert {r["agent_email"] for r in whole} == {"ann@example.com"}


def test_bad_ledger_range_is_a_form_error(app, world):
    response = _as(app, world["manager_a"]).get("/manage/exports/ledger.csv", query_string={"start": "nope", "end": ""})
    assert response.status_code == 422
    error = by_id(response.get_data(as_text=True), "ledger-start-error")
    assert error is not None and "first day" in error.text
