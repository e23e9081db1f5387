"""Security headers on every kind of response, and the session cookie's flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TEST_PASSWORD, csrf_token_from
from tests.web._html import csp_directives
from webapp.auth.models import Role
from webapp.config import load_config


def _assert_security_headers(response) -> None:
    """The headers every response of the app must carry."""
    csp = csp_directives(response.headers["Content-Security-Policy"])
    script_src = csp.get("script-src", csp.get("default-src"))
    style_src = csp.get("style-src", csp.get("default-src"))
    for sources in (script_src, style_src):
        assert sources, csp
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources and "*" not in sources
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in {"same-origin", "strict-origin-when-cross-origin", "no-referrer"}


@pytest.mark.parametrize("path, status", [
    ("/login", 200),
    ("/", 302),
    ("/no-such-page", 404),
    ("/healthz", 200),
    ("/static/css/app.css", 200),
    ("/static/vendor/htmx-2.0.11.min.js", 200),
    ("/logout", 405),
])
def test_every_response_type_carries_the_security_headers(client, path, status):
    with client.get(path) as response:
        assert response.status_code == status
        _assert_security_headers(response)


def test_signed_in_page_and_403_carry_the_security_headers(as_agent):
    _assert_security_headers(as_agent.get("/dashboard"))
    forbidden = as_agent.get("/admin/users")
    assert forbidden.status_code == 403
    _assert_security_headers(forbidden)


def test_csrf_failure_page_carries_the_security_headers(client):
    response = client.post("/login", data={})
    assert response.status_code == 400
    _assert_security_headers(response)


@pytest.mark.parametrize("path", ["/login", "/password/forgot"])
def test_pages_vary_on_hx_request(client, path):
    response = client.get(path)
    assert "HX-Request" in response.headers.get("Vary", "")


def test_signed_in_pages_vary_on_hx_request_and_cookie(as_agent):
    vary = {v.strip().lower() for v in as_agent.get("/dashboard").headers["Vary"].split(",")}
    assert {"hx-request", "cookie"} <= vary


def _session_cookie_header(response) -> str:
    """The Set-Cookie header that sets the session cookie."""
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert cookies, response.headers
    return cookies[0]


def test_session_cookie_is_httponly_and_samesite_lax(browser, factory):
    user = factory.user(Role.AGENT)
    response = browser.post("/login", {"email": user.email, "password": TEST_PASSWORD, "remember": "y"})
    assert response.status_code == 302
    cookie = _session_cookie_header(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    remember = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token=")][0]
    assert "HttpOnly" in remember and "SameSite=Lax" in remember


def test_production_config_marks_cookies_secure_and_sends_hsts(app, browser, factory, monkeypatch, tmp_path):
    production = load_config({"APP_ENV": "production", "SECRET_KEY": "s" * 40,
                             "BASE_URL": "https://sales.test"}, tmp_path)
    for key in ("PRODUCTION", "SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        monkeypatch.setitem(app.config, key, production[key])
    user = factory.user(Role.AGENT)
    https = {"base_url": "https://sales.test"}
    token = csrf_token_from(browser.get("/login", **https).get_data(as_text=True))
    # Over HTTPS, Flask-WTF also wants a same-origin Referer, which browsers send here.
    response = browser.client.post(
        "/login", headers={"Referer": "https://sales.test/login"}, **https,
        data={"email": user.email, "password": TEST_PASSWORD, "remember": "y", "csrf_token": token})
    assert response.status_code == 302
    assert "Secure" in _session_cookie_header(response)
    remember = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token=")][0]
    assert "Secure" in remember
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_development_cookies_are_not_secure_so_plain_http_works(browser, factory):
    user = factory.user(Role.AGENT)
    response = browser.post("/login", {"email": user.email, "password": TEST_PASSWORD})
    assert "Secure" not in _session_cookie_header(response)
    assert "Strict-Transport-Security" not in response.headers


def test_static_files_exist_for_every_asset_the_layout_links(client, project_root: Path):
    import re

    html = client.get("/login").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert assets
    for asset in assets:
        with client.get(asset) as response:
            assert response.status_code == 200, asset


# --- Cache-Control: nothing signed-in is kept by a browser or a proxy (issue 12) --------------------


def _never_stored(response) -> None:
    """The response may not be kept by any cache (back button after sign-out, shared proxies)."""
    assert response.headers.get("Cache-Control") == "no-store", (response.status_code, response.headers)


@pytest.mark.parametrize("path, status", [
    ("/dashboard", 200), ("/sales", 200), ("/statements", 200), ("/products/mine", 200),
    ("/admin/users", 403), ("/statements/999999", 404), ("/no-such-page", 404),
])
def test_signed_in_pages_and_their_errors_are_never_stored(as_agent, path, status):
    response = as_agent.get(path)
    assert response.status_code == status
    _never_stored(response)


def test_htmx_fragments_of_signed_in_pages_are_never_stored(as_agent):
    response = as_agent.get("/dashboard/totals", headers={"HX-Request": "true"})
    assert response.status_code == 200
    _never_stored(response)


def test_api_answers_and_api_errors_are_never_stored(app, as_agent):
    from tests.web._api import API, headers_for

    api = app.test_client()
    headers = headers_for(as_agent.user)
    for response, status in (
            (api.get(f"{API}/me", headers=headers), 200),
            (api.get(f"{API}/sales/999999", headers=headers), 404),
            (api.get(f"{API}/sales?limit=0", headers=headers), 422),
            (api.post(f"{API}/sales", data="not json", headers=headers), 415),
            (api.get(f"{API}/me"), 401),
            (api.delete(f"{API}/me", headers=headers), 405)):
        assert response.status_code == status, response.get_data(as_text=True)
        _never_stored(response)


def test_static_assets_stay_cacheable(client):
    with client.get("/static/css/app.css") as response:
        assert response.status_code == 200
        assert "no-store" not in response.headers.get("Cache-Control", "")
