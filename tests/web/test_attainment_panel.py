"""The agent dashboard's attainment panel: shown only under an attainment plan, with the engine's
figures (credited volume, percent rounded down, "sell X more this month to reach Y%")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.conftest import browser_as
from tests.services.test_ledger_examples_g_i import split
from tests.web._html import by_id, by_testid, html_of
from webapp.commissions import targets
from webapp.commissions.attainment import agent_attainment
from webapp.commissions.plans import PlanRules, create_plan
from webapp.sales.services import approve_sale

NOV = date(2026, 11, 1)


def quota_plan(name: str = "Quota"):
    """Example H's brackets at percents of the target: 0% at 2%, 50% at 4%, 100% at 6%, marginal."""
    return create_plan(None, name=name, description=None, effective_from=date(2000, 1, 1), rules=PlanRules(
        tiers=[(Decimal(0), Decimal(2)), (Decimal(50), Decimal(4)), (Decimal(100), Decimal(6))],
        tier_mode="marginal", basis="target_percent"))


@pytest.fixture
def quota_agent(factory, today):
    """An agent on the quota plan, 'today' being 2026-11-20."""
    today(date(2026, 11, 20))
    agent = factory.user("agent")
    factory.assign(agent, quota_plan())
    return agent


def dashboard(app, agent) -> str:
    """The agent's dashboard page."""
    response = browser_as(app, agent).get("/dashboard")
    assert response.status_code == 200
    return html_of(response)


def test_the_panel_shows_target_volume_percent_and_what_reaches_the_next_bracket(app, factory, quota_agent):
    targets.set_target(None, agent_id=quota_agent.id, month=NOV, amount_cents=1_234_567)
    factory.sale(quota_agent, "5000.00", date(2026, 11, 4))
    factory.sale(quota_agent, "9999.00", date(2026, 11, 5), approve=False)  # pending: not counted
    html = dashboard(app, quota_agent)
    assert by_testid(html, "attainment-target") == "$12,345.67"
    assert by_testid(html, "attainment-volume") == "$5,000.00"
    assert by_testid(html, "attainment-percent") == "40.50%"
    # 50% of 12,345.67 = 6,172.835, half-up 6,172.84: 1,172.84 more.
    assert by_testid(html, "attainment-next") == "Sell $1,172.84 more this month to reach 50%"
    assert "November 2026" in by_id(html, "attainment-title").text


def test_one_cent_short_and_the_top_bracket(app, factory, quota_agent):
    targets.set_target(None, agent_id=quota_agent.id, month=NOV, amount_cents=1_000_000)
    factory.sale(quota_agent, "9999.99", date(2026, 11, 4))
    html = dashboard(app, quota_agent)
    assert by_testid(html, "attainment-percent") == "99.99%"   # rounded down, never 100.00% early
    assert by_testid(html, "attainment-next") == "Sell $0.01 more this month to reach 100%"
    factory.sale(quota_agent, "5000.01", date(2026, 11, 6))
    html = dashboard(app, quota_agent)
    assert by_testid(html, "attainment-percent") == "150.00%"
    assert "top bracket" in by_testid(html, "attainment-next")


def test_no_target_asks_the_manager(app, factory, quota_agent):
    factory.sale(quota_agent, "500.00", date(2026, 11, 4))
    html = dashboard(app, quota_agent)
    assert by_testid(html, "attainment-no-target") == "No target set for this month — ask your manager."
    assert by_id(html, "attainment") is not None
    assert "attainment-next" not in html


def test_a_co_agent_counts_only_their_credit(app, factory, quota_agent):
    targets.set_target(None, agent_id=quota_agent.id, month=NOV, amount_cents=100_000)
    primary = factory.user("agent")
    factory.assign(primary, factory.plan(base_rate="3"))
    sale = factory.sale(primary, "1000.00", date(2026, 11, 4), approve=False)
    split(sale, [(primary, "60"), (quota_agent, "40")])
    approve_sale(primary.manager, sale)
    html = dashboard(app, quota_agent)
    assert by_testid(html, "attainment-volume") == "$400.00"
    assert by_testid(html, "attainment-percent") == "40.00%"
    assert by_testid(html, "attainment-next") == "Sell $100.00 more this month to reach 50%"
    # The primary is on a flat plan: no panel for them.
    assert by_id(dashboard(app, primary), "attainment") is None


def test_no_panel_off_an_attainment_plan_or_without_a_plan(app, factory, today):
    today(date(2026, 11, 20))
    tiered, planless = factory.user("agent"), factory.user("agent")
    factory.assign(tiered, factory.plan(tiers=[("0", "2"), ("5000", "4")], tier_mode="marginal"))
    for agent in (tiered, planless):
        assert by_id(dashboard(app, agent), "attainment") is None


def test_the_panel_follows_the_plan_in_force_today(factory, today):
    """Moved onto the quota plan on the 16th: no panel on the 15th, a panel from the 16th."""
    agent = factory.user("agent")
    factory.assign(agent, factory.plan(base_rate="3"), effective_to=date(2026, 11, 15))
    factory.assign(agent, quota_plan(), effective_from=date(2026, 11, 16))
    today(date(2026, 11, 15))
    assert agent_attainment(agent.id) is None
    today(date(2026, 11, 16))
    assert agent_attainment(agent.id).plan_name == "Quota"


def test_htmx_refresh_returns_the_panel_alone_for_agents_only(app, factory, quota_agent):
    targets.set_target(None, agent_id=quota_agent.id, month=NOV, amount_cents=100_000)
    response = browser_as(app, quota_agent).get("/dashboard/attainment", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = html_of(response)
    assert html.strip().startswith('<section id="attainment"') and "<html" not in html
    assert by_testid(html, "attainment-percent") == "0.00%"
    for user in (quota_agent.manager, factory.user("admin")):
        assert browser_as(app, user).get("/dashboard/attainment").status_code in (302, 403, 404)
