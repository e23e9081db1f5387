"""CSV import of sales (issue 5, item 7): dry run, per-row errors, all or nothing, idempotent,
size limits, uploads private to their manager, and an export -> import round trip."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from tests.conftest import Browser, browser_as
from tests.support.rows import counts
from tests.web._html import by_id, main_text, tags, text_of, within
from tests.web._streaming import streaming_browser
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.catalog.models import Customer
from webapp.commissions.models import CommissionEntry
from webapp.commissions.periods import close_period, period_for
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.sales import imports
from webapp.sales import services as sales
from webapp.sales.models import ImportUpload, Sale

TODAY = date(2026, 11, 20)
HEADER = "key,agent_email,sku,customer,quantity,unit_price,date,note"


@pytest.fixture(autouse=True)
def import_dir(app, tmp_path, monkeypatch):
    """Uploads go to a directory of this test's own."""
    directory = tmp_path / "imports"
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(directory))
    return directory


@pytest.fixture
def world(build, factory):
    """Two teams; products open to all, one archived; a 3% plan."""
    build.on(TODAY)
    manager_a, (ann, amy) = build.team(None, "Ann Agent <ann@example.com>", "Amy Agent <amy@example.com>")
    gone = build.agent("Gone Agent <gone@example.com>", manager_a, active=False, plan=None)
    manager_b, (bob,) = build.team(None, "Bob Agent <bob@example.com>")
    widget = factory.product(sku="WID-1", name="Widget", list_price_cents=10_000)
    gadget = factory.product(sku="GAD-2", name="Gadget", list_price_cents=25_000)
    old = factory.product(sku="OLD-9", name="Old thing", active=False)
    return {"manager_a": manager_a, "manager_b": manager_b, "ann": ann, "amy": amy, "gone": gone, "bob": bob,
            "widget": widget, "gadget": gadget, "old": old}


@pytest.fixture
def manager(app, world) -> Browser:
    """manager_a's browser."""
    return browser_as(app, world["manager_a"])


def _csv(*rows: str, header: str = HEADER) -> bytes:
    """A CSV file from lines."""
    return ("\r\n".join((header,) + rows) + "\r\n").encode()


def _upload(browser: Browser, content: bytes, filename: str = "sales.csv"):
    """POST a file to the import page."""
    response = browser.post("/manage/imports", data={"file": (io.BytesIO(content), filename)},
                            token_from="/manage/imports", content_type="multipart/form-data")
    # The test client spools a large body to a temporary file and leaves closing it to the
    # server; a refused (413) upload is never read, so close it here, as a server would.
    response.request.environ["wsgi.input"].close()
    return response


def _preview_url(response) -> str:
    """Where an accepted upload redirects: its preview."""
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    path = urlsplit(response.headers["Location"]).path
    assert path.startswith("/manage/imports/")
    return path


def _confirm(browser: Browser, url: str):
    """Confirm an import (the CSRF token comes from the preview, as in a browser)."""
    return browser.post(url, token_from=url)


def _counts() -> dict[str, int]:
    """Row counts of everything an import may write."""
    return counts(Sale, Customer, CommissionEntry, AuditEvent)


def _errors(html: str) -> list[tuple[int, str, str]]:
    """The preview's error table: (line, column, message)."""
    page = tags(html)
    table = next((t for t in page if t.name == "table" and "error-table" in (t.attrs.get("class") or "")), None)
    if table is None:
        return []
    rows = []
    for tr in within(table, page, "tr"):
        cells = [text_of(td) for td in within(tr, page, "td")]
        if cells:
            rows.append((int(cells[0]), cells[1], cells[2]))
    return rows


GOOD = (
    "r-0001,ann@example.com,WID-1,Acme Corp,2,100.00,2026-11-03,first",
    "r-0002,amy@example.com,gad-2,New Customer Ltd,1,249.99,2026-11-18,",
    "r-0003,ann@example.com,WID-1,New Customer Ltd,3,10.50,2026-11-19,\"note, with comma\"",
)


# --- the page -------------------------------------------------------------------------------------

def test_import_page_explains_the_format_and_limits(manager):
    response = manager.get("/manage/imports")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<label for="file">CSV file</label>' in html
    assert 'enctype="multipart/form-data"' in html
    assert HEADER in html
    assert "at most 5 MB" in html and "5,000 rows" in html


