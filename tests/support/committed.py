"""Race tests: a real committing db.session (PostgreSQL only), cleaned up afterwards, and a way to
run the racing requests in threads."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import date

import pytest
from flask_sqlalchemy.session import Session as FlaskSQLAlchemySession
from sqlalchemy import create_engine, func, or_, select

from webapp.extensions import db

POOL = 20  # connections of the private engine: threads queue for them (the shared server has a limit)


class EngineSession(FlaskSQLAlchemySession):
    """Flask-SQLAlchemy's session ignores `bind=`; this one uses the engine it is given."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        """The session's own engine."""
        return bind or self.bind


def _watermarks(connection) -> dict[str, int]:
    """The highest id of every table with an integer id, before the test adds rows."""
    return {table.name: connection.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
            for table in db.metadata.sorted_tables if "id" in table.c}


@pytest.fixture
def committed(app):
    """Replace db.session with a real committing session on a private engine for this test.

    Every row the test commits is deleted afterwards (rows above each table's highest id before
    the test, children first; nothing else is touched). Skipped on SQLite, whose BEGIN IMMEDIATE
    serialises every writer, so nothing can race there.
    """
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a race needs PostgreSQL: SQLite serialises every writer (BEGIN IMMEDIATE)")
    private = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], pool_size=POOL, max_overflow=0,
                            pool_timeout=60)
    with private.connect() as connection:
        marks = _watermarks(connection)
    rollback_session = db.session
    db.session = db._make_scoped_session({"bind": private, "class_": EngineSession})
    try:
        yield private
    finally:
        db.session.remove()
        db.session = rollback_session
        with private.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                if table.name in marks:
                    connection.execute(table.delete().where(table.c.id > marks[table.name]))
                    continue
                # A table without an id (agent_period_totals): the rows that refer to a new row.
                new = [fk.parent > marks[fk.column.table.name] for fk in table.foreign_keys
                       if fk.column.table.name in marks]
                if new:
                    connection.execute(table.delete().where(or_(*new)))
        private.dispose()


def in_threads(work, jobs: list[tuple], wait: float) -> None:
    """Run work(index, *job) for every job, each in a thread of its own, and wait for them all.

    A thread still running after 3 * `wait` seconds fails the test; the first exception raised in
    a thread is raised again here, in the test's thread."""
    crashes: list[BaseException] = []

    def run(index: int, job: tuple) -> None:
        """One job; its exception is kept for the test's thread."""
        try:
            work(index, *job)
        except BaseException as exc:  # noqa: BLE001  (raised again below)
            crashes.append(exc)

    threads = [threading.Thread(target=run, args=(index, job)) for index, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(wait * 3)
        assert not thread.is_alive(), "a thread is stuck"
    if crashes:
        raise crashes[0]


@contextmanager
def own_session(app):
    """A racing thread's request: an app context with its own session, rolled back on an exception
    and removed at the end (its connection goes back to the pool)."""
    with app.app_context():
        try:
            yield
        except BaseException:
            db.session.rollback()
            raise
        finally:
            db.session.remove()


def first_to_return_lingers(func, hold: float, note):
    """`func` wrapped for a race: the first call to return sleeps `hold` seconds before returning
    (its locks held, nothing committed), so the other call meets them. Returns (the wrapper, the
    list of `note(result, *args)` of each call, in the order they returned)."""
    lock, notes = threading.Lock(), []

    def lingering(*args, **kwargs):
        """Call, then linger if this was the first call of the race to return."""
        result = func(*args, **kwargs)
        with lock:
            first = not notes
            notes.append(note(result, *args))
        if first:
            time.sleep(hold)
        return result

    return lingering, notes


def attempt(app, step) -> str | int:
    """A race's thread: run step() in an app context of its own and commit. "done", else what it
    raised (rolled back): its HTTP status when it has one (a refusal), else its class name."""
    with app.app_context():
        try:
            step()
            db.session.commit()
            return "done"
        except Exception as exc:  # noqa: BLE001 - the test judges the outcome
            db.session.rollback()
            return getattr(exc, "status", None) or type(exc).__name__
        finally:
            db.session.remove()


def against_an_approval(app, holder, sale_id: int, manager_id: int, held: threading.Event) -> dict:
    """Race holder(actor), which sets `held` once it holds what an approval will wait for, against
    the manager approving the sale then: each side's attempt() outcome ("holder", "approve")."""
    from webapp.auth.models import User
    from webapp.sales.decisions import approve_sale
    from webapp.sales.models import Sale

    outcome = {}

    def step(name):
        """The holder's work, or the approval once the holder holds."""
        actor = db.session.get(User, manager_id)
        if name == "holder":
            holder(actor)
        else:
            assert held.wait(60)
            approve_sale(actor, db.session.get(Sale, sale_id))

    in_threads(lambda _index, name: outcome.update({name: attempt(app, lambda: step(name))}),
               [("holder",), ("approve",)], 60)
    return outcome


def approved_then_pending(factory, today, month: date, plan_name: str) -> dict:
    """Committed: a manager's agent on flat 3% with 1,000.00 approved on the month's 4th (30.00 in
    its first period) and 2,000.00 pending on the 18th; today is the 20th. Their ids: manager,
    agent, period (the first half) and sale (the pending one)."""
    from webapp.commissions.periods import period_for

    today(month.replace(day=10))
    manager = factory.user("manager")
    agent = factory.user("agent", manager=manager)
    factory.assign(agent, factory.plan(base_rate="3", name=f"{plan_name} {manager.id}"))
    factory.sale(agent, "1000.00", month.replace(day=4))
    today(month.replace(day=20))
    pending = factory.sale(agent, "2000.00", month.replace(day=18), approve=False)
    period = period_for(month.replace(day=4))
    db.session.commit()
    return {"manager": manager.id, "agent": agent.id, "period": period.id, "sale": pending.id}
