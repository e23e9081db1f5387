"""The agent's totals panel shows a manager's approval without a reload (issue 8, item 1).

The panel polls every TOTALS_REFRESH_SECONDS (30 s by default; the live app sets 2 s). The agent's
page stays open in one browser context while the manager approves the agent's pending sale from
the review queue in another; the agent's panel then changes by itself.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import TOTALS_REFRESH_SECONDS
from tests.e2e.support import AGENT_EMAILS, MANAGER_EMAIL, new_context, shoot, sign_in

pytestmark = pytest.mark.browser


def test_the_agent_sees_an_approval_arrive_without_reloading(live_server, browser, artifacts):
    started = time.monotonic()
    manager_context, manager_watch = new_context(browser)
    agent_context, agent_watch = new_context(browser)
    try:
        manager = sign_in(manager_context, live_server, MANAGER_EMAIL)
        manager.goto(f"{live_server}/manage/review")
        manager.wait_for_load_state("networkidle")
        # The oldest pending sale the manager may approve (not their own) and whose it is.
        row = manager.locator("tr.queue-row").filter(
            has=manager.locator("button:not([disabled])", has_text="Approve")).first
        row_id = row.get_attribute("id")
        agent_name = row.locator("td.agent").inner_text().split("\n")[0].strip()
        shoot(manager, artifacts, "manager-review-queue")

        agent = sign_in(agent_context, live_server, AGENT_EMAILS[agent_name])
        assert agent.url.endswith("/dashboard")
        totals = agent.locator("#totals")
        trigger = totals.get_attribute("hx-trigger")
        assert f"every {TOTALS_REFRESH_SECONDS}s" in trigger, trigger
        before = totals.inner_text()
        dashboard_url = agent.url
        agent.evaluate("window.__noReload = true")  # gone if the page reloads

        row.get_by_role("button", name="Approve").click()
        manager.locator(f"#{row_id}[data-decided=approved]").wait_for(timeout=10_000)

        # No navigation on the agent's side: the poll brings the new figures within a few periods.
        agent.wait_for_function(
            "before => document.querySelector('#totals').innerText !== before",
            arg=before, timeout=(TOTALS_REFRESH_SECONDS * 4 + 5) * 1000)
        assert agent.url == dashboard_url
        assert agent.evaluate("window.__noReload") is True, "the agent's page reloaded"
        shoot(agent, artifacts, "agent-dashboard-after-approval")
        agent.goto(f"{live_server}/sales")
        agent.wait_for_load_state("networkidle")
        shoot(agent, artifacts, "agent-my-sales")

        manager.goto(f"{live_server}/manage/team")
        manager.wait_for_load_state("networkidle")
        shoot(manager, artifacts, "manager-team-dashboard")

        manager_watch.assert_clean()
        agent_watch.assert_clean()
    finally:
        manager_context.close()
        agent_context.close()
    assert time.monotonic() - started < 60