def test_agents_cannot_import(app, world):
    agent = browser_as(app, world["ann"])
    assert agent.get("/manage/imports").status_code == 403


def test_template_download_has_the_header(manager):
    response = manager.get("/manage/imports/template.csv")
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.get_data().decode("utf-8-sig").strip() == HEADER


# --- dry run, import, idempotency -----------------------------------------------------------------

def test_dry_run_shows_what_would_be_created_and_writes_nothing(manager, factory):
    factory.customer(name="Acme Corp")
    before = _counts()
    url = _preview_url(_upload(manager, _csv(*GOOD)))
    response = manager.get(url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = main_text(html)
    assert "New sales 3" in text and "$481.49 in total" in text
    assert "Rows with errors 0" in text
    assert "Import 3 sales" in text
    assert _counts() == before
    # The preview can be reloaded: still a dry run.
    manager.get(url)
    assert _counts() == before


def test_import_creates_every_row_entered_by_the_manager(manager, world, factory):
    acme = factory.customer(name="Acme Corp")
    url = _preview_url(_upload(manager, _csv(*GOOD)))
    before = _counts()
    response = _confirm(manager, url)
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/manage/imports"
    after = _counts()
    assert after["Sale"] == before["Sale"] + 3
    assert after["Customer"] == before["Customer"] + 1  # "New Customer Ltd" once, reused by the next row
    db.session.expire_all()
    made = list(db.session.scalars(select(Sale).where(Sale.entered_by_id == world["manager_a"].id).order_by(Sale.id)))
    assert [s.idempotency_key for s in made] == ["csv-r-0001", "csv-r-0002", "csv-r-0003"]
    assert [s.status for s in made] == ["pending"] * 3
    assert [(s.agent_id, s.quantity, s.unit_price_cents, s.amount_cents, s.sold_on) for s in made] == [
        (world["ann"].id, 2, 10000, 20000, date(2026, 11, 3)),
        (world["amy"].id, 1, 24999, 24999, date(2026, 11, 18)),
        (world["ann"].id, 3, 1050, 3150, date(2026, 11, 19))]
    assert made[0].customer_id == acme.id and made[1].customer_id == made[2].customer_id != acme.id
    assert (made[0].note, made[1].note, made[2].note) == ("first", None, "note, with comma")
    assert made[1].product_id == world["gadget"].id  # SKUs match case-insensitively
    page = manager.get("/manage/imports").get_data(as_text=True)
    assert "Imported 3 sales from sales.csv." in page


def test_the_manager_cannot_approve_a_sale_they_imported(manager, world, factory):
    url = _preview_url(_upload(manager, _csv(GOOD[0])))
    _confirm(manager, url)
    db.session.expire_all()
    sale = db.session.scalar(select(Sale).where(Sale.idempotency_key == "csv-r-0001"))
    with pytest.raises(ServiceError) as refused:
        sales.approve_sale(world["manager_a"], sale)
    assert refused.value.status == 403
    admin = factory.user(Role.ADMIN)
    assert sales.approve_sale(admin, sale).status == "approved"


def test_importing_the_same_file_twice_creates_nothing_new(manager):
    _confirm(manager, _preview_url(_upload(manager, _csv(*GOOD))))
    before = _counts()
    url = _preview_url(_upload(manager, _csv(*GOOD)))
    text = main_text(manager.get(url).get_data(as_text=True))
    assert "New sales 0" in text and "Already imported 3" in text
    assert "Nothing new to import" in text
    response = _confirm(manager, url)
    assert response.status_code == 302
    assert _counts() == before
    assert "3 rows were already imported and skipped" in manager.get("/manage/imports").get_data(as_text=True)


def test_a_file_with_new_and_old_rows_creates_only_the_new(manager):
    _confirm(manager, _preview_url(_upload(manager, _csv(GOOD[0]))))
    before = _counts()
    url = _preview_url(_upload(manager, _csv(*GOOD)))
    assert "New sales 2" in main_text(manager.get(url).get_data(as_text=True))
    _confirm(manager, url)
    assert _counts()["Sale"] == before["Sale"] + 2


def test_an_export_file_imports_as_it_is_with_its_extra_columns_ignored(manager, world):
    from webapp.sales.csv_format import MAX_CO_AGENT_COLUMNS, SALES_COLUMNS

    header = ",".join(SALES_COLUMNS)
    extra = ",9,Ann Agent,Widget,200.00,approved,6.00,ann@example.com,boss@example.com,2026-11-03T10:00:00+00:00,"
    extra += ",,100,200.00" + "," * (3 * MAX_CO_AGENT_COLUMNS)  # the credit columns: one holder, 100%
    url = _preview_url(_upload(manager, _csv(GOOD[0] + extra, header=header)))
    text = main_text(manager.get(url).get_data(as_text=True))
    assert "New sales 1" in text
    assert "Ignored columns (from a sales export): sale_id, agent_name" in text


def test_neutralised_cells_from_an_export_are_read_back_without_the_apostrophe(manager):
    url = _preview_url(_upload(manager, _csv("r-0009,ann@example.com,WID-1,'=Evil Corp,1,5.00,2026-11-03,'+note")))
    _confirm(manager, url)
    db.session.expire_all()
    sale = db.session.scalar(select(Sale).where(Sale.idempotency_key == "csv-r-0009"))
    assert sale.customer.name == "=Evil Corp" and sale.note == "+note"


# --- per-row errors -------------------------------------------------------------------------------

ROW = dict(key="r-1000", agent_email="ann@example.com", sku="WID-1", customer="Acme", quantity="1",
           unit_price="100.00", date="2026-11-10", note="")


def _row(**changes) -> str:
    """The good row with some cells changed."""
    cells = {**ROW, **changes}
    return ",".join(cells[c] for c in HEADER.split(","))


@pytest.mark.parametrize("changes, column, message", [
    ({"date": "2026-13-01"}, "date", "Enter the date as YYYY-MM-DD."),
    ({"date": "10/11/2026"}, "date", "Enter the date as YYYY-MM-DD."),
    ({"date": "2026-11-21"}, "date", "The sale date cannot be in the future."),
    ({"sku": "NOPE-1"}, "sku", "Unknown SKU 'NOPE-1'."),
    ({"sku": "OLD-9"}, "sku", "This agent cannot sell this product (it is archived or restricted to other agents)."),
    ({"sku": ""}, "sku", "Enter the product's SKU."),
    ({"agent_email": "nobody@example.com"}, "agent_email", "No active agent of your team has this email."),
    ({"agent_email": "bob@example.com"}, "agent_email", "No active agent of your team has this email."),
    ({"agent_email": "gone@example.com"}, "agent_email", "No active agent of your team has this email."),
    ({"quantity": "0"}, "quantity", "Enter a whole number from 1 to 1,000,000."),
    ({"quantity": "1.5"}, "quantity", "Enter a whole number from 1 to 1,000,000."),
    ({"quantity": "two"}, "quantity", "Enter a whole number from 1 to 1,000,000."),
    ({"unit_price": "12.345"}, "unit_price", "Use at most two decimals."),
    ({"unit_price": "-5.00"}, "unit_price", "Enter a unit price that is not negative."),
    ({"unit_price": '"1,000.00"'}, "unit_price", "Enter a unit price as a plain number, like 1250.50."),
    ({"unit_price": "0"}, "unit_price", "Enter an amount greater than zero."),
    ({"customer": ""}, "customer", "Enter the customer's name."),
    ({"key": "a b"}, "key", "Use 4 to 60 letters, digits, dashes or underscores."),
    ({"key": "abc"}, "key", "Use 4 to 60 letters, digits, dashes or underscores."),
])
def test_each_bad_cell_is_reported_on_its_line_and_nothing_is_written(manager, changes, column, message):
    content = _csv(_row(key="r-good"), _row(**changes))
    url = _preview_url(_upload(manager, content))
    before = _counts()
    preview = manager.get(url).get_data(as_text=True)
    assert _errors(preview) == [(3, column, message)]
    assert "Import " not in main_text(preview).replace("Import preview", "").replace("Import sales", "")
    response = _confirm(manager, url)
    assert response.status_code == 422
    assert _errors(response.get_data(as_text=True)) == [(3, column, message)]
    assert _counts() == before


def test_a_date_in_a_closed_period_is_refused(manager, world, factory):
    factory.sale(world["ann"], "10.00", date(2026, 11, 2))
    close_period(None, period_for(date(2026, 11, 2)))
    url = _preview_url(_upload(manager, _csv(_row(date="2026-11-05"))))
    assert _errors(manager.get(url).get_data(as_text=True)) == [
        (2, "date", "That date is in a closed period; record the sale in an open period.")]


def test_several_errors_of_one_row_are_all_listed(manager):
    url = _preview_url(_upload(manager, _csv(_row(sku="NOPE", quantity="x", unit_price="1.001", date="soon"))))
    assert [(line, column) for line, column, _ in _errors(manager.get(url).get_data(as_text=True))] == [
        (2, "sku"), (2, "quantity"), (2, "unit_price"), (2, "date")]


def test_every_refusal_of_the_sales_service_on_one_row_is_listed(manager):
    # Both are found only by the service (the cells themselves are well formed).
    url = _preview_url(_upload(manager, _csv(_row(sku="OLD-9", date="2026-11-21"))))
    assert sorted(_errors(manager.get(url).get_data(as_text=True))) == [
        (2, "date", "The sale date cannot be in the future."),
        (2, "sku", "This agent cannot sell this product (it is archived or restricted to other agents)."),
    ]


def test_a_repeated_key_and_a_short_row_are_reported(manager):
    content = _csv(_row(key="r-dupe"), _row(key="r-dupe", customer="Other"), "r-short,ann@example.com,WID-1")
    url = _preview_url(_upload(manager, content))
    assert _errors(manager.get(url).get_data(as_text=True)) == [
        (3, "key", "This key is also on line 2; each row needs its own key."),
        (4, "row", "This line has 3 cells; the header has 8.")]


def test_line_numbers_follow_the_file_with_quoted_newlines_and_blank_lines(manager):
    content = _csv(_row(key="r-0001", note='"two\nlines"'), "", _row(key="r-0002", quantity="0"))
    url = _preview_url(_upload(manager, content))
    assert [(line, column) for line, column, _ in _errors(manager.get(url).get_data(as_text=True))] == [(5, "quantity")]


def test_one_bad_row_among_good_ones_imports_nothing(manager):
    # The bad row is last and fails only inside the sales service (future date): the good rows
    # were already written in the transaction, and are rolled back with it.
    content = _csv(*GOOD, _row(key="r-late", date="2026-12-01"))
    url = _preview_url(_upload(manager, content))
    before = _counts()
    response = _confirm(manager, url)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert _errors(html) == [(5, "date", "The sale date cannot be in the future.")]
    assert "Nothing will be imported while any row has an error" in html
    assert _counts() == before


# --- file-level errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("content, message", [
    (_csv(_row(), header="key,agent,sku,customer,quantity,unit_price,date,note"),
     "Wrong header (missing agent_email; unknown 'agent'). Expected: key, agent_email, sku, customer, quantity, unit_price, date, note."),
    (_csv("x", header="key,agent_email,sku,customer,quantity,unit_price,date"),
     "Wrong header (missing note)."),
    (_csv(_row(), header=HEADER + ",note"), "The header repeats note."),
    ("key,agent_email,sku,customer,quantity,unit_price,date,note\r\nr-1,ann@example.com,WID-1,M\u00fcller,1,1.00,2026-11-03,\r\n"
     .encode("latin-1"), "The file is not UTF-8 text (line 2 has a byte that is not)."),
    ((HEADER + "\r\n").encode(), "The file has a header but no rows."),
    (_csv('r-1,ann@example.com,WID-1,"Acme" Corp,1,1.00,2026-11-03,'), "Line 2: the file is not valid CSV"),
])
def test_file_level_errors_are_shown_and_nothing_is_imported(manager, content, message):
    url = _preview_url(_upload(manager, content))
    before = _counts()
    preview = manager.get(url)
    assert preview.status_code == 200
    assert message in main_text(preview.get_data(as_text=True))
    assert "This file cannot be imported" in main_text(preview.get_data(as_text=True))
    response = _confirm(manager, url)
    assert response.status_code == 422
    assert message in main_text(response.get_data(as_text=True))
    assert _counts() == before


