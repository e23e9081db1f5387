"""A demo agent logs a sale in a real Chromium: by label, live estimate, no page reload (issue 4)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

# Every CSP violation, from any page of the visit, reported to Python through a binding.
REPORT_CSP = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.__reportCsp([event.violatedDirective, event.blockedURI, event.sourceFile, event.lineNumber]
    .join(" "));
});
"""


def _watch(page) -> dict[str, list[str]]:
    """Collect console errors, uncaught exceptions, CSP violations and failed requests."""
    seen = {"console": [], "pageerror": [], "csp": [], "http": []}
    page.expose_binding("__reportCsp", lambda _source, text: seen["csp"].append(text))
    page.add_init_script(REPORT_CSP)
    page.on("console", lambda message: message.type == "error" and seen["console"].append(message.text))
    page.on("pageerror", lambda error: seen["pageerror"].append(str(error)))
    page.on("response", lambda response: response.status >= 400 and seen["http"].append(
        f"{response.status} {response.request.method} {response.url}"))
    return seen


def test_agent_logs_a_sale_without_a_reload(page, live_server, artifacts):
    from playwright.sync_api import expect

    seen = _watch(page)
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("alice.agent@demo.example")
    page.get_by_label("Password").fill("demo-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/dashboard")
    expect(page.get_by_role("heading", name="Hello, Alice")).to_be_visible()

    dashboard_url = page.url
    rows = page.locator("#recent-sales tbody tr")
    first_row_before = rows.first.get_attribute("id")
    pending = page.get_by_test_id("period-pending")
    pending_before = pending.inner_text()
    page.evaluate("window.__marker = 1")  # gone if the page reloads

    # Choosing a product fills Unit price with its list price; choosing another one follows it.
    product = page.get_by_label("Product", exact=True)
    price = page.get_by_label("Unit price", exact=True)
    product.select_option(label="Patient monitor (MED-100)")
    expect(price).to_have_value("12500.00")
    product.select_option(label="Walk-in cooler (FNB-044)")
    expect(price).to_have_value("21400.00")

    page.get_by_label("Quantity", exact=True).fill("2")
    estimate = page.locator("#estimate")
    # Alice is on the demo's flat 3% plan: 2 x 21,400.00 x 3%.
    expect(estimate).to_contain_text(re.compile(r"This sale would earn \$1,284\.00"))

    customer = page.get_by_label("Customer", exact=True)
    customer.fill("Brightwater Dental")
    expect(page.locator("#customer-results")).to_contain_text("it will be added as a new customer")
    page.get_by_role("button", name="Log sale").click()

    new_row = rows.first
    expect(new_row).to_contain_text("Brightwater Dental")
    expect(new_row).to_contain_text("Walk-in cooler")
    expect(new_row).to_contain_text("$42,800.00")
    expect(new_row).to_contain_text("Pending")
    assert new_row.get_attribute("id") != first_row_before
    expect(page.locator("#sale-flash")).to_have_text(
        "Sale recorded: Walk-in cooler for Brightwater Dental, $42,800.00.")
    expect(pending).not_to_have_text(pending_before)  # the totals panel refreshed itself
    expect(pending).to_contain_text("pending")
    # The form was reset for the next sale.
    expect(page.get_by_label("Quantity", exact=True)).to_have_value("1")
    expect(customer).to_have_value("")
    expect(estimate).not_to_contain_text("This sale would earn")

    assert page.url == dashboard_url
    assert page.evaluate("window.__marker") == 1, "the page reloaded"
    page.screenshot(path=str(artifacts / "agent-dashboard.png"), full_page=True)

    assert seen["csp"] == [], seen["csp"]
    assert seen["console"] == [], seen["console"]
    assert seen["pageerror"] == [], seen["pageerror"]
    assert seen["http"] == [], seen["http"]
