"""The totals panel kept between the writes that change it (webapp/panel_cache.py, issue 16): a
refresh with nothing changed reads no figures, and every kind of write shows on the next refresh
in another process; the writing request never uses a copy; SQLite keeps none."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text

from tests.conftest import browser_as
from tests.support.rows import sql_statements
from tests.web import _old_totals
from tests.web.test_hot_paths import TODAY, _rendered, d, other_app, shop  # noqa: F401 - fixtures
from webapp import panel_cache, panel_writes
from webapp.commissions.adjustments import add_manual_adjustment
from webapp.commissions.ledger import lock_agents, recompute_agents_month
from webapp.commissions.payouts import record_payout
from webapp.commissions.periods import period_for
from webapp.extensions import db
from webapp.sales import quick
from webapp.sales import services as sales
from webapp.sales.models import Sale, SaleStatus

LEDGER_TABLES = re.compile(r"\b(sales|sale_credits|commission_entries|payouts)\b")


def _on_postgres(app) -> bool:
    """True when the suite runs on PostgreSQL."""
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


@pytest.fixture
def postgres(app):
    """Copies are kept on PostgreSQL only (see webapp/panel_cache.py); test_sqlite_keeps_no_copy
    covers SQLite."""
    if not _on_postgres(app):
        pytest.skip("copies are kept on PostgreSQL only")


def _panel(app, agent) -> str:
    """The agent's totals fragment as `app` (one process) serves it."""
    response = browser_as(app, agent).get("/dashboard/totals")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _fresh(app, agent) -> str:
    """The fragment the old code path renders from the rows as they are now."""
    return _rendered(app, _old_totals.agent_totals(agent.id))


def _periods_made() -> None:
    """Make November's periods now: making one bumps every panel, which would hide a write that
    failed to bump."""
    for day in (d(11, 1), TODAY):
        period_for(day)
    db.session.commit()


def _warm(app, other_app, agent) -> str:  # noqa: F811 - the fixture is other_app
    """Keep a copy in both processes; both show the rows as they are."""
    _periods_made()
    first = _panel(app, agent)
    assert first == _panel(other_app, agent) == _fresh(app, agent)
    return first


def test_a_refresh_with_nothing_changed_reads_no_figures(app, shop, postgres):  # noqa: F811
    browser = browser_as(app, shop["ana"])
    first = browser.get("/dashboard/totals").get_data(as_text=True)
    with sql_statements(transaction_control=False) as statements:
        again = browser.get("/dashboard/totals").get_data(as_text=True)
    assert again == first == _fresh(app, shop["ana"])
    assert statements and not [s for s in statements if LEDGER_TABLES.search(s)], statements  # the sign-in's user row only


def _approve(shop, factory, build):
    """A manager approves Ana's pending sale (an ORM flush of the sale, then the ledger's bulk write)."""
    pending = db.session.query(Sale).filter_by(agent_id=shop["ana"].id, status=SaleStatus.PENDING).one()
    sales.approve_sale(shop["maria"], pending)


def _quick_sale(shop, factory, build):
    """Ana logs a pending sale by the quick path (one raw INSERT naming her)."""
    written = quick.record_sale(shop["ana"], sales.SaleInput(
        product_id=shop["product"].id, quantity=1, unit_price=Decimal("200.00"), sold_on=d(11, 19),
        customer_id=factory.customer().id), idempotency_key=uuid.uuid4().hex)
    assert written is not None  # the quick path took it


def _adjustment(shop, factory, build):
    """A manual adjustment (an ORM insert of an entry)."""
    add_manual_adjustment(shop["maria"], shop["ana"].id, 1_500, "Bonus")


def _payout(shop, factory, build):
    """A payout (an ORM insert of a payout)."""
    record_payout(shop["admin"], agent_id=shop["ana"].id, amount_cents=1_000, paid_on=TODAY, reference="Nov")


def _raw_credit_change(shop, factory, build):
    """A statement of no service, naming no agent: every panel is recomputed."""
    db.session.execute(text("UPDATE sale_credits SET credit_cents = credit_cents + 10000 "
                            "WHERE agent_id = :agent"), {"agent": shop["ana"].id})


