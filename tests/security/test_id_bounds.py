"""Every id read from a request is bounded before it reaches a query (issue 12).

Ids are PostgreSQL INTEGERs: 2147483648 in a query fails it ("integer out of range"), and
99999999999999999999 does not even fit a BIGINT (SQLite: OverflowError); both were 500s. URL path
ids are covered by test_authorization_matrix; this sweeps the query string: every GET page (and
API read) is opened as each role that may see it, the query parameters its view reads are
recorded, and each is then given those numbers in turn. No answer may be a 5xx.
"""

from __future__ import annotations

from datetime import date

import pytest
from werkzeug.datastructures import ImmutableMultiDict

import webapp.blueprints  # noqa: F401  (registers every operation in REGISTRY)
from tests.security._world import World
from tests.web._streaming import streaming_browser
from webapp.api.framework import REGISTRY
from webapp.auth.tokens import create_token

HUGE = ("2147483648", "99999999999999999999")
SKIPPED = {"static", "auth.logout", "main.healthz", "mail_webhooks.mailchimp", "api.openapi_document",
           "api.docs"}
# Valid values for the other parameters a view reads, so a huge id gets past their checks to the query.
VALID = {"start": "2026-11-01", "end": "2026-11-20", "sold_on": "2026-11-20", "quantity": "1",
         "month": "2026-11"}
# The API reads its whole query string at once (a pydantic model): its names come from the models.
API_QUERY = {op.endpoint: set(op.query.model_fields) for op in REGISTRY if op.query is not None}


class _RecordingArgs(ImmutableMultiDict):
    """Query/form values that remember which names a view asked for."""

    asked: set[str] = set()

    def __contains__(self, key):
        _RecordingArgs.asked.add(key)
        return super().__contains__(key)

    def __getitem__(self, key):
        _RecordingArgs.asked.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None, type=None):  # noqa: A002  (werkzeug's signature)
        _RecordingArgs.asked.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):  # noqa: A002
        _RecordingArgs.asked.add(key)
        return super().getlist(key, type)


@pytest.fixture
def signed_in(app, factory, today):
    """Team B's agent and manager, and an admin: ids in URLs are theirs, so every page opens."""
    world = World(app, factory, today)
    users = {"agent": world.agent_b, "manager": world.manager_b, "admin": world.admin}
    clients = {role: streaming_browser(app, user).client for role, user in users.items()}
    bearer = {role: {"Authorization": f"Bearer {create_token(user, name='ids', scope='read')[1]}"}
              for role, user in users.items()}
    return world, clients, bearer


def _get_urls(app, world):
    """(endpoint, URL) of every GET rule, its path filled with ids team B's users may see."""
    ids = {**world.ids(), "agent_id": world.agent_b.id, "user_id": world.agent_b.id}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint in SKIPPED:
            continue
        with app.test_request_context():
            yield rule.endpoint, app.url_for(rule.endpoint, **{name: ids[name] for name in rule.arguments})


def test_every_id_in_a_query_string_is_bounded(app, signed_in, monkeypatch):
    world, clients, bearer = signed_in
    monkeypatch.setattr(app.request_class, "parameter_storage_class", _RecordingArgs)
    failures, swept = [], 0
    for endpoint, url in _get_urls(app, world):
        for role, client in clients.items():
            headers = bearer[role] if endpoint.startswith("api.") else {}
            _RecordingArgs.asked = set()
            # Each response is closed: a streamed download (a CSV) holds its request until then.
            with client.get(url, headers=headers) as response:
                if response.status_code in (302, 401, 403, 404):
                    continue  # not this role's page: its view never reads the query
            names = _RecordingArgs.asked | API_QUERY.get(endpoint, set())
            base = {name: value for name, value in VALID.items() if name in names}
            for name in sorted(names):
                for huge in HUGE:
                    swept += 1
                    try:  # testing apps re-raise what would be a 500
                        with client.get(url, query_string={**base, name: huge}, headers=headers) as response:
                            status = response.status_code
                    except Exception as exc:  # noqa: BLE001
                        status = f"500 ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})"
                    if not isinstance(status, int) or status >= 500:
                        failures.append(f"{role} GET {url}?{name}={huge}: {status}")
    assert swept > 100  # the sweep did reach the pages' parameters
    assert not failures, "\n".join(failures)


def test_the_live_estimate_answers_for_a_product_id_beyond_the_database(app, as_agent, today):
    today(date(2026, 11, 20))
    for huge in HUGE:
        response = as_agent.get(f"/sales/estimate?product_id={huge}&quantity=1")
        assert response.status_code == 200, (huge, response.status_code)


@pytest.mark.parametrize("period", ["²", "٣", "-1", "99999999999"])
def test_the_team_dashboard_period_is_an_id_only_in_plain_digits_within_range(as_manager, period):
    # "²".isdigit() is True but int("²") raises: it was a 500 ("٣" was read as period 3).
    response = as_manager.get("/manage/team", query_string={"period": period})
    assert response.status_code in (404, 422), (period, response.status_code)
