"""Route guards, each one question of the access policy (webapp.auth.access)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from webapp.auth import access
from webapp.auth.models import User


def requires(allowed: Callable[[User], bool]):
    """Allow the view only to signed-in users the policy question `allowed` accepts (403 otherwise)."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not allowed(current_user):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


admin_required = requires(access.is_admin)
manager_required = requires(access.is_manager_side)
agent_required = requires(access.is_agent)
# Any role: the view scopes what it shows through the policy itself.
signed_in_required = requires(access.has_any_role)