def test_more_than_5000_rows_is_refused(manager):
    rows = [_row(key=f"r-{i:05d}") for i in range(imports.MAX_ROWS + 1)]
    url = _preview_url(_upload(manager, _csv(*rows)))
    assert "The file has more than 5,000 rows. Split it into smaller files." in main_text(manager.get(url).get_data(as_text=True))


def test_an_empty_file_is_a_field_error(manager, import_dir):
    response = _upload(manager, b"")
    assert response.status_code == 422
    error = by_id(response.get_data(as_text=True), "file-error")
    assert error is not None and "empty" in error.text
    assert not import_dir.exists() or not any(import_dir.iterdir())


def test_no_file_is_a_field_error(manager):
    response = manager.post("/manage/imports", data={}, token_from="/manage/imports")
    assert response.status_code == 422
    error = by_id(response.get_data(as_text=True), "file-error")
    assert error is not None and "Choose a CSV file" in error.text


def test_a_file_over_5_mb_is_refused_with_413_beside_the_field(manager, import_dir):
    content = _csv() + b"#" * (imports.MAX_BYTES)
    response = _upload(manager, content)
    assert response.status_code == 413
    error = by_id(response.get_data(as_text=True), "file-error")
    assert error is not None and "larger than 5 MB" in error.text
    assert not import_dir.exists() or not any(import_dir.iterdir())


