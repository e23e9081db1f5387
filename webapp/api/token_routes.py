"""Profile page: create (shown once), list and revoke personal API tokens."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_login import current_user, login_required

from webapp import clock
from webapp.api import tokens_bp
from webapp.api.framework import REGISTRY
from webapp.api.token_forms import TokenForm
from webapp.auth import access, tokens
from webapp.web import finish, run_service, submit


@tokens_bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens_page():
    """List the user's tokens and create one (its value is shown once, right here)."""
    form = _token_form()
    created, status = None, 200
    if request.method == "POST":
        outcome = submit(form, lambda: tokens.create_token(current_user, name=form.name.data, access=form.levels,
                                                           expires_on=form.expires_on.date))
        status = outcome.status
        if outcome.ok:
            created, form = outcome.value[1], _token_form(formdata=None)
    return render_template("api/tokens.html", form=form, created=created, items=tokens.tokens_of(current_user),
                           access_of=tokens.access_of, areas=form.usable, today=clock.today()), status


def _token_form(**kwargs) -> TokenForm:
    """The new-token form (the posted one, or with formdata=None a fresh one), offering only the
    areas the user's role can use."""
    form = TokenForm(**kwargs)
    form.usable = usable_areas(current_user)
    return form


def usable_areas(user) -> tuple[str, ...]:
    """The areas in which the user's role has operations: the only ones a token of theirs is offered."""
    return tuple(area for area in tokens.AREAS
                 if any(op.area == area and access.has_role(user, *op.roles) for op in REGISTRY))


@tokens_bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int):
    """Revoke one of the user's tokens (another user's token: 404)."""
    token = run_service(lambda: tokens.revoke_token(current_user, token_id)).value
    return finish(url_for("api_tokens.tokens_page"), f"Token {token.name} ({token.prefix}…) is revoked.")

