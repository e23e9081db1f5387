"""How a request's database transaction ends when it wrote nothing.

psycopg prepares a statement the fifth time a connection runs it, and PostgreSQL then stops
planning it afresh on every run (for the agent's totals panel, about half of its statement's
time). But psycopg drops every prepared statement on a ROLLBACK, and Flask-SQLAlchemy's teardown
ends every request with one, so a pooled connection never kept one past a read-only request.

A PostgreSQL transaction that was never given a transaction id wrote nothing, so committing it
is the same as rolling it back; committing keeps the prepared statements. Any transaction that
wrote (or locked rows) still ends with Flask-SQLAlchemy's rollback, as before.
"""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import Engine

from webapp.extensions import db


def init_app(app) -> None:
    """Register the teardown after Flask-SQLAlchemy's own: Flask runs teardowns in reverse order,
    so this one sees the request's transaction before the session is closed."""
    app.teardown_appcontext(end_read_only_transaction)


def end_read_only_transaction(exc: BaseException | None = None) -> bool:
    """Commit, at the driver, the session's PostgreSQL transaction if it wrote nothing; returns
    True when it did. The session's own close then finds no transaction left to roll back."""
    if exc is not None or not db.session.registry.has():
        return False
    session = db.session.registry()
    if session.new or session.dirty or session.deleted or not session.in_transaction():
        return False
    # A session bound to a connection (the test suite's outer transaction) does not own it.
    bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return False
    driver = session.connection().connection.driver_connection
    try:
        if driver.execute("SELECT txid_current_if_assigned()").fetchone()[0] is not None:
            return False
        driver.commit()
    except psycopg.Error:
        return False  # a failed transaction: the session's rollback ends it, as without this
    return True
