"""The unpaid-balance reminder: agents whose issued statements show commission not yet paid get an
email every `settings.reminder_days` days (0 turns it off) while that balance stays positive.

A daily job calls `send_reminders()`. "At most once per cadence" is read from the reminders
already queued: an agent is reminded again only `reminder_days` after the last reminder's date,
which the email key carries (`reminder:<agent id>:<local date>`). The key is unique, so two runs
on the same day (a restarted scheduler, a manual run) queue one email.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app, render_template
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapp import clock
from webapp.auth.models import Role, User
from webapp.commissions.ledger import agent_balance
from webapp.commissions.periods import get_settings
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import queue_email
from webapp.statements.models import Statement, StatementKind

KEY_PREFIX = "reminder"


@dataclass
class ReminderSummary:
    """What one reminder run did."""

    off: bool = False  # reminders are turned off (reminder_days = 0)
    queued: list[int] = field(default_factory=list)  # agent ids reminded now
    recent: list[int] = field(default_factory=list)  # agent ids owed but reminded within the cadence

    def as_dict(self) -> dict:
        """A plain dict (the job's result, kept by RQ)."""
        return {"off": self.off, "queued": self.queued, "recent": self.recent}


def reminder_key(agent_id: int, day: date) -> str:
    """The email key of an agent's reminder sent on `day`."""
    return f"{KEY_PREFIX}:{agent_id}:{day.isoformat()}"


def last_reminder_day(agent_id: int) -> date | None:
    """The local date of the agent's latest reminder (ISO dates in the keys sort as dates)."""
    key = db.session.scalar(select(func.max(OutgoingEmail.key))
                            .where(OutgoingEmail.key.like(f"{KEY_PREFIX}:{agent_id}:%")))
    return date.fromisoformat(key.rsplit(":", 1)[1]) if key else None


def _reminder(agent: User, unpaid_cents: int, day: date) -> None:
    """Queue one agent's reminder (its delivery job is enqueued after the commit)."""
    latest = db.session.scalar(
        select(Statement).where(Statement.agent_id == agent.id, Statement.kind == StatementKind.PERIOD)
        .order_by(Statement.end_date.desc()).limit(1))
    base_url = current_app.config.get("BASE_URL") or ""
    context = {"agent": agent, "unpaid_cents": unpaid_cents, "latest": latest,
               "company": get_settings().company_name,
               "link": f"{base_url}/statements" if base_url else None}
    queue_email(
        key=reminder_key(agent.id, day), to=agent.email,
        subject="Commission not yet paid to you",
        text=render_template("email/reminder.txt", **context),
        html=render_template("email/reminder.html", **context),
        meta={"kind": "unpaid_reminder", "agent_id": str(agent.id)},
    )


def send_reminders() -> ReminderSummary:
    """Queue a reminder for each active agent with a positive stated unpaid balance whose last
    reminder is at least the cadence old. Flushes; the caller commits."""
    summary = ReminderSummary()
    every = get_settings().reminder_days
    if every <= 0:
        summary.off = True
        return summary
    today = clock.today()
    agents = db.session.scalars(select(User).where(User.role == Role.AGENT, User.active.is_(True))
                                .order_by(User.id))
    for agent in agents:
        unpaid = agent_balance(agent.id).stated_unpaid
        if unpaid <= 0:
            continue
        last = last_reminder_day(agent.id)
        if last is not None and today < last + timedelta(days=every):
            summary.recent.append(agent.id)
            continue
        try:
            with db.session.begin_nested():
                _reminder(agent, unpaid, today)
        except IntegrityError:
            # A run at the same moment queued today's reminder first (the key is unique).
            summary.recent.append(agent.id)
            continue
        summary.queued.append(agent.id)
    return summary
