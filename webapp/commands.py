"""CLI: `flask users create`, `flask demo seed`, `flask demo generate` and `flask commissions simulate`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from webapp.auth import services as accounts
from webapp.auth.models import Role
from webapp.commissions.engine import EngineError
from webapp.commissions.golden import SPLIT_CASES, simulate, simulate_case, simulate_split
from webapp.demo import DEMO_PASSWORD, seed_demo
from webapp.demo_generate import generate_demo
from webapp.errors import ServiceError
from webapp.extensions import db

users_cli = AppGroup("users", help="Manage user accounts.")
demo_cli = AppGroup("demo", help="Demo data for a local run.")
commissions_cli = AppGroup("commissions", help="Commission tools.")


@users_cli.command("create")
@click.option("--email", prompt=True)
@click.option("--name", prompt=True)
# Plain strings: click matches Enum choices by member name ("ADMIN"), and roles are typed as stored.
@click.option("--role", type=click.Choice([str(role) for role in Role]), prompt=True)
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
    try:
        created = seed_demo()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo("Demo organisation " + ("created." if created else "already present."))
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for user in accounts.list_users():
        if user.email.endswith("@demo.example"):
            click.echo(f"  {user.role:<8} {user.email}")


@demo_cli.command("generate")
@click.option("--agents", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--sales", type=click.IntRange(min=0), default=1_000_000, show_default=True)
@click.option("--months", type=click.IntRange(min=1, max=120), default=12, show_default=True,
              help="Whole months of history before the current month.")
@click.option("--seed", type=int, default=20261126, show_default=True, help="Random seed (same seed, same data).")
def generate_command(agents, sales, months, seed):
    """Bulk data for benchmarks: N agents in teams of 25 and M sales with their ledger (not for production)."""
    try:
        report = generate_demo(agents, sales, months=months, seed=seed, progress=click.echo)
    except (RuntimeError, ValueError) as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Generated {report.managers} managers, {report.agents} agents, {report.sales:,} sales "
               f"({report.approved:,} approved) from {report.first_day} to {report.last_day}: inserts "
               f"{report.insert_seconds:.1f} s, ledger {report.ledger_seconds:.1f} s.")
    click.echo("Logins: admin@generated.example, manager001@generated.example, agent0001@generated.example "
               f"(password {DEMO_PASSWORD}).")


@commissions_cli.command("simulate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def simulate_command(file: Path):
    """Run a golden-case JSON file (GOLDEN_FORMAT.md, versions 1 and 2) through the engine; print the results.

    {case: {sale id: amount, ...}}, plus "credited", "spiff" and "no_target" in a case, and
    "split_cases", only where the file's input calls for them; an unknown key is an error.
    """
    data = _read_cases(file)
    try:
        results = simulate(data)
    except (EngineError, ValueError, TypeError, KeyError) as exc:
        raise click.ClickException(f"{file}: {_failing_case(data)}{_engine_message(exc)}") from exc
    click.echo(json.dumps(results, indent=2))


def _read_cases(file: Path) -> dict:
    """The parsed file, or a ClickException saying why it cannot be simulated."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise click.ClickException(f"{file}: no such file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file}: cannot read it ({exc}).") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{file}: not valid JSON ({exc}).") from None
    cases = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(cases, list) or not all(isinstance(case, dict) for case in cases):
        raise click.ClickException(f'{file}: expected a JSON object whose "cases" is a list of cases.')
    return data


def _failing_case(data: dict) -> str:
    """'case NAME: ' for the first case the engine refuses (found again one by one, errors only)."""
    splits = data.get(SPLIT_CASES)
    groups = [("case", data["cases"], simulate_case)]
    if isinstance(splits, list):
        groups.append(("split case", splits, simulate_split))
    for label, cases, run in groups:
        for number, case in enumerate(cases, start=1):
            try:
                run(case)
            except Exception:  # noqa: BLE001 - whatever it is, the message below names it
                name = case.get("name", f"number {number}") if isinstance(case, dict) else f"number {number}"
                return f"{label} {name!r}: "
    return ""


def _engine_message(exc: Exception) -> str:
    """The engine's message, saying which key is missing for a KeyError."""
    if isinstance(exc, KeyError):
        return f"missing {exc.args[0]!r}."
    return str(exc)

