"""An admin creates a commission plan and puts an agent on it, in a real browser (issue 8, item 1).

Farid (the second team's) current plan is ended a month from now and the new plan starts the day
after, so no figure of today changes for the other browser tests sharing the live database.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from tests.e2e.support import ADMIN_EMAIL, AGENT_EMAILS, new_context, shoot, sign_in

pytestmark = pytest.mark.browser

PLAN = "E2E Tiered 2027"
AGENT = "Farid Haddad"


def test_admin_creates_a_tiered_plan_and_assigns_it(live_server, browser, artifacts):
    started = time.monotonic()
    context, watch = new_context(browser)
    try:
        admin = sign_in(context, live_server, ADMIN_EMAIL)
        admin.goto(f"{live_server}/admin/plans")
        admin.wait_for_load_state("networkidle")
        shoot(admin, artifacts, "admin-plans")

        admin.get_by_role("link", name="New plan").click()
        admin.wait_for_load_state("networkidle")
        admin.get_by_label("Name", exact=True).fill(PLAN)
        admin.get_by_label("Description", exact=True).fill("Marginal tiers on the month's volume.")
        admin.get_by_label("Tier mode").select_option("marginal")
        admin.get_by_label("Bracket 1 starts at amount").fill("0")
        admin.get_by_label("Bracket 1 rate in percent").fill("2")
        admin.get_by_label("Bracket 2 starts at amount").fill("50000")
        admin.get_by_label("Bracket 2 rate in percent").fill("4.5")
        admin.get_by_role("button", name="Create plan").click()
        admin.wait_for_load_state("networkidle")
        assert admin.get_by_text(f"Created the plan {PLAN}.").is_visible()
        assert admin.get_by_role("heading", name=PLAN).first.is_visible()
        shoot(admin, artifacts, "admin-plan-detail")

        # Farid is on a plan with no end: end it first (the app refuses overlaps), then assign.
        last_day = date.today() + timedelta(days=30)
        admin.goto(f"{live_server}/admin/plans/assignments")
        admin.wait_for_load_state("networkidle")
        admin.get_by_role("link", name=f"End {AGENT}'s").first.click()
        admin.wait_for_load_state("networkidle")
        admin.get_by_label("Last day on this plan").fill(last_day.isoformat())
        admin.get_by_role("button", name="Set end date").click()
        admin.wait_for_load_state("networkidle")

        first_day = last_day + timedelta(days=1)
        admin.get_by_label("Agent", exact=True).select_option(label=f"{AGENT} ({AGENT_EMAILS[AGENT]})")
        admin.get_by_label("Plan", exact=True).select_option(label=PLAN)
        admin.get_by_label("From", exact=True).fill(first_day.isoformat())
        admin.get_by_role("button", name="Assign plan").click()
        admin.wait_for_load_state("networkidle")
        assert admin.url.endswith("/admin/plans/assignments")
        assert admin.get_by_text(f"{AGENT} is on {PLAN} from {first_day.isoformat()}.").is_visible()
        row = admin.locator("table tbody tr").filter(has=admin.get_by_role("link", name=PLAN, exact=True))
        assert row.count() == 1
        cells = row.locator("td")
        assert cells.nth(2).inner_text() == first_day.isoformat()
        assert cells.nth(3).inner_text() == "no end"
        assert "Starts later" in cells.nth(4).inner_text()
        # The row sits in Farid's group, right after his (now ended) previous assignment.
        previous = row.locator("xpath=preceding-sibling::tr[1]")
        assert previous.locator("td").nth(3).inner_text() == last_day.isoformat()
        shoot(admin, artifacts, "admin-plan-assignments")
        watch.assert_clean()
    finally:
        context.close()
    assert time.monotonic() - started < 60
