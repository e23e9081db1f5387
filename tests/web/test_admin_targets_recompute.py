"""The targets page: saving or removing a target recomputes the agent's month (attainment plans)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.web._html import by_id, html_of
from webapp.auth.models import Role
from webapp.commissions.models import CommissionEntry, Target
from webapp.commissions.plans import PlanRules, create_plan
from webapp.extensions import db


@pytest.fixture
def agent_on_quota(factory, today):
    """An agent on a retroactive attainment plan (0% at 2%, 100% at 6%) with a 10,000.00 November sale."""
    today(date(2026, 11, 20))
    plan = create_plan(None, name="Quota", description=None, effective_from=date(2000, 1, 1), rules=PlanRules(
        tiers=[(Decimal(0), Decimal(2)), (Decimal(100), Decimal(6))], tier_mode="retroactive", basis="target_percent"))
    agent = factory.user(Role.AGENT, name="Tara Target")
    factory.assign(agent, plan)
    sale = factory.sale(agent, "10000.00", date(2026, 11, 5))
    return agent, sale


def commission_cents(agent, sale) -> int:
    """The agent's commission entries for the sale, summed (cents)."""
    db.session.expire_all()
    return int(db.session.scalar(select(func.coalesce(func.sum(CommissionEntry.amount_cents), 0)).where(
        CommissionEntry.agent_id == agent.id, CommissionEntry.sale_id == sale.id)))


def test_saving_a_target_on_the_page_recomputes_the_month(as_admin, agent_on_quota):
    agent, sale = agent_on_quota
    assert commission_cents(agent, sale) == 20_000          # no target: the first bracket's 2%
    response = as_admin.post(f"/admin/targets/{agent.id}?month=2026-11", {"amount": "10000"},
                             token_from="/admin/targets")
    assert response.status_code == 302
    assert commission_cents(agent, sale) == 60_000          # 100% of target reached: 6%
    as_admin.post(f"/admin/targets/{agent.id}?month=2026-11", {"amount": "10000.01"}, token_from="/admin/targets")
    assert commission_cents(agent, sale) == 20_000


def test_a_refused_target_recomputes_nothing(as_admin, agent_on_quota):
    agent, sale = agent_on_quota
    response = as_admin.post(f"/admin/targets/{agent.id}?month=2026-11", {"amount": "0"}, token_from="/admin/targets")
    assert response.status_code == 422
    assert commission_cents(agent, sale) == 20_000


def test_removing_a_target_with_htmx_returns_the_row_and_recomputes(as_admin, agent_on_quota):
    agent, sale = agent_on_quota
    as_admin.post(f"/admin/targets/{agent.id}?month=2026-11", {"amount": "10000"}, token_from="/admin/targets")
    page = html_of(as_admin.get("/admin/targets?month=2026-11"))
    row = by_id(page, f"target-row-{agent.id}")
    assert "Remove" in row.text
    response = as_admin.post(f"/admin/targets/{agent.id}/remove?month=2026-11", {}, token_from="/admin/targets",
                             headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = html_of(response)
    assert html.strip().startswith(f'<tr id="target-row-{agent.id}"') and "Not set" in html and "Removed" in html
    assert "Remove<" not in html  # nothing left to remove
    assert db.session.scalar(select(func.count()).select_from(Target)) == 0
    assert commission_cents(agent, sale) == 20_000


def test_removing_without_javascript_redirects_to_the_month(as_admin, agent_on_quota):
    agent, _ = agent_on_quota
    as_admin.post(f"/admin/targets/{agent.id}?month=2026-11", {"amount": "10000"}, token_from="/admin/targets")
    response = as_admin.post(f"/admin/targets/{agent.id}/remove?month=2026-11", {}, token_from="/admin/targets")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/targets?month=2026-11")
    assert "removed" in html_of(as_admin.get("/admin/targets?month=2026-11"))


def test_remove_needs_csrf_an_agent_and_a_month(as_admin, agent_on_quota, factory):
    agent, _ = agent_on_quota
    as_admin.post(f"/admin/targets/{agent.id}?month=2026-11", {"amount": "10000"}, token_from="/admin/targets")
    assert as_admin.client.post(f"/admin/targets/{agent.id}/remove?month=2026-11").status_code == 400
    manager = factory.user(Role.MANAGER)
    assert as_admin.post(f"/admin/targets/{manager.id}/remove?month=2026-11", {},
                         token_from="/admin/targets").status_code == 404
    assert as_admin.post(f"/admin/targets/{agent.id}/remove?month=2026-13", {},
                         token_from="/admin/targets").status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Target)) == 1


def test_managers_and_agents_cannot_remove_targets(app, agent_on_quota):
    from tests.conftest import browser_as

    agent, _ = agent_on_quota
    for user in (agent, agent.manager):
        browser = browser_as(app, user)
        response = browser.post(f"/admin/targets/{agent.id}/remove?month=2026-11", {}, token_from="/")
        assert response.status_code in (403, 404)