def test_a_50_mb_upload_gets_the_413_page(manager, import_dir):
    # bytes(n) is one zero-filled allocation: no Python-level loop over 50 MB.
    response = _upload(manager, bytes(50 * 1024 * 1024), "huge.csv")
    assert response.status_code == 413
    text = main_text(response.get_data(as_text=True))
    assert "Too large" in text and "larger than this site accepts (16 MB per request" in text
    assert not import_dir.exists() or not any(import_dir.iterdir())


# --- uploads are private to their manager ---------------------------------------------------------

def test_another_managers_upload_is_not_found(app, manager, world, factory):
    url = _preview_url(_upload(manager, _csv(*GOOD)))
    before = _counts()
    for user in (world["manager_b"], factory.user(Role.ADMIN)):
        other = browser_as(app, user)
        assert other.get(url).status_code == 404
        assert other.post(url, token_from="/manage/imports").status_code == 404
    assert _counts() == before
    assert manager.get(url).status_code == 200


@pytest.mark.parametrize("upload_id", ["AAAAAAAAAAAAAAAA", "..%2F..%2Fsecret_k", "short"])
def test_unknown_or_malformed_upload_ids_are_not_found(manager, upload_id):
    assert manager.get(f"/manage/imports/{upload_id}").status_code == 404


