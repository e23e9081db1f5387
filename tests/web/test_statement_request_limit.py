"""Statements on request are limited per person and hour (an admin setting, default 5), counted from
the database under the requester's lock; the API takes an Idempotency-Key on POST /statements/runs
(issue 12, item 3)."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tests.conftest import Browser, browser_as
from tests.services.test_concurrency import WAIT, committed  # noqa: F401  (a real committing session)
from tests.support.committed import in_threads
from tests.web._api import API, error_of, headers_for
from tests.web._html import by_id, text_of
from webapp.api.openapi import build_spec
from webapp.commissions.models import Settings
from webapp.commissions.periods import get_settings, period_for
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.statements import limits
from webapp.statements.models import Statement, StatementRun
from webapp.statements.services import start_period_run

TODAY = date(2026, 11, 20)
RANGE = {"start": "2026-11-01", "end": "2026-11-20"}
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)

pytestmark = pytest.mark.usefixtures("empty_queues")


@pytest.fixture
def at(at):
    """The shared clock fixture counted in minutes after T0: at(5) is T0 + 5 minutes; it starts at T0."""

    def move(minutes: float) -> datetime:
        return at(T0 + timedelta(minutes=minutes))

    move(0)
    return move


@pytest.fixture
def team(build, at):
    """Maria's team (Alice, Bob), with a plan each; today is Nov 20."""
    build.on(TODAY)
    maria, (alice, bob) = build.team("Maria", "Alice", "Bob")
    return {"maria": maria, "alice": alice, "bob": bob}


def issued() -> tuple[int, int, int, int]:
    """Runs, statements, emails and the statement number counter."""
    return (db.session.scalar(select(func.count()).select_from(StatementRun)),
            db.session.scalar(select(func.count()).select_from(Statement)),
            db.session.scalar(select(func.count()).select_from(OutgoingEmail)),
            db.session.scalar(select(Settings.last_statement_number)))


def allowance_text(page: str, element_id: str = "request-allowance") -> str:
    """The sentence saying how many requests are left."""
    tag = by_id(page, element_id)
    assert tag is not None, page
    return text_of(tag)


def request(browser: Browser):
    """An agent's "Request statement" click."""
    return browser.post("/statements/request", RANGE, token_from="/statements")


# --- the agent's page ------------------------------------------------------------------------------


def test_the_page_says_the_limit_and_what_is_left(app, team, at):
    alice = browser_as(app, team["alice"])
    page = alice.get("/statements").get_data(as_text=True)
    assert allowance_text(page) == "You can request 5 statements an hour; 5 left."
    for minute in (0, 10):
        at(minute)
        assert request(alice).status_code == 303
    page = alice.get("/statements").get_data(as_text=True)
    assert allowance_text(page) == "You can request 5 statements an hour; 3 left."


def test_the_request_beyond_the_limit_is_429_with_retry_after_and_issues_nothing(app, team, at):
    alice = browser_as(app, team["alice"])
    for minute in (0, 5, 10, 15, 20):
        at(minute)
        assert request(alice).status_code == 303
    at(25)
    before = issued()
    response = request(alice)
    assert response.status_code == 429
    # The oldest counted request (T0) leaves the window at T0 + 60 min: 35 minutes from now.
    assert response.headers["Retry-After"] == str(35 * 60)
    page = response.get_data(as_text=True)
    assert ('<div class="form-error" role="alert">You have made 5 statement requests in the last hour, the most '
            'allowed. Try again in 35 minutes.</div>') in page
    assert allowance_text(page) == "You can request 5 statements an hour; none left now: the next one in 35 minutes."
    assert issued() == before


def test_requests_older_than_an_hour_no_longer_count(app, team, at):
    alice = browser_as(app, team["alice"])
    for minute in (0, 1, 2, 3, 4):
        at(minute)
        assert request(alice).status_code == 303
    at(60.5)  # the first request left the window
    assert request(alice).status_code == 303
    assert request(alice).status_code == 429
    at(64.5)  # and now the next four
    assert allowance_text(alice.get("/statements").get_data(as_text=True)) == (
        "You can request 5 statements an hour; 4 left.")


def test_the_limit_is_per_person_and_period_runs_do_not_count(app, team, at):
    alice, bob = browser_as(app, team["alice"]), browser_as(app, team["bob"])
    start_period_run(team["maria"], period_for(date(2026, 11, 1)))
    for _ in range(5):
        assert request(alice).status_code == 303
    assert request(alice).status_code == 429
    assert request(bob).status_code == 303, "Bob's requests are his own"


# --- a manager's sends -------------------------------------------------------------------------------


