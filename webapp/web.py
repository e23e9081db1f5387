"""The request toolkit of the pages, as api/framework.py is the API's: every route module uses it.

- `is_htmx(target)`: whether htmx asks for a fragment (of the element with that id).
- `run_service(call)`: the one place a view's transaction ends. It commits once when the service
  call returns, and rolls back when it refuses (a ServiceError), showing the refusal beside its
  field of the form (or where `unplaced` says); a NotFound is re-raised after the rollback, so it
  is the 404 page as anywhere else. Jobs and emails the call asked for go out after the commit
  only (webapp/tasks.py), so a refused request sends nothing. `check(call)` is the same for a call
  that only reads or parses, and leaves the transaction alone.
- `submit(form, save)` validates a posted form, then runs `save` that way; `form_page` is the
  whole create/edit page built on it.
- `finish(location, message)`: flash, redirect, and the HX-Trigger events the page listens for.
- `requested_page()`: the page number a list was asked for (webapp/paging.py does the arithmetic).

Statuses: a form page answers 422 when a posted form is refused (htmx swaps 422 responses, see
base.html's htmx-config); a view that passes `error_status=None` answers with the service's own
status instead (409 for a conflict, 429 over a limit...), as it always has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flask import Response, flash, make_response, redirect, render_template, request, url_for

from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.formtools import apply_service_error

# HX-Trigger events, and the panels that listen (hx-trigger="<event> from:body") and refresh:
# the agent's totals (sales/partials/_totals.html); the manager's queue counters and team figures
# (review/partials/_counters.html, _team_figures.html).
SALES_CHANGED = "sales-changed"
# An agent logged a sale and the reply carried the totals panel: the attainment and SPIFF panels
# refresh, the totals panel does not fetch itself again, the sale form clears (static/js/sale-form.js).
SALE_LOGGED = "sale-logged"
REVIEW_CHANGED = "review-changed"

# Where a refusal that names no field of the form goes (run_service's `unplaced`).
FORM_TOP = "form"  # above the form (form.form_errors)
FLASH = "flash"  # a flashed message: the form it came from is gone from the page that shows it


def is_htmx(target: str | None = None) -> bool:
    """True for a request htmx made (and, given `target`, one asking for the element with that id)."""
    headers = request.headers
    return headers.get("HX-Request") == "true" and (target is None or headers.get("HX-Target") == target)


# htmx stops polling an element whose request answers 286 (and still swaps it).
POLL_STOP = 286


def progress_page(target: str, fragment: str, page: str, finished: bool, **context):
    """A progress page, or (for htmx polling `target`) its fragment, answering POLL_STOP once
    `finished` so the polling stops."""
    if is_htmx(target):
        response = make_response(render_template(fragment, **context))
        if finished:
            response.status_code = POLL_STOP
        return response
    return render_template(page, **context)


def with_trigger(response, *events: str):
    """The response with an HX-Trigger header naming `events` (listeners refresh themselves)."""
    response = make_response(response)
    response.headers["HX-Trigger"] = ", ".join(events)
    return response


def finish(location: str, message: str, *, category: str = "success", trigger: str | None = None,
           code: int = 302):
    """After a committed action: flash `message`, redirect to `location` (and send the HX-Trigger
    event `trigger`, for the panels of the page that listen to it)."""
    flash(message, category)
    response = redirect(location, code=code)
    return with_trigger(response, trigger) if trigger else response


@dataclass(frozen=True)
class Outcome:
    """What a service call (or a posted form) came to: its value, or the refusal and the status
    to answer with. A refused form has no `error`: its messages are on the form."""

    ok: bool
    value: Any = None
    error: ServiceError | None = None
    status: int = 200
    committed: bool = False


REFUSED_FORM = Outcome(ok=False, status=422)


def _show(error: ServiceError, form, unplaced: str | None) -> None:
    """Show a refusal: beside its field of `form`; one naming no field per `unplaced` (FORM_TOP,
    FLASH, a field's name, or None: the view shows it). Without a form, only FLASH shows it."""
    if unplaced == FLASH and (form is None or error.field is None):
        flash(error.message, "error")
    elif form is not None and error.field is not None:
        apply_service_error(form, error)
    elif form is not None and unplaced == FORM_TOP:
        form.form_errors.append(error.message)
    elif form is not None and unplaced is not None:
        apply_service_error(form, ServiceError(error.message, unplaced))


def check(call: Callable[[], Any], *, form=None, unplaced: str | None = FORM_TOP,
          error_status: int | None = None) -> Outcome:
    """Call a service that only reads or parses: its value, or its refusal shown (see _show) with
    `error_status` (None: the service's own). NotFound is raised on: the 404 page."""
    try:
        value = call()
    except NotFound:
        raise
    except ServiceError as exc:
        _show(exc, form, unplaced)
        return Outcome(ok=False, error=exc, status=error_status or exc.status)
    return Outcome(ok=True, value=value)


def run_service(call: Callable[[], Any], *, form=None, unplaced: str | None = FORM_TOP,
                error_status: int | None = None, commit: bool | Callable[[Any], bool] = True) -> Outcome:
    """Run a service call that writes, and end the request's transaction once.

    Returned: commit (or, with `commit` False, roll back: a dry run; with a predicate, commit when
    it holds for the value). Refused: roll back, then as check(). Raised NotFound: roll back, 404.
    """
    try:
        outcome = check(call, form=form, unplaced=unplaced, error_status=error_status)
    except NotFound:
        db.session.rollback()
        raise
    keep = outcome.ok and (commit(outcome.value) if callable(commit) else commit)
    if keep:
        db.session.commit()
    else:
        db.session.rollback()
    return Outcome(outcome.ok, outcome.value, outcome.error, outcome.status, committed=keep)


def submit(form, save: Callable[[], Any], *, error_status: int | None = 422, unplaced: str | None = FORM_TOP,
           commit: bool | Callable[[Any], bool] = True) -> Outcome:
    """Validate the posted `form`, then run_service(save): errors beside the form's fields, 422
    (or the service's own status, with `error_status=None`)."""
    if not form.validate_on_submit():
        return REFUSED_FORM
    return run_service(save, form=form, unplaced=unplaced, error_status=error_status, commit=commit)


def form_page(form, save: Callable[[], Any], *, template: str, done: Callable[[Any], Any],
              error_status: int | None = 422, **context):
    """The create/edit page: GET renders the form; POST submits it and returns `done(result)`
    once committed, or renders the form again with each error beside its field."""
    status = 200
    if request.method == "POST":
        outcome = submit(form, save, error_status=error_status)
        if outcome.ok:
            return done(outcome.value)
        status = outcome.status
    return render_template(template, form=form, **context), status


def saved(message: str, endpoint: str, **values) -> Callable[[Any], Any]:
    """A `done` for form_page: flash `message` and redirect to `endpoint`."""
    return lambda _result: finish(url_for(endpoint, **values), message)


def requested_page() -> int:
    """The page number in the URL (?page=); anything but a number is page 1."""
    return request.args.get("page", 1, type=int) or 1


def stored_pdf(data: bytes, sha256: str, filename: str) -> Response:
    """Stored PDF bytes as a download, with their sha256 as a header and the ETag (304 when unchanged)."""
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    response.headers["X-Content-SHA256"] = sha256
    response.set_etag(sha256)
    return response.make_conditional(request)
