"""A real browser (Debian's Chromium through Playwright): a manager bulk-approves two sales from
the review queue and the agent's totals show it (issue 5, "Done when").

The app runs in its own process on a seeded demo database; the manager and the agent each have
their own browser context (their own cookies), as two people on two machines would.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.e2e.support import sign_in
from webapp.demo import AGENTS

pytestmark = pytest.mark.browser

MANAGER = "maria.manager@demo.example"
# Records what the page saw: Content-Security-Policy violations (none are allowed).
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


def _money(text: str) -> Decimal:
    """A figure as the pages print it ("$1,234.50", "-$3.00") as a Decimal."""
    match = re.search(r"(-?)\$([0-9,]+\.[0-9]{2})", text)
    assert match, f"no amount in {text!r}"
    return Decimal(match.group(1) + match.group(2).replace(",", ""))


def _watch(page) -> list[str]:
    """Console errors of the page, collected as they happen."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_manager_bulk_approves_two_sales_and_the_agent_sees_the_totals_change(live_server, browser, artifacts):
    base_url = live_server
    emails = {name: email for email, name, _team in AGENTS}

    manager_context = browser.new_context(viewport={"width": 1280, "height": 900})
    manager_context.add_init_script(WATCH_CSP)
    manager = sign_in(manager_context, base_url, MANAGER)
    manager_errors = _watch(manager)
    manager.get_by_role("navigation", name="Main").get_by_role("link", name="Review").click()
    manager.wait_for_load_state("networkidle")
    assert manager.url.endswith("/manage/review")

    # Two pending sales of one agent (the queue is oldest first; take the first agent with two).
    rows = manager.locator("tr.queue-row")
    by_agent: dict[str, list[str]] = {}
    for index in range(rows.count()):
        row = rows.nth(index)
        if row.locator("input[name=sale_ids]").count():
            by_agent.setdefault(row.locator("td.agent").inner_text().split("\n")[0].strip(), []).append(
                row.get_attribute("id"))
    agent_name, row_ids = next((name, ids[:2]) for name, ids in by_agent.items() if len(ids) >= 2)
    pending_before = int(manager.get_by_test_id("pending-count").inner_text())
    manager.screenshot(path=str(artifacts / "review-queue-before.png"), full_page=True)

    agent_context = browser.new_context(viewport={"width": 1280, "height": 900})
    agent_context.add_init_script(WATCH_CSP)
    agent = sign_in(agent_context, base_url, emails[agent_name])
    agent_errors = _watch(agent)
    assert agent.url.endswith("/dashboard")
    unpaid_before = _money(agent.get_by_test_id("unpaid").inner_text())
    month_before = _money(agent.get_by_test_id("month-commission").inner_text())
    agent.screenshot(path=str(artifacts / "agent-totals-before.png"), full_page=True)

    # A marker on the window survives only if the page is never reloaded.
    manager.evaluate("window.__noReload = true")
    for row_id in row_ids:
        manager.locator(f"#{row_id} input[name=sale_ids]").check()
    manager.get_by_role("button", name="Approve selected").click()

    result = manager.get_by_test_id("bulk-result")
    result.wait_for()
    assert result.inner_text().startswith("Approved 2 sales")
    for row_id in row_ids:
        assert manager.locator(f"#{row_id}").count() == 0, f"{row_id} is still in the queue"
    # The counters refresh themselves on the HX-Trigger the approval answered with.
    manager.wait_for_function(
        "expected => document.querySelector('[data-testid=pending-count]').textContent.trim() === expected",
        arg=str(pending_before - 2))
    assert manager.evaluate("window.__noReload") is True
    manager.screenshot(path=str(artifacts / "review-queue-after-bulk-approve.png"), full_page=True)

    agent.reload()
    agent.wait_for_load_state("networkidle")
    unpaid_after = _money(agent.get_by_test_id("unpaid").inner_text())
    assert unpaid_after > unpaid_before
    month_after = _money(agent.get_by_test_id("month-commission").inner_text())
    assert month_after >= month_before  # a sale of an earlier month moves the balance, not this month
    agent.screenshot(path=str(artifacts / "agent-totals-after.png"), full_page=True)

    for page in (manager, agent):
        assert page.evaluate("window.__csp") == []
    assert manager_errors == [] and agent_errors == []
    manager_context.close()
    agent_context.close()
