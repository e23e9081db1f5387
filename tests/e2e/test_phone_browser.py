"""Every main page, as each role, on a phone (390 px) and for everyone (axe-core): issue 13, item 7.

One table lists the pages: signed out, and as the demo's agent Alice, her manager Maria and the
admin. Each is opened at 390 x 844 and must not scroll sideways, must not stack a table row without
its labels, and must pass axe-core's WCAG 2.1 A/AA rules with no serious or critical violation, at
390 and at 1280 px (tests/e2e/phone.py). A few checks of what a phone shows first follow. The live
worker runs, so the demo's statements are rendered and mailed into the outbox the admin reads.
"""

from __future__ import annotations

import re
import time
from datetime import date

import pytest

from tests.e2e.phone import (PHONE, agent_records, assert_fits, check_after, check_listed, check_page,
                             live_id, open_on_phone, phone_context, session_of)
from tests.e2e.support import ADMIN_EMAIL, AGENT_EMAILS, MANAGER_EMAIL

pytestmark = pytest.mark.browser

AGENT = AGENT_EMAILS["Alice Chen"]
MAIL_TIMEOUT = 90.0  # the worker renders the demo's statements, then mails them
ROLES = {"agent": AGENT, "manager": MANAGER_EMAIL, "admin": ADMIN_EMAIL}

SIGNED_OUT = {
    "login": "/login",
    "forgot-password": "/password/forgot",
    "reset-link-not-valid": "/password/reset/not-a-token",
}

# role -> page name -> path; {names} are filled from the `records` fixture.
PAGES = {
    "agent": {
        "dashboard": "/dashboard",
        "my-sales": "/sales",
        "my-sales-filtered": "/sales?status=approved&sort=amount&direction=desc",
        "sale-approved": "/sales/{approved_sale}",
        "sale-pending": "/sales/{pending_sale}",
        "sale-edit": "/sales/{pending_sale}/edit",
        "my-products": "/products/mine",
        "my-disputes": "/disputes",
        "dispute": "/disputes/{dispute}",
        "dispute-new": "/ledger/{entry}/dispute",
        "statements": "/statements",
        "statement": "/statements/{statement}",
        "profile": "/profile/tokens",
        "api-docs": "/api/v1/docs",
        "not-found": "/sales/999999999",
    },
    "manager": {
        "review-queue": "/manage/review",
        "review-queue-flagged": "/manage/review?flagged=y",
        "team": "/manage/team",
        "agent": "/manage/agents/{agent}",
        "payouts": "/manage/payouts",
        "pay-period": "/manage/payouts/pay-period",
        "disputes": "/manage/disputes?status=all",
        "dispute": "/manage/disputes/{dispute}",
        "periods": "/manage/periods",
        "period-close": "/manage/periods/{open_period}/close",
        "exports": "/manage/exports",
        "imports": "/manage/imports",
        "statements": "/statements",
        "statement": "/statements/{statement}",
        "statements-send": "/statements/send",
        "statements-issue": "/statements/issue",
        "statement-run": "/statements/runs/{run}",
        "spiffs": "/admin/spiffs",
        "sale": "/sales/{approved_sale}",
        "plan-documents": "/manage/plan-documents?state=all",
    },
    "admin": {
        "overview": "/",
        "users": "/admin/users",
        "user-new": "/admin/users/new",
        "user-edit": "/admin/users/{agent}",
        "products": "/admin/products",
        "product-new": "/admin/products/new",
        "product-edit": "/admin/products/{product}",
        "product-agents": "/admin/products/{product}/agents",
        "categories": "/admin/categories",
        "category-new": "/admin/categories/new",
        "category-edit": "/admin/categories/{category}",
        "plans": "/admin/plans",
        "plan": "/admin/plans/{plan}",
        "plan-new": "/admin/plans/new",
        "plan-version-new": "/admin/plans/{plan}/versions/new",
        "plan-assignments": "/admin/plans/assignments",
        "plan-assignment-end": "/admin/plans/assignments/{assignment}/end",
        "plan-simulator": "/admin/plans/simulator",
        "spiffs": "/admin/spiffs",
        "spiff-new": "/admin/spiffs/new",
        "targets": "/admin/targets",
        "targets-bad-month": "/admin/targets?month=2026-13",
        "settings": "/admin/settings",
        "audit": "/admin/audit",
        "outbox": "/admin/outbox",
        "outbox-message": "/admin/outbox/{message}",
        "review-queue": "/manage/review",
        "team": "/manage/team",
        "payouts": "/manage/payouts",
        "statements": "/statements",
        "plan-documents": "/admin/plan-documents?state=all",
    },
}


@pytest.fixture(scope="module")
def sessions(browser, live_server):
    """role -> (page, watch): a signed-in phone-sized page per role, closed after the module."""
    opened: dict[str, tuple] = {}  # role -> (its session_of generator, (page, watch))

    def session(role: str):
        if role not in opened:
            generator = session_of(browser, live_server, ROLES[role])
            opened[role] = (generator, next(generator))
        return opened[role][1]

    yield session
    for generator, _session in opened.values():
        generator.close()


