"""The base layout: vendored htmx, its configuration, the CSRF header, labels and navigation."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import Browser, browser_as, csrf_token_from
from tests.web._html import by_id, tags, within
from webapp.auth.models import Role
from webapp.mail.services import deliver_email, pending_email_ids


def _htmx_response_handling(rules: list[dict], status: int) -> dict:
    """The responseHandling rule htmx 2 applies to a status: the first whose code matches."""
    for rule in rules:
        if re.fullmatch(rule["code"], str(status)):
            return rule
    raise AssertionError(f"no responseHandling rule for {status}")


def test_htmx_is_vendored_with_its_version_in_the_file_name(client, project_root):
    html = client.get("/login").get_data(as_text=True)
    [script] = [s for s in tags(html, "script") if "htmx" in (s.attrs.get("src") or "")]
    match = re.fullmatch(r"/static/vendor/htmx-(2\.0\.\d+)\.min\.js", script.attrs["src"])
    assert match, script.attrs["src"]
    version = match.group(1)
    path = project_root / "static" / "vendor" / f"htmx-{version}.min.js"
    assert path.is_file()
    # The file really is that version of htmx, not a renamed other one.
    assert f'version:"{version}"' in path.read_text(encoding="utf-8")
    with client.get(script.attrs["src"]) as response:
        assert response.status_code == 200
        assert "javascript" in response.content_type


def test_no_script_or_stylesheet_comes_from_another_origin(as_admin):
    html = as_admin.get("/").get_data(as_text=True)
    for tag in tags(html, "script") + tags(html, "link"):
        url = tag.attrs.get("src") or tag.attrs.get("href") or ""
        assert url.startswith("/"), url


@pytest.mark.parametrize("path", ["/login", "/password/forgot"])
def test_pages_have_no_inline_script_or_style_the_csp_would_block(client, path):
    html = client.get(path).get_data(as_text=True)
    assert all(tag.attrs.get("src") for tag in tags(html, "script"))
    assert not tags(html, "style")
    assert not [tag for tag in tags(html) if "style" in tag.attrs]
    assert not [tag for tag in tags(html) if any(name.startswith("on") for name in tag.attrs)]


def test_signed_in_pages_have_no_inline_script_or_style(as_admin, factory):
    user = factory.user(Role.AGENT)
    for path in ("/", "/admin/users", "/admin/users/new", f"/admin/users/{user.id}", "/admin/outbox", "/manage/team"):
        html = as_admin.get(path).get_data(as_text=True)
        assert all(tag.attrs.get("src") for tag in tags(html, "script")), path
        assert not [tag for tag in tags(html) if "style" in tag.attrs or tag.name == "style"], path


def test_body_hx_headers_carry_the_sessions_csrf_token(as_agent):
    html = as_agent.get("/dashboard").get_data(as_text=True)
    [body] = tags(html, "body")
    headers = json.loads(body.attrs["hx-headers"])
    token = headers["X-CSRFToken"]
    assert token
    # The header token is accepted for a state-changing request.
    response = as_agent.client.post("/logout", headers={"X-CSRFToken": token})
    assert response.status_code == 302
    assert as_agent.get("/dashboard").status_code == 302


def test_htmx_config_swaps_422_and_keeps_the_csp_intact(client):
    html = client.get("/login").get_data(as_text=True)
    [meta] = [m for m in tags(html, "meta") if m.attrs.get("name") == "htmx-config"]
    config = json.loads(meta.attrs["content"])
    assert config["includeIndicatorStyles"] is False
    assert config["allowEval"] is False
    rules = config["responseHandling"]
    assert _htmx_response_handling(rules, 422)["swap"] is True
    assert _htmx_response_handling(rules, 200)["swap"] is True
    assert _htmx_response_handling(rules, 204)["swap"] is False
    for status in (400, 403, 404, 500, 503):
        rule = _htmx_response_handling(rules, status)
        assert rule["swap"] is False and rule.get("error") is True, status


def _unlabelled_controls(html: str) -> list[str]:
    """Ids (or names) of visible form controls without a <label for> naming them."""
    labelled = {label.attrs.get("for") for label in tags(html, "label")}
    missing = []
    for control in tags(html, "input") + tags(html, "select") + tags(html, "textarea"):
        if control.attrs.get("type") in {"hidden", "submit", "button", "reset"}:
            continue
        control_id = control.attrs.get("id")
        if not control_id or control_id not in labelled:
            missing.append(control_id or control.attrs.get("name", "?"))
    return missing


def _forms_to_check(as_admin, factory, outbox) -> dict[str, str]:
    """The HTML of every form page: sign-in, forgot, reset, admin create and edit."""
    agent = factory.user(Role.AGENT)
    anonymous = Browser(as_admin.client.application.test_client())
    anonymous.post("/password/forgot", {"email": agent.email})
    for email_id in pending_email_ids():  # reset emails are queued: deliver them as the worker would
        deliver_email(email_id)
    [message] = outbox.list()
    reset_path = re.search(r"/password/reset/\S+", message.text).group(0)
    return {
        "/login": anonymous.get("/login").get_data(as_text=True),
        "/password/forgot": anonymous.get("/password/forgot").get_data(as_text=True),
        "reset": anonymous.get(reset_path).get_data(as_text=True),
        "reset with errors": anonymous.post(reset_path, {"password": "x", "confirm": "y"}).get_data(as_text=True),
        "/admin/users/new": as_admin.get("/admin/users/new").get_data(as_text=True),
        "new user with errors": as_admin.post("/admin/users/new", {"email": "x", "role": "agent"}).get_data(as_text=True),
        "edit user": as_admin.get(f"/admin/users/{agent.id}").get_data(as_text=True),
    }


def test_every_form_control_has_a_label_naming_its_id(as_admin, factory, outbox):
    pages = _forms_to_check(as_admin, factory, outbox)
    for page, html in pages.items():
        assert tags(html, "form"), page
        assert _unlabelled_controls(html) == [], page
        ids = [t.attrs["id"] for t in tags(html) if t.attrs.get("id")]
        assert len(ids) == len(set(ids)), (page, ids)


def test_field_errors_are_announced_and_valid_fields_are_not_marked_invalid(as_admin, factory, outbox):
    pages = _forms_to_check(as_admin, factory, outbox)
    for page, html in pages.items():
        for control in tags(html, "input") + tags(html, "select"):
            invalid = control.attrs.get("aria-invalid")
            described = control.attrs.get("aria-describedby")
            assert invalid in (None, "true"), (page, control.attrs)
            if described is not None:
                assert by_id(html, described) is not None, (page, control.attrs)
    html = pages["new user with errors"]
    name = by_id(html, "name")
    assert name.attrs["aria-invalid"] == "true"
    assert "required" in by_id(html, name.attrs["aria-describedby"]).text
    assert "aria-invalid" not in by_id(html, "role").attrs


@pytest.mark.parametrize("role, shown, hidden", [
    (Role.ADMIN, {"Overview", "Users", "Outbox", "Team", "Payouts", "Periods"}, set()),
    (Role.MANAGER, {"Review", "Team", "Payouts", "Periods"}, {"Users", "Outbox"}),
    (Role.AGENT, {"Dashboard", "My sales", "My products"}, {"Review", "Users", "Outbox", "Team", "Payouts"}),
])
def test_navigation_shows_what_the_role_may_open(app, factory, role, shown, hidden):
    user = factory.user(role)
    client = browser_as(app, user).client
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    page = tags(html)
    [nav] = [n for n in page if n.name == "nav" and n.attrs.get("aria-label") == "Main"]
    links = {a.text.strip(): a.attrs["href"] for a in within(nav, page, "a")}
    assert shown <= set(links)
    assert not hidden & set(links)
    for href in links.values():
        assert client.get(href).status_code == 200, href


def test_anonymous_visitor_sees_no_navigation_or_sign_out(client):
    html = client.get("/login").get_data(as_text=True)
    assert not [n for n in tags(html, "nav") if n.attrs.get("aria-label") == "Main"]
    assert "Sign out" not in html


def test_csrf_token_in_the_header_matches_the_forms(as_admin):
    html = as_admin.get("/admin/users/new").get_data(as_text=True)
    [body] = tags(html, "body")
    assert json.loads(body.attrs["hx-headers"])["X-CSRFToken"] == csrf_token_from(html)
