"""Helpers of the API tests: tokens as headers, the error shape, row counts."""

from __future__ import annotations

from tests.support.rows import count  # noqa: F401  (the API tests count rows through this module)
from webapp.auth.tokens import create_token

API = "/api/v1"


def headers_for(user, scope: str = "write") -> dict:
    """The Authorization header of a fresh token of `user`."""
    return {"Authorization": f"Bearer {create_token(user, name=f'test {scope}', scope=scope)[1]}"}


def error_of(response, status: int) -> dict:
    """The response's error object, after checking its status and the API's one error shape."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert set(response.json) == {"error"}
    assert set(response.json["error"]) == {"code", "message", "fields"}
    return response.json["error"]


def every_item(api, path: str, headers, query: str = "", limit: int = 2) -> list[dict]:
    """Every item a list operation gives for `query`, following next_cursor page by page."""
    items, cursor = [], None
    while True:
        page = api.get(f"{API}{path}?limit={limit}&{query}" + (f"&cursor={cursor}" if cursor else ""), headers=headers)
        assert page.status_code == 200, page.json
        items += page.json["items"]
        if (cursor := page.json["next_cursor"]) is None:
            return items
