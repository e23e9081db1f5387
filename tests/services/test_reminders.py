"""The unpaid-balance reminder: to agents whose issued statements show unpaid commission, at most
once per cadence, off at 0; and its setting on the admin Settings page."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests.web._html import by_id
from webapp.commissions.models import Settings
from webapp.commissions.payouts import record_payout
from webapp.commissions.periods import get_settings
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import deliver_email
from webapp.statements.reminders import reminder_key, send_reminders


def d(day: int, month: int = 11) -> date:
    """A date in 2026."""
    return date(2026, month, day)


@pytest.fixture
def owed(build, factory):
    """Alice is owed 30.00 on a closed period; Bob was paid in full; Carol only has an open-period sale."""
    build.on(d(10))
    manager, (alice, bob, carol) = build.team(None, "Alice Chen", "Bob Martin", "Carol Diaz")
    factory.sale(alice, "1000.00", d(3))
    factory.sale(bob, "500.00", d(4))
    build.on(d(17))
    build.close(d(1))
    record_payout(manager, agent_id=bob.id, amount_cents=1500, paid_on=d(17), reference="Transfer")
    factory.sale(carol, "800.00", d(16))
    return {"alice": alice, "bob": bob, "carol": carol, "manager": manager}


def reminders() -> list[OutgoingEmail]:
    """Every reminder email, oldest first."""
    return list(db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.key.like("reminder:%"))
                                   .order_by(OutgoingEmail.id)))


def test_only_agents_owed_on_issued_statements_are_reminded(owed):
    summary = send_reminders()
    assert summary.queued == [owed["alice"].id]
    [email] = reminders()
    assert email.key == reminder_key(owed["alice"].id, d(17)) == f"reminder:{owed['alice'].id}:2026-11-17"
    assert email.to == owed["alice"].email and email.status == "queued"
    assert "$30.00" in email.text and "$30.00" in email.html
    assert "Alice Chen" in email.text


def test_a_reminder_goes_at_most_once_per_cadence(owed, today):
    assert get_settings().reminder_days == 15
    send_reminders()
    assert send_reminders().recent == [owed["alice"].id], "the same day again"
    today(d(17) + timedelta(days=14))
    assert send_reminders().queued == []
    today(d(17) + timedelta(days=15))
    assert send_reminders().queued == [owed["alice"].id]
    assert [e.key.rsplit(":", 1)[1] for e in reminders()] == ["2026-11-17", "2026-12-02"]


def test_a_shorter_cadence_applies_from_the_last_reminder(owed, today):
    send_reminders()
    get_settings().reminder_days = 7
    today(d(23))
    assert send_reminders().queued == []
    today(d(24))
    assert send_reminders().queued == [owed["alice"].id]


def test_no_reminder_once_paid_or_when_turned_off(owed, today):
    get_settings().reminder_days = 0
    assert send_reminders().off and reminders() == []
    get_settings().reminder_days = 15
    record_payout(owed["manager"], agent_id=owed["alice"].id, amount_cents=3000, paid_on=d(17))
    assert send_reminders().queued == [] and reminders() == []


def test_an_inactive_agent_is_not_reminded(owed):
    owed["alice"].active = False
    assert send_reminders().queued == []


def test_the_reminder_is_delivered_with_text_and_html(owed, outbox):
    send_reminders()
    db.session.commit()
    [email] = reminders()
    assert deliver_email(email.id) == "sent"
    [message] = outbox.list()
    assert message.to == owed["alice"].email and message.subject == "Commission not yet paid to you"
    assert message.has_html and "$30.00" in outbox.html(message.id)
    assert message.metadata["kind"] == "unpaid_reminder"


def test_the_daily_job_commits_and_is_idempotent(owed, app):
    from jobs.reminders import send_reminders as job

    assert job()["queued"] == [owed["alice"].id]
    assert job() == {"off": False, "queued": [], "recent": [owed["alice"].id]}
    assert db.session.scalar(select(func.count()).select_from(OutgoingEmail)
                             .where(OutgoingEmail.key.like("reminder:%"))) == 1


# --- the admin setting --------------------------------------------------------------------------


def _form(**overrides) -> dict:
    """A valid settings form."""
    form = {"company_name": "Acme Sales", "approval_required": "y", "period_cadence": "monthly",
            "grace_hours": "24", "reminder_days": "7"}
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def test_admin_sets_the_reminder_cadence(as_admin):
    page = as_admin.get("/admin/settings").get_data(as_text=True)
    assert by_id(page, "reminder_days").attrs["value"] == "15"
    assert as_admin.post("/admin/settings", _form()).status_code == 302
    db.session.expire_all()
    assert db.session.get(Settings, 1).reminder_days == 7
    page = as_admin.get("/admin/settings").get_data(as_text=True)
    assert by_id(page, "reminder_days").attrs["value"] == "7"
    assert as_admin.post("/admin/settings", _form(reminder_days="0")).status_code == 302
    db.session.expire_all()
    assert db.session.get(Settings, 1).reminder_days == 0


def test_a_form_without_the_field_keeps_the_cadence(as_admin):
    get_settings().reminder_days = 9
    db.session.commit()
    assert as_admin.post("/admin/settings", _form(reminder_days=None)).status_code == 302
    db.session.expire_all()
    assert db.session.get(Settings, 1).reminder_days == 9


@pytest.mark.parametrize("value, message", [
    ("-1", "every 1 to 365 days, or 0 for never"),
    ("366", "every 1 to 365 days, or 0 for never"),
    ("junk", "whole number of days"),
    ("", "whole number of days"),
])
def test_a_bad_cadence_is_refused_beside_the_field(as_admin, value, message):
    response = as_admin.post("/admin/settings", _form(reminder_days=value, company_name="Changed"))
    assert response.status_code == 422
    error = by_id(response.get_data(as_text=True), "reminder_days-error")
    assert error is not None and message in error.text
    db.session.expire_all()
    settings = db.session.get(Settings, 1)
    assert (settings.reminder_days, settings.company_name) == (15, "Sales Tracking")
