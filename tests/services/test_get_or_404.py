"""get_or_404: the one way a service loads a row by id that must exist."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event

from webapp.auth.models import Role, User
from webapp.commissions.models import Period
from webapp.errors import NotFound, get_or_404
from webapp.extensions import db


def test_an_existing_row_is_returned(factory):
    user = factory.user(Role.MANAGER)

    assert get_or_404(User, user.id) is user


def test_a_missing_row_is_not_found(factory):
    user = factory.user(Role.MANAGER)

    with pytest.raises(NotFound) as info:
        get_or_404(User, user.id + 1000)
    assert info.value.status == 404


def _queries_of(call) -> list[str]:
    """The SELECT statements `call()` sends (it must raise NotFound)."""
    queries = []

    def listener(connection, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            queries.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        with pytest.raises(NotFound):
            call()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return queries


def test_a_missing_int_id_is_looked_up():
    assert len(_queries_of(lambda: get_or_404(User, 2_000_000_000))) == 1


@pytest.mark.parametrize("ident", [None, "1", True, 1.0, [1]])
def test_an_id_that_is_not_an_int_is_not_found_without_a_query(factory, ident):
    factory.user(Role.MANAGER)

    assert _queries_of(lambda: get_or_404(User, ident)) == []


def test_options_reach_the_session(factory, monkeypatch):
    period = Period(start_date=date(2031, 1, 1), end_date=date(2031, 1, 15))
    db.session.add(period)
    db.session.flush()
    seen = {}
    original = db.session.get

    def get(model, ident, **options):
        seen.update(options)
        return original(model, ident, **options)

    monkeypatch.setattr(db.session, "get", get)

    assert get_or_404(Period, period.id, populate_existing=True) is period
    assert seen == {"populate_existing": True}
