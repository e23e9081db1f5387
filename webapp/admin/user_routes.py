"""Admin pages: users and the outbox."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from webapp.admin import bp
from webapp.admin.forms import UserCreateForm, UserEditForm
from webapp.auth import services as accounts
from webapp.auth.decorators import admin_required
from webapp.formtools import form_page, saved
from webapp.mail import get_backend


@bp.route("/users")
@admin_required
def users():
    """All users with their role, manager and status."""
    return render_template("admin/users.html", users=accounts.list_users())


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def user_new():
    """Create a user."""
    form = UserCreateForm()
    form.set_managers(accounts.list_managers())

    def done(user):
        flash(f"{user.name} can now sign in as {user.email}.", "success")
        return redirect(url_for("admin.users"))

    return form_page(form, lambda: accounts.create_user(
        current_user, email=form.email.data, name=form.name.data, role=form.role.data,
        password=form.password.data, manager_id=form.manager_id.data,
    ), template="admin/user_form.html", done=done, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def user_edit(user_id: int):
    """Edit a user's name, role, manager and active flag."""
    user = accounts.get_user(user_id)
    form = UserEditForm(obj=user)
    form.set_managers([m for m in accounts.list_managers() if m.id != user.id])
    return form_page(form, lambda: accounts.update_user(
        current_user, user, name=form.name.data, role=form.role.data, manager_id=form.manager_id.data,
        active=form.active.data,
    ), template="admin/user_form.html", done=saved(f"Saved {user.name}.", "admin.users"), user=user)


def _outbox():
    """The outbox backend, or 404 when mail goes to a real provider."""
    backend = get_backend()
    if not hasattr(backend, "list"):
        abort(404)
    return backend


@bp.route("/outbox")
@admin_required
def outbox():
    """Messages kept by the development mail backend, newest first."""
    return render_template("admin/outbox.html", messages=_outbox().list())


@bp.route("/outbox/<message_id>")
@admin_required
def outbox_message(message_id: str):
    """One kept message: headers, text body, links to its HTML body and attachments."""
    message = _outbox().get(message_id) or abort(404)
    return render_template("admin/outbox_message.html", message=message)


@bp.route("/outbox/<message_id>/html")
@admin_required
def outbox_html(message_id: str):
    """The HTML body, sandboxed: it is mail content, not part of the app."""
    html = _outbox().html(message_id)
    if html is None:
        abort(404)
    # Mail HTML carries inline styles; a sandbox CSP lets it render but run nothing.
    return html, 200, {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    }


@bp.route("/outbox/<message_id>/attachments/<filename>")
@admin_required
def outbox_attachment(message_id: str, filename: str):
    """One attachment with its own content type (PDFs open in the browser)."""
    found = _outbox().attachment(message_id, filename) or abort(404)
    data, content_type = found
    return data, 200, {
        "Content-Type": content_type,
        "Content-Disposition": f'inline; filename="{filename}"',
    }