def test_uploads_are_stored_in_the_database_under_the_managers_id_and_removed_after_import(manager, world,
                                                                                           import_dir):
    url = _preview_url(_upload(manager, _csv(GOOD[0])))
    upload_id = url.rsplit("/", 1)[1]
    stored = db.session.scalar(select(ImportUpload).where(ImportUpload.token == upload_id))
    assert (stored.owner_id, stored.content) == (world["manager_a"].id, _csv(GOOD[0]))
    assert not import_dir.exists()  # nothing on this host's disk
    _confirm(manager, url)
    db.session.expire_all()
    assert db.session.scalar(select(ImportUpload).where(ImportUpload.token == upload_id)) is None
    assert manager.get(url).status_code == 404


def test_a_stored_upload_changed_since_its_preview_is_not_imported(manager, world):
    url = _preview_url(_upload(manager, _csv(GOOD[0])))
    upload_id = url.rsplit("/", 1)[1]
    stored = db.session.scalar(select(ImportUpload).where(ImportUpload.token == upload_id))
    stored.content = _csv(*GOOD)
    db.session.commit()
    before = _counts()
    assert _confirm(manager, url).status_code == 404
    assert _counts() == before


def test_admins_import_for_any_team(app, world, factory):
    admin = browser_as(app, factory.user(Role.ADMIN))
    url = _preview_url(_upload(admin, _csv(_row(agent_email="bob@example.com"))))
    assert _errors(admin.get(url).get_data(as_text=True)) == []
    assert _confirm(admin, url).status_code == 302


# --- round trip: export, then import into a fresh database ---------------------------------------

