"""Split credit in a real Chromium (issue 14): a demo agent logs a 60/40 split sale with a co-agent,
the live estimate shows both holders, and both see their pending figure move; the co-agent reads
the sale in My sales and on its page, without Edit or Cancel. The co-agent is found by typing part
of a name and picked with the keyboard; the split rows are added and removed with the keyboard, and
the form still fits a 390 px phone."""

from __future__ import annotations

import re

import pytest

from tests.e2e.phone import PHONE, sideways_overflow
from tests.e2e.support import AGENT_EMAILS, new_context, shoot, sign_in

pytestmark = pytest.mark.browser

# Both on the demo's flat 3% plan (Carla, once the co-agent here, is on its attainment plan now);
# Emma is in the other team: any active agent may share a sale.
PRIMARY, CO_AGENT = "Alice Chen", "Emma Novak"


def _pending(page) -> str:
    """The totals panel's pending figure of the current period."""
    return page.get_by_test_id("period-pending").inner_text()


def test_a_60_40_split_sale_moves_both_holders_figures(browser, live_server, artifacts):
    from playwright.sync_api import expect

    co_context, co_watch = new_context(browser)
    co = sign_in(co_context, live_server, AGENT_EMAILS[CO_AGENT])
    co.goto(f"{live_server}/dashboard")
    co_before = _pending(co)

    alice_context, alice_watch = new_context(browser)
    alice = sign_in(alice_context, live_server, AGENT_EMAILS[PRIMARY])
    alice.goto(f"{live_server}/dashboard")
    alice_before = _pending(alice)

    alice.get_by_label("Product", exact=True).select_option(label="Walk-in cooler (FNB-044)")
    alice.get_by_label("Quantity", exact=True).fill("2")
    expect(alice.locator("#estimate")).to_contain_text(re.compile(r"This sale would earn \$1,284\.00"))

    # Open the split section and add a co-agent row with the keyboard only.
    alice.get_by_text("Split with co-agents").focus()
    alice.keyboard.press("Enter")
    co_agent = alice.get_by_label("Co-agent 1", exact=True)
    expect(co_agent).to_be_visible()
    expect(alice.get_by_label("Co-agent 2", exact=True)).to_be_hidden()
    # A share without a co-agent is refused in the estimate; the co-agent is found by typing part of
    # the name and picked with the keyboard, and the estimate then refreshes by itself.
    searches = []
    alice.on("request", lambda request: "/co-agents/search" in request.url and searches.append(request.url))
    alice.get_by_label("Co-agent 1 share %", exact=True).fill("40")
    expect(alice.locator("#estimate")).to_contain_text("Co-agent 1: choose an active agent")
    co_agent.press_sequentially("emm")
    matches = alice.get_by_role("list", name="Matching agents")
    expect(matches.get_by_role("button").first).to_contain_text(CO_AGENT)
    expect(matches).not_to_contain_text(PRIMARY)
    co_agent.press("ArrowDown")
    expect(matches.get_by_role("button").first).to_be_focused()
    alice.keyboard.press("Enter")
    expect(alice.get_by_label("Co-agent 1 share %", exact=True)).to_be_focused()
    expect(co_agent).to_have_value(CO_AGENT)
    expect(alice.locator("#co_agent_1-help")).to_contain_text(f"Picked: {CO_AGENT}")
    expect(alice.locator("#co_agent_1")).to_have_value(re.compile(r"^\d+$"))
    # The search sends only what was typed (a GET: no CSRF token, none of the sale's fields).
    assert searches and all("csrf" not in url and "product_id" not in url for url in searches)

    # Each holder's estimate: 42,800.00 split 60/40, 3% each.
    holders = alice.locator("#estimate-holders tbody tr")
    expect(holders).to_have_count(2)
    expect(holders.nth(0)).to_contain_text(re.compile(r"You\s+60%\s+\$25,680\.00\s+\$770\.40"))
    expect(holders.nth(1)).to_contain_text(re.compile(r"Emma Novak\s+40%\s+\$17,120\.00\s+\$513\.60"))
    alice.locator("#sale-form").screenshot(path=str(artifacts / "split-sale-estimate.png"))

    # Shares over 100 are said beside the shares field before anything is sent.
    alice.get_by_label("Your share %", exact=True).fill("70")
    expect(alice.locator("#estimate")).to_contain_text("The shares add up to 110%")
    alice.get_by_label("Your share %", exact=True).fill("")
    expect(holders).to_have_count(2)

    # A second row is added and removed with the keyboard; the first stays as it was.
    add = alice.get_by_role("button", name="Add a co-agent")
    add.focus()
    alice.keyboard.press("Enter")
    expect(alice.get_by_label("Co-agent 2", exact=True)).to_be_focused()
    alice.get_by_role("button", name="Remove co-agent 2").focus()
    alice.keyboard.press("Enter")
    expect(alice.get_by_label("Co-agent 2", exact=True)).to_be_hidden()
    expect(co_agent).to_have_value(CO_AGENT)
    expect(alice.locator("#co_agent_1")).to_have_value(re.compile(r"^\d+$"))

    alice.get_by_label("Customer", exact=True).fill("Split Clinic")
    alice.get_by_role("button", name="Log sale").click()
    new_row = alice.locator("#recent-sales tbody tr").first
    expect(new_row).to_contain_text("Split Clinic")
    expect(new_row).to_contain_text("Split · 60%")
    expect(alice.get_by_test_id("period-pending")).not_to_have_text(alice_before)
    shoot(alice, artifacts, "split-sale-logged")

    # The co-agent's totals panel refreshes itself (it polls): her pending figure moves too.
    expect(co.get_by_test_id("period-pending")).not_to_have_text(co_before, timeout=15_000)
    co.goto(f"{live_server}/sales")
    row = co.locator("tr", has_text="Split Clinic").first
    expect(row).to_contain_text("Split · 40%")
    row.get_by_role("link").first.click()
    expect(co.locator("#sale-holders")).to_contain_text("Alice Chen (agent): 60% · $25,680.00")
    expect(co.locator("#sale-holders")).to_contain_text("Emma Novak: 40% · $17,120.00")
    expect(co.get_by_text(re.compile(r"would earn you \$513\.60"))).to_be_visible()
    expect(co.get_by_role("link", name="Edit")).to_have_count(0)
    expect(co.get_by_role("button", name="Cancel this sale")).to_have_count(0)
    shoot(co, artifacts, "split-sale-co-agent-detail")

    alice_watch.assert_clean()
    co_watch.assert_clean()
    alice_context.close()
    co_context.close()


