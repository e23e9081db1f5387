"""Questions about plan documents: the agent asks (a dispute of their document), the team's
manager answers; who may do what; the document's state; both sides' pages; the emails."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.conftest import browser_as
from tests.support.rows import counts
from tests.web._html import by_id, field_error, html_of, redirect_path, tags, text_of
from webapp import clock
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.commissions.models import CommissionEntry
from webapp.disputes import services as disputes
from webapp.disputes.models import Dispute, DisputeMessage
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import deliver_email, pending_email_ids
from webapp.plandocs.models import DocumentState, PlanAcknowledgement
from webapp.plandocs.services import issue_missing, state_of

TODAY = date(2026, 12, 5)
QUESTION = "Does the 3% apply to refurbished units too?"


def _counts() -> dict[str, int]:
    """Row counts of everything a question or its answer may write."""
    return counts(Dispute, DisputeMessage, CommissionEntry, AuditEvent, OutgoingEmail)


def _emails(dispute: Dispute) -> dict[str, OutgoingEmail]:
    """The emails queued about this question, by key."""
    return {e.key: e for e in db.session.scalars(
        select(OutgoingEmail).where(OutgoingEmail.key.like(f"dispute-{dispute.id}-%")))}


@pytest.fixture
def world(app, build, factory):
    """Alice (agent, signed in) on a 3% plan with her plan document; Maria, her manager (signed in)."""
    build.on(TODAY)
    manager, (agent,) = build.team("Maria Lopez", "Alice Chen")
    [document] = [d for d in issue_missing() if d.agent_id == agent.id]
    return {"agent": browser_as(app, agent), "manager": browser_as(app, manager), "document": document}


def _ask(world, comment=QUESTION) -> Dispute:
    """Alice asks through the page; returns the new question."""
    response = world["agent"].post(f"/plan-documents/{world['document'].id}/question", {"comment": comment})
    assert response.status_code == 302, html_of(response)
    db.session.expire_all()
    return db.session.scalars(select(Dispute).order_by(Dispute.id.desc())).first()


# --- services ------------------------------------------------------------------------------------

def test_asking_makes_a_question_of_the_document_and_emails_the_manager(world):
    agent, manager, document = world["agent"].user, world["manager"].user, world["document"]
    assert state_of(document) == DocumentState.PENDING
    dispute = disputes.open_plan_question(agent, document.id, f"  {QUESTION}  ")
    assert (dispute.plan_document_id, dispute.agent_id, dispute.status) == (document.id, agent.id, "open")
    assert (dispute.entry_id, dispute.sale_id, dispute.period_id, dispute.entry_amount_cents) == (None,) * 4
    assert dispute.is_plan_question
    assert [(m.author_id, m.body) for m in dispute.messages] == [(agent.id, QUESTION)]
    [email] = _emails(dispute).values()
    assert email.to == manager.email
    assert email.subject == f"Alice Chen asked about plan document No. {document.number}"
    assert QUESTION in email.text and f"plan document No. {document.number}" in email.html
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.object_type == "Dispute",
                                                             AuditEvent.object_id == dispute.id)) \
        == "plan_question.open"
    assert state_of(document) == DocumentState.QUESTIONED


def test_another_agents_document_is_not_found(world, factory):
    stranger = factory.user(Role.AGENT, manager=world["manager"].user)
    before = _counts()
    for user in (stranger, world["manager"].user):
        with pytest.raises(NotFound):
            disputes.open_plan_question(user, world["document"].id, "Mine?")
    assert _counts() == before


def test_one_open_question_per_document_and_another_after_the_answer(world):
    agent, manager, document = world["agent"].user, world["manager"].user, world["document"]
    first = disputes.open_plan_question(agent, document.id, QUESTION)
    before = _counts()
    with pytest.raises(ServiceError) as error:
        disputes.open_plan_question(agent, document.id, "Again?")
    assert error.value.status == 409 and "already asked" in error.value.message
    assert _counts() == before
    disputes.answer(manager, first, "Yes, refurbished units earn 3% too.")
    second = disputes.open_plan_question(agent, document.id, "And demo units?")
    assert second.id != first.id and second.is_open


def test_two_simultaneous_questions_leave_one_open(world, monkeypatch):
    agent, document = world["agent"].user, world["document"]
    disputes.open_plan_question(agent, document.id, "First.")
    # The second request checked before the first committed: only the unique index stops it.
    monkeypatch.setattr(disputes, "open_question_for", lambda document_id: None)
    before = _counts()
    with pytest.raises(ServiceError) as error:
        disputes.open_plan_question(agent, document.id, "Second.")
    assert error.value.status == 409
    assert _counts() == before


def test_no_question_about_an_acknowledged_or_replaced_document(world):
    agent, document = world["agent"].user, world["document"]
    document.superseded_at = clock.now_utc()
    db.session.flush()
    with pytest.raises(ServiceError) as error:
        disputes.open_plan_question(agent, document.id, QUESTION)
    assert error.value.status == 409 and "newer revision" in error.value.message
    document.superseded_at = None
    db.session.add(PlanAcknowledgement(document_id=document.id, agent_id=agent.id, document_number=document.number,
                                       document_sha256=document.sha256, typed_name="Alice Chen",
                                       acknowledged_at=clock.now_utc()))
    db.session.flush()
    db.session.expire(document)
    before = _counts()
    with pytest.raises(ServiceError) as error:
        disputes.open_plan_question(agent, document.id, QUESTION)
    assert error.value.status == 409 and "acknowledged" in error.value.message
    assert _counts() == before


def test_the_teams_manager_answers_and_the_agent_is_emailed(world):
    agent, manager, document = world["agent"].user, world["manager"].user, world["document"]
    dispute = disputes.open_plan_question(agent, document.id, QUESTION)
    disputes.answer(manager, dispute, "  Yes, they do.  ")
    assert (dispute.status, dispute.resolution_note, dispute.resolved_by_id) == ("answered", "Yes, they do.", manager.id)
    assert dispute.resolved_at is not None
    assert [m.body for m in dispute.messages] == [QUESTION, "Yes, they do."]
    email = _emails(dispute)[f"dispute-{dispute.id}-answered"]
    assert email.to == agent.email
    assert email.subject == f"Your question about plan document No. {document.number} was answered"
    assert "Yes, they do." in email.text and "Yes, they do." in email.html
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == dispute.id,
                                                                      AuditEvent.object_type == "Dispute")))
    assert actions == {"plan_question.open", "plan_question.answer"}
    assert state_of(document) == DocumentState.PENDING  # back to waiting for the agent
    with pytest.raises(ServiceError) as error:
        disputes.answer(manager, dispute, "Again.")
    assert error.value.status == 409 and "This question was already answered by Maria Lopez." == error.value.message
    with pytest.raises(ServiceError) as error:
        disputes.reply(agent, dispute, "Thanks!")
    assert error.value.status == 409


def test_who_may_answer_and_what(world, factory, build):
    agent, manager, document = world["agent"].user, world["manager"].user, world["document"]
    dispute = disputes.open_plan_question(agent, document.id, QUESTION)
    before = _counts()
    for outsider in (factory.user(Role.MANAGER), agent):
        with pytest.raises(NotFound):
            disputes.answer(outsider, dispute, "Yes.")
    # A plan question is answered, never accepted (no adjustment) or rejected.
    for resolve in (lambda: disputes.accept(manager, dispute, 1000), lambda: disputes.reject(manager, dispute, "No")):
        with pytest.raises(ServiceError) as error:
            resolve()
        assert error.value.status == 409 and "answer it" in error.value.message
    with pytest.raises(ServiceError) as error:
        disputes.answer(manager, dispute, "   ")
    assert (error.value.status, error.value.field) == (422, "answer")
    assert _counts() == before and dispute.is_open
    # A line's dispute is not answered.
    sale = factory.sale(agent, "1000.00", TODAY)
    entry = db.session.scalar(select(CommissionEntry).where(CommissionEntry.sale_id == sale.id))
    line_dispute = disputes.open_dispute(agent, entry.id, "Wrong rate.")
    with pytest.raises(ServiceError) as error:
        disputes.answer(manager, line_dispute, "Yes.")
    assert error.value.status == 409 and "accept or reject" in error.value.message
    # An admin answers any team's question.
    disputes.answer(factory.user(Role.ADMIN), dispute, "Yes.")
    assert dispute.status == "answered"


def test_replies_on_a_question_email_the_other_side(world):
    agent, manager, document = world["agent"].user, world["manager"].user, world["document"]
    dispute = disputes.open_plan_question(agent, document.id, QUESTION)
    asked = disputes.reply(manager, dispute, "Which product do you mean?")
    told = disputes.reply(agent, dispute, "The refurbished monitor.")
    emails = _emails(dispute)
    assert emails[f"dispute-{dispute.id}-reply-{asked.id}"].to == agent.email
    assert emails[f"dispute-{dispute.id}-reply-{asked.id}"].subject == \
        f"Maria Lopez replied on your question about plan document No. {document.number}"
    assert emails[f"dispute-{dispute.id}-reply-{told.id}"].to == manager.email
    assert "The refurbished monitor." in emails[f"dispute-{dispute.id}-reply-{told.id}"].text


def test_lists_and_counts_include_questions(world, factory):
    agent, manager, document = world["agent"].user, world["manager"].user, world["document"]
    dispute = disputes.open_plan_question(agent, document.id, QUESTION)
    [row] = disputes.agent_disputes(agent)
    assert row.dispute.id == dispute.id and row.messages == 1
    assert [r.dispute.id for r in disputes.team_disputes(manager)] == [dispute.id]
    disputes.answer(manager, dispute, "Yes.")
    assert disputes.team_disputes(manager) == []
    assert [r.dispute.id for r in disputes.team_disputes(manager, "answered")] == [dispute.id]
    assert disputes.team_counts(manager)["answered"] == 1 and disputes.team_counts(manager)["all"] == 1
    assert disputes.team_counts(factory.user(Role.MANAGER))["all"] == 0


# --- pages -----------------------------------------------------------------------------------------

def test_the_agent_asks_through_the_page_and_reads_the_thread(world):
    agent, document = world["agent"], world["document"]
    assert f'href="/plan-documents/{document.id}/question"' in html_of(agent.get(f"/plan-documents/{document.id}"))
    form = html_of(agent.get(f"/plan-documents/{document.id}/question"))
    assert f"Plan document No. {document.number}" in form
    assert any(t.name == "label" and t.attrs.get("for") == "comment" for t in tags(form))
    before = _counts()
    response = agent.post(f"/plan-documents/{document.id}/question", {"comment": QUESTION})
    dispute = db.session.scalars(select(Dispute)).one()
    assert response.status_code == 302 and redirect_path(response) == f"/disputes/{dispute.id}"
    after = _counts()
    assert (after["Dispute"], after["DisputeMessage"], after["OutgoingEmail"]) == (
        before["Dispute"] + 1, before["DisputeMessage"] + 1, before["OutgoingEmail"] + 1)
    page = html_of(agent.get(f"/disputes/{dispute.id}"))
    assert QUESTION in page and f"Question #{dispute.id}" in page and "Your question is with your manager" in page
    assert f'href="/plan-documents/{document.id}"' in page and f"Plan document No. {document.number}" in page
    row = by_id(html_of(agent.get("/disputes")), f"dispute-{dispute.id}")
    assert f"Question about plan document No. {document.number}" in text_of(row)
    # Asking again leads to the open question.
    response = agent.get(f"/plan-documents/{document.id}/question")
    assert response.status_code == 302 and redirect_path(response) == f"/disputes/{dispute.id}"
    before = _counts()
    response = agent.post(f"/plan-documents/{document.id}/question", {"comment": "Again"}, token_from="/disputes")
    assert response.status_code == 409 and "already asked" in html_of(response)
    assert _counts() == before


@pytest.mark.parametrize("comment", ["", "   "])
def test_an_empty_question_is_422_beside_the_field(world, comment):
    before = _counts()
    response = world["agent"].post(f"/plan-documents/{world['document'].id}/question", {"comment": comment})
    assert response.status_code == 422
    assert field_error(html_of(response), "comment") == "Write your question."
    assert _counts() == before


def test_another_agents_document_page_is_404(world, app, factory):
    other = browser_as(app, factory.user(Role.AGENT, manager=world["manager"].user))
    url = f"/plan-documents/{world['document'].id}/question"
    before = _counts()
    assert other.get(url).status_code == 404
    assert other.post(url, {"comment": "Mine?"}, token_from="/dashboard").status_code == 404
    assert other.get("/plan-documents/999999/question").status_code == 404
    assert world["manager"].get(url).status_code == 403  # the agent portal is for agents
    assert _counts() == before


def test_the_manager_sees_the_question_and_answers_it(world, outbox):
    dispute = _ask(world)
    manager, agent, document = world["manager"], world["agent"], world["document"]
    row = by_id(html_of(manager.get("/manage/disputes")), f"dispute-{dispute.id}")
    assert "Alice Chen" in text_of(row) and f"plan document No. {document.number}" in text_of(row)
    agent_page = html_of(manager.get(f"/manage/agents/{agent.user.id}"))  # the agent's page lists it too
    assert f"plan document No. {document.number}" in text_of(by_id(agent_page, f"dispute-{dispute.id}"))
    url = f"/manage/disputes/{dispute.id}"
    detail = html_of(manager.get(url))
    assert QUESTION in detail and f'href="/plan-documents/{document.id}"' in detail
    assert f"{url}/answer" in detail and f"{url}/accept" not in detail and f"{url}/reject" not in detail
    assert any(t.name == "label" and t.attrs.get("for") == "answer" for t in tags(detail))
    before = _counts()
    response = manager.post(f"{url}/answer", {"answer": ""}, token_from=url)
    assert response.status_code == 422 and field_error(html_of(response), "answer") == "Write your answer."
    assert _counts() == before
    response = manager.post(f"{url}/accept", {"amount": "10"}, token_from=url)
    assert response.status_code == 409 and "answer it" in html_of(response)
    assert _counts() == before
    response = manager.post(f"{url}/answer", {"answer": "Yes, refurbished units earn 3% too."}, token_from=url)
    assert response.status_code == 302 and redirect_path(response) == url
    db.session.expire_all()
    assert db.session.get(Dispute, dispute.id).status == "answered"
    assert state_of(document) == DocumentState.PENDING
    for page in (html_of(manager.get(url)), html_of(agent.get(f"/disputes/{dispute.id}"))):
        assert "Answered" in page and "Yes, refurbished units earn 3% too." in page and "Send reply" not in page
    assert by_id(html_of(manager.get("/manage/disputes?status=answered")), f"dispute-{dispute.id}") is not None
    for email_id in pending_email_ids():
        deliver_email(email_id)
    sent = {(m.to, m.subject) for m in outbox.list()}
    assert (agent.user.email, f"Your question about plan document No. {document.number} was answered") in sent
    assert (manager.user.email, f"Alice Chen asked about plan document No. {document.number}") in sent


def test_another_teams_manager_gets_404_and_a_line_dispute_is_not_answered(world, app, factory):
    dispute = _ask(world)
    stranger = browser_as(app, factory.user(Role.MANAGER))
    before = _counts()
    url = f"/manage/disputes/{dispute.id}"
    assert stranger.get(url).status_code == 404
    assert stranger.post(f"{url}/answer", {"answer": "Yes."}, token_from="/manage/disputes").status_code == 404
    assert _counts() == before
    sale = factory.sale(world["agent"].user, "1000.00", TODAY)
    entry = db.session.scalar(select(CommissionEntry).where(CommissionEntry.sale_id == sale.id))
    line = disputes.open_dispute(world["agent"].user, entry.id, "Wrong rate.")
    db.session.commit()
    line_url = f"/manage/disputes/{line.id}"
    assert "/answer" not in html_of(world["manager"].get(line_url))
    before = _counts()
    response = world["manager"].post(f"{line_url}/answer", {"answer": "Yes."}, token_from=line_url)
    assert response.status_code == 409 and "accept or reject" in html_of(response)
    assert _counts() == before
    assert db.session.scalar(select(func.count()).select_from(Dispute).where(Dispute.status == "open")) == 2


def test_the_answer_form_needs_the_csrf_token(world):
    dispute = _ask(world)
    before = _counts()
    assert world["manager"].client.post(f"/manage/disputes/{dispute.id}/answer",
                                        data={"answer": "Yes."}).status_code == 400
    assert world["agent"].client.post(f"/plan-documents/{world['document'].id}/question",
                                      data={"comment": "x"}).status_code == 400
    assert _counts() == before
