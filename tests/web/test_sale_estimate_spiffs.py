"""The sale form's estimate includes SPIFF rewards, shown apart from commission (COMMISSION_RULES.md
section 10), for an unsplit sale and per holder of a split one."""

from __future__ import annotations

from tests.conftest import browser_as
from tests.services.test_ledger_examples_g_i import d, spiff
from tests.web._html import text_of, tags
from webapp.sales import portal


def estimate_text(browser, **args) -> str:
    """The estimate fragment's text for these form values."""
    return text_of(tags(browser.get("/sales/estimate", query_string=args).get_data(as_text=True))[0])


def test_the_estimate_adds_the_spiff_rewards_apart_from_commission(app, factory, today):
    today(d(12))
    ana, ben = factory.user("agent"), factory.user("agent")
    for agent in (ana, ben):
        factory.assign(agent, factory.plan(base_rate="3"))
    printer = factory.product("PRN-EST")
    spiff("estimate_push", products=[printer], per_unit="12.25")
    browser = browser_as(app, ana)
    form = {"product_id": printer.id, "quantity": "4", "unit_price": "100.00", "sold_on": d(12).isoformat()}
    # 400.00 at 3% = 12.00; 4 units x 12.25 = 49.00 of SPIFF.
    assert "This sale would earn $12.00 plus $49.00 in SPIFF rewards" in estimate_text(browser, **form)
    html = browser.get("/sales/estimate", query_string={**form, "co_agent_1": ben.id, "co_share_1": "25"}
                       ).get_data(as_text=True)
    rows = [text_of(t) for t in tags(html, "tr")]
    # 75/25: Ana 300.00 -> 9.00 and 36.75 of SPIFF; Ben 100.00 -> 3.00 and 12.25 (4 x 12.25 x 25%).
    assert any("You" in r and "$300.00" in r and "$9.00" in r and "$36.75" in r for r in rows), rows
    assert any(ben.name in r and "$100.00" in r and "$3.00" in r and "$12.25" in r for r in rows), rows


def test_no_spiff_no_mention(app, factory, today):
    today(d(12))
    agent = factory.user("agent")
    factory.assign(agent, factory.plan(base_rate="3"))
    product = factory.product("PLAIN-EST")
    text = estimate_text(browser_as(app, agent), product_id=product.id, quantity="1", unit_price="100.00",
                         sold_on=d(12).isoformat())
    assert "This sale would earn $3.00" in text and "SPIFF" not in text


def test_the_pending_figure_counts_the_spiff_rewards_approval_would_add(app, factory, today):
    today(d(12))
    agent = factory.user("agent")
    factory.assign(agent, factory.plan(base_rate="3"))
    printer = factory.product("PRN-PEND")
    spiff("pending_push", products=[printer], per_unit="12.25", cap="20.00")
    factory.sale(agent, "400.00", d(5), product=printer, quantity=1)  # approved: 12.00 + 12.25 of SPIFF
    factory.sale(agent, "800.00", d(11), product=printer, quantity=2, approve=False)
    totals = portal.agent_totals(agent.id)
    # Approving adds 24.00 of commission and the 7.75 left of the 20.00 cap (not 2 x 12.25).
    assert (totals.month_figures.commission, totals.month_figures.pending) == (2425, 3175)
