"""Logging a sale through the quick path (PostgreSQL only) in a real Chromium: the reply swaps in
the new row, the totals panel and a fresh key; the form clears; no second totals request."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.e2e.conftest import ROOT, _environment, _flask, _wait_for_url
from tests.support.processes import stop

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def pg_live_server(live_directory, live_redis):
    """The live app on a fresh PostgreSQL database (TEST_DATABASE_URL's server), demo seeded."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("the quick path runs on PostgreSQL: set TEST_DATABASE_URL")
    from webapp.config import normalise_database_url

    server = make_url(normalise_database_url(url))
    name = f"{server.database}_e2e"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    env = _environment(server.set(database=name).render_as_string(hide_password=False), live_redis,
                       live_directory / "outbox-pg")
    env["E2E_TOTALS_REFRESH_SECONDS"] = "600"  # no polling: any totals request would be the sale's
    _flask(env, "db", "upgrade")
    _flask(env, "demo", "seed")
    log = live_directory / "live_app_pg.log"
    with open(log, "w") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "tests.e2e.live_app"], cwd=ROOT, env=env,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file, text=True)
    try:
        yield _wait_for_url(process, log)
    finally:
        stop(process)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _log_sale(page, product_label: str, quantity: str, customer_text: str):
    """Fill the form, pick the existing customer, log the sale."""
    from playwright.sync_api import expect

    page.get_by_label("Product", exact=True).select_option(label=product_label)
    page.get_by_label("Quantity", exact=True).fill(quantity)
    page.get_by_label("Customer", exact=True).fill(customer_text)
    page.locator("#customer-results .pick").first.click()
    expect(page.locator("#customer-help")).to_contain_text("Existing customer")
    page.get_by_role("button", name="Log sale").click()


def test_an_existing_customers_sale_is_logged_with_one_request(page, pg_live_server):
    from playwright.sync_api import expect

    errors, requests = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    page.goto(f"{pg_live_server}/login")
    page.get_by_label("Email").fill("alice.agent@demo.example")
    page.get_by_label("Password").fill("demo-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{pg_live_server}/dashboard")
    page.evaluate("window.__marker = 1")
    rows = page.locator("#recent-sales tbody tr")
    pending = page.get_by_test_id("month-pending")
    pending_before = pending.inner_text()
    key = page.locator("input[name=idempotency_key]")
    key_before = key.get_attribute("value")

    requests.clear()
    _log_sale(page, "Walk-in cooler (FNB-044)", "2", "Northwind")
    expect(page.locator("#sale-flash")).to_have_text(
        "Sale recorded: Walk-in cooler for Northwind Clinics, $42,800.00.")
    first = rows.first
    expect(first).to_contain_text("Walk-in cooler")
    expect(first).to_contain_text("Northwind Clinics")
    expect(first).to_contain_text("Pending")
    expect(first).to_contain_text("≈ $1,284.00")
    expect(pending).not_to_have_text(pending_before)  # the reply's panel
    assert key.get_attribute("value") != key_before
    # The form is cleared for the next sale (the date kept).
    expect(page.get_by_label("Quantity", exact=True)).to_have_value("1")
    expect(page.get_by_label("Customer", exact=True)).to_have_value("")
    expect(page.get_by_label("Unit price", exact=True)).to_have_value("")
    expect(page.locator("#customer_id")).to_have_value("")
    expect(page.locator("#estimate")).not_to_contain_text("This sale would earn")
    assert rows.count() <= 10
    posted = [r for r in requests if r.startswith("POST") and r.endswith("/sales")]
    assert len(posted) == 1, requests
    after = requests[requests.index(posted[0]):]
    assert not [r for r in after if "/dashboard/totals" in r], after  # no second request

    # The next sale works with the fresh key.
    _log_sale(page, "Patient monitor (MED-100)", "1", "Harbor")
    expect(page.locator("#sale-flash")).to_have_text(
        "Sale recorded: Patient monitor for Harbor Foods, $12,500.00.")
    expect(rows.first).to_contain_text("Harbor Foods")
    expect(rows.nth(1)).to_contain_text("Northwind Clinics")
    assert page.evaluate("window.__marker") == 1, "the page reloaded"
    assert errors == [], errors
