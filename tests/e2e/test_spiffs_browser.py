"""An admin creates a SPIFF in the UI; an agent logs a sale of an eligible product and sees the
SPIFF on the dashboard; a manager approves the sale and the agent's panel shows the reward earned
(issue 14, "Done when").

The SPIFF runs today only, on one product, for Maria's team only, so the other browser tests that
share the live database see no figure change.
"""

from __future__ import annotations

import time
from datetime import date

import pytest

from tests.e2e.conftest import TOTALS_REFRESH_SECONDS
from tests.e2e.support import ADMIN_EMAIL, AGENT_EMAILS, MANAGER_EMAIL, new_context, shoot, sign_in

pytestmark = pytest.mark.browser

SPIFF = "E2E fit-out push"
AGENT = "Carla Rossi"
PRODUCT = "Ergonomic office fit-out (OFF-020)"
CUSTOMER = "E2E Spiff Customer"


def _create_spiff(browser, live_server, artifacts) -> None:
    """The admin fills the new-SPIFF form: today only, 25.00 per unit, Maria's team."""
    context, watch = new_context(browser)
    try:
        admin = sign_in(context, live_server, ADMIN_EMAIL)
        admin.goto(f"{live_server}/admin/spiffs")
        admin.wait_for_load_state("networkidle")
        admin.get_by_role("link", name="New SPIFF").click()
        admin.wait_for_load_state("networkidle")
        today = date.today().isoformat()
        admin.get_by_label("Name", exact=True).fill(SPIFF)
        admin.get_by_label("First day", exact=True).fill(today)
        admin.get_by_label("Last day", exact=True).fill(today)
        admin.get_by_label("Reward per unit", exact=True).fill("25.00")
        admin.get_by_label("Monthly cap per agent (optional)").fill("1000.00")
        admin.get_by_label("Products", exact=True).select_option(label=PRODUCT)
        admin.get_by_label("Only these teams (optional)").select_option(label="Maria Lopez's team")
        shoot(admin, artifacts, "admin-spiff-form")
        admin.get_by_role("button", name="Create SPIFF").click()
        admin.wait_for_load_state("networkidle")
        assert admin.get_by_role("heading", name=SPIFF).is_visible()
        assert admin.get_by_text("SPIFF created.").is_visible()
        shoot(admin, artifacts, "admin-spiff-created")
        watch.assert_clean()
    finally:
        context.close()


def test_admin_creates_a_spiff_and_the_agent_earns_it_on_approval(live_server, browser, artifacts):
    started = time.monotonic()
    _create_spiff(browser, live_server, artifacts)
    agent_context, agent_watch = new_context(browser)
    manager_context, manager_watch = new_context(browser)
    try:
        agent = sign_in(agent_context, live_server, AGENT_EMAILS[AGENT])
        assert agent.url.endswith("/dashboard")
        panel = agent.locator("#spiffs-panel")
        card = panel.locator("li.spiff").filter(has_text=SPIFF)
        assert "$25.00 per unit" in card.inner_text() and "Last day today" in card.inner_text()
        assert "Earned this month: $0.00 of $1,000.00 cap" in card.inner_text()

        agent.get_by_label("Product", exact=True).select_option(label=PRODUCT)
        agent.get_by_label("Quantity", exact=True).fill("2")
        agent.get_by_label("Customer", exact=True).fill(CUSTOMER)
        agent.get_by_role("button", name="Log sale").click()
        agent.locator("#recent-sales tbody tr").first.filter(has_text=CUSTOMER).wait_for(timeout=10_000)
        shoot(agent, artifacts, "agent-dashboard-spiff-before-approval")
        agent.evaluate("window.__noReload = true")

        manager = sign_in(manager_context, live_server, MANAGER_EMAIL)
        manager.goto(f"{live_server}/manage/review")
        manager.wait_for_load_state("networkidle")
        row = manager.locator("tr.queue-row").filter(has_text=CUSTOMER)
        row_id = row.get_attribute("id")
        row.get_by_role("button", name="Approve").click()
        manager.locator(f"#{row_id}[data-decided=approved]").wait_for(timeout=10_000)

        # The panel polls: 2 x 25.00 arrives without a reload.
        agent.wait_for_function(
            "name => Array.from(document.querySelectorAll('#spiffs-panel li.spiff')).some("
            "card => card.innerText.includes(name) && card.innerText.includes('Earned this month: $50.00'))",
            arg=SPIFF, timeout=(TOTALS_REFRESH_SECONDS * 4 + 5) * 1000)
        assert agent.evaluate("window.__noReload") is True, "the agent's page reloaded"
        shoot(agent, artifacts, "agent-dashboard-spiff-earned")

        manager.goto(f"{live_server}/admin/spiffs")
        manager.wait_for_load_state("networkidle")
        manager.get_by_role("link", name=SPIFF).click()
        manager.wait_for_load_state("networkidle")
        earned = manager.locator("#spiff-earned tbody tr").filter(has_text=AGENT)
        assert "$50.00" in earned.inner_text()
        shoot(manager, artifacts, "manager-spiff-who-earned-what")
        agent_watch.assert_clean()
        manager_watch.assert_clean()
    finally:
        agent_context.close()
        manager_context.close()
    assert time.monotonic() - started < 60
