"""Error answers keep the headers that tell a client what to do next (issue 12): a 405 lists the
methods the URL takes (Allow), a 429 says how long to wait (Retry-After), and a 401 from the API
names the scheme it wants (WWW-Authenticate: Bearer, RFC 6750). The error renderer built a new
response and dropped them."""

from __future__ import annotations

import pytest

from tests.conftest import Browser
from tests.web._api import API, error_of, headers_for
from webapp.auth.tokens import create_token, revoke_token
from webapp.auth.models import Role


def _methods(response) -> set[str]:
    """The methods an Allow header lists."""
    return {method.strip() for method in response.headers.get("Allow", "").split(",") if method.strip()}


def _retry_after(response) -> int:
    """Retry-After as whole seconds (it must be a positive integer, not a date)."""
    value = response.headers.get("Retry-After", "")
    assert value.isdigit() and int(value) > 0, value
    return int(value)


def test_a_405_page_lists_the_allowed_methods(client):
    response = client.delete("/login")
    assert response.status_code == 405
    assert response.mimetype == "text/html"
    assert _methods(response) == {"GET", "HEAD", "OPTIONS", "POST"}


def test_a_405_from_the_api_lists_the_allowed_methods(app, factory):
    response = app.test_client().delete(f"{API}/sales", headers=headers_for(factory.user(Role.AGENT)))
    error_of(response, 405)
    assert _methods(response) == {"GET", "HEAD", "OPTIONS", "POST"}


def test_the_sign_in_throttle_says_when_to_retry(app, factory, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_ACCOUNT", "1 per minute")
    user = factory.user(Role.AGENT)
    browser = Browser(app.test_client())
    assert browser.post("/login", {"email": user.email, "password": "wrong-password"}).status_code == 401
    response = browser.post("/login", {"email": user.email, "password": "wrong-password"})
    assert response.status_code == 429
    assert _retry_after(response) <= 60


def test_the_api_throttle_says_when_to_retry(app, factory, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "2 per hour")
    client, headers = app.test_client(), headers_for(factory.user(Role.AGENT))
    assert [client.get(f"{API}/me", headers=headers).status_code for _ in range(2)] == [200, 200]
    response = client.get(f"{API}/me", headers=headers)
    error_of(response, 429)
    assert 60 < _retry_after(response) <= 3600


def test_a_401_from_the_api_names_the_bearer_scheme(app, factory):
    client = app.test_client()
    response = client.get(f"{API}/me")
    error_of(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("credentials", ["Bearer not-a-token", "Basic dXNlcjpwYXNz", "revoked"])
def test_a_401_for_a_bad_token_says_invalid_token(app, factory, credentials):
    if credentials == "revoked":
        token, secret = create_token(factory.user(Role.AGENT), name="old", scope="read")
        revoke_token(token.user, token.id)
        credentials = f"Bearer {secret}"
    response = app.test_client().get(f"{API}/me", headers={"Authorization": credentials})
    error_of(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_a_read_only_token_on_a_write_says_the_scope_it_needs(app, factory):
    response = app.test_client().post(f"{API}/sales", json={},
                                      headers=headers_for(factory.user(Role.AGENT), scope="read"))
    error_of(response, 403)
    challenge = 'Bearer realm="api", error="insufficient_scope", scope="sales:write"'
    assert response.headers["WWW-Authenticate"] == challenge


def test_the_openapi_document_describes_the_headers(app):
    spec = app.test_client().get(f"{API}/openapi.json").json
    responses = spec["paths"]["/me"]["get"]["responses"]
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert responses["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
