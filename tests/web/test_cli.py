"""Command line: `flask users create` and `flask demo seed`."""

from __future__ import annotations

import contextvars

from sqlalchemy import func, select

from tests.conftest import Browser
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role, User
from webapp.demo import DEMO_PASSWORD
from webapp.extensions import db


def _flask(app, args: list[str], **kwargs):
    """Run a `flask` command in its own app context and session, as the real CLI does."""

    # An empty context: no app context is pushed there, so the command pushes its own.
    return contextvars.Context().run(app.test_cli_runner().invoke, args=args, **kwargs)


def _user_count() -> int:
    """How many user rows exist."""
    return db.session.scalar(select(func.count(User.id)))


def _create(app, *args: str):
    """Run `flask users create` with these arguments."""
    return _flask(app, ["users", "create", *args])


def test_users_create_makes_an_admin_who_can_sign_in(app):
    result = _create(app, "--email", "Root@Example.com", "--name", "Root", "--role", "admin",
                     "--password", "a-long-admin-password")
    assert result.exit_code == 0, result.output
    assert "Created admin root@example.com" in result.output
    user = db.session.scalar(select(User).where(User.email == "root@example.com"))
    assert (user.role, user.name, user.active) == ("admin", "Root", True)
    # The system (no actor) made it, and the trail says so.
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create",
                                                       AuditEvent.object_id == user.id))
    assert event is not None and event.actor_id is None
    response = Browser(app.test_client()).post(
        "/login", {"email": "root@example.com", "password": "a-long-admin-password"})
    assert response.status_code == 302


def test_users_create_puts_an_agent_on_a_managers_team(app, factory):
    manager = factory.user(Role.MANAGER)
    result = _create(app, "--email", "agent.cli@example.com", "--name", "Cli Agent", "--role", "agent",
                     "--manager-email", manager.email.upper(), "--password", "a-long-agent-password")
    assert result.exit_code == 0, result.output
    agent = db.session.scalar(select(User).where(User.email == "agent.cli@example.com"))
    assert agent.manager_id == manager.id


def test_users_create_prompts_for_the_password_twice(app):
    result = _flask(
        app, ["users", "create", "--email", "p@example.com", "--name", "Prompted", "--role", "manager"],
        input="a-long-prompted-pw\na-long-prompted-pw\n")
    assert result.exit_code == 0, result.output
    assert "a-long-prompted-pw" not in result.output
    assert db.session.scalar(select(User).where(User.email == "p@example.com")) is not None


def test_users_create_refuses_a_short_password_and_writes_nothing(app):
    before = _user_count()
    result = _create(app, "--email", "short@example.com", "--name", "Short", "--role", "admin",
                     "--password", "short")
    assert result.exit_code != 0
    assert "at least 10 characters" in result.output
    assert "Traceback" not in result.output
    assert _user_count() == before


def test_users_create_refuses_an_agent_without_a_manager(app):
    before = _user_count()
    result = _create(app, "--email", "lonely@example.com", "--name", "Lonely", "--role", "agent",
                     "--password", "a-long-agent-password")
    assert result.exit_code != 0
    assert "manager" in result.output.lower()
    assert _user_count() == before


def test_users_create_refuses_an_unknown_manager_email(app):
    before = _user_count()
    result = _create(app, "--email", "a@example.com", "--name", "A", "--role", "agent",
                     "--manager-email", "ghost@example.com", "--password", "a-long-agent-password")
    assert result.exit_code != 0
    assert "ghost@example.com" in result.output
    assert _user_count() == before


def test_users_create_refuses_a_duplicate_email(app, factory):
    existing = factory.user(Role.ADMIN)
    before = _user_count()
    result = _create(app, "--email", existing.email.upper(), "--name", "Again", "--role", "admin",
                     "--password", "a-long-admin-password")
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert _user_count() == before


def test_demo_seed_is_idempotent_and_prints_the_logins(app):
    first = _flask(app, ["demo", "seed"])
    assert first.exit_code == 0, first.output
    after_first = _user_count()
    demo_users = db.session.scalars(select(User).where(User.email.like("%@demo.example"))).all()
    assert {u.role for u in demo_users} == {"admin", "manager", "agent"}
    for user in demo_users:
        assert user.email in first.output
    assert DEMO_PASSWORD in first.output
    assert all(u.manager is not None and u.manager.role == "manager" for u in demo_users if u.role == "agent")

    second = _flask(app, ["demo", "seed"])
    assert second.exit_code == 0, second.output
    assert _user_count() == after_first
    assert "already present" in second.output
    assert DEMO_PASSWORD in second.output


def test_demo_logins_work(app):
    _flask(app, ["demo", "seed"])
    response = Browser(app.test_client()).post(
        "/login", {"email": "admin@demo.example", "password": DEMO_PASSWORD})
    assert response.status_code == 302


def test_demo_seed_refuses_to_run_in_production(app, monkeypatch):
    monkeypatch.setitem(app.config, "PRODUCTION", True)
    before = _user_count()
    result = _flask(app, ["demo", "seed"])
    assert result.exit_code != 0
    assert _user_count() == before
