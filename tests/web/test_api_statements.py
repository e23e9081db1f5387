"""API v1 statements (issue 7): list, read, the stored PDF, ad-hoc runs and their progress; who
sees what, range and body validation, Redis down (503, nothing issued)."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from sqlalchemy import select

from tests.support.queues import jobs
from tests.web._api import API, count, error_of, headers_for
from webapp.commissions.models import Settings
from webapp.commissions.periods import period_for
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.statements.models import Statement, StatementRun
from webapp.tasks import UNAVAILABLE
from webapp.statements.services import start_adhoc_run, start_period_run

TODAY = date(2026, 11, 20)
NOVEMBER = {"start": "2026-11-01", "end": "2026-11-20"}


pytestmark = pytest.mark.usefixtures("empty_queues")  # jobs of earlier tests do not count


@pytest.fixture
def team(build, factory):
    """Maria's team (Alice, Bob) and Carol's, with November sales and one statement each.

    Alice's statement is rendered, Bob's (sent by Maria with a message) still pending."""
    build.on(TODAY)
    maria, (alice, bob) = build.team("Maria", "Alice", "Bob")
    other_manager, (carol,) = build.team(None, "Carol")
    product = factory.product(name="Monitor", sku="MON-1")
    for agent, amount in ((alice, "1000.00"), (bob, "400.00"), (carol, "700.00")):
        factory.sale(agent, amount, date(2026, 11, 5), product=product)
    start = date(2026, 11, 1)
    alice_run = start_adhoc_run(alice, agent_ids=[], start=start, end=TODAY)
    team_run = start_adhoc_run(maria, agent_ids=[bob.id], start=start, end=TODAY, message="Monthly figures")
    carol_run = start_adhoc_run(carol, agent_ids=[], start=start, end=TODAY)
    rendered = alice_run.statements[0]
    render(rendered)
    db.session.flush()
    return {"maria": maria, "alice": alice, "bob": bob, "carol": carol, "other_manager": other_manager,
            "admin": factory.user("admin"), "alice_statement": rendered,
            "bob_statement": team_run.statements[0], "carol_statement": carol_run.statements[0],
            "alice_run": alice_run, "team_run": team_run, "carol_run": carol_run}


def render(statement: Statement) -> None:
    """Store PDF bytes as the render job would (WeasyPrint runs in the worker, not here)."""
    statement.pdf = b"%PDF-1.7\n% a statement\n"
    statement.pdf_sha256, statement.status = hashlib.sha256(statement.pdf).hexdigest(), "rendered"


def issued() -> tuple[int, int, int, int]:
    """Runs, statements, emails and the statement number counter: what a refused request must not change."""
    return (count(StatementRun), count(Statement), count(OutgoingEmail),
            db.session.scalar(select(Settings.last_statement_number)))


def numbers(response) -> list[int]:
    """The numbers of a page of statements."""
    assert response.status_code == 200, response.json
    return [item["number"] for item in response.json["items"]]


# --- GET /statements ----------------------------------------------------------------------------------------


def test_each_role_lists_the_statements_it_may_see_newest_first(api, team):
    a, b, c = (team[f"{name}_statement"].number for name in ("alice", "bob", "carol"))
    assert numbers(api.get(f"{API}/statements", headers=headers_for(team["alice"]))) == [a]
    assert numbers(api.get(f"{API}/statements", headers=headers_for(team["carol"]))) == [c]
    assert numbers(api.get(f"{API}/statements", headers=headers_for(team["maria"], "read"))) == [b, a]
    assert numbers(api.get(f"{API}/statements", headers=headers_for(team["other_manager"]))) == [c]
    assert numbers(api.get(f"{API}/statements", headers=headers_for(team["admin"])))[:3] == [c, b, a]


def test_a_listed_statement_shows_its_figures_and_where_its_pdf_and_email_stand(api, team):
    [item] = api.get(f"{API}/statements", headers=headers_for(team["alice"])).json["items"]
    statement = team["alice_statement"]
    assert (item["id"], item["agent_id"], item["agent_name"], item["kind"]) == (
        statement.id, team["alice"].id, "Alice", "adhoc")
    assert (item["start"], item["end"], item["period_label"]) == ("2026-11-01", "2026-11-20", None)
    assert (item["status"], item["pdf_sha256"], item["email_status"]) == (
        "rendered", statement.pdf_sha256, "queued")
    assert item["totals"] == {"volume": "1000.00", "earned": "30.00", "spiffs": "0.00", "adjustments": "0.00",
                              "total": "30.00", "opening": "0.00", "payouts": "0.00", "closing": "30.00"}


def test_list_filters_and_pages(api, team):
    maria = headers_for(team["maria"])
    assert numbers(api.get(f"{API}/statements?agent_id={team['bob'].id}", headers=maria)) == [
        team["bob_statement"].number]
    assert numbers(api.get(f"{API}/statements?kind=period", headers=maria)) == []
    first = api.get(f"{API}/statements?limit=1", headers=maria).json
    second = api.get(f"{API}/statements?limit=1&cursor={first['next_cursor']}", headers=maria).json
    assert [i["number"] for i in first["items"] + second["items"]] == [team["bob_statement"].number,
                                                                         team["alice_statement"].number]
    assert second["next_cursor"] is None


def test_another_agent_as_a_list_filter_is_404_and_bad_queries_are_422(api, team):
    assert error_of(api.get(f"{API}/statements?agent_id={team['bob'].id}",
                            headers=headers_for(team["alice"])), 404)
    assert error_of(api.get(f"{API}/statements?agent_id={team['carol'].id}",
                            headers=headers_for(team["maria"])), 404)
    for query, field in (("kind=weekly", "kind"), ("limit=0", "limit"), ("cursor=x", "cursor"),
                         ("agent_id=me", "agent_id"), ("page=2", "page")):
        assert field in error_of(api.get(f"{API}/statements?{query}", headers=headers_for(team["maria"])),
                                 422)["fields"]


# --- GET /statements/{id} and its PDF -----------------------------------------------------------------------


def test_a_statement_has_every_line_as_issued(api, team):
    statement = team["bob_statement"]
    response = api.get(f"{API}/statements/{statement.id}", headers=headers_for(team["bob"]))
    assert response.status_code == 200, response.json
    detail = response.json
    assert (detail["number"], detail["message"], detail["currency"], detail["status"]) == (
        statement.number, "Monthly figures", statement.snapshot["currency"], "pending")
    [line] = detail["lines"]
    assert (line["date"], line["product"], line["amount"], line["rate"], line["commission"]) == (
        "2026-11-05", "Monitor", "400.00", "3", "12.00")
    assert detail["adjustments"] == [] and detail["payouts"] == []


def test_statements_of_others_are_404(api, team):
    alice_statement = team["alice_statement"]
    for user in (team["bob"], team["carol"], team["other_manager"]):
        assert error_of(api.get(f"{API}/statements/{alice_statement.id}", headers=headers_for(user)), 404)
        assert error_of(api.get(f"{API}/statements/{alice_statement.id}/pdf", headers=headers_for(user)), 404)
    for user in (team["alice"], team["maria"], team["admin"]):
        assert api.get(f"{API}/statements/{alice_statement.id}", headers=headers_for(user)).status_code == 200
    assert error_of(api.get(f"{API}/statements/999999", headers=headers_for(team["admin"])), 404)


def test_the_pdf_is_the_stored_bytes_with_their_sha256(api, team):
    statement = team["alice_statement"]
    response = api.get(f"{API}/statements/{statement.id}/pdf", headers=headers_for(team["alice"], "read"))
    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.data == statement.pdf
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(response.data).hexdigest()
    assert f"statement-{statement.number}.pdf" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"  # issue 12: authenticated, never kept


def test_the_pdf_is_404_until_it_is_rendered(api, team):
    error = error_of(api.get(f"{API}/statements/{team['bob_statement'].id}/pdf",
                             headers=headers_for(team["bob"])), 404)
    assert (error["code"], error["message"]) == ("not_found", "This statement's PDF is not ready yet.")


# --- POST /statements/runs ----------------------------------------------------------------------------------


def test_an_agent_requests_their_own_statement_and_jobs_follow_the_commit(api, team):
    before_runs = count(StatementRun)
    response = api.post(f"{API}/statements/runs", headers=headers_for(team["alice"]), json=NOVEMBER)
    assert response.status_code == 201, response.json
    run = response.json
    assert (run["kind"], run["start"], run["end"], run["message"]) == (
        "adhoc", "2026-11-01", "2026-11-20", None)
    assert (run["total"], run["rendered"], run["sent"], run["failed"], run["finished"]) == (1, 0, 0, 0, False)
    [item] = run["statements"]
    assert (item["agent_id"], item["status"], item["email_status"]) == (team["alice"].id, "pending", "queued")
    assert count(StatementRun) == before_runs + 1
    assert jobs("default") == [("jobs.statements.render_statement", (item["id"],))]
    own = api.post(f"{API}/statements/runs", headers=headers_for(team["alice"]),
                   json={**NOVEMBER, "agent_ids": [team["alice"].id]})
    assert own.status_code == 201


def test_a_manager_sends_statements_to_team_agents_with_a_message(api, team):
    response = api.post(f"{API}/statements/runs", headers=headers_for(team["maria"]),
                        json={**NOVEMBER, "agent_ids": [team["alice"].id, team["bob"].id],
                              "message": "Quarter review on Friday"})
    assert response.status_code == 201, response.json
    assert response.json["message"] == "Quarter review on Friday" and response.json["total"] == 2
    run = db.session.get(StatementRun, response.json["id"])
    assert {s.agent_id for s in run.statements} == {team["alice"].id, team["bob"].id}
    assert all(s.snapshot["message"] == "Quarter review on Friday" for s in run.statements)


@pytest.mark.parametrize("who, payload, field", [
    ("alice", {**NOVEMBER, "agent_ids": [0]}, "agent_ids.0"),
    ("alice", {**NOVEMBER, "agent_ids": ["bob"]}, "agent_ids.0"),
    ("alice", {**NOVEMBER, "agent_ids": "all"}, "agent_ids"),
    ("alice", {**NOVEMBER, "agent_ids": [-1]}, "agent_ids.0"),
    ("alice", "bob_ids", "agent_ids"),
    ("maria", {**NOVEMBER}, "agent_ids"),
    ("maria", {**NOVEMBER, "agent_ids": []}, "agent_ids"),
    ("maria", "carol_ids", "agent_ids"),
    ("maria", {**NOVEMBER, "agent_ids": [999999]}, "agent_ids"),
    ("maria", {**NOVEMBER, "agent_ids": "bob", "message": "m" * 2001}, "message"),
    ("alice", {"start": "2026-11-10", "end": "2026-11-01"}, "end"),
    ("alice", {"start": "2025-11-01", "end": "2026-11-02"}, "end"),
    ("alice", {"start": "2026-11-21", "end": "2026-11-22"}, "start"),
    ("alice", {"start": "2026-11-01T00:00:00", "end": "2026-11-20"}, "start"),
    ("alice", {"start": "2026-11-01", "end": "2026-11-20T00:00:00Z"}, "end"),
    ("alice", {"start": "2026-11-31", "end": "2026-12-01"}, "start"),
    ("alice", {"start": 20261101, "end": "2026-11-20"}, "start"),
    ("alice", {"end": "2026-11-20"}, "start"),
    ("alice", {**NOVEMBER, "period_id": 1}, "period_id"),
])
def test_bad_run_requests_are_422_with_the_field_and_issue_nothing(api, team, who, payload, field):
    ids = {"bob_ids": [team["bob"].id], "carol_ids": [team["carol"].id], "bob": [team["bob"].id]}
    if isinstance(payload, str):
        payload = {**NOVEMBER, "agent_ids": ids[payload]}
    elif payload.get("agent_ids") == "bob":
        payload = {**payload, "agent_ids": ids["bob"]}
    headers = headers_for(team[who])
    before = issued()
    error = error_of(api.post(f"{API}/statements/runs", headers=headers, json=payload), 422)
    assert field in error["fields"], error
    assert issued() == before and jobs("default") == []


def test_run_requests_need_a_write_token_and_json(api, team):
    before = issued()
    assert error_of(api.post(f"{API}/statements/runs", headers=headers_for(team["alice"], "read"),
                             json=NOVEMBER), 403)
    assert error_of(api.post(f"{API}/statements/runs", json=NOVEMBER), 401)
    headers = {**headers_for(team["alice"]), "Content-Type": "application/json"}
    assert error_of(api.post(f"{API}/statements/runs", headers=headers, data='{"start": '), 400)
    assert error_of(api.post(f"{API}/statements/runs", headers=headers_for(team["alice"]), data=NOVEMBER),
                    415)
    assert error_of(api.post(f"{API}/statements/runs", headers=headers,
                             data='{"message": "' + "m" * 70_000 + '"}'), 413)
    assert issued() == before


def test_redis_down_is_503_in_the_error_shape_and_issues_nothing(api, team, redis_down):
    headers = {"alice": headers_for(team["alice"]), "maria": headers_for(team["maria"])}
    before = issued()
    error = error_of(api.post(f"{API}/statements/runs", headers=headers["alice"], json=NOVEMBER), 503)
    assert (error["code"], error["message"]) == ("unavailable", UNAVAILABLE)
    error = error_of(api.post(f"{API}/statements/runs", headers=headers["maria"],
                              json={**NOVEMBER, "agent_ids": [team["bob"].id]}), 503)
    assert error["code"] == "unavailable"
    assert issued() == before
    invalid = api.post(f"{API}/statements/runs", headers=headers["alice"], json={"start": "2026-11-10",
                                                                                 "end": "2026-11-01"})
    assert invalid.status_code == 422, "a bad range is reported first"


# --- GET /statements/runs/{id} ------------------------------------------------------------------------------


def test_run_progress_counts_rendered_sent_and_failed(api, team):
    run = team["team_run"]
    maria = headers_for(team["maria"])
    progress = api.get(f"{API}/statements/runs/{run.id}", headers=maria).json
    counts = ("total", "rendered", "sent", "failed", "finished")
    assert tuple(progress[name] for name in counts) == (1, 0, 0, 0, False)
    statement = team["bob_statement"]
    render(statement)
    email = db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.statement_id == statement.id))
    email.status = "sent"
    db.session.flush()
    progress = api.get(f"{API}/statements/runs/{run.id}", headers=maria).json
    assert tuple(progress[name] for name in counts) == (1, 1, 1, 0, True)
    assert progress["statements"] == [{"id": statement.id, "number": statement.number, "status": "rendered",
                                       "agent_id": team["bob"].id, "email_status": "sent"}]
    email.status, email.last_error = "failed", "Mailbox full"
    db.session.flush()
    assert api.get(f"{API}/statements/runs/{run.id}", headers=maria).json["failed"] == 1


def test_runs_are_visible_to_their_requester_the_team_manager_and_admins(api, team):
    alice_run, team_run, carol_run = team["alice_run"], team["team_run"], team["carol_run"]
    for user, run in ((team["alice"], alice_run), (team["maria"], alice_run), (team["maria"], team_run),
                      (team["admin"], carol_run), (team["carol"], carol_run),
                      (team["other_manager"], carol_run)):
        assert api.get(f"{API}/statements/runs/{run.id}", headers=headers_for(user)).status_code == 200
    for user, run in ((team["bob"], alice_run), (team["alice"], team_run), (team["alice"], carol_run),
                      (team["maria"], carol_run), (team["other_manager"], alice_run)):
        assert error_of(api.get(f"{API}/statements/runs/{run.id}", headers=headers_for(user)), 404)
    assert error_of(api.get(f"{API}/statements/runs/999999", headers=headers_for(team["admin"])), 404)


def test_a_runs_statements_come_a_page_at_a_time_by_number(api, team):
    # A period run holds every agent's statement: ten thousand in one answer would be megabytes.
    run = start_period_run(None, period_for(date(2026, 11, 1)))
    db.session.commit()
    admin = headers_for(team["admin"])
    numbers = sorted(s.number for s in run.statements)
    assert len(numbers) == 3
    first = api.get(f"{API}/statements/runs/{run.id}?limit=2", headers=admin).json
    assert [s["number"] for s in first["statements"]] == numbers[:2] and first["total"] == 3
    rest = api.get(f"{API}/statements/runs/{run.id}?limit=2&cursor={first['next_cursor']}", headers=admin).json
    assert [s["number"] for s in rest["statements"]] == numbers[2:] and rest["next_cursor"] is None
    # A manager pages over their own team's statements only (Carol's is another team's).
    maria = api.get(f"{API}/statements/runs/{run.id}?limit=1", headers=headers_for(team["maria"])).json
    assert maria["total"] == 2 and len(maria["statements"]) == 1 and maria["next_cursor"] is not None
    assert error_of(api.get(f"{API}/statements/runs/{run.id}?limit=0", headers=admin), 422)
    assert error_of(api.get(f"{API}/statements/runs/{run.id}?cursor=nonsense", headers=admin), 422)


# --- POST /periods/{id}/statements ------------------------------------------------------------------


def test_a_manager_issues_the_next_ended_period_once(api, team, outbox):
    maria = headers_for(team["maria"])
    first, second = period_for(date(2026, 11, 1)), period_for(date(2026, 11, 16))
    assert "Nov 1" in error_of(api.post(f"{API}/periods/{second.id}/statements", headers=maria), 409)["message"], \
        "periods go in order (and the second has not ended)"
    before = count(StatementRun)
    response = api.post(f"{API}/periods/{first.id}/statements", headers=maria)
    assert response.status_code == 201, response.json
    assert (response.json["kind"], response.json["start"], response.json["end"]) == ("period", "2026-11-01",
                                                                                      "2026-11-15")
    assert response.json["total"] == 2, "Maria sees her team's two statements"
    assert count(StatementRun) == before + 1
    db.session.expire_all()
    assert period_for(date(2026, 11, 1)).status == "closed"
    again = api.post(f"{API}/periods/{first.id}/statements", headers=maria)
    assert again.status_code == 200 and again.json["id"] == response.json["id"] and count(StatementRun) == before + 1
    assert "has not ended" in error_of(api.post(f"{API}/periods/{second.id}/statements", headers=maria),
                                       409)["message"]
    assert error_of(api.post(f"{API}/periods/999999/statements", headers=maria), 404)


def test_issuing_a_period_is_refused_to_agents_unknown_ids_and_without_the_job_queue(api, team, redis_down):
    first = period_for(date(2026, 11, 1))
    before = count(StatementRun)
    assert error_of(api.post(f"{API}/periods/{first.id}/statements", headers=headers_for(team["alice"])), 403)
    assert error_of(api.post(f"{API}/periods/999999/statements", headers=headers_for(team["admin"])), 503)
    assert error_of(api.post(f"{API}/periods/{first.id}/statements", headers=headers_for(team["maria"])), 503)
    assert count(StatementRun) == before and period_for(date(2026, 11, 1)).status == "open"


def test_periods_are_issued_in_order_and_a_skipped_one_is_refused(api, team, build):
    build.on(date(2026, 12, 5))  # both halves of November have ended
    maria = headers_for(team["maria"])
    first, second = period_for(date(2026, 11, 1)), period_for(date(2026, 11, 16))
    error = error_of(api.post(f"{API}/periods/{second.id}/statements", headers=maria), 409)
    assert error["message"] == f"Periods are issued in order: issue {first.label} first."
    assert api.post(f"{API}/periods/{first.id}/statements", headers=maria).status_code == 201
    assert api.post(f"{API}/periods/{second.id}/statements", headers=maria).status_code == 201
    october = period_for(date(2026, 10, 20))  # never issued, and now behind issued ones
    assert "A later period was issued already" in error_of(
        api.post(f"{API}/periods/{october.id}/statements", headers=maria), 409)["message"]
