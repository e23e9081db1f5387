"""API v1 statements: list, read, the stored PDF, ad-hoc runs and their progress.

Who sees which statement or run is webapp.statements.queries' rule (the pages' rule); issuing is
webapp.statements.services'. Money in snapshots is integer cents; the API shows decimal strings.
"""

from __future__ import annotations

from flask import Response, request

from webapp.api import idempotency
from webapp.api.convert import money, snapshot_adjustments, snapshot_lines, snapshot_payouts, snapshot_spiffs
from webapp.api.framework import ApiError, decode_cursor, encode_cursor, error_response, operation
from webapp.api.statement_schemas import (RunIn, RunOut, RunQuery, RunStatement, StatementDetail, StatementOut,
                                          StatementPage, StatementQuery, StatementTotals)
from webapp.auth import access
from webapp.auth.models import Role
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.mail import services as mail
from webapp.statements import limits, queries
from webapp.statements import services as statements
from webapp.statements.models import Statement
from webapp.statements.ordering import in_statement_order
from webapp.tasks import UNAVAILABLE, background_service_available


def _fields(statement: Statement, email) -> dict:
    """The fields every statement shows, from its row and its snapshot."""
    snapshot = statement.snapshot
    return {"id": statement.id, "number": statement.number, "run_id": statement.run_id,
            "agent_id": statement.agent_id, "agent_name": snapshot["agent"]["name"], "kind": statement.kind,
            "start": statement.start_date, "end": statement.end_date,
            "period_label": snapshot["period_label"],
            "status": statement.status, "pdf_sha256": statement.pdf_sha256,
            "email_status": email.status if email is not None else None,
            "totals": StatementTotals(**{name: money(value) for name, value in snapshot["totals"].items()})}


@operation("GET", "/statements",
           summary="Statements (agents: their own; managers: their team's; admins: all)", tag="Statements",
           area="ledger",
           query=StatementQuery, responses={200: StatementPage}, errors=(404,))
def list_statements(user, query: StatementQuery):
    """Statements the user may see, newest first, paginated."""
    if query.agent_id is not None:
        access.own_or_managed_agent(user, query.agent_id)
    rows = queries.statements_before(user, queries.StatementFilters(agent_id=query.agent_id, kind=query.kind),
                                     before_number=decode_cursor(query.cursor), limit=query.limit + 1)
    page = rows[: query.limit]
    more = len(rows) > query.limit
    return StatementPage(items=[StatementOut(**_fields(row.statement, row.email)) for row in page],
                         next_cursor=encode_cursor(page[-1].statement.number) if more else None)


@operation("GET", "/statements/{statement_id}", summary="One statement, with its lines as issued",
           tag="Statements", area="ledger", responses={200: StatementDetail})
def get_statement(user, statement_id: int):
    """A statement the user may see (another agent's: 404)."""
    statement = access.visible_statement(user, statement_id)
    snapshot = in_statement_order(statement.snapshot)  # also for statements stored in approval order
    return StatementDetail(**_fields(statement, queries.email_for(statement)), currency=snapshot["currency"],
                           message=snapshot["message"], lines=snapshot_lines(snapshot),
                           spiffs=snapshot_spiffs(snapshot),
                           adjustments=snapshot_adjustments(snapshot), payouts=snapshot_payouts(snapshot))


@operation("GET", "/statements/{statement_id}/pdf",
           summary="The statement's PDF, exactly as stored (404 until it is rendered)", tag="Statements",
           area="ledger",
           responses={200: None}, binary="application/pdf")
def statement_pdf(user, statement_id: int):
    """The stored PDF bytes with their sha256 (404 while the PDF is being prepared)."""
    statement = access.visible_statement(user, statement_id)
    try:
        data = statements.statement_pdf(statement)
    except NotFound as exc:
        # The statement is the user's: say why there is no file yet (not just "Not found.").
        raise ApiError(404, exc.message) from exc
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f"attachment; filename=statement-{statement.number}.pdf"
    response.headers["X-Content-SHA256"] = statement.pdf_sha256
    response.set_etag(statement.pdf_sha256)
    return response.make_conditional(request)


def _queued(statement: Statement, action) -> StatementOut:
    """Run a statement action that queues a job after the commit (the job queue down: 503, nothing
    changed); the statement as it now stands."""
    if not background_service_available():
        raise ApiError(503, UNAVAILABLE)
    action()
    return StatementOut(**_fields(statement, queries.email_for(statement)))


@operation("POST", "/statements/{statement_id}/resend",
           summary="Email a statement again, once its last email is known not to have gone (failed or "
                   "rejected)", tag="Statements", area="ledger", responses={200: StatementOut}, write=True,
           errors=(409, 503))
def resend_statement(user, statement_id: int):
    """Queue the statement's email again (never emailed, or sent, queued or being sent: 409)."""
    statement = access.visible_statement(user, statement_id)
    email = queries.email_for(statement)
    if email is None:
        raise ApiError(409, "This statement has no email to send again.")
    return _queued(statement, lambda: mail.resend(email))


