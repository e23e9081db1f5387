"""Issuing statements: period runs (close, freeze, one statement per agent) and ad-hoc requests.

A statement is immutable once issued: its number comes from a counter incremented in the issuing
transaction (so numbers have no gaps), its figures are a snapshot of the ledger, and its PDF is
rendered later by a job and stored with its sha256. Corrections appear on a later statement.
"""

from __future__ import annotations

import hashlib
from datetime import date

from flask import current_app, render_template
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from webapp import clock, hot_cache
from webapp.audit.services import record
from webapp.auth import access
from webapp.auth.models import Role, User
from webapp.commissions.ledger import period_summary
from webapp.commissions.models import CommissionEntry, Payout, Period, Settings
from webapp.commissions.periods import close_period
from webapp.errors import NotFound, ServiceError, get_or_404
from webapp.extensions import db
from webapp.formtools import check_plain_text
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import queue_email
from webapp.operations import services as operations
from webapp.statements import limits
from webapp.statements.models import PERIOD_ISSUE_KIND, Statement, StatementKind, StatementRun, StatementStatus
from webapp.statements.ordering import in_statement_order
from webapp.statements.queries import next_period_to_issue
from webapp.statements.snapshots import adhoc_snapshot, period_snapshot
from webapp.tasks import enqueue_after_commit

MAX_RANGE_DAYS = 366


def next_statement_number() -> int:
    """Take the next statement number (row-locked increment: concurrent runs queue, none skip)."""
    return db.session.execute(
        update(Settings).where(Settings.id == 1)
        .values(last_statement_number=Settings.last_statement_number + 1)
        .returning(Settings.last_statement_number)
        .execution_options(**{hot_cache.UNAFFECTED: True})  # no cached value reads the counter
    ).scalar_one()


# ---- Snapshots ------------------------------------------------------------------------------


def commission_summary(agent, start: date, end: date) -> dict:
    """An agent's commission for a date range, as an ad-hoc statement of it would show; writes nothing.

    Sale lines by sale date, adjustments by the day they were made, payouts, the opening and
    closing unpaid balance; the range follows the statements' rules."""
    start, end = check_range(start, end)
    return adhoc_snapshot(agent, start, end)


# ---- Issuing --------------------------------------------------------------------------------


def _statement_email(statement: Statement) -> OutgoingEmail:
    """Queue the statement's email; it is sent once the PDF exists (the render job enqueues it)."""
    snapshot = statement.snapshot
    label = snapshot["period_label"] or f"{snapshot['start']} to {snapshot['end']}"
    context = {"statement": statement, "s": snapshot, "label": label,
               "link": f"{current_app.config.get('BASE_URL') or ''}/statements/{statement.id}"}
    return queue_email(
        key=f"statement:{statement.id}", to=statement.agent.email,
        subject=f"Commission statement No. {statement.number}: {label}",
        text=render_template("email/statement.txt", **context),
        html=render_template("email/statement.html", **context),
        meta={"kind": "statement", "statement_id": str(statement.id)},
        statement_id=statement.id, enqueue=False)


def _issue(run: StatementRun, agent: User, snapshot: dict) -> Statement:
    """Create one statement (number, snapshot) and its queued email; the render job follows."""
    statement = Statement(number=next_statement_number(), run=run, agent_id=agent.id, kind=run.kind,
                          period_id=run.period_id, start_date=run.start_date, end_date=run.end_date,
                          snapshot=snapshot, status=StatementStatus.PENDING)
    db.session.add(statement)
    db.session.flush()
    statement.agent = agent
    _statement_email(statement)
    enqueue_after_commit("default", "jobs.statements.render_statement", statement.id)
    return statement


def _period_activity(period: Period) -> set[int]:
    """Agents with ledger lines in the period or payouts in its days."""
    active_ids = set(db.session.scalars(select(CommissionEntry.agent_id).where(CommissionEntry.period_id == period.id)))
    active_ids |= set(db.session.scalars(select(Payout.agent_id).where(
        Payout.paid_on >= period.start_date, Payout.paid_on <= period.end_date)))
    return active_ids


def _gets_statement(agent_id: int, period: Period, active_ids: set[int]) -> bool:
    """True when the agent had activity in the period or has a balance coming into or out of it."""
    return agent_id in active_ids or period_summary(agent_id, period).closing != 0


def agents_for_period(period: Period) -> list[User]:
    """Agents with activity in the period or a non-zero balance coming into or out of it."""
    active_ids = _period_activity(period)
    return [agent for agent in db.session.scalars(select(User).where(User.role == Role.AGENT).order_by(User.name))
            if _gets_statement(agent.id, period, active_ids)]


def run_for_period(period: Period) -> StatementRun | None:
    """The statement run of a period, if it was started."""
    return db.session.scalar(select(StatementRun).where(StatementRun.period_id == period.id))


