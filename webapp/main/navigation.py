"""The navigation each role sees: a few daily pages, the rest grouped in drop-downs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import request, url_for

from webapp.auth import access

# The policy questions the route guards ask (webapp.auth.decorators), so a link shows exactly when
# its page would open.
AGENT, STAFF, ADMIN, ANYONE = access.is_agent, access.is_manager_side, access.is_admin, access.has_any_role

# (endpoint, label, who may open it, group). Group None: on the bar itself; otherwise inside that menu.
NAVIGATION: list[tuple[str, str, Callable[[object], bool], str | None]] = [
    ("sales.dashboard", "Dashboard", AGENT, None),
    ("sales.my_sales", "My sales", AGENT, None),
    ("review.queue", "Review", STAFF, None),
    ("review.team", "Team", STAFF, None),
    ("statements.index", "Statements", ANYONE, None),
    ("review.payouts", "Payouts", STAFF, None),
    ("review.disputes", "Disputes", STAFF, None),
    ("sales.my_products", "My products", AGENT, None),
    ("sales.my_disputes", "My disputes", AGENT, None),
    ("plandocs.my_documents", "Plan documents", AGENT, None),
    ("review.periods_page", "Periods", STAFF, "Manage"),
    ("review.exports_page", "Exports", STAFF, "Manage"),
    ("review.imports_page", "Import", STAFF, "Manage"),
    ("admin.spiffs_list", "SPIFFs", STAFF, "Manage"),
    ("plandocs.team_documents", "Plan documents", STAFF, "Manage"),
    ("main.home", "Overview", ADMIN, "Admin"),
    ("admin.users", "Users", ADMIN, "Admin"),
    ("admin.products", "Catalogue", ADMIN, "Admin"),
    ("admin.plans", "Plans", ADMIN, "Admin"),
    ("admin.targets", "Targets", ADMIN, "Admin"),
    ("plandocs.company_documents", "Plan documents", ADMIN, "Admin"),
    ("admin.settings", "Settings", ADMIN, "Admin"),
    ("admin.audit", "Audit log", ADMIN, "Admin"),
    ("admin.webhooks_page", "Webhooks", ADMIN, "Admin"),
    ("admin.outbox", "Outbox", ADMIN, "Admin"),
]


@dataclass
class NavItem:
    """A link on the bar, or a named menu of links."""

    label: str
    url: str | None = None
    children: list[NavItem] = field(default_factory=list)
    current: bool = False


def _is_current(url: str) -> bool:
    """The page is this link's or lies under it."""
    return request.path == url or (url != "/" and request.path.startswith(url.rstrip("/") + "/"))


def navigation_for(user) -> list[NavItem]:
    """The bar for the signed-in user's role; empty for anonymous visitors."""
    if not getattr(user, "is_authenticated", False):
        return []
    items: list[NavItem] = []
    menus: dict[str, NavItem] = {}
    for endpoint, label, allowed, group in NAVIGATION:
        if not allowed(user):
            continue
        url = url_for(endpoint)
        link = NavItem(label=label, url=url, current=_is_current(url))
        if group is None:
            items.append(link)
            continue
        if group not in menus:
            menus[group] = NavItem(label=group)
            items.append(menus[group])
        menus[group].children.append(link)
        menus[group].current |= link.current
    return items