def send(browser: Browser, agent_ids: list[int]):
    """A manager's "Send statements"."""
    return browser.post("/statements/send", {**RANGE, "agent_ids": agent_ids, "message": "Figures"})


def test_a_managers_send_counts_once_whatever_the_number_of_agents(app, team):
    maria = browser_as(app, team["maria"])
    page = maria.get("/statements/send").get_data(as_text=True)
    assert allowance_text(page, "send-allowance") == (
        "You can send statements 5 times an hour (a send counts once, however many agents it covers); 5 left.")
    everyone = [team["alice"].id, team["bob"].id]
    for _ in range(5):
        assert send(maria, everyone).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Statement)) == 10
    before = issued()
    response = send(maria, everyone)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) == 3600
    assert "You have made 5 statement requests in the last hour" in response.get_data(as_text=True)
    assert issued() == before
    # The manager's sends are the manager's: Alice may still ask for her own.
    assert request(browser_as(app, team["alice"])).status_code == 303


# --- the setting ----------------------------------------------------------------------------------------


def _settings_form(settings: Settings, **change) -> dict:
    """The settings form as posted, with `change`."""
    data = {"company_name": settings.company_name, "approval_required": "y",
            "period_cadence": settings.period_cadence, "grace_hours": str(settings.grace_hours),
            "reminder_days": str(settings.reminder_days),
            "statement_requests_per_hour": str(settings.statement_requests_per_hour)}
    data.update(change)
    return data


def test_an_admin_sets_the_limit_and_it_applies_at_once(app, team, factory):
    admin = browser_as(app, factory.user("admin"))
    response = admin.post("/admin/settings", _settings_form(get_settings(), statement_requests_per_hour="2"))
    assert response.status_code == 302
    assert get_settings().statement_requests_per_hour == 2
    alice = browser_as(app, team["alice"])
    assert allowance_text(alice.get("/statements").get_data(as_text=True)) == (
        "You can request 2 statements an hour; 2 left.")
    assert [request(alice).status_code for _ in range(3)] == [303, 303, 429]


@pytest.mark.parametrize("value, message", [
    ("0", "Allow 1 to 100 statement requests an hour."),
    ("101", "Allow 1 to 100 statement requests an hour."),
    ("five", "Enter the number of statement requests as a whole number."),
])
def test_a_bad_limit_is_refused_beside_the_field(app, factory, value, message):
    admin = browser_as(app, factory.user("admin"))
    response = admin.post("/admin/settings", _settings_form(get_settings(), statement_requests_per_hour=value))
    assert response.status_code == 422
    error = by_id(response.get_data(as_text=True), "statement_requests_per_hour-error")
    assert error is not None and text_of(error) == message
    assert get_settings().statement_requests_per_hour == 5


# --- the API: 429 with Retry-After ------------------------------------------------------------------------


def test_the_api_answers_429_with_retry_after_in_its_error_shape(api, team, at):
    headers = headers_for(team["alice"])
    for minute in range(5):
        at(minute * 2)
        assert api.post(f"{API}/statements/runs", json=RANGE, headers=headers).status_code == 201
    at(30)
    before = issued()
    response = api.post(f"{API}/statements/runs", json=RANGE, headers=headers)
    error = error_of(response, 429)
    assert error["code"] == "rate_limited"
    assert error["message"] == ("You have made 5 statement requests in the last hour, the most allowed. "
                                "Try again in 30 minutes.")
    assert response.headers["Retry-After"] == str(30 * 60)
    assert issued() == before


# --- the API: Idempotency-Key ----------------------------------------------------------------------------


def post_run(api, headers: dict, key: str | None, body: dict):
    """POST /statements/runs with an Idempotency-Key."""
    return api.post(f"{API}/statements/runs", json=body,
                    headers={**headers, **({"Idempotency-Key": key} if key else {})})


def test_a_retried_request_gets_the_first_run_and_issues_nothing(api, team):
    headers = headers_for(team["alice"])
    first = post_run(api, headers, "retry-key-0001", RANGE)
    assert first.status_code == 201
    before = issued()
    again = post_run(api, headers, "retry-key-0001", RANGE)
    assert again.status_code == 200
    assert again.json == first.json
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert issued() == before
    assert limits.allowance(team["alice"]).used == 1, "a replay is not a new request"


