"""Plan documents in a real browser (issue 15, "Done when"): the admin publishes a new version of a
plan; the worker issues its agents' documents; the agent sees the banner, reads the document and
acknowledges it; the manager sees it acknowledged on the follow-up page.

The new version of "Growth tiers" starts on the first day of next month with the same brackets, so
no figure of today changes for the other browser tests sharing the live database.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.support import ADMIN_EMAIL, AGENT_EMAILS, MANAGER_EMAIL, new_context, shoot, sign_in

pytestmark = pytest.mark.browser

PLAN = "Growth tiers"
AGENT = "Bob Martin"
TERMS = "E2E terms: a recoverable draw of $500.00 a month during the first quarter."


def _next_month_first() -> date:
    """The first day of next month (an open period whatever today is)."""
    return (date.today().replace(day=28) + timedelta(days=4)).replace(day=1)


def _publish_version(browser, live_server, artifacts) -> None:
    """The admin adds a version of the plan from next month, with terms for the document."""
    context, watch = new_context(browser)
    try:
        admin = sign_in(context, live_server, ADMIN_EMAIL)
        admin.goto(f"{live_server}/admin/plans")
        admin.get_by_role("link", name=PLAN, exact=True).click()
        admin.get_by_role("link", name="New version").click()
        admin.wait_for_load_state("networkidle")
        admin.get_by_label("Effective from", exact=True).fill(_next_month_first().isoformat())
        admin.get_by_label(re.compile("further terms", re.I)).fill(TERMS)
        shoot(admin, artifacts, "plan-documents-admin-new-version")
        admin.get_by_role("button", name="Add version").click()
        admin.wait_for_load_state("networkidle")
        expect(admin.get_by_text(TERMS).first).to_be_visible()
        watch.assert_clean()
    finally:
        context.close()


def _in_force_from() -> str:
    """How the documents list words the new version's first day ("From January 1, 2027")."""
    first = _next_month_first()
    return f"From {first:%B} {first.day}, {first.year}"


def _wait_for_document(agent, live_server) -> None:
    """Reload the agent's list until the worker has issued the new version's document."""
    deadline = time.monotonic() + 60
    while True:
        agent.goto(f"{live_server}/plan-documents")
        if agent.locator("tbody tr", has_text=PLAN).filter(has_text=_in_force_from()).count():
            return
        if time.monotonic() > deadline:
            pytest.fail("the worker did not issue the new version's document within 60 s")
        time.sleep(1)


def test_admin_publishes_agent_acknowledges_manager_sees_it(live_server, live_worker, browser, artifacts):
    started = time.monotonic()
    _publish_version(browser, live_server, artifacts)
    agent_context, agent_watch = new_context(browser)
    manager_context, manager_watch = new_context(browser)
    try:
        agent = sign_in(agent_context, live_server, AGENT_EMAILS[AGENT])
        _wait_for_document(agent, live_server)
        agent.goto(f"{live_server}/dashboard")
        banner = agent.locator("#plan-documents-banner")
        expect(banner).to_contain_text("plan document")
        waiting_before = int(re.search(r"You have (\d+)", banner.inner_text()).group(1))
        shoot(agent, artifacts, "plan-documents-agent-banner")
        banner.get_by_role("link").click()
        row = agent.locator("tbody tr", has_text=PLAN).filter(has_text=_in_force_from())
        row.get_by_role("link").first.click()
        agent.wait_for_load_state("networkidle")
        document = agent.locator("article.plan-doc-sheet")
        expect(document).to_contain_text(TERMS)
        expect(document).to_contain_text("Marginal brackets.")
        number = re.search(r"No\. (\d+)", agent.locator("h1").first.inner_text()).group(1)
        sha = agent.locator("#document-hash .hash").inner_text()
        assert re.fullmatch(r"[0-9a-f]{64}", sha)
        shoot(agent, artifacts, "plan-documents-agent-document")

        agent.get_by_label("Type your full name").fill("bob  martin")  # case and spacing are forgiven
        agent.get_by_label("I have read this document").check()
        agent.get_by_role("button", name="Acknowledge").click()
        agent.wait_for_load_state("networkidle")
        acknowledged = agent.locator("#acknowledgement")
        expect(acknowledged).to_contain_text(sha)
        expect(acknowledged).to_contain_text(f"No. {number}")
        shoot(agent, artifacts, "plan-documents-agent-acknowledged")
        agent.goto(f"{live_server}/dashboard")
        banner = agent.locator("#plan-documents-banner")
        if waiting_before == 1:
            expect(banner).to_have_count(0)
        else:
            expect(banner).to_contain_text(f"You have {waiting_before - 1} plan document")

        manager = sign_in(manager_context, live_server, MANAGER_EMAIL)
        manager.goto(f"{live_server}/manage/plan-documents?state=acknowledged")
        manager.wait_for_load_state("networkidle")
        # The number as its own "No. N": a bare digit also matches dates in other rows (the 8th).
        row = manager.locator("tbody tr", has_text=AGENT).filter(has_text=re.compile(rf"No\. {number}\b"))
        expect(row).to_contain_text(re.compile("acknowledged", re.I))
        shoot(manager, artifacts, "plan-documents-manager-follow-up")
        agent_watch.assert_clean()
        manager_watch.assert_clean()
    finally:
        agent_context.close()
        manager_context.close()
    assert time.monotonic() - started < 120
