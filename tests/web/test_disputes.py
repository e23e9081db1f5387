"""Dispute pages through the Flask client: the agent disputes a line from the sale page, the
manager of the team sees it, replies (plain and htmx), accepts with an adjustment or rejects
with a reason; who sees what; bad input; CSRF; emails delivered to the right people."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import browser_as
from tests.support.rows import counts
from tests.web._html import by_id, field_error, html_of, redirect_path, tags, text_of
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.commissions import ledger
from webapp.commissions.models import CommissionEntry
from webapp.commissions.periods import period_for
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import deliver_email, pending_email_ids
from webapp.disputes.models import Dispute, DisputeMessage

TODAY = date(2026, 11, 20)
HTMX = {"HX-Request": "true", "HX-Target": "dispute-thread"}


def _counts() -> dict[str, int]:
    """Row counts of everything the dispute pages may write."""
    return counts(Dispute, DisputeMessage, CommissionEntry, AuditEvent, OutgoingEmail)


@pytest.fixture
def world(app, build, factory):
    """Agent (signed in) with an approved sale and its 30.00 line; their manager (signed in)."""
    build.on(TODAY)
    manager, (agent,) = build.team("Maria Lopez", "Alice Chen")
    sale = factory.sale(agent, "1000.00", date(2026, 11, 18), product=factory.product(name="Patient monitor"))
    entry = db.session.scalar(select(CommissionEntry).where(CommissionEntry.sale_id == sale.id))
    return {"agent": browser_as(app, agent), "manager": browser_as(app, manager), "sale": sale,
            "entry": entry}


def _open(world, comment="The rate should be 5% for monitors."):
    """The agent disputes the sale's line through the page; returns the new dispute."""
    response = world["agent"].post(f"/ledger/{world['entry'].id}/dispute", {"comment": comment})
    assert response.status_code == 302, html_of(response)
    db.session.expire_all()
    return db.session.scalars(select(Dispute).order_by(Dispute.id.desc())).first()


# --- the agent opens a dispute ------------------------------------------------------------------

def test_the_sale_page_offers_dispute_on_each_line_to_its_agent_only(world):
    entry = world["entry"]
    page = html_of(world["agent"].get(f"/sales/{world['sale'].id}"))
    link = by_id(page, f"entry-{entry.id}")
    assert f'href="/ledger/{entry.id}/dispute"' in page and "Dispute" in text_of(link)
    manager_page = html_of(world["manager"].get(f"/sales/{world['sale'].id}"))
    assert f"/ledger/{entry.id}/dispute" not in manager_page


def test_agent_disputes_own_line_and_sees_the_thread(world):
    entry, agent = world["entry"], world["agent"]
    form = html_of(agent.get(f"/ledger/{entry.id}/dispute"))
    assert "$30.00" in form and "Patient monitor" in form
    assert any(t.name == "label" and t.attrs.get("for") == "comment" for t in tags(form))
    before = _counts()
    response = agent.post(f"/ledger/{entry.id}/dispute", {"comment": "The rate should be 5% for monitors."})
    dispute = db.session.scalars(select(Dispute)).one()
    assert response.status_code == 302 and redirect_path(response) == f"/disputes/{dispute.id}"
    after = _counts()
    assert (after["Dispute"], after["DisputeMessage"], after["OutgoingEmail"]) == (
        before["Dispute"] + 1, before["DisputeMessage"] + 1, before["OutgoingEmail"] + 1)
    assert after["CommissionEntry"] == before["CommissionEntry"]
    page = html_of(agent.get(f"/disputes/{dispute.id}"))
    assert "The rate should be 5% for monitors." in page and "Open" in page
    assert "Your dispute is with your manager" in page  # the flash after the redirect
    sale_page = html_of(agent.get(f"/sales/{world['sale'].id}"))
    assert f'href="/disputes/{dispute.id}"' in sale_page and "Disputed" in sale_page
    assert f"/ledger/{entry.id}/dispute" not in sale_page  # one open dispute per line
    assert f"/disputes/{dispute.id}" in html_of(agent.get("/disputes"))


