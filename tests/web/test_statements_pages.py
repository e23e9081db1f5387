"""Statement pages (issue 6, items 1, 2, 6, 7): lists, the statement page and its PDF, requests
and sends with their bad inputs, Redis down, run progress, delivery status and Resend."""

from __future__ import annotations

import hashlib
import re
from datetime import date

import pytest
from rq import Queue
from sqlalchemy import func, select

from tests.conftest import browser_as
from tests.support.queues import jobs
from tests.web._html import by_id, field_error, html_of, tags, text_of, within
from webapp.commissions.models import Settings
from webapp.commissions.periods import period_for
from webapp.extensions import db, redis_client
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import deliver_email
from webapp.statements.models import Statement, StatementRun
from webapp.tasks import UNAVAILABLE
from webapp.statements.rendering import render_statement
from webapp.statements.services import start_adhoc_run, start_period_run, statement_html

HTMX = {"HX-Request": "true"}
NOV = {"start": "2026-11-01", "end": "2026-11-17"}  # a valid range: Nov 17 is "today"


def d(day: int, month: int = 11) -> date:
    return date(2026, month, day)


# --- fixtures and helpers -------------------------------------------------------------------------


pytestmark = pytest.mark.usefixtures("empty_queues")  # jobs of earlier tests do not count


@pytest.fixture
def team(build, factory):
    """Alice and Bob on Maria's team, Carol on another team; November sales; Nov 1-15 has ended."""
    build.on(d(10))
    maria, (alice, bob) = build.team("Maria Lopez", "Alice Chen", "Bob Martin")
    other_manager, (carol,) = build.team(None, "Carol Diaz")
    product = factory.product(name="Patient monitor", sku="MED-100")
    factory.sale(alice, "1000.00", d(3), product=product)
    factory.sale(alice, "2500.50", d(9), product=product)
    factory.sale(bob, "400.00", d(5), product=product)
    factory.sale(carol, "700.00", d(6), product=product)
    build.on(d(17))
    return {"maria": maria, "alice": alice, "bob": bob, "carol": carol, "other_manager": other_manager}


def issue_period() -> dict[int, Statement]:
    """Issue Nov 1-15 (as the scheduler would) and commit; statements by agent id."""
    run = start_period_run(None, period_for(d(1)))
    db.session.commit()
    return {s.agent_id: s for s in run.statements}


def counts() -> tuple[int, int, int]:
    """Runs, statements, and the statement number counter: what a refused request must not change."""
    return (db.session.scalar(select(func.count()).select_from(StatementRun)),
            db.session.scalar(select(func.count()).select_from(Statement)),
            db.session.scalar(select(Settings.last_statement_number)))


def email_of(statement: Statement) -> OutgoingEmail:
    return db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.statement_id == statement.id))


def listed_numbers(page: str) -> list[int]:
    """Statement numbers in the list, top to bottom."""
    table = by_id(page, "statements-table")
    assert table is not None
    return [int(n) for n in re.findall(r"<strong>No\. (\d+)</strong>", page)]


# --- lists ------------------------------------------------------------------------------------------


def test_agent_lists_own_statements_newest_first_with_kind_range_balance_and_delivery(app, team):
    issued = issue_period()
    adhoc = start_adhoc_run(team["alice"], agent_ids=[], start=d(1), end=d(17)).statements[0]
    db.session.commit()
    page = html_of(browser_as(app, team["alice"]).get("/statements"))
    mine = issued[team["alice"].id]
    assert listed_numbers(page) == [adhoc.number, mine.number]
    assert issued[team["bob"].id].number not in listed_numbers(page)
    rows = [t for t in tags(page, "tr") if "No. " in t.text]
    assert "Ad hoc" in text_of(rows[0]) and "Nov 1–17, 2026" in text_of(rows[0])
    assert "Period" in text_of(rows[1]) and "Nov 1–15, 2026" in text_of(rows[1])
    assert "$105.02" in text_of(rows[1])  # 30.00 + 75.02 earned, nothing paid
    assert "Being prepared" in text_of(rows[1])


