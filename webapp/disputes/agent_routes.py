"""Agent portal dispute pages: dispute a ledger line, "My disputes", one dispute's thread."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.auth import access
from webapp.auth.decorators import agent_required
from webapp.disputes import services as service
from webapp.disputes.forms import DisputeOpenForm, DisputeReplyForm
from webapp.disputes.thread import reply_view, submit_dispute
from webapp.sales import bp
from webapp.web import finish


@bp.route("/ledger/<int:entry_id>/dispute", methods=["GET", "POST"])
@agent_required
def dispute_entry(entry_id: int):
    """"Dispute this line": the line and a comment for the manager (another agent's line: 404)."""
    entry = access.own_entry(current_user, entry_id)
    existing = service.open_dispute_for(entry.id)
    if request.method == "GET" and existing is not None:
        flash("This line already has an open dispute; you can add to its thread here.", "info")
        return redirect(url_for("sales.my_dispute", dispute_id=existing.id))
    form = DisputeOpenForm() if request.method == "POST" else DisputeOpenForm(formdata=None)
    status = 200
    if request.method == "POST":
        outcome = submit_dispute(form, lambda: service.open_dispute(current_user, entry.id, form.comment.data))
        if outcome.ok:
            return finish(url_for("sales.my_dispute", dispute_id=outcome.value.id),
                          "Your dispute is with your manager. You will get an email when they reply.")
        status = outcome.status
    return render_template("sales/disputes/new.html", entry=entry, form=form,
                           existing=service.open_dispute_for(entry.id)), status


@bp.route("/disputes")
@agent_required
def my_disputes():
    """The agent's disputes, open ones first."""
    return render_template("sales/disputes/index.html", rows=service.agent_disputes(current_user))


def _page(dispute, form=None, status: int = 200):
    """The agent's dispute page."""
    return render_template("sales/disputes/detail.html", dispute=dispute,
                           reply_form=form or DisputeReplyForm(formdata=None)), status


@bp.route("/disputes/<int:dispute_id>")
@agent_required
def my_dispute(dispute_id: int):
    """One of the agent's disputes: the line, the thread, the status, a reply form while open."""
    return _page(access.visible_dispute(current_user, dispute_id))


@bp.route("/disputes/<int:dispute_id>/reply", methods=["POST"])
@agent_required
def my_dispute_reply(dispute_id: int):
    """Add the agent's message to one of their disputes."""
    return reply_view(access.visible_dispute(current_user, dispute_id), detail_endpoint="sales.my_dispute", page=_page)
