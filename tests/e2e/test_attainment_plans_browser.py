"""An admin makes an attainment plan (brackets at percents of the monthly target) and reads its
brackets as amounts of an agent's target; a target is set and removed on the targets page; both
pages fit a phone. COMMISSION_RULES.md section 9.

Read-only for the other browser tests sharing the live database: the plan is given to nobody, and
the target set and removed is for a month years ahead, where nobody has sales.
"""

from __future__ import annotations

import time
import pytest

from tests.e2e.phone import assert_fits, check_loaded, signed_in
from tests.e2e.support import ADMIN_EMAIL

pytestmark = pytest.mark.browser

PLAN = "E2E Quota accelerator"
AGENT = "Alice Chen"
FAR_MONTH = "2031-01"


def test_admin_reads_percent_brackets_as_amounts_and_sets_and_removes_a_target(live_server, browser, artifacts):
    started = time.monotonic()
    context, watch, admin = signed_in(browser, live_server, ADMIN_EMAIL)
    try:
        admin.goto(f"{live_server}/admin/plans/new", wait_until="networkidle")
        admin.get_by_label("Name", exact=True).fill(PLAN)
        admin.get_by_label("Tier mode").select_option("marginal")
        admin.get_by_label("Brackets start at").select_option("target_percent")
        for number, (start, rate) in enumerate((("0", "2"), ("100", "5"), ("150.5", "8")), start=1):
            admin.get_by_label(f"Bracket {number} starts at amount or percent of target").fill(start)
            admin.get_by_label(f"Bracket {number} rate in percent").fill(rate)
        admin.get_by_role("button", name="Create plan").click()
        admin.wait_for_load_state("networkidle")
        assert admin.get_by_text(f"Created the plan {PLAN}.").is_visible()
        assert admin.get_by_text("from 150.5% of target: 8%").is_visible()

        # Choosing the agent swaps the amounts in (htmx); the demo gives Alice 250,000.00 this month.
        admin.get_by_label("Agent", exact=True).select_option(label=AGENT)
        amounts = admin.locator("#bracket-amounts")
        amounts.get_by_text("$376,250.00").wait_for()
        assert "$250,000.00" in amounts.inner_text()
        assert "agent_id=" in admin.url  # the choice is in the address, so the page can be shared
        assert_fits(check_loaded(admin, artifacts, "admin-plan-attainment-amounts"), watch, admin.url)

        admin.get_by_label("Month", exact=True).fill(FAR_MONTH)
        admin.get_by_label("Month", exact=True).dispatch_event("change")
        amounts.get_by_text("no target set").first.wait_for()

        # A target for that month (htmx row save), then removed again.
        admin.goto(f"{live_server}/admin/targets?month={FAR_MONTH}", wait_until="networkidle")
        row = admin.locator("tr", has=admin.get_by_label(AGENT, exact=True))
        admin.get_by_label(AGENT, exact=True).fill("20000")
        row.get_by_role("button", name=f"Save target for {AGENT}").click()
        row = admin.locator("tr", has=admin.get_by_label(AGENT, exact=True))
        row.get_by_text("Saved").wait_for()
        assert "$20,000.00" in row.inner_text()
        assert_fits(check_loaded(admin, artifacts, "admin-targets-with-remove"), watch, admin.url)

        admin.goto(f"{live_server}/admin/plans", wait_until="networkidle")
        admin.get_by_role("link", name=PLAN, exact=True).click()
        admin.wait_for_load_state("networkidle")
        admin.get_by_label("Agent", exact=True).select_option(label=AGENT)
        admin.get_by_label("Month", exact=True).fill(FAR_MONTH)
        admin.get_by_label("Month", exact=True).dispatch_event("change")
        amounts.get_by_text("$30,100.00").wait_for()   # 150.5% of 20,000.00

        admin.goto(f"{live_server}/admin/targets?month={FAR_MONTH}", wait_until="networkidle")
        row = admin.locator("tr", has=admin.get_by_label(AGENT, exact=True))
        row.get_by_role("button", name=f"Remove target for {AGENT}").click()
        row = admin.locator("tr", has=admin.get_by_label(AGENT, exact=True))
        row.get_by_text("Removed").wait_for()
        assert "Not set" in row.inner_text()
        watch.assert_clean()
    finally:
        context.close()
    assert time.monotonic() - started < 90
