"""Managers' dispute pages: the team's disputes, one dispute's thread, reply, accept, reject."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.auth.decorators import manager_required
from webapp.disputes import services as service
from webapp.disputes.forms import DisputeAcceptForm, DisputeRejectForm, DisputeReplyForm
from webapp.disputes.models import DisputeStatus
from webapp.disputes.thread import is_htmx, refused, reply_view
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.manage import bp


@bp.route("/disputes")
@manager_required
def disputes():
    """The team's disputes, filtered by status (open by default), open ones first."""
    status = request.args.get("status", DisputeStatus.OPEN)
    if status not in service.STATUS_FILTERS:
        status = DisputeStatus.OPEN
    context = {"rows": service.team_disputes(current_user, status), "status": status,
               "counts": service.team_counts(current_user)}
    if is_htmx() and request.headers.get("HX-Target") == "disputes-list":
        return render_template("review/disputes/partials/_list.html", **context)
    return render_template("review/disputes/index.html", **context)


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
