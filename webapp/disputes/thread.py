"""The dispute thread shared by the agent's and the manager's pages: reply."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_login import current_user

from webapp.disputes import services as service
from webapp.disputes.forms import DisputeReplyForm
from webapp.web import FLASH, finish, is_htmx, submit


def submit_dispute(form, save):
    """Submit a dispute form: errors beside its fields, and a refusal naming none (e.g. already
    resolved by another manager: the forms are gone from the page) as a message on top."""
    return submit(form, save, error_status=None, unplaced=FLASH)


def reply_view(dispute, *, detail_endpoint: str, page):
    """Add the signed-in user's message to a dispute: htmx gets the thread back, others a redirect.

    Shared by the manager's and the agent's reply views (the thread posts back to the view that
    answered); `page(dispute, form, status)` renders the side's full page when the reply comes
    back with errors without htmx.
    """
    form = DisputeReplyForm()
    outcome = submit_dispute(form, lambda: service.reply(current_user, dispute, form.body.data))
    if outcome.ok:
        if not is_htmx():
            return finish(url_for(detail_endpoint, dispute_id=dispute.id), "Reply sent.")
        form = DisputeReplyForm(formdata=None)
    if is_htmx() and outcome.status == 409:
        # htmx does not swap a 409; send the browser to the page that shows what happened.
        return "", 409, {"HX-Redirect": url_for(detail_endpoint, dispute_id=dispute.id)}
    if is_htmx():
        return render_template("review/disputes/partials/_thread.html", dispute=dispute, reply_form=form,
                               reply_url=url_for(request.endpoint, dispute_id=dispute.id)), outcome.status
    return page(dispute, form, outcome.status)