_FRESH_IMPORT = r'''
import json, re, sys
from datetime import date
from pathlib import Path

import fakeredis
from flask_migrate import upgrade

from webapp import clock, create_app
from webapp.extensions import db

spec = json.loads(Path(sys.argv[1]).read_text())
clock.today = lambda: date.fromisoformat(spec["today"])
app = create_app({"TESTING": True, "SECRET_KEY": "round-trip", "SQLALCHEMY_DATABASE_URI": spec["database"],
                  "REDIS_CLIENT": fakeredis.FakeRedis(), "RATELIMIT_STORAGE_URI": "memory://",
                  "IMPORT_DIR": spec["imports"], "OUTBOX_DIR": spec["outbox"], "SERVER_NAME": "fresh.test"})
from sqlalchemy import func, select
from webapp.auth.models import User
from webapp.catalog.models import Category, Product
from webapp.sales.models import Sale

with app.app_context():
    upgrade()
    manager = User(email=spec["manager"], name="Importing Manager", role="manager", password_hash="x")
    db.session.add(manager)
    db.session.flush()
    for email, name in spec["agents"]:
        db.session.add(User(email=email, name=name, role="agent", manager_id=manager.id, password_hash="x"))
    category = Category(code="imported", name="Imported")
    db.session.add(category)
    db.session.flush()
    for sku, name, price in spec["products"]:
        db.session.add(Product(sku=sku, name=name, category_id=category.id, list_price_cents=price))
    db.session.commit()
    manager_session = manager.get_id()

client = app.test_client()
with client.session_transaction() as session:
    session["_user_id"], session["_fresh"] = manager_session, True
token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/manage/imports").get_data(as_text=True)).group(1)
upload = client.post("/manage/imports", data={"csrf_token": token, "file": (open(spec["file"], "rb"), "export.csv")},
                     content_type="multipart/form-data")
assert upload.status_code == 302, upload.get_data(as_text=True)
preview_url = upload.headers["Location"]
preview = client.get(preview_url).get_data(as_text=True)
token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', preview).group(1)
confirm = client.post(preview_url, data={"csrf_token": token})
assert confirm.status_code == 302, confirm.get_data(as_text=True)
with app.app_context():
    count, volume = db.session.execute(select(func.count(Sale.id), func.coalesce(func.sum(Sale.amount_cents), 0))).one()
    print(json.dumps({"count": count, "volume": int(volume)}))
'''


