"""The navigation each role sees."""

from __future__ import annotations

from flask import url_for

from webapp.auth.models import Role

# (endpoint, label, roles). Later blueprints add their pages here.
NAVIGATION: list[tuple[str, str, set[str]]] = [
    ("main.home", "Home", {Role.ADMIN.value, Role.MANAGER.value}),
    ("review.queue", "Review", {Role.ADMIN.value, Role.MANAGER.value}),
    ("sales.dashboard", "Dashboard", {Role.AGENT.value}),
    ("sales.my_sales", "My sales", {Role.AGENT.value}),
    ("sales.my_products", "My products", {Role.AGENT.value}),
    ("sales.my_disputes", "My disputes", {Role.AGENT.value}),
    ("review.team", "Team", {Role.ADMIN.value, Role.MANAGER.value}),
    ("review.payouts", "Payouts", {Role.ADMIN.value, Role.MANAGER.value}),
    ("review.disputes", "Disputes", {Role.ADMIN.value, Role.MANAGER.value}),
    ("review.periods_page", "Periods", {Role.ADMIN.value, Role.MANAGER.value}),
    ("statements.index", "Statements", {Role.ADMIN.value, Role.MANAGER.value, Role.AGENT.value}),
    ("review.exports_page", "Exports", {Role.ADMIN.value, Role.MANAGER.value}),
    ("review.imports_page", "Import", {Role.ADMIN.value, Role.MANAGER.value}),
    ("admin.users", "Users", {Role.ADMIN.value}),
    ("admin.products", "Catalogue", {Role.ADMIN.value}),
    ("admin.plans", "Plans", {Role.ADMIN.value}),
    ("admin.targets", "Targets", {Role.ADMIN.value}),
    ("admin.settings", "Settings", {Role.ADMIN.value}),
    ("admin.outbox", "Outbox", {Role.ADMIN.value}),
    ("admin.audit", "Audit log", {Role.ADMIN.value}),
]


def navigation_for(user) -> list[tuple[str, str]]:
    """(url, label) pairs for the signed-in user's role; empty for anonymous visitors."""
    if not getattr(user, "is_authenticated", False):
        return []
    return [(url_for(endpoint), label) for endpoint, label, roles in NAVIGATION if user.role in roles]