def start_period_run(actor, period: Period, *, inline: bool | None = None) -> StatementRun:
    """Close the period (freezing it) and issue its statements, all in this transaction; with more
    agents than a request should handle (or `inline` False), the statements are issued by a
    background operation that starts after the commit (operations.started() names it).

    Idempotent: a period has at most one run (database-unique), so a second dispatcher or a
    double click gets the existing run.
    """
    return _start_period_run(actor, period, inline=inline)[0]


def _start_period_run(actor, period: Period, *, inline: bool | None = None) -> tuple[StatementRun, bool]:
    """start_period_run, saying whether this call started the run (False: another had)."""
    existing = run_for_period(period)
    if existing is not None:
        return existing, False
    # Lock the period's row and look again: a second issue of the period at the same moment waits
    # here until the first commits, then finds its run, instead of closing the period a second time
    # (a second period.close audit row and webhook event) and losing on the unique run.
    period = get_or_404(Period, period.id, fresh_lock=True)
    existing = run_for_period(period)
    if existing is not None:
        return existing, False
    if period.is_open:
        close_period(actor, period)
    run = StatementRun(kind=StatementKind.PERIOD, period_id=period.id, start_date=period.start_date,
                       end_date=period.end_date, requested_by_id=getattr(actor, "id", None))
    try:
        with db.session.begin_nested():
            db.session.add(run)
            db.session.flush()
    except IntegrityError:
        existing = run_for_period(period)
        if existing is None:
            raise
        return existing, False
    agent_ids = list(db.session.scalars(select(User.id).where(User.role == Role.AGENT).order_by(User.name, User.id)))
    if not inline and (inline is False or operations.is_large(len(agent_ids))):
        # The run (and the closed period) commit with the request; the statements follow in the
        # same agent order, so their numbers are the ones the request would have given them.
        operations.start(actor, PERIOD_ISSUE, agent_ids, run_id=run.id, period_id=period.id)
        return run, True
    for agent in agents_for_period(period):
        _issue(run, agent, period_snapshot(agent, period))
    _record_period_run(actor, run)
    return run, True


def issue_period(actor, period_id: int) -> tuple[StatementRun, bool]:
    """Issue a period's statements as the issue page does, returning (run, started now): only the
    next ended period without a run (periods go in order: each statement opens at the last one's
    close); a period already issued gives its run."""
    period = get_or_404(Period, period_id)
    existing = run_for_period(period)
    if existing is not None:
        return existing, False
    if period.end_date >= clock.today():
        raise ServiceError(f"{period.label} has not ended; its statements are issued after its last day.", status=409)
    next_period = next_period_to_issue(clock.today())
    if next_period is None:  # a later period was issued already: this one is skipped for good
        raise ServiceError(f"A later period was issued already; {period.label} has no statements to issue.",
                           status=409)
    if next_period.id != period.id:
        raise ServiceError(f"Periods are issued in order: issue {next_period.label} first.", status=409)
    return _start_period_run(actor, period)


def _record_period_run(actor, run: StatementRun) -> None:
    """Audit a period run once its statements are issued."""
    count = db.session.scalar(select(func.count()).select_from(Statement).where(Statement.run_id == run.id))
    record(actor, "statements.period_run", run, None, {"period_id": run.period_id, "statements": count})


def _issue_step(operation, batch: list) -> list[str]:
    """Issue the statements of a batch of agents (in name order) that get one and have none yet
    (a statement is unique per agent and period, so a retried batch issues nothing twice)."""
    run = db.session.get(StatementRun, operation.params["run_id"])
    period = db.session.get(Period, run.period_id)
    issued = set(db.session.scalars(select(Statement.agent_id).where(
        Statement.run_id == run.id, Statement.agent_id.in_(batch))))
    active_ids = _period_activity(period)
    for agent_id in batch:
        if agent_id not in issued and _gets_statement(agent_id, period, active_ids):
            agent = db.session.get(User, agent_id)
            _issue(run, agent, period_snapshot(agent, period))
    return []


def _issue_finish(operation) -> dict:
    """Audit the run and sum it up."""
    run = db.session.get(StatementRun, operation.params["run_id"])
    _record_period_run(operation.created_by, run)
    count = db.session.scalar(select(func.count()).select_from(Statement).where(Statement.run_id == run.id))
    return {"figures": {"Agents": operation.total, "Statements issued": count}}


PERIOD_ISSUE = operations.register(operations.Kind(
    name=PERIOD_ISSUE_KIND, label="Issuing a period's statements", step=_issue_step, finish=_issue_finish,
    link=lambda operation: ("statements.run", {"run_id": operation.params["run_id"]},
                            "Follow the PDFs and emails"), area="ledger")).name


