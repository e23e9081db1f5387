"""Managers' dispute pages: the team's disputes, one dispute's thread, reply, accept, reject, and
answer (a plan question)."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_login import current_user

from webapp.auth import access
from webapp.auth.decorators import manager_required
from webapp.disputes import services as service
from webapp.disputes.forms import DisputeAcceptForm, DisputeRejectForm, DisputeReplyForm, PlanAnswerForm
from webapp.disputes.models import DisputeStatus
from webapp.disputes.thread import reply_view, submit_dispute
from webapp.manage import bp
from webapp.web import finish, is_htmx


@bp.route("/disputes")
@manager_required
def disputes():
    """The team's disputes, filtered by status (open by default), open ones first."""
    status = request.args.get("status", DisputeStatus.OPEN)
    if status not in service.STATUS_FILTERS:
        status = DisputeStatus.OPEN
    context = {"rows": service.team_disputes(current_user, status), "status": status,
               "counts": service.team_counts(current_user)}
    if is_htmx("disputes-list"):
        return render_template("review/disputes/partials/_list.html", **context)
    return render_template("review/disputes/index.html", **context)


@bp.route("/disputes/<int:dispute_id>")
@manager_required
def dispute_detail(dispute_id: int):
    """One dispute: the disputed line (or the plan document asked about), the thread, a reply form
    and the accept / reject forms (a plan question: the answer form)."""
    return _detail_page(access.visible_dispute(current_user, dispute_id))


def _detail_page(dispute, status: int = 200, reply_form=None, accept_form=None, reject_form=None,
                 answer_form=None):
    """The manager's dispute page, with any forms that carry errors."""
    return render_template(
        "review/disputes/detail.html", dispute=dispute, reply_form=reply_form or DisputeReplyForm(formdata=None),
        accept_form=accept_form or DisputeAcceptForm(formdata=None),
        reject_form=reject_form or DisputeRejectForm(formdata=None),
        answer_form=answer_form or PlanAnswerForm(formdata=None)), status


def _resolve(dispute_id: int, form, resolve, form_name: str, done: str):
    """Accept, reject or answer a dispute with `resolve(dispute)`: back to it with `done` (a message
    about dispute #{id}), or its page again with the form (`form_name`) and the refusal."""
    dispute = access.visible_dispute(current_user, dispute_id)
    outcome = submit_dispute(form, lambda: resolve(dispute))
    if outcome.ok:
        return finish(url_for("review.dispute_detail", dispute_id=dispute.id), done.format(id=dispute.id))
    return _detail_page(dispute, outcome.status, **{form_name: form})


@bp.route("/disputes/<int:dispute_id>/accept", methods=["POST"])
@manager_required
def dispute_accept(dispute_id: int):
    """Accept with an adjustment in today's period; errors come back beside the fields."""
    form = DisputeAcceptForm()
    return _resolve(dispute_id, form, lambda dispute: service.accept(current_user, dispute, form.amount.cents,
                                                                      form.note.data),
                    "accept_form", "Dispute #{id} accepted; the adjustment is posted.")


@bp.route("/disputes/<int:dispute_id>/reject", methods=["POST"])
@manager_required
def dispute_reject(dispute_id: int):
    """Reject with a reason; the ledger does not change."""
    form = DisputeRejectForm()
    return _resolve(dispute_id, form, lambda dispute: service.reject(current_user, dispute, form.reason.data),
                    "reject_form", "Dispute #{id} rejected.")


@bp.route("/disputes/<int:dispute_id>/answer", methods=["POST"])
@manager_required
def dispute_answer(dispute_id: int):
    """Answer a plan question (it closes the question; the agent is emailed)."""
    form = PlanAnswerForm()
    return _resolve(dispute_id, form, lambda dispute: service.answer(current_user, dispute, form.answer.data),
                    "answer_form", "Question #{id} answered.")


@bp.route("/disputes/<int:dispute_id>/reply", methods=["POST"])
@manager_required
def dispute_reply(dispute_id: int):
    """Add the manager's message to a dispute of the team."""
    return reply_view(access.visible_dispute(current_user, dispute_id), detail_endpoint="review.dispute_detail",
                      page=lambda dispute, form, status: _detail_page(dispute, status, reply_form=form))
