"""Migration 0011 backfills commission_entries.late_approval from the reasons the ledger wrote.

The database is built to 0010 from empty, given ledger rows as 0010 stored them, then upgraded:
a fresh SQLite file, or a scratch PostgreSQL database beside the test one (dropped after).
"""

from __future__ import annotations

import uuid

import fakeredis
import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from webapp import create_app

REASONS = {
    # (kind, reason): late_approval after the upgrade
    ("sale", None): False,
    ("adjustment", "Late approval of a sale dated 2026-11-14"): True,
    ("adjustment", "Recalculated: November 2026 tier volume changed"): False,
    ("adjustment", "Clawback: sale of 2026-11-05 voided after its period closed"): False,
    # Not the ledger's words: SQLite's LIKE would have matched it regardless of case.
    ("adjustment", "late approval of a sale dated 2026-11-14"): False,
    # A manager's text: manual entries are never late approvals, whatever they say.
    ("manual", "Late approval bonus agreed by phone"): False,
}


@pytest.fixture
def database_at_0010(database_url, tmp_path):
    """An app on an empty database of its own, upgraded to 0010; yields (app, url)."""
    url, scratch = f"sqlite:///{tmp_path / 'at-0010.db'}", None
    if make_url(database_url).get_backend_name() == "postgresql":
        # A database, not a schema: Alembic would find the suite's alembic_version on a search path.
        scratch = f"{make_url(database_url).database}_0011_{uuid.uuid4().hex[:8]}"
        _autocommit(database_url, f"CREATE DATABASE {scratch}")
        url = make_url(database_url).set(database=scratch).render_as_string(hide_password=False)
    app = create_app({"TESTING": True, "SECRET_KEY": "migration-0011", "SQLALCHEMY_DATABASE_URI": url,
                      "REDIS_CLIENT": fakeredis.FakeRedis(), "RATELIMIT_STORAGE_URI": "memory://",
                      "OUTBOX_DIR": str(tmp_path / "outbox")})
    try:
        with app.app_context():
            upgrade(revision="0010")
        yield app, url
    finally:
        with app.app_context():
            app.extensions["sqlalchemy"].engine.dispose()
        if scratch:
            _autocommit(database_url, f"DROP DATABASE {scratch} WITH (FORCE)")


def _autocommit(url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE and DROP DATABASE refuse to run in one)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def _ledger_rows_as_0010_wrote_them(connection) -> dict[int, tuple]:
    """An agent, a sale and one entry per REASONS item; returns entry id -> (kind, reason)."""
    connection.execute(text(
        "INSERT INTO users (id, email, name, role, active, password_hash, session_token)"
        " VALUES (1, 'agent@example.com', 'Agent', 'agent', true, 'x', 'token')"))
    connection.execute(text("INSERT INTO categories (id, code, name, active) VALUES (1, 'c', 'C', true)"))
    connection.execute(text(
        "INSERT INTO products (id, sku, name, category_id, list_price_cents, active, restricted)"
        " VALUES (1, 'SKU-1', 'P', 1, 100000, true, false)"))
    connection.execute(text("INSERT INTO customers (id, name) VALUES (1, 'Customer')"))
    connection.execute(text(
        "INSERT INTO sales (id, agent_id, product_id, customer_id, quantity, unit_price_cents, amount_cents,"
        " sold_on, status, entered_by_id, idempotency_key)"
        " VALUES (1, 1, 1, 1, 1, 100000, 100000, '2026-11-14', 'approved', 1, 'key-1')"))
    connection.execute(text("INSERT INTO periods (id, start_date, end_date, status)"
                            " VALUES (1, '2026-11-16', '2026-11-30', 'open')"))
    entries = {}
    for number, (kind, reason) in enumerate(REASONS, start=1):
        connection.execute(text(
            "INSERT INTO commission_entries (id, agent_id, period_id, kind, sale_id, amount_cents, reason)"
            " VALUES (:id, 1, 1, :kind, :sale_id, 3000, :reason)"),
            {"id": number, "kind": kind, "sale_id": None if kind == "manual" else 1, "reason": reason})
        entries[number] = (kind, reason)
    return entries


def test_upgrade_flags_exactly_the_ledgers_late_approval_adjustments(database_at_0010):
    app, url = database_at_0010
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            entries = _ledger_rows_as_0010_wrote_them(connection)
        with app.app_context():
            upgrade()
        with engine.connect() as connection:
            flags = dict(connection.execute(text("SELECT id, late_approval FROM commission_entries")).all())
    finally:
        engine.dispose()

    assert {entries[entry_id]: bool(late) for entry_id, late in flags.items()} == REASONS