def check_range(start, end) -> tuple[date, date]:
    """A valid statement date range: both dates, start <= end, at most 366 days."""
    if not isinstance(start, date):
        raise ServiceError("Enter the first day.", "start")
    if not isinstance(end, date):
        raise ServiceError("Enter the last day.", "end")
    if end < start:
        raise ServiceError("The last day is before the first day.", "end")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ServiceError(f"A statement covers at most {MAX_RANGE_DAYS} days.", "end")
    if start > clock.today():
        raise ServiceError("The range starts in the future.", "start")
    return start, end


class KeyUsed(ServiceError):
    """The requester already started a run with this Idempotency-Key (`run`)."""

    def __init__(self, run: StatementRun):
        super().__init__("This Idempotency-Key was used for another statement run.", "Idempotency-Key", 409)
        self.run = run


def run_by_key(actor: User, key: str) -> StatementRun | None:
    """The run this user started with this idempotency key, if any."""
    return db.session.scalar(select(StatementRun).where(StatementRun.requested_by_id == actor.id,
                                                        StatementRun.idempotency_key == key))


def same_run_request(run: StatementRun, actor: User, *, agent_ids: list[int] | None, start, end,
                     message: str | None) -> bool:
    """True when the request describes `run` again (same range, message and agents)."""
    wanted = {actor.id} if access.is_agent(actor) else set(agent_ids or [])
    return ((run.start_date, run.end_date, run.message) == (start, end, (message or "").strip() or None)
            and {statement.agent_id for statement in run.statements} == wanted)


def start_adhoc_run(actor: User, *, agent_ids: list[int], start, end, message: str | None = None,
                    idempotency_key: str | None = None) -> StatementRun:
    """Statements for any date range, for the actor's own sales (agents) or chosen team agents
    (managers, admins); marked ad hoc, closing nothing.

    Limited per requester and hour (limits.py: 429 beyond it); a key already used raises KeyUsed."""
    start, end = check_range(start, end)
    message = check_plain_text((message or "").strip(), "message", multiline=True) or None
    if message and len(message) > 2000:
        raise ServiceError("Keep the message under 2000 characters.", "message")
    agents = access.statement_agents(actor, agent_ids)
    limits.lock_requester(actor)
    # Under the lock: a simultaneous request with this key has committed its run by now.
    existing = run_by_key(actor, idempotency_key) if idempotency_key else None
    if existing is not None:
        raise KeyUsed(existing)
    limits.check_allowance(actor)
    run = StatementRun(kind=StatementKind.ADHOC, start_date=start, end_date=end, message=message,
                       requested_by_id=actor.id, idempotency_key=idempotency_key, created_at=clock.now_utc())
    db.session.add(run)
    db.session.flush()
    for agent in agents:
        _issue(run, agent, adhoc_snapshot(agent, start, end, message))
    record(actor, "statements.adhoc_run", run, None, {"agents": [a.id for a in agents], "start": start.isoformat(),
                                                      "end": end.isoformat()})
    return run


# ---- Rendering (the PDF itself: rendering.py, in the worker) ------------------------------------


def statement_html(statement: Statement, *, for_pdf: bool, dispute_links: bool = False,
                   disputes: dict | None = None) -> str:
    """The statement as HTML: the print version for the PDF, or the portal page's body.

    `dispute_links` adds "Dispute" to each line (the agent's own portal view only); `disputes`
    maps entry ids to the dispute shown instead of the link.
    """
    # Statements issued before lines were stored in statement order are shown in it too.
    return render_template("pdf/statement.html" if for_pdf else "statements/partials/_statement_body.html",
                           statement=statement, s=in_statement_order(statement.snapshot),
                           dispute_links=dispute_links, disputes=disputes or {}, explain=not for_pdf)


def render_again(statement: Statement) -> Statement:
    """Queue a failed statement's PDF to be rendered again (an issued one is never re-rendered)."""
    if statement.status != StatementStatus.FAILED:
        raise ServiceError("Only a statement whose PDF failed can be rendered again.", status=409)
    statement.status, statement.render_error = StatementStatus.PENDING, None
    db.session.flush()
    enqueue_after_commit("default", "jobs.statements.render_statement", statement.id)
    return statement


def statement_pdf(statement: Statement) -> bytes:
    """The stored PDF bytes, checked against the sha256 recorded when it was issued."""
    data = statement.pdf
    if data is None or hashlib.sha256(data).hexdigest() != statement.pdf_sha256:
        raise NotFound("This statement's PDF is not ready yet.")
    return data


def unrendered_statement_ids(limit: int = 200) -> list[int]:
    """Statements still waiting for their PDF (found from the database, not from Redis)."""
    return list(db.session.scalars(select(Statement.id).where(Statement.status == StatementStatus.PENDING)
                                   .order_by(Statement.id).limit(limit)))
