"""Statement pages: lists, the statement and its PDF, requests and sends, run progress, resend."""

from __future__ import annotations

from flask import Response, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from webapp import clock
from webapp.auth import access
from webapp.auth.access import team_agents
from webapp.auth.decorators import agent_required, manager_required, signed_in_required
from webapp.commissions.models import Period
from webapp.disputes.services import disputes_by_entry
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.mail import services as mail
from webapp.statements import bp, limits, queries
from webapp.statements import services as statements
from webapp.statements.forms import (IssuePeriodForm, RequestStatementForm, ResendForm, SendStatementsForm,
                                     StatementFilterForm)
from webapp.tasks import UNAVAILABLE, background_service_available
from webapp.operations import services as operations
from webapp.operations.routes import follow
from webapp.web import FLASH, POLL_STOP, check, finish, is_htmx, progress_page, requested_page, run_service


def _user():
    """The signed-in user as a plain model object (services take models, not proxies)."""
    return current_user._get_current_object()


# ---- Lists ------------------------------------------------------------------------------------


def _filters(form: StatementFilterForm) -> queries.StatementFilters:
    """URL arguments as list filters; junk values are ignored rather than failing the page."""
    period = db.session.get(Period, form.period_id.data) if form.period_id.data else None
    return queries.StatementFilters(
        agent_id=form.agent_id.data, period=period,
        kind=form.kind.data if form.kind.data in queries.KINDS else None)


def _index_page(request_form: RequestStatementForm | None = None, status: int = 200):
    """The statements page for the signed-in user (agents: with the request form)."""
    user = _user()
    form = StatementFilterForm(request.args)
    is_agent = access.is_agent(user)
    if not is_agent:
        form.set_choices(team_agents(user, include_inactive=True), queries.periods_with_statements(user))
    filters = _filters(form) if not is_agent else queries.StatementFilters()
    context = {"form": form, "page": queries.list_statements(user, filters, requested_page()), "is_agent": is_agent,
               "args": {k: v for k, v in request.args.items() if k != "page"}}
    if is_htmx("statements-table"):
        return render_template("statements/partials/_statements_table.html", **context)
    if is_agent:
        context["request_form"] = request_form or RequestStatementForm(formdata=None)
        context["allowance"] = limits.allowance(user)
    else:
        context["next_period"] = queries.next_period_to_issue(clock.today())
    context["runs"] = queries.recent_runs(user)
    return render_template("statements/index.html", **context), status


@bp.route("/statements")
@signed_in_required
def index():
    """Agents: their statements, newest first, and "Request a statement"; managers and admins:
    the team's statements with filters, "Send statements" and "Issue period statements"."""
    return _index_page()


# ---- Starting runs ------------------------------------------------------------------------------


def _validate(form) -> bool:
    """The form's own checks, then the service's range rules (order, at most 366 days) beside
    the fields, all reported at once; True if valid."""
    valid = form.validate()
    if form.start.errors or form.end.errors:
        return False
    return check(lambda: statements.check_range(*form.dates), form=form).ok and valid


def _refuse_unavailable(form) -> bool:
    """Refuse to start a run while Redis is unreachable (True when refused).

    The sweeper would render and send the statements later, but the person who clicked is
    waiting on a progress page that would sit at 0 with no explanation; and a run issued
    now would consume statement numbers for statements nobody can see being made. Better to
    say so and write nothing, so a retry in a minute starts cleanly.
    """
    if background_service_available():
        return False
    form.form_errors.append(UNAVAILABLE)
    return True


