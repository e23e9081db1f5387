"""Role guards for views."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from webapp.auth.models import Role


def roles_required(*roles: Role):
    """Allow the view only to signed-in users with one of `roles` (403 for other roles)."""
    allowed = {Role(r) for r in roles}

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(*args, **kwargs):
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


admin_required = roles_required(Role.ADMIN)
manager_required = roles_required(Role.MANAGER, Role.ADMIN)
agent_required = roles_required(Role.AGENT)
