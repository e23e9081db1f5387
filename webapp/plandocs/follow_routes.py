"""Following plan documents up: the manager's team list, the admin's company list and its CSV export."""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context
from flask_login import current_user

from webapp import clock
from webapp.auth.decorators import admin_required, manager_required
from webapp.plandocs import bp, followup
from webapp.web import is_htmx, requested_page, run_service


def _filters() -> followup.Filters:
    """The list's filters from the URL (?state=, ?agent=)."""
    return followup.Filters.parse(request.args.get("state"), request.args.get("agent"))


def _list(endpoint: str, template: str, **extra):
    """A follow-up page for `endpoint`, or only its list when htmx asks for it."""
    filters = _filters()
    context = {"page": followup.list_documents(current_user, filters, requested_page()), "filters": filters,
               "endpoint": endpoint, "today": clock.today(), **extra}
    if is_htmx("documents-list"):
        return render_template("plandocs/follow/_list.html", **context)
    return render_template(template, **context)


@bp.route("/manage/plan-documents")
@manager_required
def team_documents():
    """The team's plan documents and where each stands (waiting ones by default), with counts per state."""
    return _list("plandocs.team_documents", "plandocs/follow/team.html")


@bp.route("/admin/plan-documents")
@admin_required
def company_documents():
    """Every plan document of the company, with counts per state and per plan, and the CSV export."""
    return _list("plandocs.company_documents", "plandocs/follow/company.html",
                 plans=followup.plan_counts(current_user))


@bp.route("/admin/plan-documents.csv")
@admin_required
def export_csv():
    """The company's plan documents and acknowledgements as CSV, streamed (audited before it starts)."""
    user = current_user._get_current_object()
    filters = followup.Filters.parse(request.args.get("state"), request.args.get("agent"), default=followup.ALL)
    # The audit is committed before the first byte goes out.
    chunks = run_service(lambda: followup.start_export(user, filters)).value
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="plan_documents_{clock.today().isoformat()}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