def _refused(page: tuple[str, int], exc: ServiceError) -> Response:
    """A refused request's page; beyond the hourly limit, 429 with Retry-After.

    429, not 422: nothing typed is wrong, and the same request succeeds later; the page still
    shows the message above the form, and Retry-After says when (for the browser and for tools)."""
    response = make_response(*page)
    if isinstance(exc, limits.TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _issued(run) -> tuple:
    """A run just started and its statement count (read before the commit ends the transaction)."""
    return run, len(run.statements)


def _started(run, count: int) -> Response:
    """After the commit: go to the run's progress page."""
    if run.requested_by_id == current_user.id and access.is_agent(current_user):
        flash("Your statement is issued. It is being prepared and emailed to you; this page follows it.",
              "success")
    else:
        flash(f"{count} statement{'s' if count != 1 else ''} issued. They are being prepared and emailed; "
              "this page follows them.", "success")
    return redirect(url_for("statements.run", run_id=run.id), code=303)


def _start_run(form, start, page):
    """Start a run from a posted form (`start(first_day, last_day)`, the service call) and follow it;
    a refused form comes back as `page(form, status)`: 422 for its fields, 503 without Redis, the
    service's status otherwise (429 with Retry-After over the hourly limit)."""
    if not _validate(form):
        return page(form, 422)
    if _refuse_unavailable(form):
        return page(form, 503)
    outcome = run_service(lambda: _issued(start(*form.dates)), form=form)
    if not outcome.ok:
        return _refused(page(form, outcome.status), outcome.error)
    return _started(*outcome.value)


@bp.route("/statements/request", methods=["POST"])
@agent_required
def request_statement():
    """An agent's own statement for any date range: issued now, rendered and emailed by jobs."""
    return _start_run(RequestStatementForm(), lambda start, end: statements.start_adhoc_run(
        _user(), agent_ids=[current_user.id], start=start, end=end), _index_page)


def _send_page(form: SendStatementsForm, status: int = 200):
    """The "Send statements" page, with how many sends are left this hour."""
    return render_template("statements/send.html", form=form, allowance=limits.allowance(_user())), status


@bp.route("/statements/send", methods=["GET", "POST"])
@manager_required
def send():
    """Statements for a date range to all or some agents of the team, with a message."""
    form = SendStatementsForm(formdata=None) if request.method == "GET" else SendStatementsForm()
    form.set_agents(team_agents(_user()))
    if request.method == "GET":
        return _send_page(form)
    return _start_run(form, lambda start, end: statements.start_adhoc_run(
        _user(), agent_ids=form.chosen_agent_ids(), start=start, end=end, message=form.message.data), _send_page)


def _issue_page(form: IssuePeriodForm, period: Period | None, status: int = 200):
    """The confirmation page for issuing a period's statements."""
    agents = statements.agents_for_period(period) if period is not None else []
    return render_template("statements/issue.html", form=form, period=period, agents=agents), status


@bp.route("/statements/issue", methods=["GET", "POST"])
@manager_required
def issue():
    """Issue the next ended period's statements (closing the period), after a confirmation."""
    period = queries.next_period_to_issue(clock.today())
    if request.method == "GET":
        form = IssuePeriodForm(formdata=None)
        form.period_id.data = str(period.id) if period else ""
        return _issue_page(form, period)
    form = IssuePeriodForm()
    # The page named a period; if another one is now next (someone issued it meanwhile), say so.
    if period is None or form.period_id.data != str(period.id):
        form.form_errors.append("That period's statements were issued meanwhile; check the period below.")
        form.period_id.data = str(period.id) if period else ""
        return _issue_page(form, period, 409)
    if not form.validate():
        return _issue_page(form, period, 422)
    if _refuse_unavailable(form):
        return _issue_page(form, period, 503)
    outcome = run_service(lambda: _issued(statements.start_period_run(_user(), period)), form=form)
    if not outcome.ok:
        return _issue_page(form, db.session.get(Period, period.id), outcome.status)
    return follow(f"{period.label} is closed; its statements are being issued:") or _started(*outcome.value)


# ---- One statement ------------------------------------------------------------------------------


def _status_context(statement) -> dict:
    """What the status panel shows: the PDF, the email delivery, whether it still changes."""
    email = queries.email_for(statement)
    return {"statement": statement, "email": email, "final": queries.statement_final(statement, email)}


def _detail_page(statement, status: int = 200):
    """The statement page: the snapshot in the portal layout, its PDF and its delivery."""
    user = _user()
    own = statement.agent_id == user.id
    disputes = None
    if own:
        # Only the agent's own portal view offers "Dispute" per line (never the PDF).
        entry_ids = [item["entry_id"] for key in ("lines", "adjustments") for item in statement.snapshot[key]]
        disputes = disputes_by_entry(user, entry_ids)
    # Rendered by Jinja, escaped there.
    body = Markup(statements.statement_html(statement, for_pdf=False, dispute_links=own, disputes=disputes))
    return render_template("statements/detail.html", body=body, **_status_context(statement)), status


@bp.route("/statements/<int:statement_id>")
@signed_in_required
def detail(statement_id: int):
    """The statement as issued (its snapshot), its PDF and its delivery."""
    return _detail_page(access.visible_statement(_user(), statement_id))


@bp.route("/statements/<int:statement_id>/status")
@signed_in_required
def status(statement_id: int):
    """The status panel alone: htmx polls it every 2 s until the PDF and email are settled."""
    context = _status_context(access.visible_statement(_user(), statement_id))
    code = POLL_STOP if context["final"] and is_htmx() else 200
    return render_template("statements/partials/_status.html", **context), code


@bp.route("/statements/<int:statement_id>.pdf")
@signed_in_required
def pdf(statement_id: int):
    """Exactly the stored PDF bytes (404 while it is being prepared), with their sha256."""
    statement = access.visible_statement(_user(), statement_id)
    data = statements.statement_pdf(statement)
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f"attachment; filename=statement-{statement.number}.pdf"
    response.headers["X-Content-SHA256"] = statement.pdf_sha256
    response.set_etag(statement.pdf_sha256)
    return response.make_conditional(request)


@bp.route("/statements/<int:statement_id>/resend", methods=["POST"])
@signed_in_required
def resend(statement_id: int):
    """Send the statement's email again, only once the last attempt is known not to have gone."""
    statement = access.visible_statement(_user(), statement_id)
    form = ResendForm()
    back = (url_for("statements.run", run_id=statement.run_id) if form.back.data == "run"
            else url_for("statements.detail", statement_id=statement.id))
    email = queries.email_for(statement)
    if email is None:
        raise NotFound()
    if not form.validate():
        flash("This form has expired; reload the page and try again.", "error")
        return redirect(back, code=303)
    # The delivery job is enqueued after the commit.
    return _statement_action(statement, lambda: mail.resend(email), back,
                             lambda: f"Statement No. {statement.number} is queued to be emailed again to {email.to}.")


@bp.route("/statements/<int:statement_id>/render", methods=["POST"])
@manager_required
def render_again(statement_id: int):
    """Queue a failed PDF render again (after the cause, e.g. a missing font, is fixed)."""
    statement = access.visible_statement(_user(), statement_id)
    # The render job is enqueued after the commit.
    return _statement_action(statement, lambda: statements.render_again(statement),
                             url_for("statements.detail", statement_id=statement.id),
                             lambda: f"Statement No. {statement.number} is queued to be rendered again.")


def _statement_action(statement, action, back: str, message):
    """Run an action on a statement: refused, the statement page with the reason on top; done,
    back to `back` with `message()`."""
    outcome = run_service(action, unplaced=FLASH)
    if not outcome.ok:
        return _detail_page(statement, outcome.status)
    return finish(back, message(), code=303)


# ---- Runs ---------------------------------------------------------------------------------------


@bp.route("/statements/runs/<int:run_id>")
@signed_in_required
def run(run_id: int):
    """A run's progress (rendered, sent, failures); htmx polls the fragment until it finishes."""
    user = _user()
    progress = queries.run_progress(user, access.visible_run(user, run_id), page=requested_page())
    period = db.session.get(Period, progress.run.period_id) if progress.run.period_id else None
    context = {"progress": progress, "run": progress.run, "period": period, "operation_url": _operation_url(progress)}
    return progress_page("run-progress", "statements/partials/_run_progress.html", "statements/run.html",
                         not progress.polling, **context)


def _operation_url(progress: queries.RunProgress) -> str | None:
    """The page of the operation issuing the run, when the signed-in user may follow it."""
    if progress.issuing is None:
        return None
    try:
        operations.visible_operation(current_user, progress.issuing.id)
    except NotFound:
        return None
    return url_for("operations.operation", operation_id=progress.issuing.id)