def test_csv_round_trip_into_a_fresh_database_keeps_the_totals(app, world, factory, tmp_path, project_root):
    ann, amy = world["ann"], world["amy"]
    customers = ["Acme Corp", "=Formula & Co", "Müller GmbH", "Comma, Inc.", "Quote \"Q\" Ltd"]
    made = []
    for i in range(12):
        agent = ann if i % 2 else amy
        product = world["widget"] if i % 3 else world["gadget"]
        quantity, unit_cents = 1 + i % 3, 10_000 + i * 3_737
        amount = str(Decimal(unit_cents * quantity) / 100)
        made.append(factory.sale(agent, amount, date(2026, 11, 1 + i), product=product, quantity=quantity))
        made[-1].customer.name = customers[i % len(customers)]
        made[-1].note = ["", "-minus note", "multi\nline", "@at"][i % 4] or None
    factory.sale(ann, "999.00", date(2026, 10, 30))  # outside the range
    factory.sale(world["bob"], "555.00", date(2026, 11, 4))  # another team
    db.session.flush()
    expected = {"count": len(made), "volume": sum(s.amount_cents for s in made)}

    exported = streaming_browser(app, world["manager_a"]).get(
        "/manage/exports/sales.csv", query_string={"start": "2026-11-01", "end": "2026-11-30", "status": "approved"})
    assert exported.status_code == 200 and exported.is_streamed
    content = exported.get_data()
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert len(rows) == expected["count"]
    assert sum(Decimal(r["amount"]) for r in rows) * 100 == expected["volume"]

    export_file = tmp_path / "export.csv"
    export_file.write_bytes(content)
    spec = {
        "today": TODAY.isoformat(), "database": f"sqlite:///{tmp_path / 'fresh.db'}", "file": str(export_file),
        "imports": str(tmp_path / "fresh-imports"), "outbox": str(tmp_path / "fresh-outbox"),
        "manager": "importer@example.com",
        "agents": [(a.email, a.name) for a in (ann, amy)],
        "products": [(p.sku, p.name, p.list_price_cents) for p in (world["widget"], world["gadget"])],
    }
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL", "FLASK_ENV")}
    env.update({"APP_ENV": "development", "SECRET_KEY": "round-trip", "REDIS_URL": "redis://127.0.0.1:1/0"})
    result = subprocess.run([sys.executable, "-c", _FRESH_IMPORT, str(spec_file)], cwd=project_root, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


# --- the sales service's batch entry point behaves as create_sale ---------------------------------

def test_batch_checks_give_the_same_errors_as_create_sale(world, factory):
    import uuid

    restricted = factory.product(sku="RES-1", restricted=True)
    factory.sale(world["ann"], "10.00", date(2026, 10, 2))
    close_period(None, period_for(date(2026, 10, 2)))
    customer = factory.customer(name="Known")
    base = dict(product_id=world["widget"].id, quantity=1, unit_price=Decimal("10.00"), sold_on=date(2026, 11, 10),
                customer_id=customer.id)
    cases = [
        dict(base, product_id=world["old"].id), dict(base, product_id=restricted.id), dict(base, product_id=None),
        dict(base, sold_on=date(2026, 11, 21)), dict(base, sold_on=date(2026, 10, 5)), dict(base, sold_on=None),
        dict(base, quantity=0), dict(base, unit_price=Decimal("1.005")), dict(base, unit_price=Decimal("0")),
        dict(base, quantity=1_000_000, unit_price=Decimal("99999999.99")), dict(base, note="x" * 2001),
        dict(base, customer_id=None), dict(base, customer_id=10**9),
    ]
    for agent_id in (world["ann"].id, world["bob"].id, world["gone"].id):
        for fields in cases:
            data = sales.SaleInput(**fields)
            with pytest.raises(ServiceError) as single:
                with db.session.begin_nested():
                    sales.create_sale(world["manager_a"], data, idempotency_key=uuid.uuid4().hex, agent_id=agent_id)
            [batch] = sales.create_sales(world["manager_a"], [sales.BatchItem(data, uuid.uuid4().hex, agent_id)])
            assert batch.sale is None and batch.error is not None, fields
            assert (batch.error.field, batch.error.message) == (single.value.field, single.value.message), fields


def test_with_approval_off_imported_sales_count_at_once_and_earn_commission(manager, world):
    from webapp.commissions.periods import get_settings

    get_settings().approval_required = False
    db.session.flush()
    url = _preview_url(_upload(manager, _csv(GOOD[0], _row(key="r-0100", unit_price="50.00", date="2026-11-04"))))
    assert "Approval is off: they count as approved at once." in main_text(manager.get(url).get_data(as_text=True))
    assert _confirm(manager, url).status_code == 302
    db.session.expire_all()
    entries = db.session.scalars(select(CommissionEntry).where(CommissionEntry.agent_id == world["ann"].id)
                                 .order_by(CommissionEntry.id)).all()
    assert [(e.kind, e.amount_cents) for e in entries] == [("sale", 600), ("sale", 150)]  # 3% of 200.00, 50.00
    assert {s.status for s in db.session.scalars(select(Sale).where(Sale.entered_by_id == world["manager_a"].id))} == {"approved"}


# --- two imports of one file at once (PostgreSQL: real row locks) ---------------------------------

from tests.services.test_concurrency import committed  # noqa: E402,F401  (a real committing session)


def test_two_concurrent_imports_of_one_file_create_each_sale_once(app, factory, committed):
    import threading
    import uuid as _uuid

    from webapp.auth.models import User

    manager = factory.user(Role.MANAGER)
    agents = [factory.user(Role.AGENT, manager=manager) for _ in range(3)]
    product = factory.product(sku=f"RACE-{_uuid.uuid4().hex[:6]}")
    for agent in agents:
        factory.assign(agent, factory.plan(base_rate="3", name=f"Race import {_uuid.uuid4().hex[:8]}"))
    period_for(date(2031, 3, 5))
    db.session.commit()
    run = _uuid.uuid4().hex[:8]
    content = _csv(*(f"k{run}-{i:03d},{agents[i % 3].email},{product.sku},Race customer {run},1,10.00,2031-03-05,"
                     for i in range(30)))
    start, outcomes = threading.Barrier(2), [dict(), dict()]

    def work(outcome: dict) -> None:
        """One confirm request: run the import and commit."""
        with app.app_context():
            try:
                actor = db.session.get(User, manager.id)
                start.wait(10)
                result = imports.run_import(actor, content)
                assert result.ok, result.errors
                db.session.commit()
                outcome.update(created=len(result.to_create), skipped=len(result.skipped))
            except BaseException as exc:  # surfaced in the main thread
                outcome["crash"] = exc
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(o,)) for o in outcomes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive(), "a thread is stuck"
    for outcome in outcomes:
        if "crash" in outcome:
            raise outcome["crash"]
    assert sorted((o["created"], o["skipped"]) for o in outcomes) == [(0, 30), (30, 0)]
    count = db.session.scalar(select(func.count()).select_from(Sale).where(Sale.entered_by_id == manager.id))
    customers = db.session.scalar(select(func.count()).select_from(Customer).where(Customer.name == f"Race customer {run}"))
    assert (count, customers) == (30, 1)


