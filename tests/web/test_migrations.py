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
