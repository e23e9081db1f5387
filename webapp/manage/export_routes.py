"""Exports page and the streamed CSV downloads (sales, ledger) for a date range."""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context
from flask_login import current_user

from webapp import clock
from webapp.auth import access
from webapp.auth.decorators import manager_required
from webapp.commissions.periods import last_closed_end, period_bounds, month_cadence
from webapp.manage import bp, exports
from webapp.manage.export_forms import LedgerExportForm, SalesExportForm
from webapp.web import check


def _default_range() -> tuple[str, str]:
    """The latest closed period (what payroll usually wants), else the current month so far."""
    end = last_closed_end()
    if end is not None:
        start, _ = period_bounds(end, month_cadence(end))
        return start.isoformat(), end.isoformat()
    today = clock.today()
    return today.replace(day=1).isoformat(), today.isoformat()


def _page(sales_form=None, ledger_form=None, status: int = 200):
    """The exports page with both forms (either may carry errors)."""
    start, end = _default_range()
    sales_form = sales_form or SalesExportForm(formdata=None, start=start, end=end)
    ledger_form = ledger_form or LedgerExportForm(formdata=None, start=start, end=end)
    return render_template("review/exports.html", sales_form=sales_form, ledger_form=ledger_form,
                           team_only=not access.is_admin(current_user)), status


@bp.route("/exports")
@manager_required
def exports_page():
    """Two forms: download sales or ledger entries for a date range as CSV."""
    return _page()


def _csv_response(chunks, filename: str) -> Response:
    """A streamed CSV download (the generator keeps the request context while it runs)."""
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/exports/sales.csv")
@manager_required
def export_sales():
    """Sales dated in the range (your team; admins: all), streamed as CSV."""
    form = SalesExportForm(request.args)
    asked = check(lambda: exports.parse_request(form.start.data, form.end.data, form.status.data), form=form)
    if not asked.ok:
        return _page(sales_form=form, status=422)
    export = asked.value
    suffix = f"_{export.status}" if export.status else ""
    return _csv_response(exports.sales_csv(current_user._get_current_object(), export),
                         f"sales_{export.slug}{suffix}.csv")


@bp.route("/exports/ledger.csv")
@manager_required
def export_ledger():
    """Ledger entries of the periods starting in the range (your team; admins: all), as CSV."""
    form = LedgerExportForm(request.args)
    asked = check(lambda: exports.parse_request(form.start.data, form.end.data), form=form)
    if not asked.ok:
        return _page(ledger_form=form, status=422)
    export = asked.value
    return _csv_response(exports.ledger_csv(current_user._get_current_object(), export),
                         f"ledger_{export.slug}.csv")
