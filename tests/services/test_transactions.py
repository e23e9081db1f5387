"""webapp/transactions.py: a request's transaction that wrote nothing ends with COMMIT (psycopg
keeps its prepared statements), one that wrote still ends with the session's ROLLBACK."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from webapp import transactions
from webapp.catalog.models import Category
from webapp.extensions import db

REPEATED = text("SELECT count(*) FROM users WHERE id > :n")


def _prepared(driver) -> int:
    """How many statements the connection has prepared on the server."""
    return driver.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]


def _read_six_times():
    """Run one query six times (psycopg prepares it at the fifth); the session's driver connection."""
    for _ in range(6):
        db.session.execute(REPEATED, {"n": 0}).scalar()
    return db.session.connection().connection.driver_connection


@pytest.mark.parametrize("ended_by_commit", [True, False])
def test_a_read_only_transaction_keeps_its_prepared_statements_only_when_committed(app, committed,
                                                                                  ended_by_commit):
    with app.app_context():
        driver = _read_six_times()
        assert _prepared(driver) >= 1
        if ended_by_commit:
            assert transactions.end_read_only_transaction() is True
        db.session.remove()  # Flask-SQLAlchemy's teardown: close, so ROLLBACK if still open
        # psycopg drops every prepared statement on a ROLLBACK; after the COMMIT there is none.
        assert (_prepared(driver) >= 1) is ended_by_commit
        driver.rollback()


def test_a_transaction_that_wrote_is_not_committed(app, committed):
    with app.app_context():
        db.session.add(Category(code="txn-probe", name="Never committed"))
        db.session.flush()
        assert transactions.end_read_only_transaction() is False
        db.session.remove()
        assert db.session.scalar(select(Category).where(Category.code == "txn-probe")) is None


def test_a_failed_transaction_is_left_to_the_sessions_rollback(app, committed):
    with app.app_context():
        with pytest.raises(DBAPIError):
            db.session.execute(text("SELECT 1 / 0"))
        assert transactions.end_read_only_transaction() is False
        db.session.remove()
        assert db.session.execute(text("SELECT 1")).scalar() == 1


def test_the_test_suites_outer_transaction_is_left_alone(app):
    # The suite binds each test's session to a connection whose transaction it rolls back at the
    # end; committing that one would keep the test's rows.
    with app.app_context():
        db.session.execute(REPEATED, {"n": 0})
        assert transactions.end_read_only_transaction() is False


def test_it_runs_before_flask_sqlalchemy_closes_the_session(app):
    # Flask runs teardown_appcontext functions in reverse order of registration.
    names = [getattr(func, "__qualname__", "") for func in app.teardown_appcontext_funcs]
    assert names.index("end_read_only_transaction") > names.index("SQLAlchemy._teardown_session")


def test_a_read_only_request_ends_with_commit(app, committed, factory, monkeypatch):
    from tests.conftest import browser_as
    from webapp.auth.models import Role

    ended = []

    def spy(exc=None):
        ended.append(transactions.end_read_only_transaction(exc))

    funcs = [spy if f is transactions.end_read_only_transaction else f for f in app.teardown_appcontext_funcs]
    monkeypatch.setattr(app, "teardown_appcontext_funcs", funcs)
    agent = factory.user(Role.AGENT)
    db.session.commit()
    browser = browser_as(app, agent)
    ended.clear()
    assert browser.get("/dashboard/totals").status_code == 200
    assert ended == [True]
