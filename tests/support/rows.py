"""Reading the database back in a test: row counts, and a record as the requests left it."""

from __future__ import annotations

from sqlalchemy import func, select

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