@operation("POST", "/statements/{statement_id}/render", summary="Render a statement's failed PDF again",
           tag="Statements", area="ledger", responses={200: StatementOut}, roles=(Role.MANAGER, Role.ADMIN),
           write=True, errors=(409, 503))
def render_statement_again(user, statement_id: int):
    """Queue the PDF of a statement whose render failed (after the cause is fixed; otherwise 409)."""
    statement = access.visible_statement(user, statement_id)
    return _queued(statement, lambda: statements.render_again(statement))


def _run_out(user, run, query: RunQuery | None = None) -> RunOut:
    """A run and its progress over the statements the user may see, with a page of them."""
    query = query or RunQuery()
    progress = queries.run_progress(user, run, after_number=decode_cursor(query.cursor), limit=query.limit + 1)
    page, more = progress.rows[: query.limit], len(progress.rows) > query.limit
    return RunOut(id=run.id, kind=run.kind, start=run.start_date, end=run.end_date, message=run.message,
                  total=progress.total, rendered=progress.rendered, sent=progress.sent,
                  failed=progress.failed, finished=progress.finished,
                  statements=[RunStatement(id=row.statement.id, number=row.statement.number,
                                           agent_id=row.statement.agent_id, status=row.statement.status,
                                           email_status=row.email.status if row.email is not None else None)
                              for row in page],
                  next_cursor=encode_cursor(page[-1].statement.number) if more else None)


def _replayed(user, run, body: RunIn):
    """The run a retried request (same Idempotency-Key) made before: 200 for the same body, else 409."""
    if not statements.same_run_request(run, user, agent_ids=body.agent_ids, start=body.start, end=body.end,
                                       message=body.message):
        raise idempotency.reused_error("statement run")
    return _run_out(user, run), 200, idempotency.REPLAYED


def _too_many(exc: limits.TooManyRequests):
    """429 in the API's error shape, with Retry-After: seconds until a request is free again."""
    db.session.rollback()
    response = error_response(429, exc.message)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


@operation("POST", "/statements/runs", summary="Issue statements for a date range (agents: their own; "
           "managers: agents of their team, with a message). Each user may start a limited number of runs "
           "an hour (admin setting, default 5): beyond it 429 with Retry-After (seconds). Send an "
           "Idempotency-Key header to retry safely", tag="Statements", area="ledger", body=RunIn,
           responses={201: RunOut, 200: RunOut}, write=True, errors=(409, 503), own_key=True,
           headers={idempotency.HEADER: {
               "description": "Your key for this request: the same key and body again returns the run "
                              "already started (200) and issues nothing; the same key with a different body "
                              "is refused (409). Keys are per user.",
               "schema": idempotency.SCHEMA}})
def start_run(user, body: RunIn):
    """Issue ad-hoc statements now; jobs render and email them.

    With Redis down: 503 and nothing issued, as on the pages. A retried request (same
    Idempotency-Key) gets the first run back, without counting against the hourly limit."""
    if access.is_agent(user) and body.agent_ids not in (None, [user.id]):
        message = "Agents request their own statement; leave agent_ids out."
        raise ApiError(422, message, {"agent_ids": message})
    key = idempotency.key_header()
    existing = statements.run_by_key(user, key) if key is not None else None
    if existing is not None:
        return _replayed(user, existing, body)
    statements.check_range(body.start, body.end)  # the range's errors come before "try again later"
    if not background_service_available():
        raise ApiError(503, UNAVAILABLE)
    try:
        run = statements.start_adhoc_run(user, agent_ids=body.agent_ids or [], start=body.start, end=body.end,
                                         message=body.message, idempotency_key=key)
    except statements.KeyUsed as exc:  # a simultaneous retry with this key issued it first
        return _replayed(user, exc.run, body)
    except limits.TooManyRequests as exc:
        return _too_many(exc)
    return _run_out(user, run), 201


@operation("POST", "/periods/{period_id}/statements",
           summary="Issue an ended period's statements (closing it), emailed to every agent: the next period "
                   "without statements, as periods go in order", tag="Statements", area="ledger",
           responses={201: RunOut, 200: RunOut}, roles=(Role.MANAGER, Role.ADMIN), write=True, errors=(409, 503))
def issue_period_statements(user, period_id: int):
    """201 with the run just started (many agents: a background operation issues them, see
    Operation-Location); a period already issued answers its run (200); a period not ended, or
    not the next to issue, is a 409 naming the one to issue; the job queue down: 503, nothing written."""
    if not background_service_available():
        raise ApiError(503, UNAVAILABLE)
    run, started = statements.issue_period(user, period_id)
    return _run_out(user, run), 201 if started else 200


@operation("GET", "/statements/runs/{run_id}", summary="A statement run's progress, with a page of its statements",
           tag="Statements", area="ledger", query=RunQuery, responses={200: RunOut})
def get_run(user, run_id: int, query: RunQuery):
    """Where a run stands: statements rendered, sent, failed (others' runs: 404)."""
    return _run_out(user, access.visible_run(user, run_id), query)
