"""Review queue pages: the team's pending sales, approve / reject one inline or many at once."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from webapp import clock
from webapp.auth.access import team_agents
from webapp.auth.decorators import manager_required
from webapp.catalog import services as catalog
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.formtools import db_id_or_none, parse_iso_date
from webapp.manage import bp, queue
from webapp.manage.queue_forms import BulkForm, QueueFilterForm
from webapp.sales import portal
from webapp.sales.models import Sale, SaleStatus
from webapp.web import REVIEW_CHANGED, SALES_CHANGED, finish, is_htmx, requested_page, run_service, with_trigger

# The counters listen for the first; the agent-facing panels (and a team view) for the second.
DECIDED = (REVIEW_CHANGED, SALES_CHANGED)
TABLE_ID = "queue-table"
FILTER_ARGS = ("agent_id", "product_id", "start", "end", "min_amount", "max_amount", "flagged", "page")


def _args() -> dict[str, str]:
    """The queue's filters as given in the URL, to carry through a decision and back."""
    return {k: v for k, v in request.args.items() if k in FILTER_ARGS and v != ""}


def _filter_form() -> tuple[QueueFilterForm, queue.QueueFilters]:
    """The filter form read from the URL and the filters it gives (invalid fields are ignored)."""
    form = QueueFilterForm(request.args)
    form.set_choices(team_agents(current_user, include_inactive=True), catalog.list_products())
    form.validate()
    filters = queue.QueueFilters(
        agent_id=form.agent_id.data, product_id=form.product_id.data,
        start=None if form.start.errors else parse_iso_date(form.start.data),
        end=None if form.end.errors else parse_iso_date(form.end.data),
        min_cents=form.cents(form.min_amount), max_cents=form.cents(form.max_amount),
        flagged_only=bool(form.flagged.data))
    return form, filters


def _context(**extra) -> dict:
    """Everything the queue templates need: filters, the page, and (optionally) row messages."""
    form, filters = _filter_form()
    context = {
        "form": form, "filters": filters, "filtered": _filtered(filters), "args": _args(),
        "page": queue.queue_page(current_user, filters, requested_page()),
        "bulk_form": extra.pop("bulk_form", None) or BulkForm(formdata=None), "bulk_result": None,
        "row_messages": {}, "reject_errors": {}, "reasons": {}, "checked": set(), "notices": [],
        "today": clock.today(),
    }
    context.update(extra)
    return context


def _filtered(filters: queue.QueueFilters) -> bool:
    """True when any filter narrows the queue."""
    return filters != queue.QueueFilters()


def _status(form: QueueFilterForm) -> int:
    """422 when a filter was refused (its message sits beside the field), else 200."""
    return 422 if form.errors else 200


@bp.route("/review", endpoint="queue")
@manager_required
def queue_view():
    """The review queue: full page, or just the table for htmx filter and page changes."""
    context = _context()
    status = _status(context["form"])
    if is_htmx(TABLE_ID):
        return render_template("review/partials/_queue_table.html", oob_filter_errors=True, **context), status
    return render_template("review/queue.html", counters=queue.counters(current_user), **context), status


@bp.route("/review/counters", endpoint="counters")
@manager_required
def counters_view():
    """The counters alone (htmx refreshes them after every decision and every minute)."""
    return render_template("review/partials/_counters.html", counters=queue.counters(current_user))


def _row(sale: Sale, **extra) -> str:
    """One queue row, with the sale's current flags and estimate (and the count, when given)."""
    return render_template(
        "review/partials/_row_refused.html", sale=sale, args=_args(), today=clock.today(),
        row_flags=queue.compute_flags(Sale.id == sale.id).get(sale.id, []),
        estimates=queue.estimates_for([sale]), holders=queue.holders_of([sale.id]).get(sale.id), **extra)


def _decide_one(sale_id: int, action: str):
    """Approve or reject one sale; htmx gets the row back, a plain form a redirect or the page."""
    sale = queue.reviewable_sale(current_user, sale_id)
    reason = request.form.get("reason")
    outcome = run_service(lambda: queue.decide(current_user, sale, action, reason), unplaced=None)
    if not outcome.ok:
        return _refused_one(sale, outcome.error, reason)
    done = "Approved" if action == "approve" else "Rejected"
    if not is_htmx():
        return finish(url_for("review.queue", **_args()),
                      f"{done} sale #{sale.id} ({sale.agent.name}, {sale.product.name}).")
    filters = _filter_form()[1]
    return with_trigger(render_template(
        "review/partials/_row_decided.html", sale=sale, action=action, filtered=_filtered(filters),
        commission=portal.sale_commissions([sale.id]).get(sale.id, 0),
        total=queue.count_matching(current_user, filters)), *DECIDED)


