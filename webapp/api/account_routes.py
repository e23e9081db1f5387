"""API v1 account: the user a token belongs to."""

from __future__ import annotations

from webapp.api.framework import operation
from webapp.api.schemas import UserOut


@operation("GET", "/me", summary="The user the token belongs to", tag="Account", area=None,
           responses={200: UserOut})
def me(user):
    """Who am I."""
    return UserOut(id=user.id, email=user.email, name=user.name, role=user.role, manager_id=user.manager_id)
