"""The dispute thread shared by the agent's and the manager's pages: reply, and refusals."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.disputes import services as service
from webapp.disputes.forms import DisputeReplyForm
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.formtools import apply_service_error


def is_htmx() -> bool:
    """True for requests htmx made (they get fragments; others get full pages)."""
    return request.headers.get("HX-Request") == "true"


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
            if not is_htmx():
                flash("Reply sent.", "success")
                return redirect(url_for(detail_endpoint, dispute_id=dispute.id))
            form, status = DisputeReplyForm(formdata=None), 200
    if is_htmx() and status == 409:
        # htmx does not swap a 409; send the browser to the page that shows what happened.
        return "", 409, {"HX-Redirect": url_for(detail_endpoint, dispute_id=dispute.id)}
    if is_htmx():
        return render_template("review/disputes/partials/_thread.html", dispute=dispute, reply_form=form,
                               reply_url=url_for(reply_endpoint, dispute_id=dispute.id)), status
    return page(dispute, form, status)
