"""The migrations build exactly the schema the models describe, from an empty database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from webapp.extensions import db

# SQLite cannot reflect an index on an expression (products: lower(sku)); Alembic says so and leaves
# it out of the comparison there. PostgreSQL compares it; test_catalog checks that it works.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index"),
    pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index"),
]


def _differences(connection) -> list:
    """What autogenerate would write to bring the database in line with the models."""
    context = MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})
    return compare_metadata(context, db.metadata)


def test_migrated_test_database_matches_the_models(app):
    # The test database was built by `upgrade()` in the app fixture, not by create_all().
    connection = db.session.connection()
    assert _differences(connection) == []


def test_test_database_is_at_the_latest_revision(app, project_root):
    heads = ScriptDirectory(str(project_root / "migrations")).get_heads()
    assert len(heads) == 1, f"the migrations have more than one head: {heads}"
    current = db.session.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert current == heads


def test_a_model_change_without_a_migration_would_be_caught(app):
    from sqlalchemy import Column, Integer, MetaData, Table

    extra = MetaData()
    for table in db.metadata.tables.values():
        table.to_metadata(extra)
    Table("not_migrated", extra, Column("id", Integer, primary_key=True))
    context = MigrationContext.configure(db.session.connection(), opts={"compare_type": True})
    diffs = compare_metadata(context, extra)
    assert [d[0] for d in diffs] == ["add_table"]


def _flask(project_root, database, *args: str) -> subprocess.CompletedProcess:
    """Run `flask <args>` as an operator would, against the SQLite file `database`."""
    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "APP_ENV": "development",
        "SECRET_KEY": "migration-test-key",
        "DATABASE_URL": f"sqlite:///{database}",
        "RATELIMIT_STORAGE_URI": "memory://",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    env.pop("FLASK_ENV", None)
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=project_root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_flask_db_upgrade_builds_a_new_sqlite_file_from_empty(tmp_path, project_root):
    database = tmp_path / "fresh.db"
    result = _flask(project_root, database, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            assert set(db.metadata.tables) <= tables
            heads = ScriptDirectory(str(project_root / "migrations")).get_heads()
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == heads
            assert _differences(connection) == []
    finally:
        engine.dispose()


def test_migrations_downgrade_to_empty_and_upgrade_again(tmp_path, project_root):
    database = tmp_path / "roundtrip.db"
    for args in (("db", "upgrade"), ("db", "downgrade", "base"), ("db", "upgrade")):
        result = _flask(project_root, database, *args)
        assert result.returncode == 0, (args, result.stderr)
        if args[1] == "downgrade":
            engine = create_engine(f"sqlite:///{database}")
            try:
                with engine.connect() as connection:
                    assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
            finally:
                engine.dispose()


def test_0012_gives_existing_sales_their_primary_credit_and_tier_tables_the_amount_basis(tmp_path, project_root):
    database = tmp_path / "credits.db"
    assert _flask(project_root, database, "db", "upgrade", "0011").returncode == 0
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO users (id, email, name, role, password_hash, active, session_token) VALUES"
                " (1, 'm@example.com', 'M', 'manager', 'x', 1, 't1'),"
                " (2, 'a@example.com', 'A', 'agent', 'x', 1, 't2')"))
            connection.execute(text("UPDATE users SET manager_id = 1 WHERE id = 2"))
            # SQLite checks no foreign keys here: the sale needs no product or customer row.
            connection.execute(text(
                "INSERT INTO sales (id, agent_id, product_id, customer_id, quantity, unit_price_cents, amount_cents,"
                " sold_on, status, entered_by_id, idempotency_key) VALUES"
                " (7, 2, 1, 1, 3, 1234, 3702, '2026-11-02', 'approved', 2, 'key-00000007')"))
            connection.execute(text("INSERT INTO commission_plans (id, name, active) VALUES (1, 'Tiered', 1)"))
            connection.execute(text("INSERT INTO plan_versions (id, plan_id, version, effective_from, tier_mode)"
                                    " VALUES (1, 1, 1, '2026-01-01', 'marginal')"))
    finally:
        engine.dispose()
    result = _flask(project_root, database, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            credits = connection.execute(text(
                "SELECT sale_id, agent_id, position, share_units, credit_cents, team_id FROM sale_credits")).all()
            assert [tuple(row) for row in credits] == [(7, 2, 0, 1_000_000, 3702, 1)]
            assert connection.execute(text("SELECT basis FROM plan_versions")).scalar_one() == "amount"
    finally:
        engine.dispose()


def test_0023_keeps_what_each_existing_token_could_do_and_back(tmp_path, project_root):
    """A write token becomes write in every area, a read token read in every area; downgrading
    gives each its one scope back."""
    database = tmp_path / "tokens.db"
    assert _flask(project_root, database, "db", "upgrade", "0022").returncode == 0
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO users (id, email, name, role, password_hash, active, session_token) VALUES"
                " (1, 'a@example.com', 'A', 'agent', 'x', 1, 't1')"))
            connection.execute(text(
                "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, scope) VALUES"
                " (1, 1, 'shop', 'h1', 'st_1', 'write'), (2, 1, 'report', 'h2', 'st_2', 'read')"))
    finally:
        engine.dispose()

    def tokens(columns: str) -> list[tuple]:
        engine = create_engine(f"sqlite:///{database}")
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(f"SELECT id, {columns} FROM api_tokens ORDER BY id"))]
        finally:
            engine.dispose()

    result = _flask(project_root, database, "db", "upgrade", "0023")
    assert result.returncode == 0, result.stderr
    assert tokens("scopes, expires_on") == [
        (1, "sales:write ledger:write payouts:write admin:write", None),
        (2, "sales:read ledger:read payouts:read admin:read", None)]
    result = _flask(project_root, database, "db", "downgrade", "0022")
    assert result.returncode == 0, result.stderr
    assert tokens("scope") == [(1, "write"), (2, "read")]


def _on_file(database, work):
    """work(connection) in one transaction on the SQLite file, its engine disposed afterwards."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            return work(connection)
    finally:
        engine.dispose()


