"""Plan document reminders (once per cadence slot, only while pending), their setting on the admin
Settings page, and the periodic sweep that issues what is missing and queues the PDFs still to render."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from rq import Queue
from sqlalchemy import select

from tests.support.queues import jobs as queued
from tests.web._html import by_id
from webapp.audit.models import AuditEvent
from webapp.commissions.models import Settings
from webapp.commissions.periods import get_settings
from webapp.disputes.models import Dispute, DisputeStatus
from webapp.extensions import db, redis_client
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import deliver_email
from webapp.plandocs.models import PlanAcknowledgement, PlanDocument, RenderStatus
from webapp.plandocs.reminders import reminder_key, send_reminders
from webapp.plandocs.services import issue_missing

pytestmark = pytest.mark.usefixtures("empty_queues")  # the sweep's tests count queued jobs

ISSUED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def after(days: float) -> datetime:
    """The moment `days` days after the documents were issued."""
    return ISSUED + timedelta(days=days)


@pytest.fixture
def document(factory, at):
    """One agent's pending document, issued 2026-12-01 09:00 UTC (the cadence is the default 7 days)."""
    at(ISSUED)
    agent = factory.user(name="Ann Agent")
    factory.assign(agent, factory.plan(base_rate="3", effective_from=date(2026, 1, 1)), effective_from=date(2026, 12, 1))
    [issued] = issue_missing()
    return issued


def renders_queued() -> list[tuple[str, tuple]]:
    """The render jobs waiting in the default queue (the assignment's issue job left out)."""
    return [job for job in queued("default") if job[0].startswith("jobs.plandocs.render_")]


def reminders() -> list[OutgoingEmail]:
    """Every plan document reminder email, oldest first."""
    return list(db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.key.like("plan-document-reminder:%"))
                                   .order_by(OutgoingEmail.id)))


def test_no_reminder_before_the_cadence_then_one(document, at):
    assert get_settings().plan_reminder_days == 7
    at(after(7) - timedelta(minutes=1))
    assert send_reminders().queued == [] and reminders() == []
    now = at(after(7))
    assert send_reminders().queued == [document.id]
    [email] = reminders()
    assert email.key == reminder_key(document.id, 1) == f"plan-document-reminder:{document.id}:1"
    assert email.to == document.agent.email and f"No. {document.number}" in email.subject
    assert f"/plan-documents/{document.id}" in email.text and f"/plan-documents/{document.id}" in email.html
    assert "waiting for you for 7 days" in email.text
    assert (document.reminders_sent, document.last_reminded_at) == (1, now)
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "plan_document.remind")).all()
    assert (event.object_type, event.object_id) == ("PlanDocument", document.id)
    assert event.after["slot"] == 1 and event.after["reminders_sent"] == 1


def test_twice_in_a_slot_sends_once_and_the_next_cadence_sends_again(document, at):
    at(after(7))
    send_reminders()
    assert send_reminders().queued == []  # the same moment again
    at(after(13))
    assert send_reminders().queued == []  # later in the same slot
    at(after(14))
    assert send_reminders().queued == [document.id]
    assert [e.key.rsplit(":", 1)[1] for e in reminders()] == ["1", "2"]
    assert document.reminders_sent == 2


def test_a_retried_run_that_finds_its_slot_reminder_sends_nothing_twice(document, at):
    at(after(7))
    send_reminders()
    document.last_reminded_at = None  # as if the counter were lost: the email key still holds the slot
    summary = send_reminders()
    assert summary.queued == [] and summary.skipped == [document.id]
    assert len(reminders()) == 1 and document.reminders_sent == 1


def test_a_late_run_counts_the_cadence_from_the_last_reminder(document, at):
    at(after(9))  # the job was down for two days
    send_reminders()
    at(after(15))
    assert send_reminders().queued == []
    at(after(16))
    assert send_reminders().queued == [document.id]


def test_no_reminder_once_acknowledged(document, at):
    db.session.add(PlanAcknowledgement(document_id=document.id, agent_id=document.agent_id,
                                       document_number=document.number, document_sha256=document.sha256,
                                       typed_name="Ann Agent", acknowledged_at=after(1)))
    at(after(30))
    assert send_reminders().queued == [] and reminders() == []


def test_no_reminder_while_a_question_is_open(document, at):
    db.session.add(Dispute(plan_document_id=document.id, agent_id=document.agent_id, status=DisputeStatus.OPEN,
                           opened_at=after(1)))
    at(after(30))
    assert send_reminders().queued == []


def test_no_reminder_for_a_superseded_document_or_an_inactive_agent(document, at, factory):
    document.superseded_at = after(1)
    at(after(30))
    assert send_reminders().queued == []
    document.superseded_at = None
    document.agent.active = False
    assert send_reminders().queued == []
    document.agent.active = True
    assert send_reminders().queued == [document.id]  # the same document, pending and active again