def _period_close(shop, factory, build):
    """The October periods close: the balance moves from open periods to the stated one."""
    build.close(d(10, 31))


@pytest.mark.parametrize("write", [_approve, _quick_sale, _adjustment, _payout, _raw_credit_change, _period_close])
def test_each_kind_of_write_shows_in_the_other_process_at_once(app, other_app, shop, factory, build, write, postgres):  # noqa: F811
    if write is _period_close:
        factory.sale(shop["ana"], "500.00", d(10, 20), product=shop["product"])  # October has an entry to state
        db.session.commit()
    before = _warm(app, other_app, shop["ana"])
    write(shop, factory, build)
    db.session.commit()
    after = _panel(other_app, shop["ana"])
    assert after != before and after == _fresh(app, shop["ana"])


def test_entries_written_by_copy_show_at_once(app, other_app, shop, postgres):  # noqa: F811
    # The month's lines deleted (committed), so the recompute below only inserts them again, by the
    # COPY that the statement event cannot see.
    ana = shop["ana"]
    db.session.execute(text("DELETE FROM commission_entries WHERE agent_id = :agent"), {"agent": ana.id})
    db.session.commit()
    before = _warm(app, other_app, ana)
    assert "$0.00" in before
    lock_agents([ana.id])
    with sql_statements() as statements:
        recompute_agents_month([ana.id], d(11, 1))
    assert not [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    db.session.commit()
    after = _panel(other_app, ana)
    assert "$30.00" in after and after == _fresh(app, ana)


def test_a_co_agents_panel_follows_the_sale_they_share(app, other_app, shop, factory, build, postgres):  # noqa: F811
    # Ben holds half of Ana's pending sale and has no plan: rejecting it writes the sale row only, so
    # only the lookup of the sale's holders can tell Ben's panel that its pending count changed.
    ben = build.agent("Ben", manager=shop["maria"], plan=None)
    sale, _ = sales.create_sale(shop["ana"], sales.SaleInput(
        product_id=shop["product"].id, quantity=1, unit_price=Decimal("400.00"), sold_on=d(11, 19),
        customer_id=factory.customer().id, co_agents=(sales.CoAgentInput(ben.id, "50"),)),
        idempotency_key=uuid.uuid4().hex)
    db.session.commit()
    before = _warm(app, other_app, ben)
    assert "1 sale" in before
    sales.reject_sale(shop["maria"], sale, "No signature")
    db.session.commit()
    after = _panel(other_app, ben)
    assert "Nothing pending" in after and after == _fresh(app, ben)


def test_the_writing_request_never_uses_a_copy(app, shop, monkeypatch, postgres):  # noqa: F811
    from webapp.sales import portal

    ana = shop["ana"]
    _periods_made()
    before = _panel(app, ana)
    monkeypatch.setattr(panel_writes, "bump", lambda _writes: None)  # no stamp changes: only the check below
    add_manual_adjustment(shop["maria"], ana.id, 2_000, "Bonus")
    db.session.flush()  # written, not committed: nothing left pending in the session but the record of the write
    with app.test_request_context("/dashboard/totals"):
        mine = _rendered(app, portal.agent_totals(ana.id))
    assert mine != before and mine == _fresh(app, ana)


def test_a_copy_is_not_used_past_its_age(app, shop, monkeypatch, postgres):  # noqa: F811
    ana = shop["ana"]
    _periods_made()
    before = _panel(app, ana)
    monkeypatch.setattr(panel_writes, "bump", lambda _writes: None)  # a lost bump
    add_manual_adjustment(shop["maria"], ana.id, 2_000, "Bonus")
    db.session.commit()
    assert _panel(app, ana) == before  # within its age the copy stands: only the bump ends it
    monkeypatch.setattr(panel_cache, "MAX_AGE_SECONDS", -1)
    assert _panel(app, ana) == _fresh(app, ana) != before


@pytest.mark.parametrize("statement, tables", [
    ("INSERT INTO sales (agent_id) VALUES (1)", ["sales"]),
    ("WITH s AS (INSERT INTO sales (agent_id) VALUES (1) RETURNING id) INSERT INTO sale_credits SELECT 1",
     ["sales", "sale_credits"]),
    ("UPDATE commission_entries AS e SET amount_cents = 1", ["commission_entries"]),
    ("DELETE FROM payouts WHERE id = 1", ["payouts"]),
    ("COPY commission_entries (agent_id) FROM STDIN", ["commission_entries"]),
    ("update periods set status = 'closed'", ["periods"]),
    ('UPDATE public."sales" SET status = 1', ["sales"]),
    ("TRUNCATE TABLE payouts", ["payouts"]),
    ("SELECT users.id FROM users WHERE users.id IN (1) ORDER BY users.id FOR UPDATE", []),
    ("SELECT * FROM sales JOIN sale_credits ON true FOR UPDATE OF sales", []),
    ("INSERT INTO sales_archive (id) VALUES (1)", []),
])
def test_the_statements_that_write_the_panels_tables_are_recognised(statement, tables):
    assert panel_writes._PANEL_WRITE.findall(statement) == tables


def test_sqlite_keeps_no_copy(app, factory, today, build):
    if _on_postgres(app):
        pytest.skip("a SQLite case")
    today(TODAY)
    maria, (ana,) = build.team("Maria", "Ana")
    factory.sale(ana, "1000.00", d(11, 10))
    db.session.commit()
    browser = browser_as(app, ana)
    first = browser.get("/dashboard/totals").get_data(as_text=True)
    with sql_statements(transaction_control=False) as statements:
        assert browser.get("/dashboard/totals").get_data(as_text=True) == first
    assert [s for s in statements if LEDGER_TABLES.search(s)]  # the figures were read again


def test_a_flush_failing_inside_a_savepoint_keeps_the_writes_for_the_commits_bump(app, shop, monkeypatch, postgres):  # noqa: F811
    # periods.period_for catches a duplicate period inside a SAVEPOINT and goes on; the adjustment
    # written before it must still be bumped after the COMMIT, and the writing request must still
    # not use a copy meanwhile.
    from sqlalchemy.exc import IntegrityError

    from webapp.commissions.models import Period

    ana, existing = shop["ana"], period_for(TODAY)
    bumps = []
    monkeypatch.setattr(panel_writes, "bump", lambda writes: bumps.append(set(writes)))
    add_manual_adjustment(shop["maria"], ana.id, 1_500, "Bonus")
    db.session.flush()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(Period(start_date=existing.start_date, end_date=existing.end_date, status="open"))
        db.session.flush()
    assert ana.id in db.session.info[panel_writes.WRITES]
    bumps.clear()
    db.session.commit()
    assert bumps and ana.id in set().union(*bumps)


def test_a_stamp_missing_from_redis_is_set_and_no_copy_is_used(app, shop, postgres):  # noqa: F811
    # As after Redis lost its data: a copy kept under "no stamp" must not match again.
    ana = shop["ana"]
    _periods_made()
    browser = browser_as(app, ana)
    first = browser.get("/dashboard/totals").get_data(as_text=True)
    key = f"{panel_writes.AGENT_KEY}{ana.id}"
    app.extensions["redis"].delete(key)
    with sql_statements(transaction_control=False) as statements:
        assert browser.get("/dashboard/totals").get_data(as_text=True) == first
    assert [s for s in statements if LEDGER_TABLES.search(s)]  # computed, not the copy
    assert app.extensions["redis"].get(key) is not None


def test_no_copy_is_kept_unless_transactions_read_committed(app, shop, postgres, monkeypatch):  # noqa: F811
    # Under REPEATABLE READ a request's snapshot may predate the stamps it read, as on SQLite.
    ana = shop["ana"]
    _periods_made()
    browser = browser_as(app, ana)
    browser.get("/dashboard/totals")
    with app.app_context():
        monkeypatch.setattr(db.engine.dialect, "default_isolation_level", "REPEATABLE READ")
    with sql_statements(transaction_control=False) as statements:
        browser.get("/dashboard/totals")
    assert [s for s in statements if LEDGER_TABLES.search(s)]  # computed, not the copy
