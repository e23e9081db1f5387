"""Managers' dispute pages: the team's disputes, one dispute's thread, reply, accept, reject."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.auth.decorators import manager_required
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.formtools import apply_service_error
from webapp.review import bp
from webapp.review import disputes as service
from webapp.review.dispute_forms import DisputeAcceptForm, DisputeRejectForm, DisputeReplyForm
from webapp.review.models import DisputeStatus


def _is_htmx() -> bool:
    """True for requests htmx made (they get fragments; others get full pages)."""
    return request.headers.get("HX-Request") == "true"


@bp.route("/disputes")
@manager_required
def disputes():
    """The team's disputes, filtered by status (open by default), open ones first."""
    status = request.args.get("status", DisputeStatus.OPEN)
    if status not in service.STATUS_FILTERS:
        status = DisputeStatus.OPEN
    context = {"rows": service.team_disputes(current_user, status), "status": status,
               "counts": service.team_counts(current_user)}
    if _is_htmx() and request.headers.get("HX-Target") == "disputes-list":
        return render_template("review/disputes/partials/_list.html", **context)
    return render_template("review/disputes/index.html", **context)


def refused(form, exc: ServiceError) -> int:
    """Undo the request's writes and show why: beside the field, or as a message (a conflict)."""
    db.session.rollback()
    if isinstance(exc, NotFound):
        raise exc
    if exc.field is None:
        # e.g. already resolved by another manager: the forms are gone from the page, so say it on top.
        flash(exc.message, "error")
    else:
        apply_service_error(form, exc)
    return exc.status


def _detail_page(dispute, status: int = 200, reply_form=None, accept_form=None, reject_form=None):
    """The manager's dispute page, with any forms that carry errors."""
    return render_template(
        "review/disputes/detail.html", dispute=dispute, reply_form=reply_form or DisputeReplyForm(formdata=None),
        accept_form=accept_form or DisputeAcceptForm(formdata=None),
        reject_form=reject_form or DisputeRejectForm(formdata=None)), status


@bp.route("/disputes/<int:dispute_id>")
@manager_required
def dispute_detail(dispute_id: int):
    """One dispute: the disputed line, the thread, a reply form and the accept / reject forms."""
    return _detail_page(service.visible_dispute(current_user, dispute_id))


def reply_view(dispute, *, detail_endpoint: str, reply_endpoint: str, page):
    """Add the signed-in user's message to a dispute: htmx gets the thread back, others a redirect.

    Shared by the manager's and the agent's pages; `page(dispute, form, status)` renders the
    side's full page when the reply comes back with errors without htmx.
    """
    form = DisputeReplyForm()
    status = 422
    if form.validate():
        try:
            service.reply(current_user, dispute, form.body.data)
        except ServiceError as exc:
            status = refused(form, exc)
        else:
            db.session.commit()
            if not _is_htmx():
                flash("Reply sent.", "success")
                return redirect(url_for(detail_endpoint, dispute_id=dispute.id))
            form, status = DisputeReplyForm(formdata=None), 200
    if _is_htmx() and status == 409:
        # htmx does not swap a 409; send the browser to the page that shows what happened.
        return "", 409, {"HX-Redirect": url_for(detail_endpoint, dispute_id=dispute.id)}
    if _is_htmx():
        return render_template("review/disputes/partials/_thread.html", dispute=dispute, reply_form=form,
                               reply_url=url_for(reply_endpoint, dispute_id=dispute.id)), status
    return page(dispute, form, status)


@bp.route("/disputes/<int:dispute_id>/reply", methods=["POST"])
@manager_required
def dispute_reply(dispute_id: int):
    """Add the manager's message to a dispute of the team."""
    return reply_view(service.visible_dispute(current_user, dispute_id), detail_endpoint="review.dispute_detail",
                      reply_endpoint="review.dispute_reply",
                      page=lambda dispute, form, status: _detail_page(dispute, status, reply_form=form))


@bp.route("/disputes/<int:dispute_id>/accept", methods=["POST"])
@manager_required
def dispute_accept(dispute_id: int):
    """Accept with an adjustment in today's period; errors come back beside the fields."""
    dispute = service.visible_dispute(current_user, dispute_id)
    form = DisputeAcceptForm()
    status = 422
    if form.validate():
        try:
            service.accept(current_user, dispute, form.amount.cents, form.note.data)
        except ServiceError as exc:
            status = refused(form, exc)
        else:
            db.session.commit()
            flash(f"Dispute #{dispute.id} accepted; the adjustment is posted.", "success")
            return redirect(url_for("review.dispute_detail", dispute_id=dispute.id))
    return _detail_page(dispute, status, accept_form=form)


@bp.route("/disputes/<int:dispute_id>/reject", methods=["POST"])
@manager_required
def dispute_reject(dispute_id: int):
    """Reject with a reason; the ledger does not change."""
    dispute = service.visible_dispute(current_user, dispute_id)
    form = DisputeRejectForm()
    status = 422
    if form.validate():
        try:
            service.reject(current_user, dispute, form.reason.data)
        except ServiceError as exc:
            status = refused(form, exc)
        else:
            db.session.commit()
            flash(f"Dispute #{dispute.id} rejected.", "success")
            return redirect(url_for("review.dispute_detail", dispute_id=dispute.id))
    return _detail_page(dispute, status, reject_form=form)