def test_manager_lists_the_team_only_and_filters_by_agent_period_and_kind(app, team):
    issued = issue_period()
    adhoc = start_adhoc_run(team["maria"], agent_ids=[team["bob"].id], start=d(1), end=d(17)).statements[0]
    db.session.commit()
    maria = browser_as(app, team["maria"])
    page = html_of(maria.get("/statements"))
    numbers = listed_numbers(page)
    assert set(numbers) == {issued[team["alice"].id].number, issued[team["bob"].id].number, adhoc.number}
    assert issued[team["carol"].id].number not in numbers
    table = {**HTMX, "HX-Target": "statements-table"}
    by_agent = html_of(maria.get(f"/statements?agent_id={team['bob'].id}", headers=table))
    assert "<html" not in by_agent, "the filter answers the table fragment"
    assert set(listed_numbers(by_agent)) == {issued[team["bob"].id].number, adhoc.number}
    assert listed_numbers(html_of(maria.get("/statements?kind=adhoc"))) == [adhoc.number]
    period = period_for(d(1))
    # The period filter shows statements covering the period, ad-hoc ranges overlapping it included.
    assert set(listed_numbers(html_of(maria.get(f"/statements?period_id={period.id}&kind=period")))) == {
        issued[team["alice"].id].number, issued[team["bob"].id].number}


def test_the_list_shows_each_statements_delivery_status(app, team, outbox):
    issued = issue_period()
    alice, bob, carol = (issued[team[name].id] for name in ("alice", "bob", "carol"))
    for statement in (alice, bob, carol):
        render_statement(statement.id)
    deliver_email(email_of(alice).id)
    email = email_of(bob)
    email.status, email.last_error = "rejected", "hard-bounce"
    db.session.commit()
    page = html_of(browser_as(app, team["maria"]).get("/statements"))
    rows = {text_of(t).split()[1]: text_of(t) for t in tags(page, "tr") if "No. " in t.text}
    assert "Sent" in rows[str(alice.number)] and "PDF of statement" in rows[str(alice.number)]
    assert "Rejected" in rows[str(bob.number)]


def test_admin_lists_every_agents_statements(app, team, factory):
    issued = issue_period()
    page = html_of(browser_as(app, factory.user("admin")).get("/statements"))
    assert set(listed_numbers(page)) >= {s.number for s in issued.values()}


# --- one statement: page, PDF, status ---------------------------------------------------------------


def test_statement_page_shows_the_snapshot_in_the_portal_and_says_the_pdf_is_being_prepared(app, team):
    statement = issue_period()[team["alice"].id]
    page = html_of(browser_as(app, team["alice"]).get(f"/statements/{statement.id}"))
    assert f"Statement No. {statement.number}" in page and "Alice Chen" in page and "Patient monitor" in page
    assert "$2,500.50" in page and "$75.02" in page and "Closing unpaid balance" in page
    assert by_id(page, "main") is not None and "Sign out" in page, "inside the portal layout"
    assert "Being prepared" in page
    assert f"/statements/{statement.id}.pdf" not in page, "no download link before the PDF exists"
    status = by_id(page, "statement-status")
    assert status.attrs["hx-trigger"] == "every 2s"
    assert status.attrs["hx-get"].endswith(f"/statements/{statement.id}/status")


def test_the_agent_may_dispute_a_line_from_the_page_but_not_from_the_pdf_or_as_manager(app, team):
    statement = issue_period()[team["alice"].id]
    line_entry = statement.snapshot["lines"][0]["entry_id"]
    page = html_of(browser_as(app, team["alice"]).get(f"/statements/{statement.id}"))
    assert f"/ledger/{line_entry}/dispute" in page
    assert "/ledger/" not in html_of(browser_as(app, team["maria"]).get(f"/statements/{statement.id}"))
    assert "Dispute" not in statement_html(statement, for_pdf=True)


def test_pdf_download_serves_exactly_the_stored_bytes_with_their_sha256(app, team):
    statement = issue_period()[team["alice"].id]
    alice = browser_as(app, team["alice"])
    assert alice.get(f"/statements/{statement.id}.pdf").status_code == 404, "not rendered yet"
    assert render_statement(statement.id) == "rendered"
    response = alice.get(f"/statements/{statement.id}.pdf")
    assert response.status_code == 200
    stored = db.session.scalar(select(Statement.pdf).where(Statement.id == statement.id))
    body = response.get_data()
    assert body == stored and body.startswith(b"%PDF")
    digest = hashlib.sha256(body).hexdigest()
    assert response.headers["X-Content-SHA256"] == digest
    assert response.headers["ETag"] == f'"{digest}"'
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f"attachment; filename=statement-{statement.number}.pdf"
    assert response.headers["Cache-Control"] == "no-store"  # issue 12: authenticated, never kept
    page = html_of(alice.get(f"/statements/{statement.id}"))
    assert f"/statements/{statement.id}.pdf" in page and "Download PDF" in page


