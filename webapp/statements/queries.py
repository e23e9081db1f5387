"""Read helpers for the statement pages: who may see which statement and run, lists, progress.

Visibility follows DESIGN.md: an agent sees only their own statements, a manager their team's,
an admin everyone's; anything else is "not found" (404), never "forbidden".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import joinedload

from webapp.auth import access
from webapp.auth.models import User
from webapp.commissions.models import Period
from webapp.extensions import db
from webapp.mail.models import EmailStatus, OutgoingEmail
from webapp.operations.models import BackgroundOperation, OperationStatus
from webapp.paging import Paged, Window, page_window, paginate
from webapp.statements.models import PERIOD_ISSUE_KIND, Statement, StatementKind, StatementRun, StatementStatus

PAGE_SIZE = 25
KINDS = tuple(StatementKind)
# Final states: nothing more will happen without a person (a resend, a new run).
FINAL_STATEMENT = (StatementStatus.RENDERED, StatementStatus.FAILED)
FINAL_EMAIL = (EmailStatus.SENT, EmailStatus.REJECTED, EmailStatus.FAILED)
RESENDABLE_EMAIL = (EmailStatus.FAILED, EmailStatus.REJECTED)


def _scope(user: User, query):
    """Restrict a query over Statement to the statements `user` may see (the access policy)."""
    return query.where(access.agent_scope(user, Statement.agent_id))


def email_for(statement: Statement) -> OutgoingEmail | None:
    """The statement's email delivery (one per statement)."""
    return db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.statement_id == statement.id))


@dataclass(frozen=True)
class StatementFilters:
    """The list's filters: agent, a period the statement overlaps, kind."""

    agent_id: int | None = None
    period: Period | None = None
    kind: str | None = None


@dataclass(frozen=True)
class StatementRow:
    """A statement as a list shows it, with its email delivery."""

    statement: Statement
    email: OutgoingEmail | None


@dataclass(frozen=True)
class StatementPage(Paged):
    """One page of statements, newest first."""

    rows: list[StatementRow]
    window: Window


def list_statements(user: User, filters: StatementFilters, page: int = 1) -> StatementPage:
    """The statements the user may see, newest first, filtered, page `page` of them."""
    query = _scope(user, select(Statement))
    if filters.agent_id is not None:
        query = query.where(Statement.agent_id == filters.agent_id)
    if filters.kind in KINDS:
        query = query.where(Statement.kind == filters.kind)
    if filters.period is not None:
        # "Statements covering this period": its own statements and any ad-hoc range overlapping it.
        query = query.where(Statement.start_date <= filters.period.end_date,
                            Statement.end_date >= filters.period.start_date)
    window, query = paginate(query, page, PAGE_SIZE)
    rows = db.session.execute(
        query.add_columns(OutgoingEmail).outerjoin(OutgoingEmail, OutgoingEmail.statement_id == Statement.id)
        .options(joinedload(Statement.agent), joinedload(Statement.period))
        .order_by(Statement.number.desc())).all()
    return StatementPage([StatementRow(s, e) for s, e in rows], window)


def statements_before(user: User, filters: StatementFilters, before_number: int | None = None,
                      limit: int = 50) -> list[StatementRow]:
    """The statements the user may see, newest first, filtered like the list.

    Only numbers below `before_number`: a keyset page for the API, stable while statements are issued."""
    query = _scope(user, select(Statement))
    if filters.agent_id is not None:
        query = query.where(Statement.agent_id == filters.agent_id)
    if filters.kind in KINDS:
        query = query.where(Statement.kind == filters.kind)
    if before_number is not None:
        query = query.where(Statement.number < before_number)
    rows = db.session.execute(
        query.add_columns(OutgoingEmail).outerjoin(OutgoingEmail, OutgoingEmail.statement_id == Statement.id)
        .options(joinedload(Statement.agent), joinedload(Statement.period))
        .order_by(Statement.number.desc()).limit(limit)).all()
    return [StatementRow(s, e) for s, e in rows]