def _first_message(page, live_server) -> str:
    """The id of the newest message in the outbox, waiting for the worker to send one."""
    deadline = time.monotonic() + MAIL_TIMEOUT
    while True:
        page.goto(f"{live_server}/admin/outbox")
        link = page.locator("main a[href^='/admin/outbox/']").first
        if link.count():
            return link.get_attribute("href").split("/")[3]
        assert time.monotonic() < deadline, "no email reached the outbox"
        page.wait_for_timeout(1_000)


@pytest.fixture(scope="module")
def records(browser, live_server, live_directory, live_worker, sessions) -> dict[str, object]:
    """Ids of the demo's records the pages show (Alice's, her team's, the catalogue's), and of a
    message the worker mailed."""
    page, _watch = sessions("admin")
    return {
        **agent_records(browser, live_server, live_directory, AGENT),
        "product": live_id(live_directory, "SELECT id FROM products ORDER BY id LIMIT 1"),
        "category": live_id(live_directory, "SELECT id FROM categories ORDER BY id LIMIT 1"),
        "plan": live_id(live_directory, "SELECT id FROM commission_plans ORDER BY id LIMIT 1"),
        "assignment": live_id(live_directory, "SELECT id FROM plan_assignments WHERE effective_to IS NULL "
                                              "ORDER BY id LIMIT 1"),
        "message": _first_message(page, live_server),
    }


@pytest.mark.parametrize("role, name", [(role, name) for role, pages in PAGES.items() for name in pages])
def test_page_fits_a_phone_and_passes_axe(sessions, records, live_server, artifacts, role, name):
    path = PAGES[role][name].format(**records)
    check_listed(sessions(role), live_server, path, artifacts, f"{role}-{name}")


@pytest.mark.parametrize("name", SIGNED_OUT)
def test_signed_out_page_fits_a_phone_and_passes_axe(browser, live_server, artifacts, name):
    context, watch = phone_context(browser)
    try:
        url = live_server + SIGNED_OUT[name]
        assert_fits(check_page(context.new_page(), url, artifacts, f"signed-out-{name}"), watch, url)
    finally:
        context.close()


def test_on_a_phone_the_agents_totals_come_before_the_sale_form(sessions, live_server):
    page = open_on_phone(sessions("agent"), f"{live_server}/dashboard")
    totals = page.locator("#totals").bounding_box()
    form = page.locator("#sale-form").bounding_box()
    assert totals["y"] < form["y"], (totals, form)
    assert totals["y"] < PHONE["height"], "the totals start below the first screen"


def test_chart_labels_are_readable_on_a_phone(sessions, live_server):
    page = open_on_phone(sessions("agent"), f"{live_server}/dashboard")
    sizes = page.evaluate("""() => [...document.querySelectorAll('.chart-svg text')]
        .filter((el) => el.getClientRects().length && el.textContent.trim())
        .map((el) => el.getBoundingClientRect().height)""")
    assert sizes and min(sizes) >= 10, sizes


def test_import_preview_fits_a_phone_and_passes_axe(sessions, live_server, artifacts):
    page = open_on_phone(sessions("manager"), f"{live_server}/manage/imports")
    today = date.today().isoformat()
    csv = ("key,agent_email,sku,customer,quantity,unit_price,date,note\n"
           f"phone-check-1,{AGENT},MED-100,Harbor Foods,1,12500.00,{today},A note long enough to wrap\n"
           f"phone-check-2,{AGENT},NO-SUCH-SKU,Harbor Foods,1,12500.00,{today},\n")
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "phone-check.csv", "mimeType": "text/csv", "buffer": csv.encode()}])
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url(re.compile(r"/manage/imports/[^/]+$"))
    check_after(sessions("manager"), artifacts, "manager-import-preview")


def test_on_a_phone_the_first_pending_sale_shows_without_scrolling(sessions, live_server):
    page = open_on_phone(sessions("manager"), f"{live_server}/manage/review")
    first = page.locator("#queue-table tbody tr").first.bounding_box()
    assert first is not None and first["y"] < PHONE["height"] - 40, first


def test_simulator_result_fits_a_phone_and_passes_axe(sessions, live_server, artifacts):
    page = open_on_phone(sessions("admin"), f"{live_server}/admin/plans/simulator")
    page.get_by_label("Sales (CSV)").fill("date,amount,sku,category\n2026-11-02,5000.00,MED-100,medical\n"
                                          "2026-11-20,12500.00,,\n"
                                          "2026-12-01,800.00,OFF-020,office_supplies\n")
    page.get_by_label("Base rate (%)").fill("3")
    page.get_by_role("button", name="Simulate").click()
    page.locator("#result-heading").wait_for()
    check_after(sessions("admin"), artifacts, "admin-plan-simulator-result")