def test_0026_keeps_the_totals_of_the_periods_already_closed(tmp_path, project_root):
    """Each agent's total of every closed period is summed once; open periods keep none."""
    database = tmp_path / "totals.db"
    assert _flask(project_root, database, "db", "upgrade", "0025").returncode == 0
    _on_file(database, lambda connection: [connection.execute(text(sql)) for sql in (
        "INSERT INTO users (id, email, name, role, password_hash, active, session_token) VALUES"
        " (1, 'a@example.com', 'A', 'agent', 'x', 1, 't1'), (2, 'b@example.com', 'B', 'agent', 'x', 1, 't2')",
        "INSERT INTO periods (id, start_date, end_date, status) VALUES"
        " (1, '2026-10-01', '2026-10-15', 'closed'), (2, '2026-10-16', '2026-10-31', 'closed'),"
        " (3, '2026-11-01', '2026-11-15', 'open')",
        "INSERT INTO commission_entries (agent_id, period_id, kind, amount_cents, reason) VALUES"
        " (1, 1, 'manual', 30000, 'r'), (1, 1, 'manual', 1234, 'r'), (2, 1, 'manual', -500, 'r'),"
        " (1, 3, 'manual', 999, 'r')")])
    result = _flask(project_root, database, "db", "upgrade", "0026")
    assert result.returncode == 0, result.stderr

    def rows(sql):
        """The query's rows as tuples."""
        return _on_file(database, lambda connection: [tuple(row) for row in connection.execute(text(sql))])

    assert rows("SELECT agent_id, period_id, amount_cents FROM agent_period_totals ORDER BY agent_id") == [
        (1, 1, 31234), (2, 1, -500)]
    assert rows("SELECT id, totals_kept FROM periods ORDER BY id") == [(1, 1), (2, 1), (3, 0)]
    result = _flask(project_root, database, "db", "downgrade", "0025")
    assert result.returncode == 0, result.stderr
