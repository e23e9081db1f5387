"""The navigation each role sees."""

from __future__ import annotations

from flask import url_for

from webapp.auth.models import Role

# (endpoint, label, roles). Later blueprints add their pages here.
NAVIGATION: list[tuple[str, str, set[str]]] = [
    ("main.home", "Home", {Role.ADMIN.value, Role.MANAGER.value, Role.AGENT.value}),
    ("main.team", "My team", {Role.MANAGER.value}),
    ("admin.users", "Users", {Role.ADMIN.value}),
    ("admin.outbox", "Outbox", {Role.ADMIN.value}),
]


def navigation_for(user) -> list[tuple[str, str]]:
    """(url, label) pairs for the signed-in user's role; empty for anonymous visitors."""
    if not getattr(user, "is_authenticated", False):
        return []
    return [(url_for(endpoint), label) for endpoint, label, roles in NAVIGATION if user.role in roles]
