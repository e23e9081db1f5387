"""The demo organisation for a local run: idempotent, safe to run on every start."""

from __future__ import annotations

from webapp.auth import services as accounts
from webapp.auth.models import Role

# A known password is the point of a demo; `flask demo seed` refuses to run in production.
DEMO_PASSWORD = "demo-password"

ADMIN = ("admin@demo.example", "Ada Admin")
MANAGERS = [("maria.manager@demo.example", "Maria Lopez"), ("sam.manager@demo.example", "Sam Okafor")]
AGENTS = [
    ("alice.agent@demo.example", "Alice Chen", 0),
    ("bob.agent@demo.example", "Bob Martin", 0),
    ("carla.agent@demo.example", "Carla Rossi", 0),
    ("dev.agent@demo.example", "Dev Patel", 1),
    ("emma.agent@demo.example", "Emma Novak", 1),
    ("farid.agent@demo.example", "Farid Haddad", 1),
]


def _ensure(email: str, name: str, role: Role, manager_id: int | None = None):
    """The user with this email, created if missing. Returns (user, created)."""
    user = accounts.find_user_by_email(email)
    if user is not None:
        return user, False
    return accounts.create_user(None, email=email, name=name, role=role.value,
                                password=DEMO_PASSWORD, manager_id=manager_id), True


def seed_demo() -> bool:
    """Create the demo users (later: catalogue, plans, sales); True if anything was created."""
    from flask import current_app

    if current_app.config["PRODUCTION"]:
        raise RuntimeError("The demo organisation is for local runs, not production.")
    created = _ensure(*ADMIN, Role.ADMIN)[1]
    managers = []
    for email, name in MANAGERS:
        manager, made = _ensure(email, name, Role.MANAGER)
        managers.append(manager)
        created |= made
    for email, name, team in AGENTS:
        created |= _ensure(email, name, Role.AGENT, managers[team].id)[1]
    return created