def test_no_reminder_when_turned_off(document, at):
    get_settings().plan_reminder_days = 0
    at(after(30))
    summary = send_reminders()
    assert summary.off and summary.queued == [] and reminders() == []


def test_the_reminder_is_delivered_with_text_and_html(document, at, outbox):
    at(after(7))
    send_reminders()
    db.session.commit()
    [email] = reminders()
    assert deliver_email(email.id) == "sent"
    [message] = outbox.list()
    assert message.to == document.agent.email and message.has_html
    assert message.metadata["kind"] == "plan_document_reminder"


def test_the_daily_job_works_in_batches_and_is_idempotent(document, at, factory, app, monkeypatch):
    from jobs.plandocs import send_reminders as job
    from webapp.plandocs import reminders as service

    at(ISSUED)
    other = factory.user()
    factory.assign(other, document.plan, effective_from=date(2026, 12, 1))
    issue_missing()
    db.session.commit()
    monkeypatch.setattr(service, "BATCH", 1)
    at(after(7))
    assert job() == {"off": False, "queued": 2, "skipped": 0}
    assert job() == {"off": False, "queued": 0, "skipped": 0}
    assert len(reminders()) == 2


# --- the setting ---------------------------------------------------------------------------------


def _form(**overrides) -> dict:
    """A valid settings form."""
    form = {"company_name": "Acme Sales", "approval_required": "y", "period_cadence": "monthly",
            "grace_hours": "24", "reminder_days": "15", "plan_reminder_days": "14"}
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def test_admin_sets_the_plan_reminder_cadence(as_admin):
    page = as_admin.get("/admin/settings").get_data(as_text=True)
    assert by_id(page, "plan_reminder_days").attrs["value"] == "7"
    assert as_admin.post("/admin/settings", _form()).status_code == 302
    db.session.expire_all()
    assert db.session.get(Settings, 1).plan_reminder_days == 14
    assert as_admin.post("/admin/settings", _form(plan_reminder_days="0")).status_code == 302
    db.session.expire_all()
    assert db.session.get(Settings, 1).plan_reminder_days == 0


def test_a_form_without_the_field_keeps_the_plan_cadence(as_admin):
    get_settings().plan_reminder_days = 9
    db.session.commit()
    assert as_admin.post("/admin/settings", _form(plan_reminder_days=None)).status_code == 302
    db.session.expire_all()
    assert db.session.get(Settings, 1).plan_reminder_days == 9


@pytest.mark.parametrize("value, message", [
    ("-1", "every 1 to 365 days, or 0 for never"),
    ("366", "every 1 to 365 days, or 0 for never"),
    ("junk", "whole number of days"),
    ("", "whole number of days"),
])
def test_a_bad_plan_cadence_is_refused_beside_the_field(as_admin, value, message):
    response = as_admin.post("/admin/settings", _form(plan_reminder_days=value, company_name="Changed"))
    assert response.status_code == 422
    error = by_id(response.get_data(as_text=True), "plan_reminder_days-error")
    assert error is not None and message in error.text
    db.session.expire_all()
    settings = db.session.get(Settings, 1)
    assert (settings.plan_reminder_days, settings.company_name) == (7, "Sales Tracking")


# --- the sweep -----------------------------------------------------------------------------------


def test_the_sweep_issues_what_is_missing_and_queues_pending_and_failed_renders(factory, at, app):
    from jobs.plandocs import sweep

    at(ISSUED)
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1))
    agents = [factory.user() for _ in range(3)]
    for agent in agents:
        factory.assign(agent, plan, effective_from=date(2026, 12, 1))
    db.session.commit()
    result = sweep()
    documents = db.session.scalars(select(PlanDocument).order_by(PlanDocument.id)).all()
    assert result["issued"] == 3 and [d.agent_id for d in documents] == [a.id for a in agents]
    renders = [("jobs.plandocs.render_document", (d.id,)) for d in documents]
    assert renders_queued() == renders, "each waiting once: the issue's own job and the sweep's are one"

    Queue("default", connection=redis_client()).empty()  # Redis lost its queue
    documents[0].status = RenderStatus.RENDERED
    documents[1].status = RenderStatus.FAILED
    db.session.commit()
    result = sweep()
    assert result == {"issued": 0, "documents": 2, "acknowledgements": 0, "enqueue_errors": 0}
    assert renders_queued() == renders[1:]


def test_the_sweep_queues_an_acknowledgement_still_without_its_pdf(document, app):
    from jobs.plandocs import sweep

    document.status = RenderStatus.RENDERED
    acknowledgement = PlanAcknowledgement(document_id=document.id, agent_id=document.agent_id,
                                          document_number=document.number, document_sha256=document.sha256,
                                          typed_name="Ann Agent", acknowledged_at=after(1))
    db.session.add(acknowledgement)
    db.session.commit()
    Queue("default", connection=redis_client()).empty()
    assert sweep()["acknowledgements"] == 1
    assert renders_queued() == [("jobs.plandocs.render_acknowledgement", (acknowledgement.id,))]
