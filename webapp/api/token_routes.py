"""Profile page: create (shown once), list and revoke personal API tokens."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_login import current_user, login_required

from webapp import clock
from webapp.api import tokens_bp
from webapp.api.token_forms import TokenForm
from webapp.auth import tokens
from webapp.web import finish, run_service, submit


@tokens_bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens_page():
    """List the user's tokens and create one (its value is shown once, right here)."""
    form = TokenForm()
    created, status = None, 200
    if request.method == "POST":
        outcome = submit(form, lambda: tokens.create_token(current_user, name=form.name.data, access=form.levels,
                                                           expires_on=form.expires_on.date))
        status = outcome.status
        if outcome.ok:
            created, form = outcome.value[1], TokenForm(formdata=None)
    return render_template("api/tokens.html", form=form, created=created, items=tokens.tokens_of(current_user),
                           access_of=tokens.access_of, areas=tokens.AREAS, today=clock.today()), status


@tokens_bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int):
    """Revoke one of the user's tokens (another user's token: 404)."""
    token = run_service(lambda: tokens.revoke_token(current_user, token_id)).value
    return finish(url_for("api_tokens.tokens_page"), f"Token {token.name} ({token.prefix}…) is revoked.")