def test_manager_and_admin_open_a_team_statement_and_its_pdf(app, team, factory):
    statement = issue_period()[team["bob"].id]
    render_statement(statement.id)
    for user in (team["maria"], factory.user("admin")):
        browser = browser_as(app, user)
        assert "Bob Martin" in html_of(browser.get(f"/statements/{statement.id}"))
        assert browser.get(f"/statements/{statement.id}.pdf").get_data() == statement.pdf


def test_another_agents_statement_is_404_on_every_route(app, team):
    issued = issue_period()
    bobs = issued[team["bob"].id]
    render_statement(bobs.id)
    alice = browser_as(app, team["alice"])
    for url in (f"/statements/{bobs.id}", f"/statements/{bobs.id}.pdf", f"/statements/{bobs.id}/status"):
        assert alice.get(url).status_code == 404, url
    assert alice.post(f"/statements/{bobs.id}/resend", token_from="/statements").status_code == 404
    carols = issued[team["carol"].id]
    maria = browser_as(app, team["maria"])
    for url in (f"/statements/{carols.id}", f"/statements/{carols.id}.pdf",
                f"/statements/{carols.id}/status"):
        assert maria.get(url).status_code == 404, url
    assert alice.get("/statements/999999").status_code == 404


# --- requesting and sending: success ------------------------------------------------------------------


def test_agent_requests_a_statement_for_a_date_range(app, team):
    alice = browser_as(app, team["alice"])
    response = alice.post("/statements/request", NOV, token_from="/statements")
    assert response.status_code == 303
    [run] = db.session.scalars(select(StatementRun)).all()
    assert response.headers["Location"].endswith(f"/statements/runs/{run.id}")
    [statement] = run.statements
    assert (run.kind, run.requested_by_id, statement.agent_id) == ("adhoc", team["alice"].id,
                                                                   team["alice"].id)
    assert period_for(d(1)).status == "open", "an ad-hoc statement closes nothing"
    assert jobs("default") == [("jobs.statements.render_statement", (statement.id,))], "after the commit"


def test_manager_sends_statements_to_chosen_agents_with_a_message(app, team):
    maria = browser_as(app, team["maria"])
    form = html_of(maria.get("/statements/send"))
    assert {t.attrs.get("value") for t in tags(form, "input") if t.attrs.get("name") == "agent_ids"} == {
        str(team["alice"].id), str(team["bob"].id)}
    response = maria.post("/statements/send", {**NOV, "agent_ids": [team["bob"].id],
                                               "message": "Quarter review on Friday"})
    assert response.status_code == 303
    [run] = db.session.scalars(select(StatementRun)).all()
    assert [s.agent_id for s in run.statements] == [team["bob"].id]
    assert run.statements[0].snapshot["message"] == "Quarter review on Friday"


def test_all_agents_sends_to_every_agent_of_the_team(app, team):
    maria = browser_as(app, team["maria"])
    response = maria.post("/statements/send", {**NOV, "all_agents": "y"})
    assert response.status_code == 303
    [run] = db.session.scalars(select(StatementRun)).all()
    assert {s.agent_id for s in run.statements} == {team["alice"].id, team["bob"].id}


def test_issuing_period_statements_asks_for_confirmation_then_closes_the_period(app, team):
    maria = browser_as(app, team["maria"])
    period = period_for(d(1))
    page = html_of(maria.get("/statements/issue"))
    assert "Nov 1–15, 2026" in page and "Closes the period for every team" in page
    refused = maria.post("/statements/issue", {"period_id": str(period.id)})
    assert refused.status_code == 422
    assert field_error(html_of(refused), "confirm") == "Tick the box to confirm that the period closes."
    assert counts()[:2] == (0, 0) and period_for(d(1)).status == "open"
    response = maria.post("/statements/issue", {"period_id": str(period.id), "confirm": "y"})
    assert response.status_code == 303
    [run] = db.session.scalars(select(StatementRun)).all()
    assert run.period_id == period.id and len(run.statements) == 3
    db.session.expire_all()
    assert period_for(d(1)).status == "closed"
    assert "Nothing to issue" in html_of(maria.get("/statements/issue")), "Nov 16-30 has not ended"