def periods_with_statements(user: User) -> list[Period]:
    """Periods that have statements the user may see, newest first (the period filter's choices)."""
    ids = _scope(user, select(Statement.period_id).where(Statement.period_id.is_not(None)))
    return list(db.session.scalars(
        select(Period).where(Period.id.in_(ids)).order_by(Period.start_date.desc())))


def next_period_to_issue(today) -> Period | None:
    """The earliest ended period without a statement run, after the last period that has one.

    Periods are issued in order: a statement's opening balance is the previous statement's
    closing, so issuing a later period first would not reconcile.
    """
    last_issued_end = db.session.scalar(
        select(func.max(Period.end_date)).join(StatementRun, StatementRun.period_id == Period.id))
    query = select(Period).where(Period.end_date < today,
                                 ~exists().where(StatementRun.period_id == Period.id))
    if last_issued_end is not None:
        query = query.where(Period.start_date > last_issued_end)
    return db.session.scalar(query.order_by(Period.start_date).limit(1))


# ---- Runs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRow:
    """A run as a list shows it, with how many of its statements the user may see."""

    run: StatementRun
    statements: int


def recent_runs(user: User, limit: int = 5) -> list[RunRow]:
    """The latest runs the user may follow, newest first."""
    counts = (_scope(user, select(Statement.run_id, func.count().label("n")))
              .group_by(Statement.run_id).subquery())
    query = (select(StatementRun, func.coalesce(counts.c.n, 0))
             .outerjoin(counts, counts.c.run_id == StatementRun.id)
             .options(joinedload(StatementRun.requested_by))
             .order_by(StatementRun.id.desc()).limit(limit))
    query = query.where(access.run_scope(user, func.coalesce(counts.c.n, 0)))
    return [RunRow(run, count) for run, count in db.session.execute(query).all()]


@dataclass(frozen=True)
class Failure:
    """A statement that needs a person: its PDF failed, or its email failed or was rejected."""

    statement: Statement
    stage: str  # "PDF" or "Email"
    error: str
    email: OutgoingEmail | None = None

    @property
    def resendable(self) -> bool:
        """True when the email is known not to have gone (Resend is allowed)."""
        return self.email is not None and self.email.status in RESENDABLE_EMAIL


# Failures listed on a run's page (the count covers them all); statements per page of its table.
FAILURES_SHOWN = 50
RUN_PAGE_SIZE = 50


@dataclass(frozen=True)
class RunProgress(Paged):
    """Where a run stands, over the statements the user may see (.total of them): counts over all,
    the first FAILURES_SHOWN failures and one page of statements by number (every one for the API)."""

    run: StatementRun
    rendered: int
    sent: int
    done: int
    failed: int
    failures: list[Failure]
    rows: list[StatementRow]
    window: Window
    # The operation still issuing the run's statements (a large period run), else None: until it
    # is done, more statements will come, however many of those issued so far are settled.
    issuing: BackgroundOperation | None = None

    @property
    def finished(self) -> bool:
        """Every statement is issued and has reached a final state."""
        return self.issuing is None and self.done == self.total

    @property
    def stalled(self) -> bool:
        """Issuing stopped on an error: nothing changes until someone retries the operation."""
        return self.issuing is not None and self.issuing.status == OperationStatus.FAILED

    @property
    def polling(self) -> bool:
        """True while the page should keep asking for news."""
        return not (self.finished or self.stalled)

    @property
    def percent(self) -> int:
        """Share of statements done, for the progress bar."""
        return 100 if not self.total else round(100 * self.done / self.total)


def _row_done(row: StatementRow) -> bool:
    """A statement is done when its PDF failed (its email then never goes), or when it is
    rendered and its email was sent, rejected or failed (_DONE says the same in SQL)."""
    if row.statement.status == StatementStatus.FAILED:
        return True
    if row.statement.status != StatementStatus.RENDERED:
        return False
    return row.email is None or row.email.status in FINAL_EMAIL