def test_another_agents_line_is_404(world, app, factory):
    other = browser_as(app, factory.user(Role.AGENT))
    before = _counts()
    assert other.get(f"/ledger/{world['entry'].id}/dispute").status_code == 404
    assert other.post(f"/ledger/{world['entry'].id}/dispute", {"comment": "Mine now"},
                      token_from="/dashboard").status_code == 404
    assert other.get("/ledger/999999/dispute").status_code == 404
    assert _counts() == before


def test_a_second_dispute_on_an_open_line_is_409(world):
    first = _open(world)
    before = _counts()
    response = world["agent"].post(f"/ledger/{world['entry'].id}/dispute", {"comment": "Again"},
                                   token_from="/dashboard")
    assert response.status_code == 409
    page = html_of(response)
    assert "already has an open dispute" in page and f'href="/disputes/{first.id}"' in page
    assert _counts() == before
    # Opening the form again leads to the open dispute instead.
    response = world["agent"].get(f"/ledger/{world['entry'].id}/dispute")
    assert response.status_code == 302 and redirect_path(response) == f"/disputes/{first.id}"


@pytest.mark.parametrize("comment", ["", "   "])
def test_an_empty_comment_is_422_beside_the_field(world, comment):
    before = _counts()
    response = world["agent"].post(f"/ledger/{world['entry'].id}/dispute", {"comment": comment})
    assert response.status_code == 422
    assert field_error(html_of(response), "comment") == "Say what is wrong with this line."
    assert _counts() == before


# --- the manager's side ------------------------------------------------------------------------------

def test_the_teams_manager_sees_the_dispute_and_another_teams_manager_gets_404(world, app, factory):
    dispute = _open(world)
    listing = html_of(world["manager"].get("/manage/disputes"))
    row = by_id(listing, f"dispute-{dispute.id}")
    assert row is not None and "Alice Chen" in text_of(row) and "Patient monitor" in text_of(row)
    detail = html_of(world["manager"].get(f"/manage/disputes/{dispute.id}"))
    assert "The rate should be 5% for monitors." in detail and "$30.00" in detail
    for field_id in ("body", "amount", "note", "reason"):
        assert any(t.name == "label" and t.attrs.get("for") == field_id for t in tags(detail)), field_id

    stranger = browser_as(app, factory.user(Role.MANAGER))
    assert by_id(html_of(stranger.get("/manage/disputes")), f"dispute-{dispute.id}") is None
    assert stranger.get(f"/manage/disputes/{dispute.id}").status_code == 404
    before = _counts()
    for action, data in (("reply", {"body": "Hi"}), ("accept", {"amount": "10"}), ("reject", {"reason": "No"})):
        response = stranger.post(f"/manage/disputes/{dispute.id}/{action}", data, token_from="/manage/disputes")
        assert response.status_code == 404, action
    assert _counts() == before
    assert world["agent"].get("/manage/disputes").status_code == 403
    admin = browser_as(app, factory.user(Role.ADMIN))
    assert admin.get(f"/manage/disputes/{dispute.id}").status_code == 200


def test_the_status_tabs_filter_the_list_and_htmx_gets_the_fragment(world):
    dispute = _open(world)
    manager = world["manager"]
    assert by_id(html_of(manager.get("/manage/disputes?status=rejected")), f"dispute-{dispute.id}") is None
    assert by_id(html_of(manager.get("/manage/disputes?status=all")), f"dispute-{dispute.id}") is not None
    fragment = html_of(manager.get("/manage/disputes?status=open",
                                 headers={"HX-Request": "true", "HX-Target": "disputes-list"}))
    assert "<html" not in fragment and by_id(fragment, f"dispute-{dispute.id}") is not None
    assert manager.get("/manage/disputes?status=bogus").status_code == 200


def test_replies_plain_and_htmx_are_seen_by_both_sides(world):
    dispute = _open(world)
    manager, agent = world["manager"], world["agent"]
    url = f"/manage/disputes/{dispute.id}"
    response = manager.post(f"{url}/reply", {"body": "Which plan do you mean?"}, token_from=url)
    assert response.status_code == 302 and redirect_path(response) == url
    response = agent.post(f"/disputes/{dispute.id}/reply", {"body": "The October one."},
                          token_from=f"/disputes/{dispute.id}", headers=HTMX)
    assert response.status_code == 200
    fragment = html_of(response)
    assert "<html" not in fragment and by_id(fragment, "dispute-thread") is not None
    assert "The October one." in fragment and "Which plan do you mean?" in fragment
    for page in (html_of(manager.get(url)), html_of(agent.get(f"/disputes/{dispute.id}"))):
        assert page.index("The rate should be 5%") < page.index("Which plan do you mean?") < page.index("The October one.")
    response = manager.post(f"{url}/reply", {"body": "  "}, token_from=url, headers=HTMX)
    assert response.status_code == 422 and field_error(html_of(response), "body") == "Write a message."