def test_a_key_clash_with_a_concurrent_import_is_a_clear_409(manager, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    url = _preview_url(_upload(manager, _csv(GOOD[0])))

    def clash(*args, **kwargs):
        """What the flush raises when another transaction inserted the same key first."""
        raise IntegrityError("INSERT INTO sales", {}, Exception("duplicate key"))

    monkeypatch.setattr(sales, "create_sales", clash)
    before = _counts()
    response = _confirm(manager, url)
    assert response.status_code == 409
    assert "Another import with some of these keys ran at the same moment" in main_text(response.get_data(as_text=True))
    assert _counts() == before


# --- split sales (the optional co_agents column) --------------------------------------------------

SPLIT_HEADER = HEADER + ",co_agents"


def test_the_co_agents_column_imports_split_sales(manager, world):
    content = _csv("s-0001,ann@example.com,WID-1,Acme Corp,1,100.01,2026-11-03,,bob@example.com:40",
                   "s-0002,amy@example.com,WID-1,Acme Corp,1,100.00,2026-11-04,,ANN@example.com:25; bob@example.com:25",
                   "s-0003,ann@example.com,WID-1,Acme Corp,1,50.00,2026-11-05,,", header=SPLIT_HEADER)
    url = _preview_url(_upload(manager, content))
    preview = manager.get(url)
    assert preview.status_code == 200 and "Split: bob@example.com:40" in html_of_text(preview)
    assert _confirm(manager, url).status_code == 302
    db.session.expire_all()
    by_key = {s.idempotency_key: s for s in db.session.scalars(select(Sale))}
    # Bob is on another team: a co-agent may be any active agent. 40% of 100.01 rounds down.
    assert [(c.agent_id, c.credit_cents) for c in by_key["csv-s-0001"].credits] == [
        (world["ann"].id, 6001), (world["bob"].id, 4000)]
    assert [(c.agent_id, c.credit_cents) for c in by_key["csv-s-0002"].credits] == [
        (world["amy"].id, 5000), (world["ann"].id, 2500), (world["bob"].id, 2500)]
    assert [(c.agent_id, c.credit_cents) for c in by_key["csv-s-0003"].credits] == [(world["ann"].id, 5000)]


def test_bad_co_agents_are_refused_per_row_with_the_line_and_nothing_is_imported(manager, world):
    content = _csv("b-0001,ann@example.com,WID-1,Acme Corp,1,100.00,2026-11-03,,bob@example.com:40",
                   "b-0002,ann@example.com,WID-1,Acme Corp,1,100.00,2026-11-03,,bob@example.com:60;amy@example.com:50",
                   "b-0003,ann@example.com,WID-1,Acme Corp,1,100.00,2026-11-03,,gone@example.com:10",
                   "b-0004,ann@example.com,WID-1,Acme Corp,1,100.00,2026-11-03,,ann@example.com:10",
                   "b-0005,ann@example.com,WID-1,Acme Corp,1,100.00,2026-11-03,,bob@example.com",
                   "b-0006,ann@example.com,WID-1,Acme Corp,1,100.00,2026-11-03,,bob@example.com:12.34567",
                   header=SPLIT_HEADER)
    before = _counts()
    url = _preview_url(_upload(manager, content))
    errors = _errors(manager.get(url).get_data(as_text=True))
    assert [(line, column) for line, column, _ in errors] == [(3, "co_agents"), (4, "co_agents"), (5, "co_agents"),
                                                               (6, "co_agents"), (7, "co_agents")]
    messages = [message for _, _, message in errors]
    assert "add up to 110%" in messages[0]
    assert "No active agent has the email gone@example.com." in messages[1]
    assert "the sale's own agent" in messages[2]
    assert messages[3] == imports.CO_AGENTS_FORMAT
    assert "four decimals" in messages[4]
    assert _confirm(manager, url).status_code != 302
    assert _counts() == before


def html_of_text(response) -> str:
    """The response's text with whitespace collapsed."""
    return " ".join(response.get_data(as_text=True).split())
