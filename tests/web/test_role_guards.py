"""Who may open which page: anonymous visitors, agents, managers and admins."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

GUARDED = ["/manage/team", "/admin/users", "/admin/users/new", "/admin/outbox"]


@pytest.mark.parametrize("path", ["/"] + GUARDED)
def test_anonymous_visitor_is_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [path]


@pytest.mark.parametrize("path", GUARDED)
def test_agent_is_refused(as_agent, path):
    response = as_agent.get(path)
    assert response.status_code == 403
    assert "Your role does not give access" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/admin/users", "/admin/users/new", "/admin/outbox"])
def test_manager_is_refused_admin_pages(as_manager, path):
    assert as_manager.get(path).status_code == 403


def test_manager_may_see_their_team(as_manager, factory):
    mine = factory.user("agent", manager=as_manager.user, name="Mina Mine")
    theirs = factory.user("agent", name="Theo Theirs")
    html = as_manager.get("/manage/team").get_data(as_text=True)
    assert mine.name in html
    assert theirs.name not in html


def test_agent_is_refused_another_users_edit_page(as_agent):
    assert as_agent.get(f"/admin/users/{as_agent.user.id}").status_code == 403


@pytest.mark.parametrize("path", ["/"] + GUARDED)
def test_admin_may_open_every_page(as_admin, path):
    assert as_admin.get(path).status_code == 200


def test_admin_may_open_a_user_edit_page(as_admin, factory):
    user = factory.user("agent")
    assert as_admin.get(f"/admin/users/{user.id}").status_code == 200
    assert as_admin.get("/admin/users/999999").status_code == 404
