"""Statement periods and installation settings.

Periods are created on demand. Closed periods always form a prefix of the calendar: a period is
closed only after every earlier one, so "the earliest open period" is simply the first period
after the last closed one, and any date up to the last closed end is frozen.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapp import clock
from webapp.audit.services import record
from webapp.commissions.balances import keep_period_totals
from webapp.commissions.models import Period, PeriodStatus, Settings
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.formtools import check_plain_text

CADENCES = ("semi_monthly", "monthly")


def get_settings(*, lock: bool = False) -> Settings:
    """The installation's settings row (created by the migrations); `lock`: row-locked and read
    afresh, for a change checked against what was read (the API's If-Match)."""
    options = {"with_for_update": True, "populate_existing": True} if lock else {}
    settings = db.session.get(Settings, 1, **options)
    if settings is None:  # a database created without the migrations (never in production)
        settings = Settings(id=1)
        db.session.add(settings)
        db.session.flush()
    return settings


def month_bounds(day: date) -> tuple[date, date]:
    """First and last day of the calendar month of `day`."""
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def month_cadence(day: date) -> str:
    """The cadence a month uses: that of periods already made in it, else the current setting.

    This is what makes a cadence change take effect only at a month boundary.
    """
    first, last = month_bounds(day)
    existing = db.session.scalars(
        select(Period).where(Period.start_date >= first, Period.start_date <= last)
    ).all()
    if existing:
        return "monthly" if any(p.start_date == first and p.end_date == last for p in existing) else "semi_monthly"
    return get_settings().period_cadence


def period_bounds(day: date, cadence: str) -> tuple[date, date]:
    """Start and end of the period containing `day` under `cadence`."""
    first, last = month_bounds(day)
    if cadence == "monthly":
        return first, last
    return (first, first.replace(day=15)) if day.day <= 15 else (first.replace(day=16), last)


def last_closed_end() -> date | None:
    """The end date of the latest closed period, or None if none is closed."""
    return db.session.scalar(select(func.max(Period.end_date)).where(Period.status == PeriodStatus.CLOSED))


def is_date_closed(day: date) -> bool:
    """True if `day` falls in a closed period (its figures are frozen)."""
    end = last_closed_end()
    return end is not None and day <= end


def period_for(day: date) -> Period:
    """The period containing `day`, created if needed (closed if it lies in the frozen prefix)."""
    period = db.session.scalar(select(Period).where(Period.start_date <= day, Period.end_date >= day))
    if period is not None:
        return period
    start, end = period_bounds(day, month_cadence(day))
    db.session.flush()  # so only this insert can fail inside the savepoint below
    try:
        # A savepoint: when two requests create the same period at once (the first sales of a new
        # half-month, a dashboard opened at midnight), the loser's insert fails on the unique dates
        # without spoiling its transaction, and it takes the row the winner committed.
        with db.session.begin_nested():
            status = PeriodStatus.CLOSED if is_date_closed(day) else PeriodStatus.OPEN
            period = Period(start_date=start, end_date=end, status=status)
            db.session.add(period)
    except IntegrityError:
        period = db.session.scalar(select(Period).where(Period.start_date <= day, Period.end_date >= day))
        if period is None:
            raise
    return period


def earliest_open_period() -> Period:
    """Where differences for frozen lines are posted: the first period after the closed prefix."""
    end = last_closed_end()
    return period_for(end + timedelta(days=1) if end is not None else clock.today())


def hold_open(period: Period) -> bool:
    """Hold the period as it is for the rest of this transaction (FOR SHARE: a close of it waits for
    this transaction to end) and say whether it is open, as committed now.

    Whatever writes into a period (ledger entries, a payout dated in it) holds it first: otherwise
    a close committing in between would freeze the period without the write, which then lands in a
    closed period that no statement shows."""
    db.session.refresh(period, with_for_update={"read": True})
    return period.is_open


def open_periods() -> list[Period]:
    """Every open period, oldest first."""
    return list(db.session.scalars(
        select(Period).where(Period.status == PeriodStatus.OPEN).order_by(Period.start_date)))


def current_period() -> Period:
    """The period containing today."""
    return period_for(clock.today())


def close_period(actor, period: Period) -> Period:
    """Close (freeze) a period that has ended; every earlier period must be closed first."""
    if not period.is_open:
        raise ServiceError(f"{period.label} is already closed.", status=409)
    if period.end_date >= clock.today():
        raise ServiceError(f"{period.label} has not ended yet.", status=409)
    earlier_open = db.session.scalar(
        select(Period).where(Period.status == PeriodStatus.OPEN, Period.start_date < period.start_date)
        .order_by(Period.start_date)
    )
    if earlier_open is not None:
        raise ServiceError(f"Close {earlier_open.label} first: periods close in order.", status=409)
    # Empty stretches before this period get their (empty) rows, closed, so the prefix has no gaps.
    cursor = (last_closed_end() or period.start_date) + timedelta(days=1)
    closing = []
    while cursor < period.start_date:
        gap = period_for(cursor)
        gap.status = PeriodStatus.CLOSED
        closing.append(gap)
        cursor = gap.end_date + timedelta(days=1)
    period.status = PeriodStatus.CLOSED
    period.closed_at = clock.now_utc()
    period.closed_by_id = getattr(actor, "id", None)
    db.session.flush()
    keep_period_totals([*closing, period])
    record(actor, "period.close", period, {"status": PeriodStatus.OPEN}, {"status": PeriodStatus.CLOSED})
    return period


def update_settings(actor, *, company_name: str, approval_required: bool, period_cadence: str,
                    grace_hours: int, reminder_days: int | None = None,
                    statement_requests_per_hour: int | None = None,
                    plan_reminder_days: int | None = None) -> Settings:
    """Change the installation settings (a cadence change applies from the next new month)."""
    settings = get_settings()
    before = {"company_name": settings.company_name, "approval_required": settings.approval_required,
              "period_cadence": settings.period_cadence, "grace_hours": settings.grace_hours,
              "reminder_days": settings.reminder_days,
              "statement_requests_per_hour": settings.statement_requests_per_hour,
              "plan_reminder_days": settings.plan_reminder_days}
    reminder_days = settings.reminder_days if reminder_days is None else reminder_days
    # A form without the field (an older page still open) keeps the cadence, as for reminder_days.
    plan_reminder_days = settings.plan_reminder_days if plan_reminder_days is None else plan_reminder_days
    requests_per_hour = (settings.statement_requests_per_hour if statement_requests_per_hour is None
                         else statement_requests_per_hour)
    # Shown in every statement's heading and email: one line of plain text.
    company_name = check_plain_text((company_name or "").strip(), "company_name")
    if not company_name or len(company_name) > 120:
        raise ServiceError("Enter the company name (at most 120 characters).", "company_name")
    if period_cadence not in CADENCES:
        raise ServiceError("Choose semi-monthly or monthly.", "period_cadence")
    if not isinstance(grace_hours, int) or not 0 <= grace_hours <= 720:
        raise ServiceError("Grace time is between 0 and 720 hours.", "grace_hours")
    if not isinstance(reminder_days, int) or not 0 <= reminder_days <= 365:
        raise ServiceError("Reminders go every 1 to 365 days, or 0 for never.", "reminder_days")
    if not isinstance(requests_per_hour, int) or isinstance(requests_per_hour, bool) \
            or not 1 <= requests_per_hour <= 100:
        raise ServiceError("Allow 1 to 100 statement requests an hour.", "statement_requests_per_hour")
    if not isinstance(plan_reminder_days, int) or isinstance(plan_reminder_days, bool) \
            or not 0 <= plan_reminder_days <= 365:
        raise ServiceError("Plan document reminders go every 1 to 365 days, or 0 for never.", "plan_reminder_days")
    settings.company_name = company_name
    settings.approval_required = bool(approval_required)
    settings.period_cadence = period_cadence
    settings.grace_hours = grace_hours
    settings.reminder_days = reminder_days
    settings.statement_requests_per_hour = requests_per_hour
    settings.plan_reminder_days = plan_reminder_days
    db.session.flush()
    after = {"company_name": company_name, "approval_required": bool(approval_required),
             "period_cadence": period_cadence, "grace_hours": grace_hours, "reminder_days": reminder_days,
             "statement_requests_per_hour": requests_per_hour, "plan_reminder_days": plan_reminder_days}
    if after != before:  # saving the page unchanged is no change for the audit log
        record(actor, "settings.update", settings, before, after)
    return settings


def closed_periods(limit: int = 24) -> list[Period]:
    """Closed periods, newest first (the ones whose statements can be paid)."""
    return list(db.session.scalars(
        select(Period).where(Period.status == PeriodStatus.CLOSED)
        .order_by(Period.start_date.desc()).limit(limit)))
