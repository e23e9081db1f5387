"""API v1 pay periods (issue 17, parity with the periods page): list with the team's figures, what
a close freezes, and the close itself with its rules (ended, in order, once); managers and admins."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.web._api import API, error_of, headers_for
from webapp.audit.models import AuditEvent
from webapp.commissions.models import Period
from webapp.commissions.periods import period_for
from webapp.extensions import db

TODAY = date(2026, 11, 20)


@pytest.fixture
def team(build, factory):
    """Maria manages Alice (3%), Olga manages Carol; approved sales in the first half of October and
    of November, a pending one of Alice's in early November; every period since October open."""
    build.on(TODAY)
    maria, (alice,) = build.team("Maria", "Alice")
    olga, (carol,) = build.team("Olga", "Carol")
    factory.sale(alice, "1000.00", date(2026, 10, 5))
    factory.sale(alice, "500.00", date(2026, 11, 3))
    factory.sale(carol, "200.00", date(2026, 11, 4))
    pending = factory.sale(alice, "300.00", date(2026, 11, 6), approve=False)
    periods = {day: period_for(date(2026, *day)) for day in ((10, 1), (10, 16), (11, 1), (11, 16))}
    db.session.commit()
    return {"maria": maria, "alice": alice, "olga": olga, "carol": carol, "admin": factory.user("admin"),
            "pending": pending, "product": factory.product(name="Dock"), "oct1": periods[(10, 1)], "oct2": periods[(10, 16)], "nov1": periods[(11, 1)],
            "nov2": periods[(11, 16)]}


def _listed(api, user) -> dict[str, dict]:
    """The period list as `user` sees it, by its first day."""
    response = api.get(f"{API}/periods", headers=headers_for(user))
    assert response.status_code == 200, response.json
    return {p["start"]: p for p in response.json["items"]}


def test_the_list_shows_each_period_with_the_callers_team(api, team):
    maria, olga, admin = (_listed(api, team[who]) for who in ("maria", "olga", "admin"))
    assert list(maria) == sorted(maria, reverse=True)  # newest first
    november = maria["2026-11-01"]
    assert (november["status"], november["entries"], november["commission"], november["end"]) == (
        "open", 1, "15.00", "2026-11-15")
    assert (olga["2026-11-01"]["entries"], olga["2026-11-01"]["commission"]) == (1, "6.00")
    assert (admin["2026-11-01"]["entries"], admin["2026-11-01"]["commission"]) == (2, "21.00")
    assert maria["2026-10-01"]["blocker"] is None
    assert maria["2026-10-16"]["blocker"] == f"Close {team['oct1'].label} first: periods close in order."
    assert maria["2026-11-16"]["blocker"] == f"{team['nov2'].label} has not ended yet."
    assert error_of(api.get(f"{API}/periods", headers=headers_for(team["alice"])), 403)


def test_the_preview_shows_what_the_close_freezes_for_the_team(api, team):
    preview = api.get(f"{API}/periods/{team['nov1'].id}/close-preview", headers=headers_for(team["maria"])).json
    assert preview["team_only"] is True and preview["period"]["id"] == team["nov1"].id
    assert preview["agents"] == [{"agent_id": team["alice"].id, "name": "Alice", "entries": 1, "commission": "15.00",
                                  "volume": "500.00", "pending": 1, "pending_amount": "300.00"}]
    assert [s["id"] for s in preview["pending_sales"]] == [team["pending"].id]
    assert preview["blocker"] == f"Close {team['oct1'].label} first: periods close in order."
    everyone = api.get(f"{API}/periods/{team['nov1'].id}/close-preview", headers=headers_for(team["admin"])).json
    assert everyone["team_only"] is False and {a["agent_id"] for a in everyone["agents"]} == {
        team["alice"].id, team["carol"].id}
    assert error_of(api.get(f"{API}/periods/999999/close-preview", headers=headers_for(team["maria"])), 404)


def test_closing_follows_the_rules_and_is_audited(api, team):
    maria = headers_for(team["maria"])
    url = f"{API}/periods/{{}}/close"
    assert "first" in error_of(api.post(url.format(team["oct2"].id), headers=maria), 409)["message"]
    assert "not ended" in error_of(api.post(url.format(team["nov2"].id), headers=maria), 409)["message"]
    assert error_of(api.post(url.format(team["oct1"].id), headers=headers_for(team["maria"], "read")), 403)
    assert error_of(api.post(url.format(team["oct1"].id), headers=headers_for(team["alice"])), 403)
    db.session.expire_all()
    assert db.session.get(Period, team["oct1"].id).is_open

    closed = api.post(url.format(team["oct1"].id), headers=maria)
    assert closed.status_code == 200, closed.json
    assert (closed.json["status"], closed.json["closed_by"], closed.json["blocker"]) == (
        "closed", "Maria", f"{team['oct1'].label} is already closed.")
    assert "already closed" in error_of(api.post(url.format(team["oct1"].id), headers=maria), 409)["message"]
    assert db.session.scalar(select(AuditEvent.actor_id).where(AuditEvent.action == "period.close",
                                                               AuditEvent.object_id == team["oct1"].id)) == team[
        "maria"].id
    # The period is frozen for everyone: a sale dated in it is refused.
    sale = {"product_id": team["product"].id, "customer_name": "Late", "quantity": 1, "sold_on": "2026-10-09"}
    assert error_of(api.post(f"{API}/sales", headers=headers_for(team["carol"]), json=sale),
                    422)["code"] == "closed_period"
    assert error_of(api.post(url.format(999999), headers=maria), 404)
