"""Every page an agent uses, on a phone (390 px) and for everyone (axe-core), issue 13 item 7.

Signed-out pages are here too. tests/e2e/phone.py says what each check asserts.
"""

from __future__ import annotations

import pytest

from tests.e2e.phone import (PHONE, assert_fits, check_page, live_id, open_dispute, phone_context, signed_in,
                             user_id)
from tests.e2e.support import AGENT_EMAILS

pytestmark = pytest.mark.browser

AGENT = AGENT_EMAILS["Alice Chen"]

PAGES = {
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
}

SIGNED_OUT = {
    "login": "/login",
    "forgot-password": "/password/forgot",
    "reset-link-not-valid": "/password/reset/not-a-token",
}


@pytest.fixture(scope="module")
def ids(browser, live_server, live_directory) -> dict[str, int]:
    """Ids of Alice's records to visit; a dispute is opened if she has none."""
    agent = user_id(live_directory, AGENT)
    return {
        "approved_sale": live_id(live_directory, "SELECT s.id FROM sales s WHERE s.agent_id = ? AND s.status = 'approved' "
                                 "AND EXISTS (SELECT 1 FROM commission_entries e WHERE e.sale_id = s.id) "
                                 "ORDER BY s.id LIMIT 1", agent),
        "pending_sale": live_id(live_directory, "SELECT id FROM sales WHERE agent_id = ? AND entered_by_id = ? "
                                "AND status = 'pending' ORDER BY id LIMIT 1", agent, agent),
        "entry": live_id(live_directory, "SELECT e.id FROM commission_entries e WHERE e.agent_id = ? AND NOT EXISTS "
                         "(SELECT 1 FROM disputes d WHERE d.entry_id = e.id) ORDER BY e.id DESC LIMIT 1", agent),
        "statement": live_id(live_directory, "SELECT id FROM statements WHERE agent_id = ? ORDER BY id LIMIT 1", agent),
        "dispute": open_dispute(browser, live_server, live_directory, AGENT),
    }


@pytest.fixture(scope="module")
def agent(browser, live_server, ids):
    """(page, watch): Alice signed in on a phone-sized page."""
    context, watch, page = signed_in(browser, live_server, AGENT)
    yield page, watch
    context.close()


@pytest.mark.parametrize("name", PAGES)
def test_agent_page_fits_a_phone_and_passes_axe(agent, ids, live_server, artifacts, name):
    page, watch = agent
    url = live_server + PAGES[name].format(**ids)
    assert_fits(check_page(page, url, artifacts, f"agent-{name}"), watch, url)


@pytest.mark.parametrize("name", SIGNED_OUT)
def test_signed_out_page_fits_a_phone_and_passes_axe(browser, live_server, artifacts, name):
    context, watch = phone_context(browser)
    try:
        url = live_server + SIGNED_OUT[name]
        assert_fits(check_page(context.new_page(), url, artifacts, f"signed-out-{name}"), watch, url)
    finally:
        context.close()


def test_on_a_phone_the_agents_totals_come_before_the_sale_form(agent, live_server):
    page, _watch = agent
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/dashboard", wait_until="networkidle")
    totals = page.locator("#totals").bounding_box()
    form = page.locator("#sale-form").bounding_box()
    assert totals["y"] < form["y"], (totals, form)
    assert totals["y"] < PHONE["height"], "the totals start below the first screen"


def test_chart_labels_are_readable_on_a_phone(agent, live_server):
    page, _watch = agent
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/dashboard", wait_until="networkidle")
    sizes = page.evaluate("""() => [...document.querySelectorAll('.chart-svg text, .chart-axis-labels *')]
        .filter((el) => el.getClientRects().length && el.textContent.trim())
        .map((el) => el.getBoundingClientRect().height)""")
    assert sizes and min(sizes) >= 10, sizes