def test_the_split_rows_fit_a_phone(browser, live_server, artifacts):
    from playwright.sync_api import expect

    context, watch = new_context(browser)
    page = sign_in(context, live_server, AGENT_EMAILS[PRIMARY])
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/dashboard")
    page.get_by_text("Split with co-agents").click()
    for _ in range(3):
        page.get_by_role("button", name="Add a co-agent").click()
    expect(page.get_by_label("Co-agent 4", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Add a co-agent")).to_be_hidden()
    assert sideways_overflow(page) is None
    # The matches (names and emails) fit too.
    page.get_by_label("Co-agent 4", exact=True).press_sequentially("em")
    expect(page.get_by_role("list", name="Matching agents")).to_contain_text(CO_AGENT)
    assert sideways_overflow(page) is None
    shoot(page, artifacts, "split-rows-phone")
    watch.assert_clean()
    context.close()


def test_removing_a_row_moves_the_pick_below_up_and_typing_forgets_a_pick(browser, live_server, artifacts):
    from playwright.sync_api import expect

    context, watch = new_context(browser)
    page = sign_in(context, live_server, AGENT_EMAILS[PRIMARY])
    page.goto(f"{live_server}/dashboard")
    page.get_by_label("Product", exact=True).select_option(label="Walk-in cooler (FNB-044)")
    page.get_by_text("Split with co-agents").click()

    def pick(row: int, typed: str, name: str) -> None:
        page.get_by_label(f"Co-agent {row}", exact=True).press_sequentially(typed)
        page.locator(f"#co_agent_{row}-results").get_by_role("button", name=name).click()
        expect(page.locator(f"#co_agent_{row}-help")).to_contain_text(f"Picked: {name}")

    pick(1, "emm", CO_AGENT)
    page.get_by_label("Co-agent 1 share %", exact=True).fill("10")
    page.get_by_role("button", name="Add a co-agent").click()
    pick(2, "bob", "Bob Martin")
    page.get_by_label("Co-agent 2 share %", exact=True).fill("20")
    bob = page.locator("#co_agent_2").input_value()
    holders = page.locator("#estimate-holders tbody tr")
    expect(holders).to_have_count(3)

    page.get_by_role("button", name="Remove co-agent 1").click()
    expect(page.get_by_label("Co-agent 2", exact=True)).to_be_hidden()
    expect(page.get_by_label("Co-agent 1", exact=True)).to_have_value("Bob Martin")
    expect(page.locator("#co_agent_1")).to_have_value(bob)
    expect(page.locator("#co_agent_1-help")).to_contain_text("Picked: Bob Martin")
    expect(page.get_by_label("Co-agent 1 share %", exact=True)).to_have_value("20")
    expect(holders).to_have_count(2)
    expect(holders.nth(1)).to_contain_text(re.compile(r"Bob Martin\s+20%"))

    # Typing again forgets the pick: the estimate says a co-agent must be picked.
    page.get_by_label("Co-agent 1", exact=True).press("Backspace")
    expect(page.locator("#co_agent_1")).to_have_value("")
    expect(page.locator("#co_agent_1-help")).not_to_contain_text("Picked")
    expect(page.locator("#estimate")).to_contain_text("Co-agent 1: choose an active agent")
    watch.assert_clean()
    context.close()
