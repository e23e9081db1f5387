"""SPIFFs outside the admin pages: GET /api/v1/spiffs (agents: what they can earn today, with this
month's earnings; staff: every SPIFF) with exact decimal strings, and the agent's dashboard panel."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.conftest import browser_as
from tests.web._api import API, error_of, headers_for
from tests.web._html import by_testid
from webapp.auth.models import Role
from webapp.spiffs.services import SpiffRules, create_spiff, end_early


def d(day: int, month: int = 11) -> date:
    """A day of late 2026."""
    return date(2026, month, day)


@pytest.fixture
def shop(factory, today):
    """Nov 20; Ana in Maria's team, Carl in another; three SPIFFs: a capped 2.5% on technology, a
    per-unit one for Maria's team only on the printer, one that ended on the 10th."""
    today(d(20))
    maria = factory.user(Role.MANAGER, name="Maria")
    ana = factory.user(Role.AGENT, manager=maria, name="Ana")
    carl = factory.user(Role.AGENT, name="Carl")
    technology = factory.category("technology")
    printer = factory.product("PRN-1", category=technology)
    admin = factory.user(Role.ADMIN)
    tech = create_spiff(admin, "tech", SpiffRules(d(1), d(30), percent=Decimal("2.5"), cap=Decimal("100.00"),
                                                  category_ids=[technology.id])).spiff
    team = create_spiff(admin, "team push", SpiffRules(d(1), d(31, 12), per_unit=Decimal("12.25"),
                                                        product_ids=[printer.id], team_ids=[maria.id])).spiff
    ended = create_spiff(admin, "ended", SpiffRules(d(1), d(30), per_unit=Decimal("1.00"),
                                                    product_ids=[printer.id])).spiff
    end_early(admin, ended, d(10))
    factory.sale(ana, "2000.00", d(5), product=printer, quantity=2)
    return {"ana": ana, "carl": carl, "maria": maria, "admin": admin, "tech": tech, "team": team, "ended": ended}


def test_an_agent_lists_the_spiffs_they_can_earn_with_exact_strings(shop, app):
    response = app.test_client().get(f"{API}/spiffs", headers=headers_for(shop["ana"], "read"))
    assert response.status_code == 200
    items = {item["name"]: item for item in response.json["items"]}
    assert set(items) == {"tech", "team push"}
    assert items["tech"] == {
        "id": shop["tech"].id, "name": "tech", "version": 1, "status": "active", "first_day": "2026-11-01",
        "last_day": "2026-11-30", "per_unit": None, "percent": "2.5", "cap": "100.00", "products": [],
        "categories": ["technology"], "teams": [], "earned_this_month": "50.00"}
    assert items["team push"]["per_unit"] == "12.25" and items["team push"]["earned_this_month"] == "24.50"
    assert items["team push"]["teams"] == [shop["maria"].id]


def test_another_teams_agent_does_not_see_a_team_spiff(shop, app):
    response = app.test_client().get(f"{API}/spiffs", headers=headers_for(shop["carl"], "read"))
    assert [item["name"] for item in response.json["items"]] == ["tech"]
    assert response.json["items"][0]["earned_this_month"] == "0.00"


def test_managers_and_admins_list_every_spiff_with_its_status(shop, app):
    for user in (shop["maria"], shop["admin"]):
        response = app.test_client().get(f"{API}/spiffs?limit=2", headers=headers_for(user, "read"))
        assert [(i["name"], i["status"]) for i in response.json["items"]] == [("tech", "active"),
                                                                              ("team push", "active")]
        rest = app.test_client().get(f"{API}/spiffs?cursor={response.json['next_cursor']}",
                                     headers=headers_for(user, "read")).json
        assert [(i["name"], i["status"], i["last_day"]) for i in rest["items"]] == [("ended", "ended", "2026-11-10")]
        assert rest["items"][0]["earned_this_month"] is None and rest["next_cursor"] is None


def test_an_unknown_parameter_is_a_422_and_no_token_a_401(shop, app):
    client = app.test_client()
    error_of(client.get(f"{API}/spiffs?status=active", headers=headers_for(shop["ana"])), 422)
    error_of(client.get(f"{API}/spiffs"), 401)


def test_the_openapi_document_lists_the_spiffs_operation(app):
    document = app.test_client().get(f"{API}/openapi.json").json
    operation = document["paths"]["/spiffs"]["get"]
    assert operation["tags"] == ["SPIFFs"] and "SpiffPage" in str(operation["responses"]["200"])


def test_the_dashboard_panel_shows_reward_days_left_and_earnings_against_the_cap(shop, app):
    agent = browser_as(app, shop["ana"])
    html = agent.get("/dashboard").get_data(as_text=True)
    assert 'id="spiffs-panel"' in html
    assert by_testid(html, f"spiff-earned-{shop['tech'].id}") == "$50.00"
    panel = agent.get("/dashboard/spiffs").get_data(as_text=True)
    assert "2.5% of the amount" in panel and "11 days left" in panel and "of $100.00 cap" in panel
    assert "team push" in panel and "ended" not in panel.replace("cap reached", "")


def test_another_team_sees_no_team_spiff_and_an_empty_panel_says_so(shop, app, factory, today):
    lonely = factory.user(Role.AGENT)
    agent = browser_as(app, lonely)
    html = agent.get("/dashboard/spiffs").get_data(as_text=True)
    assert "tech" in html and "team push" not in html
    today(d(5, 12))  # tech has ended; team push runs only for Maria's team
    assert "No SPIFF is running for you today." in agent.get("/dashboard/spiffs").get_data(as_text=True)