def test_issuing_a_period_someone_else_just_issued_is_refused(app, team):
    maria = browser_as(app, team["maria"])
    stale = html_of(maria.get("/statements/issue"))
    period_id = next(t.attrs["value"] for t in tags(stale, "input") if t.attrs.get("name") == "period_id")
    issue_period()
    response = maria.post("/statements/issue", {"period_id": period_id, "confirm": "y"},
                          token_from="/statements")
    assert response.status_code == 409 and "issued meanwhile" in html_of(response)
    assert db.session.scalar(select(func.count()).select_from(StatementRun)) == 1


# --- bad input: 422 beside the field, nothing written -------------------------------------------------


@pytest.mark.parametrize("data, field, message", [
    ({"start": "", "end": ""}, "start", "Enter the first day."),
    ({"start": "2026-11-01", "end": ""}, "end", "Enter the last day."),
    ({"start": "2026-11-10", "end": "2026-11-09"}, "end", "The last day is before the first day."),
    ({"start": "2025-11-01", "end": "2026-11-02"}, "end", "A statement covers at most 366 days."),
    ({"start": "11/01/2026", "end": "2026-11-02"}, "start", "Enter the date as YYYY-MM-DD."),
])
def test_agent_request_bad_input_is_refused_beside_the_field_and_writes_nothing(app, team, data, field,
                                                                              message):
    before = counts()
    response = browser_as(app, team["alice"]).post("/statements/request", data, token_from="/statements")
    assert response.status_code == 422
    assert field_error(html_of(response), field) == message
    assert counts() == before


def test_a_range_of_exactly_366_days_is_accepted(app, team):
    alice = browser_as(app, team["alice"])
    year = {"start": "2025-11-17", "end": "2026-11-17"}  # 366 days, both ends included
    response = alice.post("/statements/request", year, token_from="/statements")
    assert response.status_code == 303


@pytest.mark.parametrize("change, field, message", [
    ({"start": "", "end": ""}, "start", "Enter the first day."),
    ({"end": "2026-10-31"}, "end", "The last day is before the first day."),
    ({"start": "2025-01-01"}, "end", "A statement covers at most 366 days."),
    ({"agent_ids": []}, "agent_ids", "Choose at least one agent."),
    ({"agent_ids": "OTHER_TEAM"}, "agent_ids", "Choose agents of your team."),
    ({"message": "x" * 2001}, "message", "Keep the message under 2000 characters."),
])
def test_manager_send_bad_input_is_refused_beside_the_field_and_writes_nothing(app, team, change, field,
                                                                              message):
    data = {**NOV, "agent_ids": [team["alice"].id], "message": "Hello"}
    data.update(change)
    if data["agent_ids"] == "OTHER_TEAM":
        data["agent_ids"] = [team["alice"].id, team["carol"].id]
    before = counts()
    response = browser_as(app, team["maria"]).post("/statements/send", data)
    assert response.status_code == 422
    assert field_error(html_of(response), field) == message
    assert counts() == before


# --- Redis down: 503, a clear message, nothing written ------------------------------------------------


def test_redis_down_refuses_an_agents_request_and_writes_nothing(app, team, redis_down):
    before = counts()
    alice = browser_as(app, team["alice"])
    response = alice.post("/statements/request", NOV, token_from="/statements")
    assert response.status_code == 503
    assert UNAVAILABLE in html_of(response)
    assert counts() == before


def test_redis_down_refuses_a_managers_send_and_a_period_issue_and_writes_nothing(app, team, redis_down):
    before = counts()
    maria = browser_as(app, team["maria"])
    response = maria.post("/statements/send", {**NOV, "all_agents": "y"})
    assert response.status_code == 503 and UNAVAILABLE in html_of(response)
    period = period_for(d(1))
    response = maria.post("/statements/issue", {"period_id": str(period.id), "confirm": "y"})
    assert response.status_code == 503 and UNAVAILABLE in html_of(response)
    assert counts() == before
    db.session.expire_all()
    assert period_for(d(1)).status == "open", "the period was not closed either"


# --- run progress ----------------------------------------------------------------------------------------


def _progress(browser, run_id):
    return browser.get(f"/statements/runs/{run_id}", headers={**HTMX, "HX-Target": "run-progress"})


def _stat(page: str, label: str) -> str:
    """A figure of the progress fragment, by its label."""
    match = re.search(rf"<dt>{label}</dt><dd>(\d+)</dd>", page)
    assert match, label
    return match.group(1)


