"""Audit log page for admins: who changed what, filtered by actor, object, action and date."""

from __future__ import annotations

from flask import render_template, request

from webapp.admin import bp
from webapp.admin.audit_forms import AuditFilterForm
from webapp.audit.queries import search
from webapp.auth.decorators import admin_required
from webapp.web import is_htmx, requested_page


@bp.route("/audit")
@admin_required
def audit():
    """The audit log, newest first, filtered and paginated; htmx gets only the table."""
    form = AuditFilterForm(request.args)
    form.set_choices()
    valid = form.validate()
    page = search(form.filters(), requested_page())
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    fragment = is_htmx("audit-table")
    # A swapped table cannot show errors beside the (unchanged) fields, so it repeats them on top.
    context = {"form": form, "page": page, "args": args, "fragment": fragment}
    status = 200 if valid else 422
    if fragment:
        return render_template("admin/partials/_audit_table.html", **context), status
    return render_template("admin/audit.html", **context), status