def test_accepting_posts_the_adjustment_and_the_agent_sees_it(world):
    dispute = _open(world)
    manager, agent = world["manager"], world["agent"]
    agent_id = agent.user.id
    url = f"/manage/disputes/{dispute.id}"
    balance = ledger.agent_balance(agent_id).unpaid
    response = manager.post(f"{url}/accept", {"amount": "12.50", "note": "Monitors pay 5% since October."},
                            token_from=url)
    assert response.status_code == 302 and redirect_path(response) == url
    db.session.expire_all()
    dispute = db.session.get(Dispute, dispute.id)
    adjustment = dispute.adjustment_entry
    assert (dispute.status, adjustment.kind, adjustment.amount_cents) == ("accepted", "manual", 1250)
    assert adjustment.period_id == period_for(TODAY).id and adjustment.period.is_open
    assert ledger.agent_balance(agent_id).unpaid == balance + 1250
    summary = ledger.period_summary(agent_id, adjustment.period)
    assert summary.closing == summary.opening + summary.total - summary.payouts
    assert summary.adjustments == 1250
    page = html_of(agent.get(f"/disputes/{dispute.id}"))
    assert "Accepted" in page and "$12.50" in page and "Monitors pay 5% since October." in page
    assert "Send reply" not in page  # the thread is closed
    sale_page = html_of(agent.get(f"/sales/{world['sale'].id}"))
    assert "Manual correction" in sale_page and f"Dispute #{dispute.id} accepted" in sale_page


def test_a_deduction_is_accepted_with_a_minus_sign(world):
    dispute = _open(world, "I was paid twice for this sale.")
    url = f"/manage/disputes/{dispute.id}"
    balance = ledger.agent_balance(world["agent"].user.id).unpaid
    assert world["manager"].post(f"{url}/accept", {"amount": "-30.00"}, token_from=url).status_code == 302
    assert ledger.agent_balance(world["agent"].user.id).unpaid == balance - 3000


@pytest.mark.parametrize("amount, message", [
    ("", "Enter an amount."),
    ("0", "Enter an amount other than zero."),
    ("1.234", "Use at most two decimals."),
    ("ten", "Enter an amount as a plain number, like -25.00 or 120.50."),
    ("1e3", "Enter an amount as a plain number, like -25.00 or 120.50."),
])
def test_a_bad_adjustment_is_422_beside_the_amount_and_nothing_is_written(world, amount, message):
    dispute = _open(world)
    url = f"/manage/disputes/{dispute.id}"
    before = _counts()
    response = world["manager"].post(f"{url}/accept", {"amount": amount}, token_from=url)
    assert response.status_code == 422
    assert field_error(html_of(response), "amount") == message
    assert _counts() == before
    assert db.session.get(Dispute, dispute.id).status == "open"


def test_an_overlong_note_is_422_beside_the_note(world):
    dispute = _open(world)
    url = f"/manage/disputes/{dispute.id}"
    before = _counts()
    response = world["manager"].post(f"{url}/accept", {"amount": "5", "note": "x" * 1901}, token_from=url)
    assert response.status_code == 422 and "under 1900 characters" in field_error(html_of(response), "note")
    assert _counts() == before


def test_rejecting_needs_a_reason_and_the_agent_reads_it(world):
    dispute = _open(world)
    url = f"/manage/disputes/{dispute.id}"
    before = _counts()
    response = world["manager"].post(f"{url}/reject", {"reason": ""}, token_from=url)
    assert response.status_code == 422 and field_error(html_of(response), "reason") == "Give a reason."
    assert _counts() == before
    response = world["manager"].post(f"{url}/reject", {"reason": "3% is the plan's rate for monitors."},
                                     token_from=url)
    assert response.status_code == 302
    after = _counts()
    assert after["CommissionEntry"] == before["CommissionEntry"]
    page = html_of(world["agent"].get(f"/disputes/{dispute.id}"))
    assert "Rejected" in page and "3% is the plan&#39;s rate for monitors." in page