def test_progress_polls_while_unfinished_and_stops_when_every_email_is_settled(app, team, outbox):
    maria = browser_as(app, team["maria"])
    maria.post("/statements/send", {**NOV, "all_agents": "y"})
    [run] = db.session.scalars(select(StatementRun)).all()
    page = html_of(maria.get(f"/statements/runs/{run.id}"))
    assert by_id(page, "run-progress").attrs["hx-trigger"] == "every 2s", "the full page polls too"

    response = _progress(maria, run.id)
    fragment = html_of(response)
    assert response.status_code == 200 and "<html" not in fragment
    assert by_id(fragment, "run-progress").attrs["hx-trigger"] == "every 2s"
    assert "0</strong> of 2 done" in fragment and _stat(fragment, "Statements") == "2"
    assert _stat(fragment, "PDFs rendered") == "0" and _stat(fragment, "Emails sent") == "0"

    first, second = run.statements
    render_statement(first.id)
    deliver_email(email_of(first).id)
    fragment = html_of(_progress(maria, run.id))
    assert "1</strong> of 2 done" in fragment and _stat(fragment, "Emails sent") == "1"
    assert "hx-trigger" in fragment

    render_statement(second.id)
    fragment = html_of(_progress(maria, run.id))
    assert _stat(fragment, "PDFs rendered") == "2" and "hx-trigger" in fragment, "an email is still queued"
    deliver_email(email_of(second).id)
    response = _progress(maria, run.id)
    fragment = html_of(response)
    assert response.status_code == 286, "htmx's stop-polling status"
    assert "hx-trigger" not in fragment and "All done" in fragment
    assert "2</strong> of 2 done" in fragment and _stat(fragment, "Emails sent") == "2"
    assert len(outbox.list()) == 2


def test_progress_lists_failures_with_their_error_and_finishes(app, team):
    alice = browser_as(app, team["alice"])
    alice.post("/statements/request", NOV, token_from="/statements")
    [run] = db.session.scalars(select(StatementRun)).all()
    [statement] = run.statements
    render_statement(statement.id)
    email = email_of(statement)
    email.status, email.attempts, email.last_error = "failed", 5, "ApiClientError: 500 internal error"
    db.session.commit()
    response = _progress(alice, run.id)
    fragment = html_of(response)
    assert response.status_code == 286
    assert "ApiClientError: 500 internal error" in fragment and _stat(fragment, "Failures") == "1"
    assert f"/statements/{statement.id}/resend" in fragment


def test_the_runs_sql_counts_agree_with_the_statement_pages_rule_for_every_state(app, team):
    # The run's counts are SQL (_DONE, _FAILED); a statement's own page uses _row_done. Every
    # combination of PDF state and email state (or none) must count the same way in both.
    from webapp.mail.models import EmailStatus
    from webapp.statements import queries
    from webapp.statements.models import StatementStatus

    statements = issue_period()
    statement, other = statements[team["alice"].id], statements[team["bob"].id]
    other.status, other.render_error = StatementStatus.FAILED, "settled"
    email = email_of(statement)
    for pdf in StatementStatus:
        for mail in [*EmailStatus, None]:
            statement.status = pdf
            if mail is None:
                db.session.delete(email)
            else:
                email = email_of(statement) or email
                if email not in db.session:
                    db.session.add(email := OutgoingEmail(**{c.key: getattr(email, c.key) for c in
                                                             OutgoingEmail.__table__.columns if c.key != "id"}))
                email.status = mail
            db.session.flush()
            progress = queries.run_progress(team["maria"], statement.run)
            row = queries.StatementRow(statement, email_of(statement))
            expected_done = queries.statement_final(statement, row.email) + 1  # Bob's failed PDF
            expected_failed = (pdf == StatementStatus.FAILED or mail in queries.RESENDABLE_EMAIL) + 1
            assert (progress.done, progress.failed, len(progress.failures)) == (
                expected_done, expected_failed, expected_failed), (pdf, mail)
            assert progress.rendered == (pdf == StatementStatus.RENDERED) and progress.sent == (mail == EmailStatus.SENT)


