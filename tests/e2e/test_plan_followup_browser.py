"""The manager's plan-document follow-up in a real browser: the state tabs and the name search work
together through htmx (issue 15, item 3). The live worker issues the demo's documents."""

from __future__ import annotations

import time

import pytest

from tests.e2e.support import MANAGER_EMAIL, new_context, sign_in

pytestmark = pytest.mark.browser

ISSUE_TIMEOUT = 90.0  # the worker issues the demo agents' documents after the seed


def test_a_tab_then_a_search_keeps_both_filters(live_server, live_worker, browser):
    context, watch = new_context(browser)
    try:
        page = sign_in(context, live_server, MANAGER_EMAIL)
        deadline = time.monotonic() + ISSUE_TIMEOUT
        while True:
            page.goto(f"{live_server}/manage/plan-documents?state=all")
            if page.locator("#documents-list tbody tr").count():
                break
            assert time.monotonic() < deadline, "no plan documents were issued"
            page.wait_for_timeout(1_000)
        page.locator("#documents-list nav a", has_text="Pending").click()
        page.wait_for_url("**state=pending**")
        page.get_by_label("Agent name").fill("alice")
        page.wait_for_url("**agent=alice**")
        page.wait_for_load_state("networkidle")
        assert "state=pending" in page.url
        rows = page.locator("#documents-list tbody tr")
        assert rows.count() == 1 and "Alice Chen" in rows.first.inner_text()
        assert page.locator("#documents-list nav a[aria-current=page]").inner_text().startswith("Pending")
        watch.assert_clean()
    finally:
        context.close()