# _row_done and the failures' rule as SQL conditions over Statement outer-joined to its email.
_DONE = or_(Statement.status == StatementStatus.FAILED,
            and_(Statement.status == StatementStatus.RENDERED,
                 or_(OutgoingEmail.id.is_(None), OutgoingEmail.status.in_(FINAL_EMAIL))))
_FAILED = or_(Statement.status == StatementStatus.FAILED, OutgoingEmail.status.in_(RESENDABLE_EMAIL))


def _run_statements(user: User, run: StatementRun, *columns):
    """`columns` over the run's statements the user may see, each outer-joined to its email."""
    return (_scope(user, select(*columns).select_from(Statement).where(Statement.run_id == run.id))
            .outerjoin(OutgoingEmail, OutgoingEmail.statement_id == Statement.id))


def _rows(query) -> list[StatementRow]:
    """The (statement, email) rows of a query over Statement and OutgoingEmail, agents loaded."""
    return [StatementRow(s, e) for s, e in db.session.execute(
        query.options(joinedload(Statement.agent)).order_by(Statement.number)).all()]


def run_progress(user: User, run: StatementRun, page: int | None = None, *, after_number: int | None = None,
                 limit: int | None = None) -> RunProgress:
    """Counts, failures and statements of a run (those the user may see), read fresh: page `page`
    of its statements, or with `limit` the `limit` numbered after `after_number` (a keyset page,
    stable while a period run is still issuing), or every one when neither is given. The counts
    are one aggregate, so a poll loads and renders one page of rows however long the run."""
    total, rendered, sent, done, failed = db.session.execute(_run_statements(
        user, run, func.count(), func.count().filter(Statement.status == StatementStatus.RENDERED),
        func.count().filter(OutgoingEmail.status == EmailStatus.SENT), func.count().filter(_DONE),
        func.count().filter(_FAILED))).one()
    failures = []
    for row in _rows(_run_statements(user, run, Statement, OutgoingEmail).where(_FAILED).limit(FAILURES_SHOWN)):
        if row.statement.status == StatementStatus.FAILED:
            failures.append(Failure(row.statement, "PDF", row.statement.render_error or "Unknown error", row.email))
        else:
            failures.append(Failure(row.statement, "Email", row.email.last_error or row.email.status, row.email))
    listed = _run_statements(user, run, Statement, OutgoingEmail)
    if limit is not None:
        window = page_window(total, 1, limit)
        if after_number is not None:
            listed = listed.where(Statement.number > after_number)
        listed = listed.limit(limit)
    elif page is None:
        window = page_window(total, 1, max(total, 1))
    else:
        window = page_window(total, page, RUN_PAGE_SIZE)
        listed = listed.offset(window.offset).limit(window.size)
    return RunProgress(run=run, rendered=rendered, sent=sent, done=done, failed=failed,
                       failures=failures, rows=_rows(listed), window=window, issuing=_issuing(run))


def _issuing(run: StatementRun) -> BackgroundOperation | None:
    """The background operation issuing the run's statements while it is not done, else None."""
    if run.kind != StatementKind.PERIOD:
        return None
    return db.session.scalar(
        select(BackgroundOperation).where(BackgroundOperation.kind == PERIOD_ISSUE_KIND,
                                          BackgroundOperation.status != OperationStatus.DONE,
                                          BackgroundOperation.params["run_id"].as_integer() == run.id)
        .order_by(BackgroundOperation.id.desc()).limit(1))


def statement_final(statement: Statement, email: OutgoingEmail | None) -> bool:
    """True when nothing more will change on the statement page without a person acting."""
    return _row_done(StatementRow(statement, email))


def agent_statements(agent_id: int) -> list[Statement]:
    """The agent's issued statements, newest number first (their PDFs stay unloaded)."""
    return list(db.session.scalars(
        select(Statement).where(Statement.agent_id == agent_id).order_by(Statement.number.desc())))