def test_the_same_key_with_another_body_is_409(api, team):
    maria = headers_for(team["maria"])
    body = {**RANGE, "agent_ids": [team["alice"].id, team["bob"].id], "message": "Hello"}
    assert post_run(api, maria, "manager-key-01", body).status_code == 201
    before = issued()
    for other in ({**body, "end": "2026-11-19"}, {**body, "message": "Hi"},
                  {**body, "agent_ids": [team["alice"].id]}):
        error = error_of(post_run(api, maria, "manager-key-01", other), 409)
        assert error["fields"] == {"Idempotency-Key": "This key was used for a different statement run; use a new "
                                                      "key for a new request."}
    assert issued() == before
    # The same agents in another order and a message with spaces around it are the same request.
    same = {**body, "agent_ids": [team["bob"].id, team["alice"].id], "message": " Hello "}
    assert post_run(api, maria, "manager-key-01", same).status_code == 200


def test_keys_are_per_user_and_requests_without_a_key_are_never_replayed(api, team):
    alice, bob = headers_for(team["alice"]), headers_for(team["bob"])
    mine = post_run(api, alice, "shared-key-001", RANGE)
    theirs = post_run(api, bob, "shared-key-001", RANGE)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json["id"] != theirs.json["id"]
    assert [post_run(api, alice, None, RANGE).status_code for _ in range(2)] == [201, 201]


def test_a_replay_is_answered_even_at_the_limit(api, team):
    headers = headers_for(team["alice"])
    first = post_run(api, headers, "early-key-0001", RANGE)
    for _ in range(4):
        assert post_run(api, headers, None, RANGE).status_code == 201
    assert post_run(api, headers, None, RANGE).status_code == 429
    again = post_run(api, headers, "early-key-0001", RANGE)
    assert (again.status_code, again.json["id"]) == (200, first.json["id"])


def test_a_malformed_key_is_400(api, team):
    error = error_of(post_run(api, headers_for(team["alice"]), "short", RANGE), 400)
    assert "Idempotency-Key" in error["fields"]


def test_the_key_and_the_limit_are_documented_on_the_operation(app):
    with app.app_context():
        operation = build_spec()["paths"]["/statements/runs"]["post"]
    [header] = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key" and header["schema"]["pattern"] == "^[A-Za-z0-9_-]{8,64}$"
    assert {"200", "201", "409", "429"} <= set(operation["responses"])
    assert "Retry-After" in operation["summary"]


# --- a burst of simultaneous requests (PostgreSQL: real row locks) ----------------------------------------


HOLD = 0.2  # seconds each request waits after counting, so every request of the burst counts at once


def _burst(app, tokens: list[dict], key: str | None = None) -> list:
    """Simultaneous POST /statements/runs from threads, one per token; their responses."""
    count = len(tokens)
    barrier, responses = threading.Barrier(count), [None] * count

    def send(index: int) -> None:
        """One client's request."""
        client = app.test_client()
        barrier.wait(WAIT)
        responses[index] = post_run(client, tokens[index], key, RANGE)

    in_threads(send, [()] * count, WAIT)
    return responses


@pytest.fixture
def slow_count(monkeypatch):
    """Each request lingers after counting (before it issues): without the lock, all count alike."""
    real = limits.allowance

    def allowance(user):
        result = real(user)
        time.sleep(HOLD)
        return result

    monkeypatch.setattr(limits, "allowance", allowance)


def _race_world(factory, today, count: int) -> tuple:
    """An agent with a plan and `count` write tokens (one per client, as a script run on several
    machines would have; one shared token would queue the requests on its last-used update), committed."""
    today(TODAY)
    agent = factory.user("agent")
    factory.assign(agent, factory.plan(base_rate="3", name=f"Race plan {agent.id}"))
    tokens = [headers_for(agent) for _ in range(count)]
    db.session.commit()
    return agent, tokens


def test_a_burst_of_simultaneous_requests_issues_no_more_than_the_limit(app, factory, today, committed, slow_count):
    agent, tokens = _race_world(factory, today, 8)
    responses = _burst(app, tokens)
    assert sorted(r.status_code for r in responses) == [201] * 5 + [429] * 3
    assert all(r.headers.get("Retry-After") for r in responses if r.status_code == 429)
    runs = db.session.scalar(select(func.count()).select_from(StatementRun)
                             .where(StatementRun.requested_by_id == agent.id))
    assert runs == 5


def test_simultaneous_retries_with_one_key_issue_one_run(app, factory, today, committed, slow_count):
    agent, tokens = _race_world(factory, today, 4)
    responses = _burst(app, tokens, key="burst-key-0001")
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({r.json["id"] for r in responses}) == 1
    runs = db.session.scalar(select(func.count()).select_from(StatementRun)
                             .where(StatementRun.requested_by_id == agent.id))
    assert runs == 1
