"""The statement dispatcher: run by the scheduler every few minutes, it starts the statement run of
every period that ended more than the grace time ago, then queues whatever statement work is still
waiting. Everything it does is found from the database, so a missed tick, a lost Redis or a killed
worker is caught up by the next tick.

When a period is due: its last day ends at midnight in the installation's TIMEZONE; the run starts
`settings.grace_hours` (elapsed hours) after that instant, so late sales of the last day still count.
Periods are created lazily elsewhere, so the dispatcher makes the rows of ended periods nobody
touched (a quiet fortnight still gets its statements, e.g. for balances carried over).

Runs start oldest first and each commits on its own: a period that cannot be issued stops the
later ones (periods close in order) but keeps the earlier ones. Two dispatchers at once produce
one run per period: the period row is locked before its run starts, and statement_runs.period_id
is unique (start_period_run returns the existing run on a duplicate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from flask import current_app
from sqlalchemy import and_, func, or_, select

from webapp import clock
from webapp.commissions.models import Payout, Period, PeriodStatus
from webapp.commissions.periods import get_settings, last_closed_end, month_cadence, period_bounds, period_for
from webapp.extensions import db, redis_client
from webapp.mail.models import EmailStatus, OutgoingEmail
from webapp.mail.services import SENDING_ABANDONED_AFTER
from webapp.sales.models import Sale
from webapp.statements.models import Statement, StatementRun, StatementStatus
from webapp.statements.services import start_period_run, unrendered_statement_ids
from webapp.tasks import enqueue

# A delivery left `sending` longer than its job may run was interrupted (the worker died): it is
# queued again, and deliver_email looks it up at the provider before any resend. A younger one
# may still be in flight in another worker, so the sweep leaves it alone. One threshold for the
# whole mail path (the old name is kept for the dispatcher's callers and tests).
SENDING_STALE_AFTER = SENDING_ABANDONED_AFTER


@dataclass
class DispatchSummary:
    """What one dispatcher tick did."""

    # Labels of the due periods whose run now exists (started by this tick, or by a dispatcher
    # running at the same moment: either way exactly one run).
    issued: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # period label -> error (later periods wait)
    # Work handed to the queues: each has a job waiting now (queued by this tick, or found waiting).
    renders: int = 0  # statements still without a PDF
    deliveries: int = 0  # emails still to send
    enqueue_errors: int = 0  # jobs Redis refused (the next tick finds the same work again)

    def as_dict(self) -> dict:
        """A plain dict (the job's result, kept by RQ)."""
        return {"issued": self.issued, "failed": self.failed,
                "renders": self.renders, "deliveries": self.deliveries, "enqueue_errors": self.enqueue_errors}


def period_due_at(end_date: date, grace_hours: int) -> datetime:
    """The UTC instant a period ending on `end_date` becomes due: local midnight after it + grace."""
    midnight = datetime.combine(end_date + timedelta(days=1), time.min, clock.installation_zone())
    # In UTC before adding: grace is elapsed time, and aware-datetime arithmetic in a zone with
    # daylight saving would add wall-clock hours instead.
    return midnight.astimezone(timezone.utc) + timedelta(hours=grace_hours)


def _first_day() -> date | None:
    """Where the walk over periods starts: after the closed prefix, else the earliest known date."""
    closed_end = last_closed_end()
    if closed_end is not None:
        return closed_end + timedelta(days=1)
    candidates = [db.session.scalar(select(func.min(Period.start_date))),
                  db.session.scalar(select(func.min(Sale.sold_on))),
                  db.session.scalar(select(func.min(Payout.paid_on)))]
    known = [day for day in candidates if day is not None]
    return min(known) if known else None


def _ended_period_at(day: date, today: date) -> Period | None:
    """The period containing `day`, created if it has ended by `today`; None if it has not ended."""
    existing = db.session.scalar(select(Period).where(Period.start_date <= day, Period.end_date >= day))
    if existing is not None:
        return existing if existing.end_date < today else None
    if period_bounds(day, month_cadence(day))[1] >= today:
        return None
    return period_for(day)  # safe when another dispatcher creates the same row at the same time


def due_periods(now: datetime | None = None) -> list[Period]:
    """Periods that ended more than the grace time before `now` and have no run, oldest first.

    Rows are created (flushed, not committed) for ended periods that have none yet.
    """
    now = now or clock.now_utc()
    today = now.astimezone(clock.installation_zone()).date()
    grace = get_settings().grace_hours
    # Periods closed by hand but never issued (a manager closed one early) are still due.
    closed_without_run = list(db.session.scalars(
        select(Period).outerjoin(StatementRun, StatementRun.period_id == Period.id)
        .where(Period.status == PeriodStatus.CLOSED, StatementRun.id.is_(None)).order_by(Period.start_date)))
    walked: list[Period] = []
    cursor = _first_day()
    while cursor is not None and cursor < today:
        period = _ended_period_at(cursor, today)
        if period is None:
            break
        walked.append(period)
        cursor = period.end_date + timedelta(days=1)
    candidates = {p.id: p for p in closed_without_run + walked}.values()
    have_run = set(db.session.scalars(select(StatementRun.period_id).where(
        StatementRun.period_id.in_([p.id for p in candidates]))))
    due = [p for p in candidates if p.id not in have_run and period_due_at(p.end_date, grace) <= now]
    return sorted(due, key=lambda p: p.start_date)


def _start_run(period_id: int) -> StatementRun:
    """Start one period's run (or find it, if another dispatcher just started it)."""
    # Lock the period row first: a second dispatcher waits for the first one's commit and then
    # finds its run, instead of closing the period again and failing on the unique run.
    period = db.session.scalar(select(Period).where(Period.id == period_id).with_for_update()
                               .execution_options(populate_existing=True))
    return start_period_run(None, period)


def _pending_email_ids(now: datetime, limit: int = 500) -> list[int]:
    """Emails to deliver: queued ones whose PDF (if any) exists, and interrupted sends."""
    interrupted = and_(OutgoingEmail.status == EmailStatus.SENDING,
                       OutgoingEmail.sending_since < now - SENDING_STALE_AFTER)
    return list(db.session.scalars(
        select(OutgoingEmail.id)
        .outerjoin(Statement, Statement.id == OutgoingEmail.statement_id)
        .where(or_(OutgoingEmail.status == EmailStatus.QUEUED, interrupted),
               or_(OutgoingEmail.statement_id.is_(None), Statement.status == StatementStatus.RENDERED))
        .order_by(OutgoingEmail.id).limit(limit)))


def enqueue_pending_work(summary: DispatchSummary, now: datetime) -> None:
    """Queue a render job per statement without a PDF and a delivery job per email still to send."""
    connection = redis_client()
    work = [("default", "jobs.statements.render_statement", statement_id, "renders")
            for statement_id in unrendered_statement_ids()]
    work += [("emails", "jobs.mail.deliver_email", email_id, "deliveries")
             for email_id in _pending_email_ids(now)]
    db.session.rollback()  # read-only so far: end the transaction before talking to Redis
    for index, (queue_name, func_name, object_id, counter) in enumerate(work):
        try:
            enqueue(queue_name, func_name, object_id, connection=connection)
        except Exception as exc:  # Redis down: this work is still in the database for the next tick
            # The rest would fail the same way, each after its own connection timeout.
            summary.enqueue_errors += len(work) - index
            current_app.logger.warning("dispatcher could not enqueue %s(%s) and %s more: %s", func_name,
                                       object_id, len(work) - index - 1, type(exc).__name__)
            break
        setattr(summary, counter, getattr(summary, counter) + 1)


def dispatch(now: datetime | None = None) -> DispatchSummary:
    """Start every due period's run (oldest first, one commit each), then queue pending work."""
    now = now or clock.now_utc()
    summary = DispatchSummary()
    try:
        due = [(p.id, p.label) for p in due_periods(now)]
        db.session.commit()  # the period rows the walk created, so a failed run cannot lose them
    except Exception:
        db.session.rollback()
        raise
    for period_id, label in due:
        try:
            _start_run(period_id)
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            summary.failed[label] = f"{type(exc).__name__}: {exc}"[:500]
            current_app.logger.error("statement run for %s failed: %s", label, summary.failed[label])
            break  # periods close in order: a later one cannot close before this one
        summary.issued.append(label)
    enqueue_pending_work(summary, now)
    return summary