def test_a_long_run_is_listed_a_page_at_a_time_with_its_counts_over_every_statement(app, team, monkeypatch):
    from webapp.statements import queries

    monkeypatch.setattr(queries, "RUN_PAGE_SIZE", 1)
    monkeypatch.setattr(queries, "FAILURES_SHOWN", 1)
    statements = issue_period()
    for statement in statements.values():
        statement.status, statement.render_error = "failed", f"OSError: {statement.agent.name}"
    db.session.commit()
    # Maria sees Alice's and Bob's (Carol's is another team's).
    first, second = sorted((statements[team[name].id] for name in ("alice", "bob")), key=lambda s: s.number)
    maria = browser_as(app, team["maria"])
    page = html_of(_progress(maria, first.run_id))
    table = page.split('<table class="table run-table')[1]
    assert f"No. {first.number}</a>" in table and f"No. {second.number}</a>" not in table
    assert "Page 1 of 2" in page and f'href="/statements/runs/{first.run_id}?page=2"' in page
    assert _stat(page, "Statements") == "2" and _stat(page, "Failures") == "2" and "Finished with 2 problems" in page
    assert "The first 1 of 2 are listed" in page and page.count('class="delivery-error"') == 1
    second_page = html_of(maria.get(f"/statements/runs/{first.run_id}?page=2",
                                    headers={**HTMX, "HX-Target": "run-progress"}))
    table = second_page.split('<table class="table run-table')[1]
    assert f"No. {second.number}</a>" in table and f"No. {first.number}</a>" not in table
    # The counts and the first failure are the run's, whatever page.
    assert "Page 2 of 2" in second_page and _stat(second_page, "Failures") == "2"
    assert "hx-trigger" not in second_page  # finished: no polling
    second.status = "pending"  # "Render again": unfinished, so page 2 polls itself, not page 1
    db.session.commit()
    second_page = html_of(maria.get(f"/statements/runs/{first.run_id}?page=2",
                                    headers={**HTMX, "HX-Target": "run-progress"}))
    assert by_id(second_page, "run-progress").attrs["hx-get"] == f"/statements/runs/{first.run_id}?page=2"


def test_a_failed_pdf_is_listed_and_counts_as_done(app, team):
    alice = browser_as(app, team["alice"])
    alice.post("/statements/request", NOV, token_from="/statements")
    [run] = db.session.scalars(select(StatementRun)).all()
    [statement] = run.statements
    statement.status, statement.render_error = "failed", "OSError: font missing"
    db.session.commit()
    response = _progress(alice, run.id)
    assert response.status_code == 286 and "OSError: font missing" in html_of(response)


def test_who_may_follow_a_run(app, team, factory):
    alice = browser_as(app, team["alice"])
    alice.post("/statements/request", NOV, token_from="/statements")
    [run] = db.session.scalars(select(StatementRun)).all()
    url = f"/statements/runs/{run.id}"
    assert alice.get(url).status_code == 200
    assert browser_as(app, team["bob"]).get(url).status_code == 404, "another agent"
    assert browser_as(app, team["maria"]).get(url).status_code == 200, "the agent's manager"
    assert browser_as(app, team["other_manager"]).get(url).status_code == 404, "another team's manager"
    assert browser_as(app, factory.user("admin")).get(url).status_code == 200
    assert alice.get("/statements/runs/999999").status_code == 404


def test_a_manager_following_a_period_run_sees_only_the_team(app, team):
    issue_period()
    [run] = db.session.scalars(select(StatementRun)).all()
    page = html_of(browser_as(app, team["maria"]).get(f"/statements/runs/{run.id}"))
    assert "Alice Chen" in page and "Bob Martin" in page and "Carol Diaz" not in page
    assert _stat(page, "Statements") == "2"


def test_recent_runs_count_only_the_statements_the_user_may_see(app, team, factory):
    issue_period()
    [run] = db.session.scalars(select(StatementRun)).all()
    for user, expected in ((team["maria"], "2"), (factory.user("admin"), "3")):
        page = tags(html_of(browser_as(app, user).get("/statements")))
        [row] = [t for t in page if t.name == "tr" and f"#{run.id}" in t.text]
        cells = [text_of(td) for td in within(row, page, "td")]
        assert cells[1:4] == ["Nov 1–15, 2026", expected, "Automatic"], cells


# --- statement status fragment, delivery status and Resend ----------------------------------------------


