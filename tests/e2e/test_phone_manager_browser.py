"""Every page a manager uses, on a phone (390 px) and for everyone (axe-core), issue 13 item 7.

tests/e2e/phone.py says what each check asserts.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.e2e.phone import PHONE, assert_fits, check_loaded, check_page, live_id, open_dispute, signed_in, user_id
from tests.e2e.support import AGENT_EMAILS, MANAGER_EMAIL

pytestmark = pytest.mark.browser

AGENT = AGENT_EMAILS["Alice Chen"]

PAGES = {
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
    "sale": "/sales/{approved_sale}",
}


@pytest.fixture(scope="module")
def ids(browser, live_server, live_directory) -> dict[str, int]:
    """Ids of the records of Maria's team to visit; a dispute is opened if Alice has none."""
    agent = user_id(live_directory, AGENT)
    return {
        "agent": agent,
        "approved_sale": live_id(live_directory, "SELECT id FROM sales WHERE agent_id = ? AND status = 'approved' "
                                 "ORDER BY id LIMIT 1", agent),
        "open_period": live_id(live_directory, "SELECT id FROM periods WHERE status = 'open' ORDER BY start_date LIMIT 1"),
        "statement": live_id(live_directory, "SELECT id FROM statements WHERE agent_id = ? ORDER BY id LIMIT 1", agent),
        "run": live_id(live_directory, "SELECT run_id FROM statements WHERE agent_id = ? ORDER BY id LIMIT 1", agent),
        "dispute": open_dispute(browser, live_server, live_directory, AGENT),
    }


@pytest.fixture(scope="module")
def manager(browser, live_server, ids):
    """(page, watch): Maria signed in on a phone-sized page."""
    context, watch, page = signed_in(browser, live_server, MANAGER_EMAIL)
    yield page, watch
    context.close()


@pytest.mark.parametrize("name", PAGES)
def test_manager_page_fits_a_phone_and_passes_axe(manager, ids, live_server, artifacts, name):
    page, watch = manager
    url = live_server + PAGES[name].format(**ids)
    assert_fits(check_page(page, url, artifacts, f"manager-{name}"), watch, url)


def test_import_preview_fits_a_phone_and_passes_axe(manager, live_server, artifacts):
    page, watch = manager
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/manage/imports")
    today = date.today().isoformat()
    csv = ("key,agent_email,sku,customer,quantity,unit_price,date,note\n"
           f"phone-check-1,{AGENT},MED-100,Harbor Foods,1,12500.00,{today},A note that is long enough to wrap\n"
           f"phone-check-2,{AGENT},NO-SUCH-SKU,Harbor Foods,1,12500.00,{today},\n")
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "phone-check.csv", "mimeType": "text/csv", "buffer": csv.encode()}])
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url(re.compile(r"/manage/imports/[^/]+$"))
    page.wait_for_load_state("networkidle")
    assert_fits(check_loaded(page, artifacts, "manager-import-preview"), watch, page.url)


def test_on_a_phone_the_first_pending_sale_shows_without_scrolling(manager, live_server):
    page, _watch = manager
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/manage/review", wait_until="networkidle")
    first = page.locator("#queue-table tbody tr").first.bounding_box()
    assert first is not None and first["y"] < PHONE["height"] - 40, first