def _refused_one(sale: Sale, exc: ServiceError, reason: str | None):
    """The row (htmx) or the page (plain form) with the refusal beside the sale or its reason."""
    db.session.refresh(sale)
    if exc.field == "reason":
        extra = {"reject_error": exc.message, "reason": reason or ""}
        messages = {"reject_errors": {sale.id: exc.message}, "reasons": {sale.id: reason or ""}}
    else:
        extra = {"message": exc.message}
        messages = {"row_messages": {sale.id: exc.message}}
    if is_htmx():
        if exc.status != 409:
            return make_response(_row(sale, **extra), exc.status)
        # A 409 means someone else just decided it: it left the queue, and the counters are stale.
        filters = _filter_form()[1]
        extra.update(total=queue.count_matching(current_user, filters), filtered=_filtered(filters))
        return with_trigger(make_response(_row(sale, **extra), exc.status), *DECIDED)
    # Without JavaScript the whole page comes back; a sale that left the queue is named on top.
    left = sale.status != SaleStatus.PENDING
    notices = [f"Sale #{sale.id} ({sale.product.name}): {exc.message}"] if left else []
    context = _context(notices=notices, **messages)
    return render_template("review/queue.html", counters=queue.counters(current_user), **context), exc.status


@bp.route("/review/<int:sale_id>/approve", methods=["POST"], endpoint="approve")
@manager_required
def approve_view(sale_id: int):
    """Approve one pending sale of the team (never one you entered)."""
    return _decide_one(sale_id, "approve")


@bp.route("/review/<int:sale_id>/reject", methods=["POST"], endpoint="reject")
@manager_required
def reject_view(sale_id: int):
    """Reject one pending sale of the team, with a reason the agent is emailed."""
    return _decide_one(sale_id, "reject")


@bp.route("/review/bulk", methods=["POST"], endpoint="bulk")
@manager_required
def bulk_view():
    """Approve or reject the ticked sales; each row's outcome is shown, one commit for them all."""
    bulk_form = BulkForm(request.form)
    action, ids = request.form.get("action", ""), request.form.getlist("sale_ids")
    checked = {db_id_or_none(i) for i in ids} - {None}
    # "All N matching": the queue's filters (in the URL) choose the sales, not the ticks.
    every_match = _filter_form()[1] if request.form.get("scope") == "all" else None
    outcome = run_service(lambda: queue.bulk_decide(current_user, ids, action, bulk_form.reason.data)
                          if every_match is None else
                          queue.decide_all_matching(current_user, every_match, action, bulk_form.reason.data),
                          unplaced=None)
    if not outcome.ok:
        return _bulk_refused(bulk_form, outcome.error, checked)
    result = outcome.value
    if not isinstance(result, queue.BulkResult):
        return _operation_started(result)
    if not is_htmx():
        if result.decided:
            verb = "Approved" if action == "approve" else "Rejected"
            flash(f"{verb} {len(result.decided)} sale{'s' if len(result.decided) != 1 else ''}.", "success")
        for row in result.failed:
            flash(f"Sale #{row.sale_id}{_what(row)}: {row.message}", "error")
        return redirect(url_for("review.queue", **_args()))
    context = _context(bulk_result=result, row_messages={r.sale_id: r.message for r in result.failed})
    return with_trigger(render_template("review/partials/_queue_table.html", **context), *DECIDED)


def _operation_started(operation):
    """Every matching sale is being decided by a background operation: go to its progress page
    (htmx follows HX-Redirect instead of swapping the table)."""
    location = url_for("operations.operation", operation_id=operation.id)
    flash(f"{operation.total:,} sales are being decided; this page shows the progress.", "success")
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, code=303)


def _bulk_refused(bulk_form: BulkForm, exc: ServiceError, checked: set[int]):
    """The table (htmx) or the page with the refused request's message, the ticks kept."""
    if exc.field == "reason":
        bulk_form.reason.errors = [exc.message]
    context = _context(bulk_form=bulk_form, bulk_errors={exc.field or "form": exc.message}, checked=checked)
    if is_htmx():
        return render_template("review/partials/_queue_table.html", **context), exc.status
    return render_template("review/queue.html", counters=queue.counters(current_user), **context), exc.status


def _what(row: queue.RowResult) -> str:
    """The row's agent and product in brackets when its sale is known (not for a 404)."""
    return f" ({row.sale.agent.name}, {row.sale.product.name})" if row.sale is not None else ""
