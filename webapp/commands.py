"""CLI: `flask users create` and `flask demo seed`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp.auth import services as accounts
from webapp.errors import ServiceError
from webapp.extensions import db

users_cli = AppGroup("users", help="Manage user accounts.")
demo_cli = AppGroup("demo", help="Demo data for a local run.")


@users_cli.command("create")
@click.option("--email", prompt=True)
@click.option("--name", prompt=True)
@click.option("--role", type=click.Choice(["admin", "manager", "agent"]), prompt=True)
@click.option("--manager-email", default=None, help="The agent's manager (agents only).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_user_command(email, name, role, manager_email, password):
    """Create a user; the password is prompted for when not given."""
    manager_id = None
    if manager_email:
        manager = accounts.find_user_by_email(manager_email)
        if manager is None:
            raise click.UsageError(f"No user with email {manager_email}.")
        manager_id = manager.id
    try:
        user = accounts.create_user(None, email=email, name=name, role=role, password=password,
                                    manager_id=manager_id)
    except ServiceError as exc:
        db.session.rollback()
        raise click.UsageError(f"{exc.field or 'user'}: {exc.message}") from exc
    db.session.commit()
    click.echo(f"Created {user.role} {user.email} (id {user.id}).")


@demo_cli.command("seed")
def seed_command():
    """Create the demo organisation if it is not there yet, and print its logins."""
    from webapp.demo import DEMO_PASSWORD, seed_demo

    created = seed_demo()
    db.session.commit()
    click.echo("Demo organisation " + ("created." if created else "already present."))
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for user in accounts.list_users():
        if user.email.endswith("@demo.example"):
            click.echo(f"  {user.role:<8} {user.email}")
