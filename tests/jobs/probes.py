"""Job functions for the worker tests: they run inside jobs.worker.AppWorker (imported by name)."""

from __future__ import annotations

import os

from flask import has_app_context
from rq import get_current_job
from sqlalchemy import text


def leave_open(table: str, value: int) -> str:
    """Insert a row and return without committing: an open transaction and a pending object."""
    from webapp.extensions import db

    db.session.execute(text(f"INSERT INTO {table} (value) VALUES (:value)"), {"value": value})
    db.session.info["left_by_previous_job"] = True
    return "left open"


def break_transaction(table: str) -> None:
    """Fail with a database error (on PostgreSQL the transaction is aborted: later statements fail)."""
    from webapp.extensions import db

    db.session.execute(text(f"INSERT INTO {table} (value) VALUES (1)"))
    db.session.execute(text("SELECT * FROM no_such_table_here"))


def inspect_session(table: str) -> dict:
    """What this job inherits: the session's state, the rows it sees, the pool, the process."""
    from webapp.extensions import db

    inherited = {"app_context": has_app_context(), "in_transaction": db.session().in_transaction(),
                 "left": db.session.info.get("left_by_previous_job", False)}
    rows = db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    db.session.commit()
    return {**inherited, "rows": rows, "pool": id(db.engine.pool), "pid": os.getpid()}


def record_pid() -> int:
    """Push this process's pid onto a Redis list (for the re-exec test)."""
    connection = get_current_job().connection
    connection.rpush("tests:worker:pids", os.getpid())
    return os.getpid()