def test_status_fragment_polls_until_the_pdf_and_email_are_settled(app, team, outbox):
    statement = issue_period()[team["alice"].id]
    alice = browser_as(app, team["alice"])
    url = f"/statements/{statement.id}/status"
    response = alice.get(url, headers=HTMX)
    assert response.status_code == 200
    assert by_id(html_of(response), "statement-status").attrs["hx-trigger"] == "every 2s"
    assert "Being prepared" in html_of(response) and "Waiting for PDF" in html_of(response)
    render_statement(statement.id)
    deliver_email(email_of(statement).id)
    response = alice.get(url, headers=HTMX)
    assert response.status_code == 286
    fragment = html_of(response)
    assert "hx-trigger" not in fragment and "Sent" in fragment and "1 attempt" in fragment
    assert f"/statements/{statement.id}.pdf" in fragment


@pytest.mark.parametrize("status, error, shown", [
    ("rejected", "hard-bounce", "Reason: hard-bounce"),
    ("failed", "ConnectionError: timed out", "Error: ConnectionError: timed out"),
])
def test_statement_page_shows_a_delivery_problem_and_offers_resend(app, team, status, error, shown):
    statement = issue_period()[team["alice"].id]
    render_statement(statement.id)
    email = email_of(statement)
    email.status, email.attempts, email.last_error = status, 2, error
    db.session.commit()
    page = html_of(browser_as(app, team["maria"]).get(f"/statements/{statement.id}"))
    panel = text_of(by_id(page, "statement-status"))
    assert status.capitalize() in panel and shown in panel and "2 attempts" in panel
    assert f"/statements/{statement.id}/resend" in page
    assert "hx-trigger" not in str(by_id(page, "statement-status").attrs)


def test_resend_is_refused_for_a_sent_email(app, team, outbox):
    statement = issue_period()[team["alice"].id]
    render_statement(statement.id)
    email = email_of(statement)
    assert deliver_email(email.id) == "sent"
    Queue("emails", connection=redis_client()).empty()
    maria = browser_as(app, team["maria"])
    response = maria.post(f"/statements/{statement.id}/resend", token_from=f"/statements/{statement.id}")
    assert response.status_code == 409
    assert "Only an email known not to have been sent can be sent again." in html_of(response)
    db.session.expire_all()
    assert email_of(statement).status == "sent" and jobs("emails") == []


def test_resend_requeues_a_failed_email_and_enqueues_its_delivery(app, team, outbox):
    statement = issue_period()[team["alice"].id]
    render_statement(statement.id)
    email = email_of(statement)
    email.status, email.attempts, email.last_error = "failed", 5, "ApiClientError: 500"
    db.session.commit()
    Queue("emails", connection=redis_client()).empty()
    alice = browser_as(app, team["alice"])
    response = alice.post(f"/statements/{statement.id}/resend", token_from=f"/statements/{statement.id}")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/statements/{statement.id}")
    db.session.expire_all()
    email = email_of(statement)
    assert (email.status, email.last_error) == ("queued", None)
    assert jobs("emails") == [("jobs.mail.deliver_email", (email.id,))]
    assert deliver_email(email.id) == "sent" and len(outbox.list()) == 1


def test_resend_needs_the_csrf_token(app, team):
    statement = issue_period()[team["alice"].id]
    response = browser_as(app, team["alice"]).client.post(f"/statements/{statement.id}/resend")
    assert response.status_code == 400


# --- navigation ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "manager", "admin"])
def test_navigation_offers_statements_to_every_role(app, factory, role):
    browser = browser_as(app, factory.user(role))
    page = html_of(browser.get("/statements"))
    assert '<a href="/statements" aria-current="page">Statements</a>' in page


def test_a_failed_render_can_be_queued_again_by_a_manager_only_once_failed(app, build, factory):
    build.on(d(10))
    manager, (agent,) = build.team(None, None)
    factory.sale(agent, "100.00", d(2))
    build.on(d(17))
    [statement] = start_period_run(None, period_for(d(2))).statements
    db.session.commit()
    browser = browser_as(app, manager)
    url = f"/statements/{statement.id}/render"
    assert browser.post(url, {}, token_from=f"/statements/{statement.id}").status_code == 409
    statement.status, statement.render_error = "failed", "OSError: font missing"
    db.session.commit()
    queue = Queue("default", connection=redis_client())
    queue.empty()
    assert browser.post(url, {}, token_from=f"/statements/{statement.id}").status_code == 303
    db.session.expire_all()
    assert statement.status == "pending" and statement.render_error is None
    assert [job.func_name for job in queue.get_jobs()] == ["jobs.statements.render_statement"]
    assert browser_as(app, agent).post(url, {}, token_from=f"/statements/{statement.id}").status_code == 403
