"""Admin pages: users (create, edit, deactivate, role and team)."""

from __future__ import annotations

from flask import render_template, url_for
from flask_login import current_user

from webapp.admin import bp
from webapp.admin.forms import UserCreateForm, UserEditForm
from webapp.auth import services as accounts
from webapp.auth.decorators import admin_required
from webapp.web import finish, form_page, saved


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
    return form_page(form, lambda: accounts.create_user(
        current_user, email=form.email.data, name=form.name.data, role=form.role.data,
        password=form.password.data, manager_id=form.manager_id.data,
    ), template="admin/user_form.html", user=None,
        done=lambda user: finish(url_for("admin.users"), f"{user.name} can now sign in as {user.email}."))


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