def test_resolving_twice_is_409_with_a_clear_message(world):
    dispute = _open(world)
    url = f"/manage/disputes/{dispute.id}"
    assert world["manager"].post(f"{url}/accept", {"amount": "10"}, token_from=url).status_code == 302
    before = _counts()
    for action, data in (("accept", {"amount": "10"}), ("reject", {"reason": "No"})):
        response = world["manager"].post(f"{url}/{action}", data, token_from=url)
        assert response.status_code == 409, action
        assert "This dispute was already accepted by Maria Lopez." in html_of(response)
    response = world["agent"].post(f"/disputes/{dispute.id}/reply", {"body": "Thanks!"},
                                   token_from=f"/disputes/{dispute.id}", headers=HTMX)
    assert response.status_code == 409 and response.headers["HX-Redirect"] == f"/disputes/{dispute.id}"
    assert _counts() == before


def test_the_agent_cannot_see_or_answer_another_agents_dispute(world, app, factory):
    dispute = _open(world)
    other = browser_as(app, factory.user(Role.AGENT, manager=world["manager"].user))
    assert other.get(f"/disputes/{dispute.id}").status_code == 404
    assert other.post(f"/disputes/{dispute.id}/reply", {"body": "Hello"}, token_from="/disputes").status_code == 404
    assert by_id(html_of(other.get("/disputes")), f"dispute-{dispute.id}") is None
    assert world["manager"].get(f"/disputes/{dispute.id}").status_code == 403  # the agent portal is for agents


# --- navigation, CSRF, emails --------------------------------------------------------------------

def test_navigation_has_disputes_for_managers_and_my_disputes_for_agents(world, app, factory):
    assert 'href="/disputes"' in html_of(world["agent"].get("/disputes"))
    assert ">My disputes</a>" in html_of(world["agent"].get("/dashboard"))
    for browser in (world["manager"], browser_as(app, factory.user(Role.ADMIN))):
        assert '<a href="/manage/disputes"' in html_of(browser.get("/manage/disputes"))


def test_posts_without_the_csrf_token_are_refused(world):
    dispute = _open(world)
    before = _counts()
    posts = [(world["agent"], f"/ledger/{world['entry'].id}/dispute", {"comment": "x"}),
             (world["agent"], f"/disputes/{dispute.id}/reply", {"body": "x"}),
             (world["manager"], f"/manage/disputes/{dispute.id}/reply", {"body": "x"}),
             (world["manager"], f"/manage/disputes/{dispute.id}/accept", {"amount": "10"}),
             (world["manager"], f"/manage/disputes/{dispute.id}/reject", {"reason": "x"})]
    for browser, url, data in posts:
        assert browser.client.post(url, data=data).status_code == 400, url
    assert _counts() == before


def test_emails_reach_the_manager_on_open_and_agent_replies_and_the_agent_on_manager_events(world, outbox):
    dispute = _open(world)
    manager, agent = world["manager"], world["agent"]
    url = f"/manage/disputes/{dispute.id}"
    manager.post(f"{url}/reply", {"body": "Looking at it."}, token_from=url)
    agent.post(f"/disputes/{dispute.id}/reply", {"body": "Thank you."}, token_from=f"/disputes/{dispute.id}")
    manager.post(f"{url}/reject", {"reason": "The plan pays 3%."}, token_from=url)
    for email_id in pending_email_ids():
        deliver_email(email_id)
    sent = sorted(((m.to, m.subject) for m in outbox.list()), key=lambda pair: pair[1])
    assert sent == sorted([
        (manager.user.email, "Alice Chen disputed a commission line"),
        (agent.user.email, f"Maria Lopez replied on your dispute #{dispute.id}"),
        (manager.user.email, f"Alice Chen replied on dispute #{dispute.id}"),
        (agent.user.email, f"Your dispute #{dispute.id} was rejected"),
    ], key=lambda pair: pair[1])
    by_subject = {m.subject: m for m in outbox.list()}
    assert "The rate should be 5% for monitors." in by_subject["Alice Chen disputed a commission line"].text
    assert "The plan pays 3%." in by_subject[f"Your dispute #{dispute.id} was rejected"].text
