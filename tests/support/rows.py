"""Reading the database back in a test: row counts, a record as the requests left it, and the SQL
statements a block of code sends."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, func, select

from webapp.extensions import db


def count(model) -> int:
    """Rows of a table."""
    return db.session.scalar(select(func.count()).select_from(model))


def counts(*models) -> dict[str, int]:
    """Rows of each table by model name, read afresh (what a refused request must not change)."""
    db.session.expire_all()
    return {model.__name__: count(model) for model in models}


def reload(obj):
    """The record as the database has it now (requests use their own session)."""
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


@contextmanager
def sql_statements(transaction_control: bool = True):
    """The SQL statements sent inside the block, as a list of their texts (for "no query per row");
    without `transaction_control`, the test's SAVEPOINT/RELEASE/ROLLBACK left out (production has
    no such savepoints, so a statement budget must not count them)."""
    sent: list[str] = []

    def listener(_connection, _cursor, statement, *_args):
        """One more statement."""
        if transaction_control or not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            sent.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", listener)
