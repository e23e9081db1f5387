"""Every page an admin uses, on a phone (390 px) and for everyone (axe-core), issue 13 item 7.

The live worker runs, so the demo's statements are rendered and mailed into the outbox that the
admin's Outbox pages list. tests/e2e/phone.py says what each check asserts.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.phone import PHONE, assert_fits, check_loaded, check_page, live_id, signed_in, user_id
from tests.e2e.support import ADMIN_EMAIL, AGENT_EMAILS

pytestmark = pytest.mark.browser

MAIL_TIMEOUT = 90.0  # the worker renders the demo's statements, then mails them

PAGES = {
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
}


@pytest.fixture(scope="module")
def admin(browser, live_server):
    """(page, watch): the demo's admin signed in on a phone-sized page."""
    context, watch, page = signed_in(browser, live_server, ADMIN_EMAIL)
    yield page, watch
    context.close()


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
def ids(admin, live_server, live_directory, live_worker) -> dict[str, object]:
    """Ids of the demo's records to visit, and of a message the worker mailed."""
    page, _watch = admin
    return {
        "agent": user_id(live_directory, AGENT_EMAILS["Alice Chen"]),
        "product": live_id(live_directory, "SELECT id FROM products ORDER BY id LIMIT 1"),
        "category": live_id(live_directory, "SELECT id FROM categories ORDER BY id LIMIT 1"),
        "plan": live_id(live_directory, "SELECT id FROM commission_plans ORDER BY id LIMIT 1"),
        "assignment": live_id(live_directory, "SELECT id FROM plan_assignments WHERE effective_to IS NULL "
                                              "ORDER BY id LIMIT 1"),
        "message": _first_message(page, live_server),
    }


@pytest.mark.parametrize("name", PAGES)
def test_admin_page_fits_a_phone_and_passes_axe(admin, ids, live_server, artifacts, name):
    page, watch = admin
    url = live_server + PAGES[name].format(**ids)
    assert_fits(check_page(page, url, artifacts, f"admin-{name}"), watch, url)


def test_simulator_result_fits_a_phone_and_passes_axe(admin, live_server, artifacts):
    page, watch = admin
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/admin/plans/simulator")
    page.get_by_label("Sales (CSV)").fill("date,amount,sku,category\n2026-11-02,5000.00,MED-100,medical\n"
                                    "2026-11-20,12500.00,,\n2026-12-01,800.00,OFF-020,office_supplies\n")
    page.get_by_label("Base rate (%)").fill("3")
    page.get_by_role("button", name="Simulate").click()
    page.locator("#result-heading").wait_for()
    assert_fits(check_loaded(page, artifacts, "admin-plan-simulator-result"), watch, page.url)
